"""Delay embedding and the embedding delay: delay vectors, autocorrelation, average mutual information, mean
period, and the delay estimate built from them."""
from __future__ import annotations

import math

import numpy as np

from ..validation import as_float_array, check_int
from ._series import as_scalar_series, as_series, standardized_series

__all__ = ["delay_embed", "autocorrelation", "mutual_information", "mean_period", "estimate_delay"]

_INV_E = math.exp(-1.0)


def delay_embed(x, dim, lag=1):
    """Delay-coordinate embedding of a series.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
        Series sampled at equal steps.
    dim : int
        Number of delays ``m >= 1`` (embedding dimension for a scalar series).
    lag : int, optional
        Delay ``ell >= 1`` between coordinates, in steps.

    Returns
    -------
    numpy.ndarray, shape (T - (dim - 1) * lag, dim * D)
        Row ``t`` is ``(x_t, x_{t+lag}, ..., x_{t+(dim-1) lag})``; for ``D > 1`` columns ``k*D .. k*D + D - 1``
        hold ``x_{t + k lag}``.

    Raises
    ------
    ValueError
        If the series is too short for the embedding (fewer than ``(dim - 1) * lag + 1`` samples) or holds
        NaN/inf.
    """
    dim = check_int(dim, "dim", minimum=1)
    lag = check_int(lag, "lag", minimum=1)
    arr = as_float_array(x, "x", np.float64, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    return embed_array(arr, dim, lag, "x")


def embed_array(arr, dim, lag, name="x"):
    """:func:`delay_embed` of a checked float (T, D) array with checked ``dim`` and ``lag`` (steps).

    Raises
    ------
    ValueError
        If ``arr`` has no more than ``(dim - 1) * lag`` samples; the message names the argument ``name``.
    """
    T = arr.shape[0]
    n = T - (dim - 1) * lag
    if n < 1:
        raise ValueError(
            f"{name} has {T} samples, too short for an embedding with dim={dim} and lag={lag} (needs more than "
            f"(dim - 1) * lag = {(dim - 1) * lag}); use a longer series or a smaller dim or lag"
        )
    if dim == 1:
        return np.ascontiguousarray(arr[:n])
    return np.ascontiguousarray(np.concatenate([arr[k * lag: k * lag + n] for k in range(dim)], axis=1))


def autocorrelation(x, max_lag):
    r"""Sample autocorrelation function of a scalar series.

    ``r(L) = sum_{t} (x_t - m)(x_{t+L} - m) / sum_t (x_t - m)^2`` for ``L = 0 .. max_lag`` (the usual biased
    estimator, computed with an FFT), so ``r(0) = 1``.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, 1)
    max_lag : int
        Largest lag in steps, ``0 <= max_lag < T``.

    Returns
    -------
    numpy.ndarray, shape (max_lag + 1,)
    """
    arr = as_scalar_series(x)
    max_lag = check_int(max_lag, "max_lag", minimum=0)
    if max_lag >= arr.size:
        raise ValueError(f"max_lag={max_lag} must be smaller than the series length {arr.size}")
    return _acf(arr, max_lag)


def _acf(v, max_lag):
    v = v - v.mean()
    n = v.size
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(v, nfft)
    r = np.fft.irfft(f * np.conj(f), nfft)[: max_lag + 1]
    return r / r[0]


def mutual_information(x, max_lag, *, n_bins=16):
    r"""Average mutual information between ``x_t`` and ``x_{t+L}`` for ``L = 0 .. max_lag``, in nats.

    The range ``[min x, max x]`` is split into ``n_bins`` equal-width bins; for each lag the joint histogram of
    the ``T - L`` pairs gives ``I(L) = sum_ij p_ij ln(p_ij / (p_i p_j))`` with the marginals taken from the same
    pairs (Fraser & Swinney 1986, fixed-bin estimator as in TISEAN's ``mutual``).

    Parameters
    ----------
    x : array_like, shape (T,) or (T, 1)
    max_lag : int
        Largest lag in steps, ``0 <= max_lag <= T - 2``.
    n_bins : int, optional
        Bins per axis (default 16).

    Returns
    -------
    numpy.ndarray, shape (max_lag + 1,)
    """
    arr = as_scalar_series(x)
    max_lag = check_int(max_lag, "max_lag", minimum=0)
    n_bins = check_int(n_bins, "n_bins", minimum=2)
    if max_lag > arr.size - 2:
        raise ValueError(f"max_lag={max_lag} must be at most T - 2 = {arr.size - 2}")
    codes = _bin_codes(arr, n_bins)
    return np.array([_ami_at(codes, L, n_bins) for L in range(max_lag + 1)])


def _bin_codes(v, n_bins):
    lo, hi = v.min(), v.max()
    return np.minimum(((v - lo) / (hi - lo) * n_bins).astype(np.int64), n_bins - 1)


def _ami_at(codes, L, n_bins):
    n = codes.size - L
    joint = np.bincount(codes[:n] * n_bins + codes[L:], minlength=n_bins * n_bins).reshape(n_bins, n_bins) / n
    pa = joint.sum(axis=1)
    pb = joint.sum(axis=0)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])))


