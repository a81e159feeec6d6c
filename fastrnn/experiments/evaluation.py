"""The evaluation protocol: a trained model judged by free runs from several observations of held-out data.

A trained RNN can have more than one attractor, reached from different initial states; several starts keep a single
unlucky one from deciding the result, and the spread shows which models have that problem (DESIGN §6). A free run
that leaves the data's range by orders of magnitude counts as diverged, never as a number.
"""
from __future__ import annotations

import math

import numpy as np

from .. import metrics, validation
from ..io import finite_or_none
from ..lyapunov import OrbitDivergedError, lyapunov_spectrum
from ..metrics import DIVERGENCE_FACTOR, diverged

__all__ = ["DIVERGENCE_FACTOR", "diverged", "evaluate_model", "evaluate_segments", "free_run"]

def free_run(model, x0, n_steps, inputs, ref):
    """The model's free run of ``n_steps`` from the observation ``x0`` in float64, or None if it left the data
    ``ref`` (:func:`diverged`)."""
    try:
        X, _ = model.generate(n_steps, x0=x0, inputs=inputs)
    except OrbitDivergedError:
        return None
    X = np.asarray(X, dtype=np.float64)
    return None if diverged(X, ref) else X


def evaluate_model(model, x_test, *, dt=1.0, inputs=None, transient=1000, n_gen=None, lyapunov_steps=10000,
                   rng=0, n_starts=8):
    """Judge a trained model against held-out data.

    The model runs freely from the ``n_starts`` test observations ``x_test[k T // n_starts]`` (``x_test[0]`` first),
    each time for ``transient + n_gen`` steps; the first ``transient`` are discarded and the rest is compared with
    ``x_test``.

    * ``D_stsp``: median over the starts of :func:`fastrnn.metrics.state_space_divergence` (default convention;
      ``D_stsp_legacy`` with ``convention="legacy"``), in nats; ``D_stsp_starts`` lists every start's value (None
      where that run diverged) and ``D_stsp_worst`` is the largest (None if any run diverged);
    * ``D_H``: median over the starts of :func:`fastrnn.metrics.power_spectrum_distance` (default convention), in
      [0, 1], and ``D_H_starts``; ``D_H_legacy`` with ``convention="legacy"`` (None where the generated series is
      shorter than the data, the data hold fewer than 200 samples, or the measure is undefined);
    * the Lyapunov spectrum of the model's free-running map from ``x_test[0]``
      (:func:`fastrnn.lyapunov.lyapunov_spectrum`, ``lyapunov_steps`` steps after ``transient``):
      ``lyapunov_per_step`` (all exponents, per step) and ``lambda_1`` (the largest, per time unit: per step /
      ``dt``).

    A free run that leaves the data's range (:func:`diverged`) counts as diverged (``n_diverged``) and as an
    infinite D_stsp in the median; when at least half the runs diverge, ``"generation_diverged": True`` is reported
    with the measures absent.

    Parameters
    ----------
    model : fastrnn model
    x_test : ndarray (T, N)
    dt : float
        Sampling interval in time units per step.
    inputs : ndarray (T, K), optional
        Inputs aligned with ``x_test`` (models with K > 0); the free run then spans the test data (no transient
        beyond it) and starts at ``x_test[0]`` only (``n_starts`` is ignored).
    transient, n_gen, lyapunov_steps : int
        Steps discarded, steps compared (default: T), steps of the spectrum (0: skip it).
    rng : seed
        For the spectrum's initial frame.
    n_starts : int >= 1
        Number of free runs (1: from ``x_test[0]`` only).

    Returns
    -------
    dict
    """
    x_test = validation.as_float_array(x_test, "x_test", np.float64, ndim=2)
    n_starts = validation.check_int(n_starts, "n_starts", minimum=1)
    T = x_test.shape[0]
    out = {}
    if inputs is not None:
        transient = min(transient, T // 4)
        n_gen = T - transient
        s_gen = inputs[:T]
        n_starts = 1
    else:
        n_gen = T if n_gen is None else n_gen
        s_gen = None
    ref = x_test if inputs is None else x_test[transient:]
    starts = np.arange(n_starts) * T // n_starts           # x_test[k T // n_starts], k = 0 .. n_starts - 1
    d_stsp, d_legacy, d_h, d_h_legacy = [], [], [], []
    for i in starts:
        X = free_run(model, x_test[i], transient + n_gen, s_gen, x_test)
        if X is None:
            d_stsp.append(math.inf)
            continue
        gen = X[transient:]
        d_stsp.append(float(metrics.state_space_divergence(ref, gen)))
        d_legacy.append(finite_or_none(metrics.state_space_divergence(ref, gen, convention="legacy")))
        # None where the measure is undefined (e.g. a generated series that is flat within every Welch segment)
        d_h.append(finite_or_none(metrics.power_spectrum_distance(ref, gen)))
        if gen.shape[0] >= ref.shape[0] >= 200:   # the legacy D_H: 50 chunks of >= 4 samples, none shorter in gen
            d_h_legacy.append(finite_or_none(metrics.power_spectrum_distance(ref, gen, convention="legacy")))
    n_div = sum(1 for d in d_stsp if math.isinf(d))
    out["n_starts"] = len(starts)
    out["n_diverged"] = n_div
    out["D_stsp_starts"] = [None if math.isinf(d) else d for d in d_stsp]
    out["generation_diverged"] = 2 * n_div >= len(starts)
    if not out["generation_diverged"]:
        out["D_stsp"] = float(np.median(d_stsp))
        out["D_stsp_worst"] = None if n_div else float(max(d_stsp))
        legacy = [v for v in d_legacy if v is not None]
        out["D_stsp_legacy"] = float(np.median(legacy)) if legacy else None
        spectral = [v for v in d_h if v is not None]
        out["D_H"] = float(np.median(spectral)) if spectral else None
        out["D_H_starts"] = d_h
        legacy_h = [v for v in d_h_legacy if v is not None]
        out["D_H_legacy"] = float(np.median(legacy_h)) if legacy_h else None
    if lyapunov_steps:
        s_lyap = None
        if inputs is not None:
            lyapunov_steps = max(1, min(lyapunov_steps, T - transient))
            s_lyap = inputs[: transient + lyapunov_steps]
        try:
            lam = lyapunov_spectrum(model, lyapunov_steps, transient=transient, x0=x_test[0], inputs=s_lyap, rng=rng)
            out["lyapunov_per_step"] = [float(v) if math.isfinite(v) else None for v in lam]
            out["lambda_1"] = float(lam[0]) / dt
        except OrbitDivergedError as exc:
            out["lyapunov_error"] = str(exc)
    return out


def evaluate_segments(model, segments, spans, *, inputs=None, **kwargs):
    """:func:`evaluate_model` on each finite segment of a series with gaps, never across a gap.

    Parameters
    ----------
    model : fastrnn model
    segments : list of ndarray (T_i, N)
        The segments (e.g. :attr:`fastrnn.datafiles.Segments.series`).
    spans : list of (int, int)
        Their rows in the original series (reported with each result).
    inputs : list of ndarray (T_i, K), optional
        Inputs cut like the segments.
    **kwargs
        Passed to :func:`evaluate_model` (dt, transient, n_starts, lyapunov_steps, rng, ...).

    Returns
    -------
    dict
        ``segments``: one result per segment, each with its ``rows``; ``D_stsp`` and ``D_H``: the medians over the
        segments whose free runs did not diverge (None if all diverged); ``n_segments_diverged``.
    """
    results = []
    for i, (x, (a, b)) in enumerate(zip(segments, spans)):
        res = evaluate_model(model, x, inputs=None if inputs is None else inputs[i], **kwargs)
        results.append({"rows": [int(a), int(b)], **res})
    ok = [r for r in results if not r["generation_diverged"]]
    d = [r["D_stsp"] for r in ok]
    h = [r["D_H"] for r in ok if r.get("D_H") is not None]
    return {"segments": results, "n_segments_diverged": len(results) - len(ok),
            "D_stsp": float(np.median(d)) if d else None, "D_H": float(np.median(h)) if h else None}
