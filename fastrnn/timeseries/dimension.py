r"""Embedding dimension: Cao's statistics, false nearest neighbours, and the dimension estimate built from them."""
from __future__ import annotations

import warnings

import numpy as np

from ..validation import check_float, check_int
from ._series import optional_int, standardized_series
from .embedding import embed_array
from .neighbours import nearest_valid, reference_points, theiler_window

__all__ = ["cao", "false_nearest_neighbors", "estimate_dimension"]


def cao(x, lag, *, max_dim=10, theiler=None, n_ref=5000):
    r"""Cao's (1997) embedding-dimension statistics ``E1(d)`` and ``E2(d)`` for ``d = 1 .. max_dim``.

    With ``y_i(d)`` the delay vectors (:func:`delay_embed`, all columns of a multivariate series jointly, each
    z-scored) and ``n(i, d)`` the nearest neighbour of ``y_i(d)`` in the maximum norm outside the Theiler window,

    .. math::

        a(i, d) = \frac{\lVert y_i(d+1) - y_{n(i,d)}(d+1) \rVert_\infty}{\lVert y_i(d) - y_{n(i,d)}(d) \rVert_\infty},
        \quad E(d) = \langle a(i, d) \rangle_i, \quad E_1(d) = E(d+1) / E(d),

        E^*(d) = \langle \lVert x_{i + d\ell} - x_{n(i,d) + d\ell} \rVert_\infty \rangle_i,
        \quad E_2(d) = E^*(d+1) / E^*(d).

    ``E1`` stops changing (approaches 1) once ``d`` suffices; ``E2`` stays near 1 for all ``d`` only for
    stochastic data.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
    lag : int
        Delay in steps (see :func:`estimate_delay`).
    max_dim : int, optional
        Largest ``d`` (default 10); needs vectors of dimension ``max_dim + 2``.
    theiler : int, optional
        Theiler window in steps: neighbours with ``|i - j| <= theiler`` are ignored.  Default: the mean period
        (:func:`mean_period`), rounded up.
    n_ref : int or None, optional
        Number of reference points (evenly spaced in time) averaged over; None uses all.  Default 5000.

    Returns
    -------
    E1, E2 : numpy.ndarray, shape (max_dim,)
        ``E1[d-1] = E1(d)``, ``E2[d-1] = E2(d)``.
    """
    return _cao(x, lag, max_dim=max_dim, theiler=theiler, n_ref=n_ref, stop_at=None)


def _prepare(x, lag, max_dim, theiler, n_ref, *, n_delays, method):
    """Checked ``n_ref``, the z-scored series and the Theiler window (steps) of ``cao`` / ``false_nearest_neighbors``;
    the series must hold ``n_delays`` lags beyond two Theiler windows and 12 samples."""
    n_ref = optional_int(n_ref, "n_ref", 1)
    z = standardized_series(x, min_length=16)
    theiler = theiler_window(theiler, z)
    T = z.shape[0]
    need = n_delays * lag + 2 * theiler + 12
    if T < need:
        raise ValueError(
            f"x has {T} samples, too short for {method} with lag={lag}, max_dim={max_dim} and theiler={theiler} "
            f"(needs at least {need}); use a longer series or smaller max_dim/lag/theiler"
        )
    return z, theiler, n_ref


def _nearest_pairs(Y, n_ref, theiler, p):
    """Reference points ``q`` of ``Y``, their nearest valid neighbours ``j`` and the distances (points without one
    dropped)."""
    q = reference_points(Y.shape[0], n_ref)
    j, dist = nearest_valid(Y, q, 1, theiler, p=p)
    j, dist = j[:, 0], dist[:, 0]
    keep = j >= 0
    return q[keep], j[keep], dist[keep]


def _cao(x, lag, *, max_dim, theiler, n_ref, stop_at):
    lag = check_int(lag, "lag", minimum=1)
    max_dim = check_int(max_dim, "max_dim", minimum=1)
    z, theiler, n_ref = _prepare(x, lag, max_dim, theiler, n_ref, n_delays=max_dim + 1, method="Cao's method")
    T, D = z.shape
    E, Es = [], []
    E1, E2 = [], []
    for d in range(1, max_dim + 2):
        n = T - d * lag  # vectors of dimension d that also have a (d+1)-th delay
        Y = embed_array(z, d + 1, lag)[:n]
        q, j, dist = _nearest_pairs(Y[:, : d * D], n_ref, theiler, np.inf)
        a = np.max(np.abs(Y[q] - Y[j]), axis=1) / dist
        E.append(float(np.mean(a)))
        Es.append(float(np.mean(np.max(np.abs(z[q + d * lag] - z[j + d * lag]), axis=1))))
        if d >= 2:
            E1.append(E[-1] / E[-2])
            E2.append(Es[-1] / Es[-2])
            if stop_at is not None and E1[-1] >= stop_at:
                break
    return np.array(E1), np.array(E2)


