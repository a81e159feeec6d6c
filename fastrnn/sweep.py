"""Reproducible experiments: one training run as a self-contained job, and tau sweeps on Dask.

A *run* is described by a JSON-able dict (its *spec*): the data (a benchmark system of :mod:`fastrnn.systems` or an
array), the model kind and size, the forcing option (interval tau, no forcing, a schedule, or a baseline), the
seed and the training and evaluation budget. :func:`execute_run` trains the model, evaluates it on held-out data
(D_stsp and D_H of a free-running trajectory, :mod:`fastrnn.metrics`; the Lyapunov spectrum,
:mod:`fastrnn.lyapunov`) and writes ``runs/<run_id>.json`` and ``runs/<run_id>.npz`` (the trained model)
atomically. The run id is derived from the spec (a hash of all its fields), so a result file always belongs to
exactly one configuration.

:func:`run_sweep` runs a grid of (model, forcing, seed) on Dask's distributed scheduler: a local cluster started
for the sweep by default, or an existing one (``scheduler="tcp://host:port"``). Runs whose result file exists are
skipped, so an interrupted sweep loses nothing when rerun; a run interrupted midway (a killed worker) is started
again on another worker and continues from its last checkpoint (``fit(..., checkpoint=...)``), ending with
exactly the parameters of an uninterrupted run. The sweep ends with a summary table (``summary.md``,
``summary.json``) and the tau-sweep figure (``tau_sweep.png``: D_stsp and D_H against tau per model, tau_pred
marked).

Forcing options (strings, as on the command line; see :func:`parse_forcing`):

=====================  ========================================================================================
``"25"``               sparse forcing with interval tau = 25 steps
``"none"``             no forcing after the window start
``"annealed:77"``      tau grows geometrically from 1 to 77 over training (``"annealed:5:77"`` from 5)
``"jittered:77:10"``   tau drawn uniformly from 77 +- 10 for every window
``"warmup:77:0.25"``   tau grows from 1 to 77 over the first 25 % of the epochs, then stays at 77
``"alpha:0.2"``        generalised teacher forcing with constant alpha = 0.2 (``"alpha:1:0"``: annealed 1 -> 0)
=====================  ========================================================================================

Baselines (:data:`BASELINES`): ``"clipping"`` (no forcing, gradient-norm clipping at 1, the paper's baseline) and
``"windowing"`` (no forcing, every window starts from a zero state, clipping at 1).
"""
from __future__ import annotations

import glob
import hashlib
import json
import logging
import math
import os
import socket
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import validation, forcing, metrics, systems, timeseries
from .checkpoint import atomic_write
from .models import MODELS

__all__ = ["BASELINES", "DEFAULT_SETTINGS", "SYSTEMS", "SweepResult", "evaluate_model", "execute_run",
           "make_spec", "model_kind", "parse_forcing", "run_id", "run_sweep", "summarize", "system_series"]

_SPEC_VERSION = 1

# ------------------------------------------------------------------ names
_MODEL_ALIASES = {"plrnn": "PLRNN", "tanhrnn": "TanhRNN", "tanh": "TanhRNN", "rnn": "TanhRNN", "lstm": "LSTM",
                  "gru": "GRU"}

#: benchmark systems by name: (generator, default dt in time units per sample, returns inputs)
SYSTEMS = {
    "lorenz": (systems.lorenz, 0.01, False),
    "rossler": (systems.rossler, 0.05, False),
    "duffing": (systems.duffing, 0.05, True),
    "mackey_glass": (systems.mackey_glass, 1.0, False),
    "henon": (systems.henon, 1.0, False),
    "logistic": (systems.logistic, 1.0, False),
}
_MAPS = ("henon", "logistic")

#: baselines without forcing: extra fit arguments
BASELINES = {
    "clipping": {"clip": 1.0, "initial_state": "control"},
    "windowing": {"clip": 1.0, "initial_state": "zero"},
}

#: default training and evaluation settings of a run (all can be overridden)
DEFAULT_SETTINGS = {
    "n_latent": 32,          # latent units M
    "seq_len": 200,          # window length T (steps)
    "batch_size": 16,
    "batches_per_epoch": 50,
    "n_epochs": 20,
    "lr": 1e-3,              # Adam step size at the start
    "lr_end": None,          # if set: decays geometrically to this value over training
    "clip": None,            # gradient-norm clipping for forced runs (None: none, as in the paper)
    "n_steps": 30000,        # samples generated from a system (train + test)
    "n_test": 10000,         # last samples held out for evaluation
    "data_seed": 0,          # initial condition of the system's orbit
    "data_scale": 1.0,       # factor applied to the (standardised) data, e.g. to fit bounded models' ranges
    "eval_transient": 1000,  # free-running steps discarded before the measures and the spectrum
    "eval_starts": 8,        # free runs, from observations spread over the test data, whose median D_stsp and D_H
                             # are reported (a trained RNN can have attractors that only some initial states reach)
    "n_gen": None,           # free-running steps compared with the test data (default: n_test)
    "lyapunov_steps": 10000,  # steps averaged for the model's spectrum (0: skip)
    "threads": 1,            # Numba threads per run
    "select": False,         # keep the parameters whose free runs from 16 starts best match the training data
                             # (worst D_stsp), checked at every checkpoint (10 per run), instead of the last ones
    "dtype": "float64",      # model precision; "float32" trains the tanh RNN, LSTM and GRU 2-4x faster (their float32
                             # kernels evaluate tanh and the sigmoid without a libm call)
}


