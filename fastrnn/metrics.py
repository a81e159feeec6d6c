r"""Reconstruction measures: state-space divergence D_stsp, power-spectrum distance D_H, prediction error.

A reconstruction is judged by invariant properties of its free-running trajectories (Koppe et al. 2019;
Mikhaeil et al. 2022): the geometry of the attractor in observation space (:func:`state_space_divergence`) and its
temporal structure (:func:`power_spectrum_distance`).  Published codes differ in their conventions; this module
documents the formulas of its defaults exactly, ``convention="legacy"`` reproduces the evaluation code of the
paper that introduced sparsely forced BPTT (Mikhaeil, Monfared & Durstewitz 2022, "On the difficulty of learning
chaotic dynamics with RNNs"), and ``convention="gtf"`` the measures of the generalised-teacher-forcing benchmark
(Hess, Monfared, Brenner & Durstewitz 2023, "Generalized Teacher Forcing for Learning Chaotic Dynamics"), so that
values can be compared with published numbers.

Shapes: series are ``(T, N)`` (time, observations) or ``(T,)``; ``x_true`` and ``x_gen`` must have the same
``N`` but may have different lengths.  All logarithms are natural (nats).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numba import njit, prange
from scipy.ndimage import gaussian_filter1d

from .preprocessing import zscore
from .validation import as_float_array, check_float, check_int, check_rng

__all__ = ["state_space_divergence", "power_spectrum_distance", "prediction_error", "diverged", "DIVERGENCE_FACTOR"]

_CONVENTIONS = ("default", "legacy", "gtf")

#: a free run has diverged once |x| exceeds this factor times max(1, max |data|) (in the data's units)
DIVERGENCE_FACTOR = 1e3


def diverged(X, ref) -> bool:
    """Whether a free run ``X`` left the data ``ref`` by orders of magnitude (|x| > :data:`DIVERGENCE_FACTOR` max(1,
    max |ref|)) or is non-finite."""
    return not np.all(np.isfinite(X)) or np.abs(X).max() > DIVERGENCE_FACTOR * max(1.0, np.abs(ref).max())


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------
def _pair(x_true, x_gen, *, min_length=2):
    a = as_float_array(x_true, "x_true", np.float64, ndim=(1, 2))
    b = as_float_array(x_gen, "x_gen", np.float64, ndim=(1, 2))
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"x_true has {a.shape[1]} column(s) and x_gen {b.shape[1]}; both must be (T, N) with the same N"
        )
    if a.shape[1] == 0:
        raise ValueError("x_true and x_gen need at least one column")
    for name, arr in (("x_true", a), ("x_gen", b)):
        if arr.shape[0] < min_length:
            raise ValueError(f"{name} has {arr.shape[0]} samples; at least {min_length} are needed")
    std = a.std(axis=0)
    const = np.nonzero(~(std > 1e-12 * np.maximum(np.abs(a).max(axis=0), np.finfo(float).tiny)))[0]
    if const.size:
        raise ValueError(
            f"x_true is constant in column(s) {const.tolist()}: the measures standardise by the true data's "
            f"standard deviation, so a constant reference series cannot be used; drop those columns"
        )
    return a, b


def _convention(convention):
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(map(repr, _CONVENTIONS))} (fastrnn's formulas, "
                         f"Mikhaeil et al. 2022's code, Hess et al. 2023's benchmark), got {convention!r}")
    return convention


# --------------------------------------------------------------------------
# State-space divergence
# --------------------------------------------------------------------------
def state_space_divergence(x_true, x_gen, *, method="auto", convention="default", n_bins=None, smoothing=1e-5,
                           variance=None, n_samples=None, max_components=None, rng=None):
    r"""State-space divergence ``D_stsp``: Kullback-Leibler divergence between the distributions of states visited
    by the true and the generated trajectory.

    ``D_stsp(x, x) = 0``; larger values mean less overlap.  It is finite for any finite input (empty bins are
    smoothed).

    **Binned estimate** (``method="bins"``), default convention:

    1. Standardise both series with the **true** series' mean and standard deviation per column:
       ``u = (x - mean(x_true)) / std(x_true)``.
    2. Per column, ``n_bins`` (default 30) equal-width bins span ``[min u_true, max u_true]``; generated points
       outside this range are counted in the edge bins (nothing is discarded).
    3. With counts ``c`` over the ``B = n_bins**N`` cells and ``T`` points per series, the probabilities are
       Laplace-smoothed, ``p = (c + alpha) / (T + alpha B)`` with ``alpha = smoothing`` (default ``1e-5``).
    4. ``D_stsp = KL(p_true || p_gen) = sum_cells p_true ln(p_true / p_gen)``.

    Cells empty in both series are summed in closed form, so memory does not grow with ``B``.

    **Gaussian-mixture estimate** (``method="gmm"``; Koppe et al. 2019), default convention: both series are
    standardised as above; each defines a mixture with one isotropic Gaussian per time point,
    ``p(x) = (1/M) sum_t N(x; u_t, variance * I)`` (``variance`` in units of the true data's variance, default
    0.1); to keep it fast the components are the time points taken with an even stride so that at most
    ``max_components`` (default 5000) remain.  ``KL(p_true || p_gen)`` is estimated by Monte Carlo,
    ``mean_s [ln p_true(s) - ln p_gen(s)]`` over ``n_samples`` (default 2000) samples ``s`` drawn from
    ``p_true`` with ``rng`` (log-densities computed with log-sum-exp).

    ``method="auto"`` uses bins for ``N <= 3`` and the mixture above.

    **Legacy convention** (``convention="legacy"``, the evaluation code of Mikhaeil et al. 2022):

    * bins: no standardisation; per column ``n_bins`` (default 10) bins span ``[-2 s, 2 s]`` with ``s`` the
      true column's standard deviation (ddof=1) - the data are assumed to be centred; the bin index is
      ``int(n_bins (x + 2 s) / (4 s))`` truncated toward zero and points with any index ``<= 0`` or
      ``>= n_bins`` are **discarded** (so the lowest bin always stays empty, as in that code);
      ``p = (c + alpha) / (sum c + alpha B)`` with ``alpha = 1e-5``; ``KL(p_true || p_gen)``.  If either
      histogram is empty (all points outside the range) the result is NaN, as there.
    * gmm: no standardisation; components are the first ``min(T, 5000)`` points of each series with variance
      0.1; 1000 samples are drawn from the **generated** mixture and the estimate is
      ``mean [ln p_gen(s) - ln p_true(s)]`` = ``KL(p_gen || p_true)`` (the direction of that code), dropping
      samples whose true-mixture density underflows to 0.
    * auto: bins for ``N < 5``, else gmm.

    **GTF convention** (``convention="gtf"``, the benchmark of Hess et al. 2023; series assumed standardised):

    * bins: no standardisation; per column ``n_bins`` (default 30) equal-width bins with edges
      ``linspace(lo, hi, n_bins + 1)``, ``lo = min x_true - 0.1 s``, ``hi = max x_true + 0.1 s`` (``s`` the true
      column's standard deviation, ddof=1); bins are half-open ``[e_i, e_{i+1})`` and generated points outside
      ``[lo, hi)`` in any column are **discarded**; ``p = (c + alpha) / (sum c + alpha B)`` with ``alpha =
      smoothing`` (1e-5) and ``sum c`` the number of points kept; ``D_stsp = KL(p_true || p_gen)``; NaN if no
      generated point lies in the range.
    * gmm: no standardisation; the components of each mixture are the **first** ``min(T, max_components)``
      points of its series (default ``max_components = 10**4``) with ``variance`` 1 (default) times the identity;
      ``n_samples`` (default 1000) samples are drawn from the **true** mixture with ``rng`` - first the component
      indices ``rng.integers(0, M_true, n_samples)``, then the noise ``rng.standard_normal((n_samples, N))`` - and
      ``D_stsp = mean [ln p_true(s) - ln p_gen(s)] = KL(p_true || p_gen)`` over the samples at which both
      densities are positive in float64 (that code drops samples whose density underflows; NaN if none is left).
    * auto: bins for ``N < 6``, else gmm.

    Parameters
    ----------
    x_true, x_gen : array_like, shape (T, N) / (T', N) or (T,)
        Reference and generated series (same number of columns).
    method : {"auto", "bins", "gmm"}
    convention : {"default", "legacy", "gtf"}
    n_bins : int, optional
        Bins per column (default 30, legacy 10, gtf 30).
    smoothing : float, optional
        Laplace pseudo-count ``alpha`` added to every cell (default 1e-5).
    variance : float, optional
        Variance of the mixture components (default 0.1, gtf 1).
    n_samples : int, optional
        Monte Carlo samples for ``"gmm"`` (default 2000, legacy and gtf 1000).
    max_components : int, optional
        Largest number of mixture components per series (default 5000 taken with an even stride; gtf 10**4, the
        first ones; ignored by the legacy convention, which takes the first 5000 points).
    rng : None, int or numpy.random.Generator, optional
        Randomness of the Monte Carlo samples (``"gmm"`` only).

    Returns
    -------
    float
        ``D_stsp`` in nats (>= 0 for the bins; the Monte Carlo estimate can be slightly negative when the
        distributions agree).
    """
    convention = _convention(convention)
    if method not in ("auto", "bins", "gmm"):
        raise ValueError(f"method must be 'auto', 'bins' or 'gmm', got {method!r}")
    a, b = _pair(x_true, x_gen, min_length=2)
    N = a.shape[1]
    if method == "auto":
        method = "bins" if N < {"default": 4, "legacy": 5, "gtf": 6}[convention] else "gmm"
    smoothing = check_float(smoothing, "smoothing", minimum=0.0, strict_min=True)
    if method == "bins":
        n_bins = (10 if convention == "legacy" else 30) if n_bins is None else check_int(n_bins, "n_bins", minimum=2)
        if N * math.log(n_bins) > math.log(2.0 ** 62):
            raise ValueError(
                f"n_bins={n_bins} in {N} dimensions gives more than 2**62 cells; use fewer bins or method='gmm'"
            )
        if convention == "default":
            return _kl_bins_default(a, b, n_bins, smoothing)
        if convention == "gtf":
            return _kl_bins_gtf(a, b, n_bins, smoothing)
        return _kl_bins_legacy(a, b, n_bins, smoothing)
    variance = (1.0 if convention == "gtf" else 0.1) if variance is None else check_float(
        variance, "variance", minimum=0.0, strict_min=True)
    gen = check_rng(rng)
    if convention == "gtf":
        n_samples = 1000 if n_samples is None else check_int(n_samples, "n_samples", minimum=1)
        max_components = 10 ** 4 if max_components is None else check_int(max_components, "max_components",
                                                                           minimum=1)
        ca, cb = a[:max_components], b[:max_components]
        samples = ca[gen.integers(0, ca.shape[0], n_samples)] + math.sqrt(variance) * gen.standard_normal(
            (n_samples, N))
        lp_true = _gmm_logpdf(samples, ca, variance)
        lp_gen = _gmm_logpdf(samples, cb, variance)
        keep = (np.exp(lp_true) > 0) & (np.exp(lp_gen) > 0)
        return float(np.mean(lp_true[keep] - lp_gen[keep])) if np.any(keep) else float("nan")
    if convention == "default":
        n_samples = 2000 if n_samples is None else check_int(n_samples, "n_samples", minimum=1)
        max_components = 5000 if max_components is None else check_int(max_components, "max_components", minimum=1)
        ua, mu, sd = zscore(a, return_stats=True)  # both scaled by the true data's statistics
        ub = zscore(b, mu, sd)
        ca = ua[:: -(-ua.shape[0] // max_components)]
        cb = ub[:: -(-ub.shape[0] // max_components)]
        samples = ca[gen.integers(0, ca.shape[0], n_samples)] + math.sqrt(variance) * gen.standard_normal(
            (n_samples, N))
        return float(np.mean(_gmm_logpdf(samples, ca, variance) - _gmm_logpdf(samples, cb, variance)))
    n_samples = 1000 if n_samples is None else check_int(n_samples, "n_samples", minimum=1)
    ca = a[:5000]
    cb = b[:5000]
    samples = cb[gen.integers(0, cb.shape[0], n_samples)] + math.sqrt(variance) * gen.standard_normal((n_samples, N))
    lp_gen = _gmm_logpdf(samples, cb, variance)
    lp_true = _gmm_logpdf(samples, ca, variance)
    keep = np.exp(lp_true) > 0  # that code drops samples whose true density underflows to 0
    if not np.any(keep):
        return float("nan")
    return float(np.mean(lp_gen[keep] - lp_true[keep]))


def _cells(idx, n_bins):
    """Flatten per-column bin indices (T, N) into cell codes."""
    code = np.zeros(idx.shape[0], dtype=np.int64)
    for d in range(idx.shape[1]):
        code = code * n_bins + idx[:, d]
    return code


def _kl_from_codes(code_a, code_b, n_cells, alpha, tot_a, tot_b):
    """KL(p_a || p_b) with p = (count + alpha) / (total + alpha * n_cells), cells empty in both summed exactly."""
    ua, ca = np.unique(code_a, return_counts=True)
    ub, cb = np.unique(code_b, return_counts=True)
    cells = np.union1d(ua, ub)
    na = np.zeros(cells.size)
    nb = np.zeros(cells.size)
    na[np.searchsorted(cells, ua)] = ca
    nb[np.searchsorted(cells, ub)] = cb
    za = tot_a + alpha * n_cells
    zb = tot_b + alpha * n_cells
    pa = (na + alpha) / za
    pb = (nb + alpha) / zb
    kl = float(np.sum(pa * (np.log(na + alpha) - np.log(nb + alpha))) + (math.log(zb) - math.log(za)) * pa.sum())
    n_empty = n_cells - cells.size
    if n_empty > 0:
        p0 = alpha / za
        kl += n_empty * p0 * (math.log(zb) - math.log(za))
    return max(kl, 0.0)  # >= 0 mathematically; clip rounding


def _kl_bins_default(a, b, n_bins, alpha):
    ua, mu, sd = zscore(a, return_stats=True)  # both scaled by the true data's statistics
    ub = zscore(b, mu, sd)
    lo = ua.min(axis=0)
    width = (ua.max(axis=0) - lo) / n_bins

    def index(u):
        return np.clip(np.floor((u - lo) / width), 0, n_bins - 1).astype(np.int64)

    n_cells = float(n_bins) ** a.shape[1]
    return _kl_from_codes(_cells(index(ua), n_bins), _cells(index(ub), n_bins), n_cells, alpha,
                          a.shape[0], b.shape[0])


def _kl_bins_legacy(a, b, n_bins, alpha):
    s = a.std(axis=0, ddof=1)
    lo, hi = -2.0 * s, 2.0 * s

    def codes(x):
        idx = np.trunc(n_bins * (x - lo) / (hi - lo))
        inlier = np.all((idx > 0) & (idx < n_bins), axis=1)
        return _cells(idx[inlier].astype(np.int64), n_bins)

    code_a, code_b = codes(a), codes(b)
    if code_a.size == 0 or code_b.size == 0:
        return float("nan")
    n_cells = float(n_bins) ** a.shape[1]
    return _kl_from_codes(code_a, code_b, n_cells, alpha, code_a.size, code_b.size)


def _kl_bins_gtf(a, b, n_bins, alpha):
    s = a.std(axis=0, ddof=1)
    lo, hi = a.min(axis=0) - 0.1 * s, a.max(axis=0) + 0.1 * s

    def codes(x):
        idx = np.empty(x.shape, dtype=np.int64)
        for d in range(x.shape[1]):  # half-open bins [e_i, e_i+1) on the exact edges
            idx[:, d] = np.searchsorted(np.linspace(lo[d], hi[d], n_bins + 1), x[:, d], side="right") - 1
        return _cells(idx[np.all((idx >= 0) & (idx < n_bins), axis=1)], n_bins)

    code_a, code_b = codes(a), codes(b)
    if code_b.size == 0:
        return float("nan")
    return _kl_from_codes(code_a, code_b, float(n_bins) ** a.shape[1], alpha, code_a.size, code_b.size)


def _gmm_logpdf(s, centers, variance):
    """log of (1/M) sum_m N(s; centers_m, variance I) for every row of s."""
    M, N = centers.shape
    const = -math.log(M) - 0.5 * N * math.log(2.0 * math.pi * variance)
    return _gmm_lse_kernel(np.ascontiguousarray(s), np.ascontiguousarray(centers), 0.5 / variance) + const


@njit(parallel=True, cache=True)
def _gmm_lse_kernel(s, centers, inv2var):
    """log sum_m exp(-||s_i - c_m||^2 * inv2var) per row i (two passes: minimum distance, then the sum)."""
    n, N = s.shape
    M = centers.shape[0]
    out = np.empty(n)
    for i in prange(n):
        dmin = np.inf
        for m in range(M):
            d2 = 0.0
            for q in range(N):
                diff = s[i, q] - centers[m, q]
                d2 += diff * diff
            if d2 < dmin:
                dmin = d2
        acc = 0.0
        for m in range(M):
            d2 = 0.0
            for q in range(N):
                diff = s[i, q] - centers[m, q]
                d2 += diff * diff
            acc += math.exp(-(d2 - dmin) * inv2var)
        out[i] = -dmin * inv2var + math.log(acc)
    return out


# --------------------------------------------------------------------------
# Power-spectrum distance
# --------------------------------------------------------------------------
def power_spectrum_distance(x_true, x_gen, *, smoothing=None, convention="default", nperseg=None, n_chunks=50,
                            max_freq=500, per_dimension=False):
    r"""Hellinger distance ``D_H`` between the smoothed, normalised power spectra of two series, averaged over
    columns.

    Default convention, for every column:

    1. z-score each series (its own mean and standard deviation);
    2. Welch's estimate: Hann-windowed segments of ``L = nperseg`` samples (default
       ``min(T_true, T_gen, 4096)``, the same for both series so the frequency grids coincide), 50 % overlap,
       mean removed per segment, periodograms averaged, frequencies ``k / L`` for ``k = 0 .. L // 2``;
    3. smooth with a Gaussian kernel of standard deviation ``smoothing`` frequency bins (default 2; 0 = none;
       symmetric extension at both ends) and normalise to sum 1: ``p`` (true), ``q`` (generated);
    4. ``H = sqrt(1/2 sum_k (sqrt p_k - sqrt q_k)^2) = sqrt(1 - sum_k sqrt(p_k q_k))``, in ``[0, 1]``.

    ``D_H`` is the mean of ``H`` over columns; ``D_H(x, x) = 0`` exactly.  A constant generated column (e.g. a
    trajectory that converged to a fixed point) or a non-finite one (a diverged trajectory) has no spectral shape to
    compare and gets the maximal ``H = 1``;
    a constant true column is an error.

    Legacy convention (``convention="legacy"``, Mikhaeil et al. 2022's code): each series is cut into
    ``n_chunks = 50`` chunks of ``L = T_true // 50`` samples (the generated series into 50 chunks of
    ``T_gen // 50`` samples, of which the first ``L`` are used; an odd ``L`` drops the last sample); each chunk
    is z-scored (standard deviation with ddof=1); its spectrum is ``|rfft(chunk, norm="ortho")|^2 * 2 / L``,
    smoothed by convolution with a normalised Gaussian kernel of ``sigma = smoothing`` (default 2) bins and
    ``10 sigma + 1`` taps (zero padding); spectra are averaged over chunks and truncated to the first
    ``max_freq = 500`` frequencies **without renormalisation**; ``BC = trapz(sqrt(p q))`` and
    ``H = sqrt(1 - BC)`` (clipped at 0).  Because the spectra are not renormalised, ``D_H(x, x)`` is small but
    not exactly 0 there; a constant generated column gives NaN, as in that code.

    GTF convention (``convention="gtf"``, the benchmark of Hess et al. 2023): both series are cut to the length
    ``L = min(T_true, T_gen)`` of the shorter one (that code requires equal lengths); per column each is z-scored,
    its spectrum is ``|rfft(u)|^2`` (frequencies ``k / L``, ``k = 0 .. L // 2``), smoothed with
    ``scipy.ndimage.gaussian_filter1d`` of standard deviation ``smoothing`` bins (default **20**; its defaults:
    ``mode="reflect"``, radius ``4 sigma``; 0 = none), negative rounding artefacts set to 0, normalised to sum 1,
    and ``H = (1/sqrt 2) ||sqrt p - sqrt q||_2``; ``D_H`` is the mean over columns.  Flat or non-finite generated
    columns get ``H = 1`` as in the default convention.

    Parameters
    ----------
    x_true, x_gen : array_like, shape (T, N) / (T', N) or (T,)
    smoothing : float, optional
        Standard deviation of the Gaussian smoothing kernel in frequency bins (default 2, gtf 20).
    convention : {"default", "legacy", "gtf"}
    nperseg : int, optional
        Welch segment length (default convention only).
    n_chunks, max_freq : int, optional
        Number of chunks and frequency cutoff of the legacy convention (defaults 50 and 500).
    per_dimension : bool, optional
        If True return the array of per-column distances instead of their mean.

    Returns
    -------
    float or numpy.ndarray of shape (N,)
    """
    convention = _convention(convention)
    a, b = _pair(x_true, x_gen, min_length=4)
    smoothing = (20.0 if convention == "gtf" else 2.0) if smoothing is None else check_float(
        smoothing, "smoothing", minimum=0.0)
    if convention == "gtf":
        L = min(a.shape[0], b.shape[0])
        h = _hellinger_gtf(a[:L], b[:L], smoothing)
    elif convention == "default":
        L = min(a.shape[0], b.shape[0], 4096) if nperseg is None else check_int(nperseg, "nperseg", minimum=4)
        if L > min(a.shape[0], b.shape[0]):
            raise ValueError(f"nperseg={L} exceeds the length of the shorter series ({min(a.shape[0], b.shape[0])})")
        flat = _flat_columns(b)
        h = np.ones(a.shape[1])
        if not np.all(flat):
            ok = np.flatnonzero(~flat)
            # x_true has no constant column (_pair) and ``ok`` drops flat generated ones, so both z-scores exist
            pa, sa = _welch_normalised(zscore(a[:, ok]), L, smoothing)
            pb, sb = _welch_normalised(zscore(b[:, ok]), L, smoothing)
            shaped = (sa > 0) & (sb > 0)  # a column whose every Welch segment is constant has no spectrum either
            h[ok[shaped]] = np.minimum(
                np.sqrt(0.5 * np.sum((np.sqrt(pa[:, shaped]) - np.sqrt(pb[:, shaped])) ** 2, axis=0)), 1.0)
    else:
        n_chunks = check_int(n_chunks, "n_chunks", minimum=1)
        max_freq = check_int(max_freq, "max_freq", minimum=1)
        L = a.shape[0] // n_chunks
        Lg = b.shape[0] // n_chunks
        if L < 4:
            raise ValueError(f"x_true has {a.shape[0]} samples, too few for {n_chunks} chunks of at least 4 samples")
        if Lg < L:
            raise ValueError(
                f"legacy convention: x_gen ({b.shape[0]} samples) must be at least as long as x_true "
                f"({a.shape[0]}) so that its {n_chunks} chunks hold {L} samples each"
            )
        ca = a[: n_chunks * L].reshape(n_chunks, L, -1)
        cb = b[: n_chunks * Lg].reshape(n_chunks, Lg, -1)[:, :L]
        pa = _legacy_spectrum(ca, smoothing)[:max_freq]
        pb = _legacy_spectrum(cb, smoothing)[:max_freq]
        prod = np.sqrt(pa * pb)
        bc = np.sum(prod, axis=0) - 0.5 * (prod[0] + prod[-1]) if prod.shape[0] > 1 else np.zeros(prod.shape[1])
        h = np.sqrt(np.maximum(1.0 - bc, 0.0))
    return h if per_dimension else float(np.mean(h))


def _flat_columns(b):
    """Generated columns with no spectral shape: stuck at a fixed point (spread at rounding level) or diverged."""
    with np.errstate(over="ignore", invalid="ignore"):
        sd = b.std(axis=0)
        big = np.abs(b).max(axis=0)
    return ~((sd > 1e-12 * big) & np.isfinite(sd))


def _hellinger_gtf(a, b, sigma):
    """Per-column Hellinger distances of the GTF convention (H = 1 for flat generated columns)."""
    h = np.ones(a.shape[1])
    ok = np.flatnonzero(~_flat_columns(b))
    if ok.size:
        spectra = []
        for x in (a[:, ok], b[:, ok]):
            P = np.abs(np.fft.rfft(zscore(x), axis=0)) ** 2
            if sigma > 0:
                P = np.maximum(gaussian_filter1d(P, sigma, axis=0), 0.0)
            spectra.append(P / P.sum(axis=0))
        p, q = spectra
        h[ok] = np.minimum(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2, axis=0)), 1.0)
    return h


def _welch_normalised(u, L, sigma):
    """Welch spectra of the columns of u normalised to sum 1, and their sums before normalising (0: no spectrum)."""
    from scipy.signal import welch  # imported here: scipy.signal costs ~1 s at import time

    _, P = welch(u, nperseg=L, noverlap=L // 2, window="hann", detrend="constant", axis=0)
    if sigma > 0:
        P = gaussian_filter1d(P, sigma, axis=0, mode="mirror")
    total = P.sum(axis=0)
    return P / np.where(total > 0, total, 1.0), total


def _legacy_spectrum(chunks, sigma):
    """Mean over chunks of the smoothed, unnormalised legacy spectra; chunks (C, L, N) -> (L' // 2 + 1, N)."""
    C, L, N = chunks.shape
    if L % 2:
        chunks = chunks[:, :-1]
        L -= 1
    sd = chunks.std(axis=1, ddof=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (chunks - chunks.mean(axis=1, keepdims=True)) / sd
    ps = np.abs(np.fft.rfft(z, axis=1, norm="ortho")) ** 2 * 2.0 / L
    size = int(round(sigma * 10)) + 1
    pad = size // 2
    if pad > 0:
        kk = np.arange(size, dtype=float) - pad
        kernel = np.exp(-0.5 * (kk / sigma) ** 2)
        kernel /= kernel.sum()
        sm = np.empty_like(ps)
        for c in range(C):
            for d in range(N):
                sm[c, :, d] = np.convolve(ps[c, :, d], kernel)[pad: pad + ps.shape[1]]
        ps = sm
    with warnings.catch_warnings():  # a frequency where every chunk is undefined (a flat series) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(ps, axis=0)


# --------------------------------------------------------------------------
# Prediction error
# --------------------------------------------------------------------------
def prediction_error(model, x, n_steps, *, inputs=None, n_starts=None, rng=None, per_step=False):
    r"""Mean squared ``n``-step-ahead prediction error of a model on a series.

    For every start ``t`` (all ``t = 0 .. T - n_steps - 1``, or ``n_starts`` of them drawn without replacement
    with ``rng``) the model is initialised from the observation ``x_t`` and run freely:
    ``X, _ = model.generate(n_steps + 1, x0=x[t], inputs=inputs[t : t + n_steps + 1])`` (row ``h`` of ``X`` is the
    prediction after ``h`` free steps).  The error at horizon ``h`` is

    .. math:: \mathrm{MSE}(h) = \frac{1}{|S| N} \sum_{t \in S} \lVert X^{(t)}_h - x_{t+h} \rVert^2 ,

    in the units of ``x`` squared (standardise ``x`` first for scale-free numbers).  Non-finite predictions
    (a diverging model) count as an infinite error.

    This is the ``n``-step prediction error ``PE(n)`` of the generalised-teacher-forcing benchmark (Hess et al.
    2023; ``PE(20)`` there) with every start point (``n_starts=None``): the states are inferred from the data by
    the model's observation model (:meth:`~fastrnn.models.base.RNNModel.initial_state`, ``z_t = pinv(B) x_t``
    for the learned linear observation), each is iterated ``n`` steps without forcing, and the squared error of
    the ``n``-step prediction is averaged over all starts and all ``N`` observed dimensions (``Flux.mse`` of
    ``B z_{t+n}`` against ``x_{t+n}`` there).  So ``prediction_error(model, x, 20)`` is their ``PE(20)`` on the
    (standardised) series ``x``; there is no separate convention for it.

    Parameters
    ----------
    model : object
        Anything with ``generate(n_steps, x0=None, z0=None, inputs=None) -> (X, Z)`` returning observations
        ``X`` of shape ``(n_steps, N)`` (fastrnn's models).
    x : array_like, shape (T, N) or (T,)
        Observed series.
    n_steps : int
        Prediction horizon in steps (>= 1, < T).
    inputs : array_like, shape (T, K), optional
        External inputs aligned with ``x`` (for models with ``K > 0`` inputs).
    n_starts : int, optional
        Number of start points (default: all).
    rng : None, int or numpy.random.Generator, optional
        Chooses the start points when ``n_starts`` is given.
    per_step : bool, optional
        If True return the errors at horizons ``1 .. n_steps`` (array of shape ``(n_steps,)``).

    Returns
    -------
    float or numpy.ndarray
        ``MSE(n_steps)``, or ``MSE(1 .. n_steps)``.
    """
    gen_fn = getattr(model, "generate", None)
    if not callable(gen_fn):
        raise TypeError(f"model must have a generate(n_steps, x0=..., inputs=...) method, got {type(model).__name__}")
    arr = as_float_array(x, "x", np.float64, ndim=(1, 2))
    arr = arr[:, None] if arr.ndim == 1 else arr
    T, N = arr.shape
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    if n_steps >= T:
        raise ValueError(f"n_steps={n_steps} must be smaller than the series length T={T}")
    s = None
    if inputs is not None:
        s = as_float_array(inputs, "inputs", np.float64, ndim=(1, 2))
        s = s[:, None] if s.ndim == 1 else s
        if s.shape[0] != T:
            raise ValueError(f"inputs has {s.shape[0]} rows but x has {T}; inputs must be aligned with x, shape (T, K)")
    n_all = T - n_steps
    if n_starts is None:
        starts = np.arange(n_all)
    else:
        n_starts = check_int(n_starts, "n_starts", minimum=1)
        if n_starts > n_all:
            raise ValueError(f"n_starts={n_starts} exceeds the {n_all} available start points (T - n_steps)")
        starts = np.sort(check_rng(rng).choice(n_all, size=n_starts, replace=False))
    total = np.zeros(n_steps)
    for t in starts:
        kw = {} if s is None else {"inputs": s[t: t + n_steps + 1]}
        out = gen_fn(n_steps + 1, x0=arr[t], **kw)
        X = np.asarray(out[0] if isinstance(out, tuple) else out, dtype=np.float64)
        if X.shape != (n_steps + 1, N):
            raise ValueError(
                f"model.generate({n_steps + 1}, x0=...) returned observations of shape {X.shape}; expected "
                f"({n_steps + 1}, {N}) to match x"
            )
        pred = X[1:]
        with np.errstate(over="ignore", invalid="ignore"):
            err = np.where(np.isfinite(pred), (pred - arr[t + 1: t + n_steps + 1]) ** 2, np.inf)
        total += err.sum(axis=1)
    mse = total / (starts.size * N)
    return mse if per_step else float(mse[-1])