def false_nearest_neighbors(x, lag, *, max_dim=10, theiler=None, rtol=10.0, atol=2.0, n_ref=5000):
    r"""Fraction of false nearest neighbours (Kennel, Brown & Abarbanel 1992) for ``d = 1 .. max_dim``.

    For each reference vector ``y_i(d)`` (z-scored columns, Euclidean norm) and its nearest neighbour ``y_j(d)``
    outside the Theiler window at distance ``R_d``, the neighbour is false if the added coordinates separate them,
    ``|x_{i+d ell} - x_{j+d ell}|_inf / R_d > rtol``, or if ``R_{d+1} / R_A > atol`` with ``R_A = 1`` the standard
    deviation of the z-scored data.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
    lag : int
        Delay in steps.
    max_dim : int, optional
        Largest dimension tested (default 10).
    theiler : int, optional
        Theiler window in steps (default: the mean period, rounded up).
    rtol, atol : float, optional
        Kennel's thresholds (defaults 10 and 2).
    n_ref : int or None, optional
        Number of reference points, evenly spaced in time (default 5000; None = all).

    Returns
    -------
    numpy.ndarray, shape (max_dim,)
        Fraction of false neighbours at ``d = 1 .. max_dim``.
    """
    return _fnn(x, lag, max_dim=max_dim, theiler=theiler, rtol=rtol, atol=atol, n_ref=n_ref, stop_at=None)


def _fnn(x, lag, *, max_dim, theiler, rtol, atol, n_ref, stop_at):
    lag = check_int(lag, "lag", minimum=1)
    max_dim = check_int(max_dim, "max_dim", minimum=1)
    rtol = check_float(rtol, "rtol", minimum=0.0, strict_min=True)
    atol = check_float(atol, "atol", minimum=0.0, strict_min=True)
    z, theiler, n_ref = _prepare(x, lag, max_dim, theiler, n_ref, n_delays=max_dim,
                                 method="false nearest neighbours")
    T = z.shape[0]
    out = []
    for d in range(1, max_dim + 1):
        n = T - d * lag
        q, j, R = _nearest_pairs(embed_array(z, d, lag)[:n], n_ref, theiler, 2.0)
        ext = np.abs(z[q + d * lag] - z[j + d * lag])
        r_next = np.sqrt(R ** 2 + np.sum(ext ** 2, axis=1))
        false = (np.max(ext, axis=1) / R > rtol) | (r_next > atol)
        out.append(float(np.mean(false)))
        if stop_at is not None and out[-1] <= stop_at:
            break
    return np.array(out)


def estimate_dimension(x, lag, *, method="cao", max_dim=10, theiler=None, threshold=None, n_ref=5000):
    """Embedding dimension of a series.

    Rules (documented defaults):

    * ``method="cao"`` (default): the smallest ``d`` with ``E1(d) >= threshold`` (default 0.9), i.e. adding the
      ``(d+1)``-th delay no longer changes the nearest-neighbour distances much (:func:`cao`).
    * ``method="fnn"``: the smallest ``d`` whose fraction of false nearest neighbours is ``<= threshold``
      (default 0.01) (:func:`false_nearest_neighbors`).

    If no ``d <= max_dim`` satisfies the rule, ``max_dim`` is returned with a :class:`RuntimeWarning`.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
        For ``D > 1`` all columns are delayed jointly and ``d = 1`` means the measured state.
    lag : int
        Delay in steps (see :func:`estimate_delay`).
    method : {"cao", "fnn"}
    max_dim : int, optional
        Largest dimension considered (default 10).
    theiler : int, optional
        Theiler window in steps (default: the mean period, rounded up).
    threshold : float, optional
        See the rules above.
    n_ref : int or None, optional
        Number of reference points, evenly spaced in time (default 5000; None = all).

    Returns
    -------
    int
        The number of delays ``d >= 1``.

    Warns
    -----
    RuntimeWarning
        If no dimension up to ``max_dim`` satisfies the rule (``max_dim`` is returned).
    """
    if method not in ("cao", "fnn"):
        raise ValueError(f"method must be 'cao' or 'fnn', got {method!r}")
    if method == "cao":
        thr = 0.9 if threshold is None else check_float(threshold, "threshold", minimum=0.0, strict_min=True)
        E1, _ = _cao(x, lag, max_dim=max_dim, theiler=theiler, n_ref=n_ref, stop_at=thr)
        hit = np.nonzero(E1 >= thr)[0]
    else:
        thr = 0.01 if threshold is None else check_float(threshold, "threshold", minimum=0.0, maximum=1.0)
        frac = _fnn(x, lag, max_dim=max_dim, theiler=theiler, rtol=10.0, atol=2.0, n_ref=n_ref, stop_at=thr)
        hit = np.nonzero(frac <= thr)[0]
    if hit.size:
        return int(hit[0]) + 1
    warnings.warn(
        f"estimate_dimension: no dimension up to max_dim={max_dim} satisfies the {method} criterion (threshold "
        f"{thr}); returning max_dim. The data may be noisy or high-dimensional.",
        RuntimeWarning,
        stacklevel=2,
    )
    return int(max_dim)