def model_kind(name) -> str:
    """Canonical model kind ("PLRNN", "TanhRNN", "LSTM", "GRU") for a case-insensitive name or alias.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if isinstance(name, str):
        kind = _MODEL_ALIASES.get(name.strip().lower())
        if kind is not None:
            return kind
    raise ValueError(f"unknown model {name!r}; choose one of PLRNN, TanhRNN, LSTM, GRU")


def system_series(name, n_steps, *, dt=None, rng=0):
    """A standardised orbit of a benchmark system.

    Parameters
    ----------
    name : str
        One of :data:`SYSTEMS` ("lorenz", "rossler", "duffing", "mackey_glass", "henon", "logistic").
    n_steps : int
        Number of samples.
    dt : float, optional
        Time units per sample (flows and Mackey-Glass); default the system's (Lorenz 0.01). Maps have dt = 1.
    rng : seed or Generator
        Initial condition.

    Returns
    -------
    x : ndarray (n_steps, N)
        Z-scored observations.
    inputs : ndarray (n_steps, K) or None
        External inputs (Duffing's drive), z-scored; None for autonomous systems.
    dt : float
        Time units per sample.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; choose one of {', '.join(SYSTEMS)} or pass a data file")
    gen, dt0, has_inputs = SYSTEMS[key]
    kwargs = {"standardize": True, "rng": rng}
    if key not in _MAPS:
        kwargs["dt"] = dt0 if dt is None else validation.check_float(dt, "dt", minimum=0.0, strict_min=True)
    out = gen(n_steps, **kwargs)
    if has_inputs:
        x, s = out
        sd = s.std(axis=0)
        s = (s - s.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        return x, s, kwargs.get("dt", 1.0)
    return out, None, kwargs.get("dt", 1.0)


# ------------------------------------------------------------------ forcing options
class WarmupTau(forcing.Schedule):
    """Sparse forcing at ``tau`` after a warm-up: tau grows geometrically from 1 to ``tau`` over the first
    ``fraction`` of the epochs (as :class:`fastrnn.forcing.AnnealedTau` does over all of them), then stays at tau.

    Parameters
    ----------
    tau : int
        Final forcing interval in steps.
    fraction : float
        Share of the epochs spent warming up, in [0, 1).
    """

    def __init__(self, tau, fraction=0.25):
        self.tau = validation.check_int(tau, "tau", minimum=1)
        self.fraction = validation.check_float(fraction, "fraction", minimum=0.0, maximum=1.0)
        if self.fraction >= 1.0:
            raise ValueError(f"fraction must be < 1 so that training ends at tau, got {fraction}")

    def tau_at(self, epoch, n_epochs):
        """Forcing interval (steps) used in ``epoch`` (0-based) of ``n_epochs``."""
        n_warm = int(round(self.fraction * n_epochs))
        if epoch >= n_warm or n_warm <= 1:
            return self.tau
        return max(1, int(round(self.tau ** (epoch / (n_warm - 1)))))

    def alpha(self, epoch, n_epochs, T, batch, rng):
        return forcing.interval(T, self.tau_at(epoch, n_epochs))


def parse_forcing(value) -> dict:
    """Canonical forcing option from an int, ``math.inf``, a dict or a string (see the module docstring).

    Returns
    -------
    dict
        ``{"kind": "tau", "tau": int}``, ``{"kind": "none"}``, ``{"kind": "annealed", "start": int, "end": int}``,
        ``{"kind": "jittered", "tau": int, "delta": int}``, ``{"kind": "alpha", "alpha": float}`` or
        ``{"kind": "annealed_alpha", "start": float, "end": float}``.
    """
    if isinstance(value, dict):
        return parse_forcing(forcing_label(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return {"kind": "tau", "tau": validation.check_int(int(value), "tau", minimum=1)}
    if isinstance(value, float):
        if math.isinf(value) and value > 0:
            return {"kind": "none"}
        if value.is_integer():
            return parse_forcing(int(value))
        raise ValueError(f"tau must be a whole number of steps, got {value}")
    if not isinstance(value, str):
        raise TypeError(f"forcing must be an int (tau), 'none' or a schedule string, got {value!r}")
    text = value.strip().lower()
    parts = text.split(":")
    try:
        if text in ("none", "inf", "free"):
            return {"kind": "none"}
        if len(parts) == 1:
            return parse_forcing(int(text))
        if parts[0] == "tau" and len(parts) == 2:
            return parse_forcing(parts[1])
        if parts[0] in ("annealed", "anneal") and len(parts) in (2, 3):
            start, end = (1, int(parts[1])) if len(parts) == 2 else (int(parts[1]), int(parts[2]))
            forcing.AnnealedTau(end=end, start=start)  # validates
            return {"kind": "annealed", "start": start, "end": end}
        if parts[0] == "warmup" and len(parts) in (2, 3):
            sched = WarmupTau(int(parts[1]), float(parts[2]) if len(parts) == 3 else 0.25)
            return {"kind": "warmup", "tau": sched.tau, "fraction": sched.fraction}
        if parts[0] in ("jittered", "jitter") and len(parts) == 3:
            tau, delta = int(parts[1]), int(parts[2])
            forcing.JitteredTau(tau, delta)
            return {"kind": "jittered", "tau": tau, "delta": delta}
        if parts[0] == "alpha" and len(parts) in (2, 3):
            if len(parts) == 2:
                a = validation.check_float(float(parts[1]), "alpha", minimum=0.0, maximum=1.0)
                return {"kind": "alpha", "alpha": a}
            sched = forcing.AnnealedAlpha(float(parts[1]), float(parts[2]))
            return {"kind": "annealed_alpha", "start": sched.start, "end": sched.end}
    except ValueError as exc:
        raise ValueError(f"invalid forcing {value!r}: {exc}") from None
    raise ValueError(f"invalid forcing {value!r}; use an interval like 25, 'none', 'annealed:77', "
                     f"'jittered:77:10', 'alpha:0.2' or 'alpha:1:0'")


def forcing_label(f) -> str:
    """Short text form of a canonical forcing option (inverse of :func:`parse_forcing`)."""
    kind = f["kind"]
    if kind == "tau":
        return str(int(f["tau"]))
    if kind == "none":
        return "none"
    if kind == "annealed":
        return f"annealed:{int(f['start'])}:{int(f['end'])}"
    if kind == "jittered":
        return f"jittered:{int(f['tau'])}:{int(f['delta'])}"
    if kind == "warmup":
        return f"warmup:{int(f['tau'])}:{float(f['fraction']):g}"
    if kind == "alpha":
        return f"alpha:{float(f['alpha']):g}"
    if kind == "annealed_alpha":
        return f"alpha:{float(f['start']):g}:{float(f['end']):g}"
    raise ValueError(f"unknown forcing kind {kind!r}")


def forcing_tau(f):
    """The forcing interval in steps that a run is plotted at: tau, the final tau of a schedule, or inf."""
    kind = f["kind"]
    if kind in ("tau", "jittered", "warmup"):
        return float(f["tau"])
    if kind == "annealed":
        return float(f["end"])
    return math.inf


def _fit_forcing(f, seq_len):
    kind = f["kind"]
    if kind == "tau":
        return {"tau": int(f["tau"])}
    if kind == "none":
        return {"tau": math.inf}
    if kind == "annealed":
        return {"schedule": forcing.AnnealedTau(end=int(f["end"]), start=int(f["start"]))}
    if kind == "jittered":
        return {"schedule": forcing.JitteredTau(int(f["tau"]), int(f["delta"]))}
    if kind == "warmup":
        return {"schedule": WarmupTau(int(f["tau"]), float(f["fraction"]))}
    if kind == "alpha":
        return {"alpha": forcing.constant(seq_len, float(f["alpha"]))}
    if kind == "annealed_alpha":
        return {"schedule": forcing.AnnealedAlpha(float(f["start"]), float(f["end"]))}
    raise ValueError(f"unknown forcing kind {kind!r}")


# ------------------------------------------------------------------ run specs
def make_spec(*, data="lorenz", model="PLRNN", forcing_option=None, baseline=None, seed=0, dt=None, **settings):
    """Build a run spec (JSON-able dict) from defaults (:data:`DEFAULT_SETTINGS`) and overrides.

    Parameters
    ----------
    data : str
        A system name (:data:`SYSTEMS`) or a label of an array passed to :func:`execute_run`/:func:`run_sweep`.
    model : str
        Model name (case-insensitive; see :func:`model_kind`).
    forcing_option : int, str or dict
        Forcing option (see :func:`parse_forcing`); ignored (set to no forcing) for a baseline.
    baseline : {None, "clipping", "windowing"}
    seed : int
        Seed of the model's initialisation and of the window draws.
    dt : float, optional
        Time units per sample (default: the system's, or 1 for an array).
    **settings
        Overrides of :data:`DEFAULT_SETTINGS`.
    """
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(DEFAULT_SETTINGS)}")
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}")
    spec = dict(DEFAULT_SETTINGS)
    spec.update(settings)
    if isinstance(data, str) and data.strip().lower() in SYSTEMS:
        data = data.strip().lower()
        if dt is None:
            dt = 1.0 if data in _MAPS else SYSTEMS[data][1]
    spec.update({
        "version": _SPEC_VERSION,
        "data": str(data),
        "dt": 1.0 if dt is None else validation.check_float(dt, "dt", minimum=0.0, strict_min=True),
        "model": model_kind(model),
        "forcing": parse_forcing("none" if baseline is not None else forcing_option),
        "baseline": baseline,
        "seed": validation.check_int(seed, "seed", minimum=0),
    })
    for key in ("n_latent", "seq_len", "batch_size", "batches_per_epoch", "n_epochs", "n_steps", "n_test",
                "eval_starts"):
        validation.check_int(spec[key], key, minimum=1)
    try:
        spec["dtype"] = validation.check_dtype(spec["dtype"]).name
    except TypeError as exc:
        raise ValueError(f"dtype: {exc}") from None
    validation.check_float(spec["lr"], "lr", minimum=0.0, strict_min=True)
    return spec


def run_id(spec) -> str:
    """File-name-safe id of a run: model, forcing, seed and a hash of the whole spec."""
    payload = {k: v for k, v in spec.items() if k != "threads"}
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
    label = spec["baseline"] or f"tau{forcing_label(spec['forcing'])}"
    label = "".join(c if c.isalnum() or c in "-." else "-" for c in label)
    return f"{spec['model']}_{label}_s{spec['seed']}_{digest}"


def _write_json(path, obj):
    atomic_write(path, lambda fh: fh.write(json.dumps(obj, indent=1, default=_json_default).encode()))


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"not JSON-able: {type(obj).__name__}")


def _finite_or_none(v):
    return float(v) if v is not None and math.isfinite(v) else None


# ------------------------------------------------------------------ evaluation
def _diverged(X, ref):
    """A free run X left the data ``ref`` by orders of magnitude (|x| > 1e3 in the data's units) or is non-finite."""
    return not np.all(np.isfinite(X)) or np.abs(X).max() > 1e3 * max(1.0, np.abs(ref).max())


def _free_run(model, x0, n_steps, inputs, ref):
    """The model's free run of ``n_steps`` from ``x0`` in float64, or None if it left the data ``ref``
    (:func:`_diverged`)."""
    X, _ = model.generate(n_steps, x0=x0, inputs=inputs)
    X = np.asarray(X, dtype=np.float64)
    return None if _diverged(X, ref) else X


def evaluate_model(model, x_test, *, dt=1.0, inputs=None, transient=1000, n_gen=None, lyapunov_steps=10000,
                   rng=0, n_starts=8):
    """Judge a trained model against held-out data.

    The model runs freely from the ``n_starts`` test observations ``x_test[k T // n_starts]`` (``x_test[0]`` first),
    each time for ``transient + n_gen`` steps; the first ``transient`` are discarded and the rest is compared with
    ``x_test``. A trained RNN can have more than one attractor, reached from different initial states; several
    starts keep a single unlucky one from deciding the result, and the spread shows which models have that problem.

    * ``D_stsp``: median over the starts of :func:`fastrnn.metrics.state_space_divergence` (default convention;
      ``D_stsp_legacy`` with ``convention="legacy"``), in nats; ``D_stsp_starts`` lists every start's value (None
      where that run diverged) and ``D_stsp_worst`` is the largest (None if any run diverged);
    * ``D_H``: median over the starts of :func:`fastrnn.metrics.power_spectrum_distance` (default convention), in
      [0, 1], and ``D_H_starts``;
    * the Lyapunov spectrum of the model's free-running map from ``x_test[0]``
      (:func:`fastrnn.lyapunov.lyapunov_spectrum`, ``lyapunov_steps`` steps after ``transient``):
      ``lyapunov_per_step`` (all exponents, per step) and ``lambda_1`` (the largest, per time unit: per step /
      ``dt``).

    A free run that leaves the data's range by orders of magnitude (|x| > 1e3 in the data's units, or non-finite)
    counts as diverged (``n_diverged``) and as an infinite D_stsp in the median; when at least half the runs
    diverge, ``"generation_diverged": True`` is reported with the measures absent.

    Parameters
    ----------
    model : fastrnn model
    x_test : ndarray (T, N)
    dt : float
        Time units per step.
    inputs : ndarray (T, K), optional
        Inputs aligned with ``x_test`` (models with K > 0); the free run then spans the test data (no transient
        beyond it) and starts at ``x_test[0]`` only (``n_starts`` is ignored).
    transient, n_gen, lyapunov_steps : int
    rng : seed
        For the spectrum's initial frame and the Monte Carlo measures.
    n_starts : int >= 1
        Number of free runs (1: from ``x_test[0]`` only).

    Returns
    -------
    dict
    """
    from .lyapunov import OrbitDivergedError, lyapunov_spectrum

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
    d_stsp, d_legacy, d_h = [], [], []
    for i in starts:
        X = _free_run(model, x_test[i], transient + n_gen, s_gen, x_test)
        if X is None:
            d_stsp.append(math.inf)
            continue
        gen = X[transient:]
        d_stsp.append(float(metrics.state_space_divergence(ref, gen)))
        d_legacy.append(_finite_or_none(metrics.state_space_divergence(ref, gen, convention="legacy")))
        # None where the measure is undefined (e.g. a generated series that is flat within every Welch segment)
        d_h.append(_finite_or_none(metrics.power_spectrum_distance(ref, gen)))
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


# ------------------------------------------------------------------ one run
def _keep_heap_memory():
    """Ask glibc's malloc to serve large blocks from the heap and keep freed memory (Linux only; a no-op elsewhere).

    Training allocates the forward and backward arrays of every batch afresh (megabytes each); with glibc's default
    (and Dask's MALLOC_TRIM_THRESHOLD_=65536) every such block is a fresh mmap whose pages fault in again, which
    costs up to a third of a training run's time as system time. Keeping them in the heap removes that cost.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 512 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


def _selection_score(model, x0, n_steps, inputs, ref, transient):
    """D_stsp between ``ref`` and the model's free run of ``n_steps`` from ``x0`` after ``transient`` steps (inf if
    the run diverges)."""
    try:
        with np.errstate(all="ignore"):
            X = _free_run(model, x0, n_steps, inputs, ref)
    except (ValueError, FloatingPointError):
        return math.inf
    return math.inf if X is None else float(metrics.state_space_divergence(ref, X[transient:]))


class _Selection:
    """Model selection during training (``spec["select"]``): at each checkpoint the model runs freely from
    ``n_starts`` observations spread evenly over the *training* series, each run as long as the test set (at most
    half the series), and is scored by the worst D_stsp of those runs (after ``transient`` steps) against the last
    stretch of the training series of that length (with inputs, each run against its own stretch); shorter runs
    (3000 steps) made D_stsp too noisy to rank checkpoints by. A trained RNN can have several attractors, e.g. the
    reconstructed chaotic one next to a small limit cycle that only some initial states reach (the demo's seed-0 LSTM
    once had a fixed point drawing about a quarter of all starts, which eight starts all missed), so the worst case
    over many starts is what rules such a model out. The parameters with the lowest score so far are kept; they are
    stored atomically next to the checkpoint, so that a resumed run selects exactly as an uninterrupted one."""

    def __init__(self, path, x_train, s_train, n_ref, transient, n_starts=16):
        T = x_train.shape[0]
        L = min(max(n_ref, 4 * transient), T // 2)
        self.transient = min(transient, L // 3)
        starts = sorted({int(i) for i in np.linspace(0, T - L, n_starts)})
        ref = x_train[-L:]
        self.runs = [(x_train[i], None if s_train is None else s_train[i:i + L],
                      ref if s_train is None else x_train[i + self.transient:i + L]) for i in starts]
        self.length = L
        self.path = path
        self.best, self.epoch, self.params = math.inf, None, None
        if os.path.exists(path):
            with np.load(path, allow_pickle=False) as f:
                self.best, self.epoch = float(f["__score"]), int(f["__epoch"])
                self.params = {k: f[k] for k in f.files if not k.startswith("__")}

    def score(self, model):
        return max(_selection_score(model, x0, self.length, s, ref, self.transient) for x0, s, ref in self.runs)

    def __call__(self, epoch, model):
        score = self.score(model)
        if score < self.best:
            self.best, self.epoch = score, epoch + 1
            self.params = {k: v.copy() for k, v in model.params.items()}
            atomic_write(self.path, lambda fh: np.savez(fh, __score=self.best, __epoch=self.epoch, **self.params))


def _run_paths(out_dir, rid):
    runs = os.path.join(os.fspath(out_dir), "runs")
    return {
        "dir": runs,
        "result": os.path.join(runs, rid + ".json"),
        "model": os.path.join(runs, rid + ".npz"),
        "checkpoint": os.path.join(runs, rid + ".ckpt.npz"),
        "progress": os.path.join(runs, rid + ".progress"),
        "selection": os.path.join(runs, rid + ".best.npz"),
    }


def load_result(out_dir, spec):
    """The finished result of ``spec`` in ``out_dir`` (a dict), or None if it has not finished."""
    path = _run_paths(out_dir, run_id(spec))["result"]
    try:
        with open(path) as fh:
            res = json.load(fh)
    except (OSError, ValueError):
        return None
    return res if res.get("run_id") == run_id(spec) else None


def _series_for(spec, data, inputs):
    if data is None:
        x, s, _ = system_series(spec["data"], spec["n_steps"], dt=spec["dt"], rng=spec["data_seed"])
    else:
        x, s = np.asarray(data, dtype=np.float64), (None if inputs is None else np.asarray(inputs, np.float64))
    scale = spec.get("data_scale", 1.0)
    if scale != 1.0:
        x = x * scale
    n_test = spec["n_test"]
    if n_test >= x.shape[0] - spec["seq_len"]:
        raise ValueError(f"n_test={n_test} leaves fewer than seq_len={spec['seq_len']} training samples of "
                         f"{x.shape[0]}; lower n_test or seq_len, or pass more data")
    split = x.shape[0] - n_test
    return x[:split], x[split:], (None if s is None else s[:split]), (None if s is None else s[split:])


def execute_run(spec, out_dir, data=None, inputs=None):
    """Train and evaluate one run; write its result and model atomically; return the result dict.

    If the result file already exists the run is not repeated (its result is returned). While training, the run
    writes a checkpoint every ~10 % of its epochs; if it is interrupted (e.g. its worker is killed), executing it
    again resumes from there with exactly the same outcome.

    Parameters
    ----------
    spec : dict
        From :func:`make_spec`.
    out_dir : str or path
        Sweep directory; files go to ``out_dir/runs/``.
    data, inputs : ndarray, optional
        The series (T, N) (and inputs (T, K)) when ``spec["data"]`` is not a system name. The last
        ``spec["n_test"]`` samples are held out for evaluation.

    Returns
    -------
    dict
        ``run_id``, ``spec``, ``train`` (per-epoch loss, seconds, an ``error`` if training diverged),
        ``metrics`` (see :func:`evaluate_model`), ``host``, ``seconds``.
    """
    from .training import TrainingDivergedError, fit

    rid = run_id(spec)
    paths = _run_paths(out_dir, rid)
    os.makedirs(paths["dir"], exist_ok=True)
    done = load_result(out_dir, spec)
    if done is not None:
        return done
    t0 = time.perf_counter()
    _keep_heap_memory()
    threads = spec.get("threads")
    if threads:
        import numba
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    x_train, x_test, s_train, s_test = _series_for(spec, data, inputs)
    K = 0 if s_train is None else s_train.shape[1]
    model = MODELS[spec["model"]](spec["n_latent"], x_train.shape[1], K, dtype=spec.get("dtype", "float64"),
                                  rng=spec["seed"])
    from .optim import Adam
    opt = Adam(model.params, lr=spec["lr"])
    n_epochs = spec["n_epochs"]
    lr0, lr_end = spec["lr"], spec.get("lr_end")
    every = max(1, n_epochs // 10)
    select = (_Selection(paths["selection"], x_train, s_train, spec["n_test"], spec["eval_transient"])
              if spec.get("select") else None)

    def on_epoch(epoch, history, live_model):
        if select is not None and ((epoch + 1) % every == 0 or epoch + 1 == n_epochs):
            select(epoch, live_model)
        if lr_end is not None:
            opt.lr = lr0 * (lr_end / lr0) ** ((epoch + 1) / max(n_epochs - 1, 1))
        try:
            with open(paths["progress"], "w") as fh:
                fh.write(f"{epoch + 1} {n_epochs}\n")
        except OSError:
            pass
        return False

    kwargs = dict(_fit_forcing(spec["forcing"], spec["seq_len"]))
    if spec["baseline"] is not None:
        kwargs.update(BASELINES[spec["baseline"]])
    elif spec.get("clip") is not None:
        kwargs["clip"] = spec["clip"]
    train = {}
    try:
        hist = fit(model, x_train, inputs=s_train, seq_len=spec["seq_len"], batch_size=spec["batch_size"],
                   batches_per_epoch=spec["batches_per_epoch"], n_epochs=n_epochs, lr=lr0, rng=spec["seed"],
                   progress=False, optimizer=opt, callback=on_epoch, checkpoint=paths["checkpoint"],
                   checkpoint_every=every, **kwargs)
    except TrainingDivergedError as exc:
        train["error"] = str(exc)
        hist = None
    if hist is not None:
        train.update(loss=hist.loss, grad_norm=hist.grad_norm, seconds=float(np.sum(hist.seconds)))
    if select is not None and select.params is not None:
        model.set_params(**select.params)
        train.update(selected_epoch=select.epoch, selection_D_stsp=select.best)
    result = {
        "run_id": rid,
        "spec": spec,
        "train": train,
        "metrics": evaluate_model(model, x_test, dt=spec["dt"], inputs=s_test, transient=spec["eval_transient"],
                                  n_gen=spec["n_gen"], lyapunov_steps=spec["lyapunov_steps"], rng=spec["seed"],
                                  n_starts=spec["eval_starts"]),
        "host": f"{socket.gethostname()}:{os.getpid()}",
        "seconds": time.perf_counter() - t0,
    }
    model.save(paths["model"])
    _write_json(paths["result"], result)
    # the checkpoint, the progress file, and temp files orphaned by a worker killed in the middle of an atomic write
    orphans = glob.glob(os.path.join(glob.escape(os.path.dirname(paths["result"])), f".{rid}.*.tmp"))
    for p in (paths["checkpoint"], paths["progress"], paths["selection"], *orphans):
        try:
            os.unlink(p)
        except OSError:
            pass
    return result


# ------------------------------------------------------------------ sweeps
@dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`.

    Attributes
    ----------
    results : list of dict
        One result per finished run (see :func:`execute_run`), in grid order.
    skipped : int
        Runs found finished in the output directory and not repeated.
    executed : int
        Runs executed by this call.
    failed : list of (str, str)
        (run id, error message) of runs that raised.
    table : str
        Markdown summary table (also in ``summary.md``).
    tau_pred : float or None
        Predictability time of the data in steps (marked in the figure), if known.
    paths : dict
        ``summary_md``, ``summary_json`` and ``figure`` (absent without matplotlib).
    """

    results: list
    skipped: int
    executed: int
    failed: list
    table: str
    tau_pred: float | None = None
    paths: dict = field(default_factory=dict)