def mean_period(x):
    """Mean period of a series in steps: the reciprocal of the power-weighted mean frequency.

    ``f_mean = sum_f f P(f) / sum_f P(f)`` over the positive FFT frequencies (cycles per step) of the z-scored
    series (for ``D > 1`` the columns' periodograms are summed); returns ``1 / f_mean`` (Rosenstein et al. 1993
    use it as the Theiler window).  White noise gives about 4 steps.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)

    Returns
    -------
    float
        Mean period in steps (>= 2).
    """
    return mean_period_steps(standardized_series(x, min_length=4))


def mean_period_steps(z):
    """:func:`mean_period` (in steps) of an already checked and z-scored (T, D) array."""
    p = (np.abs(np.fft.rfft(z, axis=0)) ** 2).sum(axis=1)[1:]
    f = np.fft.rfftfreq(z.shape[0])[1:]
    return float(1.0 / (np.sum(f * p) / np.sum(p)))


def estimate_delay(x, *, method="ami", max_lag=None, n_bins=16):
    """Embedding delay (lag, in steps) of a series.

    Rules (documented defaults):

    * ``method="ami"`` (default): the **first local minimum of the average mutual information**
      (:func:`mutual_information`, ``I(L) < I(L-1)`` and ``I(L) <= I(L+1)``), capped by the first lag at which
      the autocorrelation drops below ``1/e``: ``lag = min(L_ami, L_acf)``.  The cap matters for maps and
      coarsely sampled flows, whose successive samples are already decorrelated (for the logistic map and the
      Hénon map it gives 1); there the mutual information falls to its estimation floor first and its first
      "minimum" is a fluctuation of that floor.  If one of the two lags does not exist within ``max_lag`` the
      other is used (the autocorrelation is the fallback).
    * ``method="acf"``: the first lag at which the autocorrelation drops below ``1/e``.

    For a ``(T, D)`` series the delay of every column is computed and the smallest is returned.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
    method : {"ami", "acf"}
    max_lag : int, optional
        Largest lag searched, in steps; default ``min(T // 10, 1000)`` (at least 2).
    n_bins : int, optional
        Bins per axis of the mutual-information histogram (default 16).

    Returns
    -------
    int
        The delay in steps (>= 1).

    Raises
    ------
    ValueError
        If neither criterion is met within ``max_lag`` (pass a larger ``max_lag``, or choose the lag yourself),
        or for invalid input (too short, constant, NaN).
    """
    if method not in ("ami", "acf"):
        raise ValueError(f"method must be 'ami' or 'acf', got {method!r}")
    arr = as_series(x, min_length=16)
    T = arr.shape[0]
    if max_lag is None:
        max_lag = max(2, min(T // 10, 1000))
    max_lag = check_int(max_lag, "max_lag", minimum=1)
    if max_lag > T - 3:
        raise ValueError(f"max_lag={max_lag} is too large for a series of {T} samples (at most T - 3 = {T - 3})")
    n_bins = check_int(n_bins, "n_bins", minimum=2)
    lags = []
    for j in range(arr.shape[1]):
        cands = _delay_candidates(arr[:, j], method, max_lag, n_bins)
        if not cands:
            crit = "no minimum of the mutual information and no" if method == "ami" else "no"
            raise ValueError(
                f"column {j} of x: {crit} drop of the autocorrelation below 1/e within max_lag={max_lag} steps; "
                f"the series may be strongly non-stationary or oversampled - pass a larger max_lag or set the lag "
                f"yourself"
            )
        lags.append(min(cands))
    return int(min(lags))


def _delay_candidates(v, method, max_lag, n_bins):
    """The lags (steps) that the rules of :func:`estimate_delay` find for one column: [L_ami?, L_acf?]."""
    r = _acf(v, max_lag)
    below = np.nonzero(r[1:] < _INV_E)[0]
    l_acf = int(below[0]) + 1 if below.size else None
    l_ami = None
    if method == "ami":
        limit = max_lag if l_acf is None else min(max_lag, l_acf)
        codes = _bin_codes(v, n_bins)
        prev2 = _ami_at(codes, 0, n_bins)
        prev = _ami_at(codes, 1, n_bins)
        for L in range(2, limit + 2):
            cur = _ami_at(codes, L, n_bins)
            if prev < prev2 and prev <= cur:
                l_ami = L - 1
                break
            prev2, prev = prev, cur
    return [c for c in (l_ami, l_acf) if c is not None]


def oscillation_period_steps(z, max_lag=None):
    """Oscillation period in steps of the z-scored (T, D) array ``z``: the lag of the first local maximum of the
    autocorrelation (columns averaged) after its first local minimum, or None if it has none within ``max_lag``
    (default ``T // 10``) steps or it rises less than ``3 / sqrt(T)`` above that minimum (a fluctuation of a
    noise-like autocorrelation) - the period with which an oscillatory signal's divergence curve ripples."""
    T = z.shape[0]
    max_lag = max(3, T // 10) if max_lag is None else int(max_lag)
    r = np.mean([_acf(z[:, j], max_lag) for j in range(z.shape[1])], axis=0)
    d = np.diff(r)
    up = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0]
    if not up.size:
        return None
    k_min = int(up[0]) + 1
    down = np.nonzero(d[k_min:] < 0)[0]
    if not down.size:
        return None
    k_peak = k_min + int(down[0])
    # a peak of a white-noise autocorrelation stays within a few 1/sqrt(T) of 0: not an oscillation
    return float(k_peak) if r[k_peak] - r[k_min] > 3.0 / math.sqrt(T) else None
