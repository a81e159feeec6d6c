"""The divergence curve of Rosenstein and Kantz: the mean log distance of neighbouring delay vectors followed
``k = 0 .. n_steps`` steps ahead (a compiled, thread-count-independent kernel)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .neighbours import neighbour_sets, reference_points

__all__ = ["divergence_curve", "divergence_from_sets", "flow_offsets"]

_N_CHUNKS = 64  # fixed work split of the divergence kernel: results do not depend on the number of threads


def divergence_curve(Y, n_steps, theiler, k_nb, radius, n_ref=None):
    """Divergence curve ``S(k)`` over ``k = 0 .. n_steps`` (steps) of the delay vectors ``Y``.

    Parameters
    ----------
    Y : numpy.ndarray, shape (N, d)
        Delay vectors.
    n_steps : int
        Last step ``k`` of the curve; reference points and neighbours are the first ``N - n_steps`` vectors.
    theiler : int
        Theiler window in steps.
    k_nb : int
        Nearest neighbours per reference point (1: Rosenstein); unused with ``radius``.
    radius : float or None
        Kantz's epsilon-ball instead of ``k_nb`` neighbours.
    n_ref : int, optional
        At most this many reference points, evenly spaced (default all).

    Returns
    -------
    curve : numpy.ndarray, shape (n_steps + 1,)
        All NaN if no reference point has a neighbour.
    n_used : int
        Number of reference points used at ``k = 0``.
    """
    n = Y.shape[0] - n_steps  # reference and neighbour vectors that can be followed for n_steps steps
    queries = reference_points(n, n_ref)
    ref, indptr, indices = neighbour_sets(Y, n, queries, theiler, k_nb, radius)
    return divergence_from_sets(Y, ref, indptr, indices, n_steps)


def divergence_from_sets(Y, ref, indptr, indices, n_steps, along_flow=False, transverse=False):
    """Divergence curve over ``k = 0 .. n_steps`` from precomputed neighbour sets (compressed rows, as returned by
    :func:`~fastrnn.timeseries.neighbours.neighbour_sets`); returns ``(curve, n_used)`` as :func:`divergence_curve`.

    With ``along_flow=True`` (finely sampled flows) each neighbour's trajectory is shifted by the fraction of a
    sample that brings it closest to its reference point (:func:`flow_offsets`), and followed with that shift
    (linear interpolation between samples): the two states then differ across the flow, not along it.  A
    separation along the flow is a neutral direction (exponent 0); left in, it adds a constant to the distance
    that makes the start of the curve flatter than ``lambda_max`` and biases the slope low.

    With ``transverse=True`` (flows) the distance at every step ``k`` is the part of the separation perpendicular
    to the reference trajectory's local direction ``y_{i+k+1} - y_{i+k-1}``.  The shift above removes the
    along-flow separation at ``k = 0`` only; a phase difference between the two trajectories that the dynamics
    builds up later (in an oscillator, the slow drift of the phase) stays in the plain distance and keeps the
    curve below ``lambda_max`` long after the start (Rössler x: 0.06 per time unit against 0.071, at any record
    length).  Removing the flow direction, a neutral direction of exponent 0, leaves every other exponent's
    growth unchanged.
    """
    if ref.size == 0:
        return np.full(n_steps + 1, np.nan), 0
    offsets = flow_offsets(Y, ref, indptr, indices) if along_flow else np.empty(0)
    y, cnt = _divergence_kernel(Y, ref, indptr, indices, offsets, n_steps, bool(transverse))
    return y, int(cnt[0])


def flow_offsets(Y, ref, indptr, indices):
    """Per neighbour pair, the shift ``s`` in samples (``-1 <= s <= 1``) of the neighbour ``j`` along its own
    trajectory that minimises ``||Y[i] - Y(j + s)||``, ``Y(j + s)`` interpolated linearly between samples
    (forwards towards ``Y[j + 1]`` for ``s > 0``, backwards towards ``Y[j - 1]`` for ``s < 0``)."""
    return _offsets_kernel(Y, ref, indptr, indices)


@njit(cache=True)
def _offsets_kernel(Y, ref, indptr, indices):
    n_vec, d = Y.shape
    out = np.zeros(indices.shape[0])
    for r in range(ref.shape[0]):
        i0 = ref[r]
        for t in range(indptr[r], indptr[r + 1]):
            j0 = indices[t]
            best_s = 0.0
            best = _squared_distance(Y, i0, j0)
            for direction in (1, -1):
                jn = j0 + direction
                if jn < 0 or jn >= n_vec:
                    continue
                vw = 0.0
                vv = 0.0
                for q in range(d):
                    v = Y[jn, q] - Y[j0, q]
                    vw += v * (Y[i0, q] - Y[j0, q])
                    vv += v * v
                if vv <= 0.0 or vw <= 0.0:
                    continue
                s = min(vw / vv, 1.0)
                dd = 0.0
                for q in range(d):
                    diff = Y[i0, q] - (Y[j0, q] + s * (Y[jn, q] - Y[j0, q]))
                    dd += diff * diff
                if dd < best:
                    best = dd
                    best_s = s * direction
            out[t] = best_s
    return out


@njit(inline="always", cache=True)
def _separation(Y, i, j, s, transverse):
    """``||Y[i] - Y(j + s)||`` with ``Y(j + s)`` interpolated linearly (``s = 0`` outside the series); with
    ``transverse``, only the part of the separation perpendicular to the reference trajectory's local direction
    ``Y[i + 1] - Y[i - 1]`` (one-sided at the ends of the series)."""
    n_vec = Y.shape[0]
    jn = j + 1 if s > 0.0 else j - 1
    a = abs(s)
    if jn < 0 or jn >= n_vec:
        a = 0.0
        jn = j
    lo = i - 1 if i > 0 else i
    hi = i + 1 if i + 1 < n_vec else i
    dd = 0.0
    df = 0.0
    ff = 0.0
    for q in range(Y.shape[1]):
        diff = Y[i, q] - (Y[j, q] + a * (Y[jn, q] - Y[j, q]))
        dd += diff * diff
        if transverse:
            f = Y[hi, q] - Y[lo, q]
            df += diff * f
            ff += f * f
    if transverse and ff > 0.0:
        dd = max(dd - df * df / ff, 0.0)
    return math.sqrt(dd)


@njit(inline="always", cache=True)
def _squared_distance(Y, i, j):
    """``||Y[i] - Y[j]||^2``, summed over the columns in order (inlined into the kernel by Numba)."""
    dd = 0.0
    for q in range(Y.shape[1]):
        diff = Y[i, q] - Y[j, q]
        dd += diff * diff
    return dd


@njit(parallel=True, cache=True)
def _divergence_kernel(Y, ref, indptr, indices, offsets, n_steps, transverse):
    """Mean over reference points i of ln(mean_{j in U_i} ||Y[i+k] - Y[j+k]||) for k = 0..n_steps.

    ``U_i`` is ``indices[indptr[r]:indptr[r+1]]`` for ``i = ref[r]``.  Reference points whose mean distance is
    exactly 0 at step k are left out of that step's average; the second output counts the reference points used
    per step.  With a non-empty ``offsets`` (one per pair), neighbour ``t`` is followed at its fractional shift
    ``offsets[t]``; with ``transverse``, only the separation across the reference trajectory counts
    (:func:`_separation`).  Each reference point's pairs are followed along k (contiguous rows of Y); the references are
    split into a fixed number of chunks with their own accumulators, summed in order at the end.
    """
    n_ref = ref.shape[0]
    n_points = n_steps + 1
    shifted = offsets.shape[0] > 0
    general = shifted or transverse
    n_chunks = min(_N_CHUNKS, max(n_ref, 1))
    sums = np.zeros((n_chunks, n_points))
    cnts = np.zeros((n_chunks, n_points), dtype=np.int64)
    for c in prange(n_chunks):
        lo = (c * n_ref) // n_chunks
        hi = ((c + 1) * n_ref) // n_chunks
        acc = np.empty(n_points)
        for r in range(lo, hi):
            a = indptr[r]
            b = indptr[r + 1]
            m = b - a
            if m == 0:
                continue
            i0 = ref[r]
            if general:
                for k in range(n_points):
                    acc[k] = 0.0
                for t in range(a, b):
                    s_t = offsets[t] if shifted else 0.0
                    for k in range(n_points):
                        acc[k] += _separation(Y, i0 + k, indices[t] + k, s_t, transverse)
                for k in range(n_points):
                    if acc[k] > 0.0:
                        sums[c, k] += math.log(acc[k] / m)
                        cnts[c, k] += 1
                continue
            if m == 1:
                j0 = indices[a]
                for k in range(n_points):
                    dd = _squared_distance(Y, i0 + k, j0 + k)
                    if dd > 0.0:
                        sums[c, k] += 0.5 * math.log(dd)
                        cnts[c, k] += 1
                continue
            for k in range(n_points):
                acc[k] = 0.0
            for t in range(a, b):
                j0 = indices[t]
                for k in range(n_points):
                    acc[k] += math.sqrt(_squared_distance(Y, i0 + k, j0 + k))
            for k in range(n_points):
                if acc[k] > 0.0:
                    sums[c, k] += math.log(acc[k] / m)
                    cnts[c, k] += 1
    out = np.empty(n_points)
    cnt = np.zeros(n_points, dtype=np.int64)
    for k in range(n_points):
        s = 0.0
        for c in range(n_chunks):
            s += sums[c, k]
            cnt[k] += cnts[c, k]
        out[k] = s / cnt[k] if cnt[k] > 0 else np.nan
    return out, cnt