def _open_client(scheduler, n_workers, quiet):
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise ValueError(f"scheduler must be an address like 'tcp://127.0.0.1:8786', got {scheduler!r}")
        hint = "start one with `dask scheduler` or leave out the scheduler to use a local cluster"
        proto, _, where = scheduler.partition("://")
        if proto == "tcp":                      # fail fast (Client would retry until its timeout)
            host, _, port = where.rpartition(":")
            try:
                socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
            except (OSError, ValueError) as exc:
                raise OSError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); {hint}") from None
        try:
            return Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError) as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); {hint}") from None
    n_workers = n_workers or max(1, os.cpu_count() or 1)
    cluster = LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR if quiet else logging.WARNING)
    return Client(cluster), cluster


def _progress_epochs(paths_list):
    total = 0
    for p in paths_list:
        try:
            with open(p) as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def run_specs(specs, out_dir, *, data=None, inputs=None, scheduler=None, n_workers=None, progress=True,
              desc="runs"):
    """Execute run specs on Dask (skipping finished ones); return (results in order, skipped, executed, failed).

    ``scheduler=None`` starts a local cluster of ``n_workers`` processes (default: one per CPU) on 127.0.0.1 and
    closes it afterwards; an address uses that cluster (left running). Runs are submitted longest first (by
    their number of training steps), each under a key derived from its run id.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(os.path.join(out_dir, "runs"), exist_ok=True)
    results = [load_result(out_dir, s) for s in specs]
    todo = [i for i, r in enumerate(results) if r is None]
    skipped = len(specs) - len(todo)
    failed = []
    if not todo:
        return results, skipped, 0, failed
    from distributed import as_completed

    client, cluster = _open_client(scheduler, n_workers, quiet=not progress)
    bar = None
    try:
        data_arg = inputs_arg = None
        if data is not None:
            [data_arg] = client.scatter([np.asarray(data, dtype=np.float64)], broadcast=True)
            if inputs is not None:
                [inputs_arg] = client.scatter([np.asarray(inputs, dtype=np.float64)], broadcast=True)

        def cost(i):
            s = specs[i]
            weight = {"LSTM": 5.5, "GRU": 5.5, "TanhRNN": 0.8}.get(s["model"], 1.0)   # measured per-update cost
            return weight * s["n_latent"] ** 2 * s["seq_len"] * s["batch_size"] * s["batches_per_epoch"] * s[
                "n_epochs"]

        todo.sort(key=cost, reverse=True)
        futures = {}
        for i in todo:
            rid = run_id(specs[i])
            futures[client.submit(execute_run, specs[i], out_dir, data_arg, inputs_arg, key=f"fastrnn-run-{rid}",
                                  pure=False)] = i
        # progress in % of the estimated training work (epochs weighted by their cost), so that the time left
        # is meaningful when runs of different cost share the bar
        costs = {i: cost(i) for i in todo}
        total_cost = sum(costs.values())
        prog_files = [_run_paths(out_dir, run_id(specs[i]))["progress"] for i in todo]
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=100.0, desc=desc, unit="%", bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                       "[{elapsed}<{remaining}{postfix}]")
        ac = as_completed(list(futures))
        n_done = 0
        finished_cost = 0.0
        seen, finished = {}, set()
        while not ac.is_empty():
            done = ac.next_batch(block=False)
            if not done:
                time.sleep(0.25)
            for fut in done:
                i = futures[fut]
                if fut.status == "finished":
                    results[i] = fut.result()
                elif fut.status in ("error", "cancelled"):
                    failed.append((run_id(specs[i]), _error_line(fut.exception()) if fut.status == "error"
                                   else "cancelled"))
                else:   # "lost": its worker died after finishing; the scheduler computes it again
                    ac.add(fut)
                    continue
                n_done += 1
                finished.add(i)
                finished_cost += costs[i]
            if bar is not None:
                for p, i in zip(prog_files, todo):
                    if i not in finished:
                        seen[i] = max(seen.get(i, 0), _progress_epochs([p]))
                work = finished_cost + sum(costs[i] * min(1.0, v / specs[i]["n_epochs"]) for i, v in seen.items()
                                           if i not in finished)
                n = round(min(100.0, 100.0 * work / total_cost), 1)
                if n != bar.n or done:
                    bar.n = n
                    bar.set_postfix(runs=f"{n_done}/{len(futures)}")
                    bar.refresh()
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
    return results, skipped, len(todo), failed


def _error_line(exc):
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def run_sweep(out_dir, *, data="lorenz", models=("PLRNN", "LSTM"), taus=(5, 10, 25, 50, 100, 200), seeds=(0, 1),
              baselines=(), dt=None, inputs=None, tau_pred="auto", scheduler=None, n_workers=None, progress=True,
              figure=True, **settings):
    """Run a grid of (model, forcing, seed) on Dask and summarise it.

    Parameters
    ----------
    out_dir : str or path
        Output directory: ``runs/`` (one JSON result and one model file per run), ``summary.md``,
        ``summary.json`` and ``tau_sweep.png``.
    data : str or ndarray (T, N)
        A system name (:data:`SYSTEMS`, generated with ``n_steps`` samples and standardised) or a series; the last
        ``n_test`` samples are held out for evaluation.
    models : sequence of str
        Model names.
    taus : sequence
        Forcing options: intervals in steps, "none", or schedules (see :func:`parse_forcing`).
    seeds : sequence of int
    baselines : sequence of str
        Baselines run for every model and seed: "clipping", "windowing".
    dt : float, optional
        Time units per sample (systems: their default; arrays: 1).
    inputs : ndarray (T, K), optional
        Inputs aligned with an array ``data``.
    tau_pred : "auto", float or None
        Predictability time in steps marked in the figure; "auto" estimates it from the training part of the
        data (``ln 2 / lambda_max`` with lambda_max from :func:`fastrnn.timeseries.max_lyapunov` of the first
        observed coordinate).
    scheduler : str, optional
        Address of an existing Dask scheduler ("tcp://host:port"); default: a local cluster for this sweep.
    n_workers : int, optional
        Workers of the local cluster (default: one per CPU).
    progress : bool
        Progress bar over the epochs of all runs.
    figure : bool
        Draw ``tau_sweep.png`` (needs matplotlib).
    **settings
        Overrides of :data:`DEFAULT_SETTINGS` (n_latent, seq_len, n_epochs, lr, ...).

    Returns
    -------
    SweepResult
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    arr = None
    if isinstance(data, str):
        label = data
    else:
        arr = validation.as_float_array(data, "data", np.float64, ndim=(1, 2))
        arr = arr[:, None] if arr.ndim == 1 else arr
        label = "array"
        if inputs is not None:
            inputs = validation.as_float_array(inputs, "inputs", np.float64, ndim=2)
            if inputs.shape[0] != arr.shape[0]:
                raise ValueError(f"inputs has {inputs.shape[0]} rows but data has {arr.shape[0]}; align them")
    models = [model_kind(m) for m in models]
    options = [parse_forcing(t) for t in taus]
    seeds = [validation.check_int(s, "seed", minimum=0) for s in seeds]
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"unknown baseline {b!r}; choose one of {', '.join(BASELINES)}")
    specs = []
    for m in models:
        for f in options:
            for s in seeds:
                specs.append(make_spec(data=label, model=m, forcing_option=f, seed=s, dt=dt, **settings))
        for b in baselines:
            for s in seeds:
                specs.append(make_spec(data=label, model=m, baseline=b, seed=s, dt=dt, **settings))
    if not specs:
        raise ValueError("the sweep grid is empty: give at least one model, one tau (or baseline) and one seed")
    spec_dt = specs[0]["dt"]
    if tau_pred == "auto":
        tau_pred = _auto_tau_pred(specs[0], arr)
    elif tau_pred is not None:
        tau_pred = validation.check_float(tau_pred, "tau_pred", minimum=0.0, strict_min=True)
    results, skipped, executed, failed = run_specs(specs, out_dir, data=arr, inputs=inputs, scheduler=scheduler,
                                                   n_workers=n_workers, progress=progress, desc="sweep")
    done = [r for r in results if r is not None]
    table, rows = summarize(done)
    paths = {"summary_md": os.path.join(out_dir, "summary.md"), "summary_json": os.path.join(out_dir, "summary.json")}
    header = f"# tau sweep on {label}\n\n"
    if tau_pred is not None:
        header += f"tau_pred = {tau_pred:.1f} steps ({tau_pred * spec_dt:.3g} time units)\n\n"
    atomic_write(paths["summary_md"], lambda fh: fh.write((header + table + "\n").encode()))
    _write_json(paths["summary_json"], {"data": label, "dt": spec_dt, "tau_pred_steps": tau_pred, "rows": rows,
                                        "failed": failed, "runs": [r["run_id"] for r in done]})
    if figure and done:
        try:
            from . import plotting
        except ImportError:  # pragma: no cover - matplotlib missing
            plotting = None
        if plotting is not None:
            paths["figure"] = os.path.join(out_dir, "tau_sweep.png")
            plotting.save(plotting.tau_sweep_figure(done, tau_pred=tau_pred), paths["figure"])
    return SweepResult(results=done, skipped=skipped, executed=executed, failed=failed, table=table,
                       tau_pred=tau_pred, paths=paths)


def _auto_tau_pred(spec, arr):
    """tau_pred in steps from the training data's first coordinate, or None if it cannot be estimated."""
    try:
        if arr is None:
            x, _, _ = system_series(spec["data"], spec["n_steps"], dt=spec["dt"], rng=spec["data_seed"])
        else:
            x = arr
        x = x[: x.shape[0] - spec["n_test"], 0]
        return float(timeseries.suggest_tau(x, dt=spec["dt"]).tau_pred / spec["dt"])
    except ValueError:
        return None


def _mean_sd(values):
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None, None, 0
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else 0.0), len(v)


def _fmt(mean, sd, digits=3):
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}g}" if not sd else f"{mean:.{digits}g} ± {sd:.2g}"


def summarize(results):
    """Markdown table and rows (mean and sample standard deviation over seeds) per (model, forcing).

    Columns: model, forcing (tau in steps, schedule or baseline), runs, D_stsp, D_H, lambda_1 per time unit, the
    final training loss, and the runs whose free run diverged (their measures are absent and not averaged).
    """
    groups = {}
    for r in results:
        s = r["spec"]
        label = s["baseline"] or forcing_label(s["forcing"])
        groups.setdefault((s["model"], label), []).append(r)

    def order(key):
        rs = groups[key]
        return (key[0], rs[0]["spec"]["baseline"] is not None, forcing_tau(rs[0]["spec"]["forcing"]), key[1])

    rows = []
    lines = ["| model | forcing | runs | D_stsp | D_H | lambda_1 (1/time) | final loss | diverged |",
             "|---|---|---|---|---|---|---|---|"]
    for key in sorted(groups, key=order):
        rs = groups[key]
        get = lambda name: [r["metrics"].get(name) for r in rs]  # noqa: E731
        d = _mean_sd(get("D_stsp"))
        h = _mean_sd(get("D_H"))
        lam = _mean_sd(get("lambda_1"))
        loss = _mean_sd([(r["train"].get("loss") or [None])[-1] for r in rs])
        n_div = sum(bool(r["metrics"].get("generation_diverged")) or "error" in r["train"] for r in rs)
        spec = rs[0]["spec"]
        rows.append({"model": key[0], "forcing": key[1], "tau": forcing_tau(spec["forcing"]) if not spec["baseline"]
                     else None, "baseline": spec["baseline"], "runs": len(rs),
                     "D_stsp": d[0], "D_stsp_sd": d[1], "D_H": h[0], "D_H_sd": h[1], "lambda_1": lam[0],
                     "lambda_1_sd": lam[1], "final_loss": loss[0], "diverged": n_div,
                     "D_stsp_runs": get("D_stsp"), "D_H_runs": get("D_H"), "seeds": [r["spec"]["seed"] for r in rs]})
        lines.append(f"| {key[0]} | {key[1]} | {len(rs)} | {_fmt(*d[:2])} | {_fmt(*h[:2])} | {_fmt(*lam[:2])} | "
                     f"{_fmt(*loss[:2])} | {n_div} |")
    return "\n".join(lines), rows
