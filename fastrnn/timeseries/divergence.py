"""The divergence curve of Rosenstein and Kantz: the mean log distance of neighbouring delay vectors followed
``k = 0 .. n_steps`` steps ahead (a compiled, thread-count-independent kernel)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .neighbours import neighbour_sets, reference_points

__all__ = ["divergence_curve", "divergence_from_sets"]

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


def divergence_from_sets(Y, ref, indptr, indices, n_steps):
    """Divergence curve over ``k = 0 .. n_steps`` from precomputed neighbour sets (compressed rows, as returned by
    :func:`~fastrnn.timeseries.neighbours.neighbour_sets`); returns ``(curve, n_used)`` as :func:`divergence_curve`."""
    if ref.size == 0:
        return np.full(n_steps + 1, np.nan), 0
    y, cnt = _divergence_kernel(Y, ref, indptr, indices, n_steps)
    return y, int(cnt[0])


@njit(inline="always", cache=True)
def _squared_distance(Y, i, j):
    """``||Y[i] - Y[j]||^2``, summed over the columns in order (inlined into the kernel by Numba)."""
    dd = 0.0
    for q in range(Y.shape[1]):
        diff = Y[i, q] - Y[j, q]
        dd += diff * diff
    return dd


@njit(parallel=True, cache=True)
def _divergence_kernel(Y, ref, indptr, indices, n_steps):
    """Mean over reference points i of ln(mean_{j in U_i} ||Y[i+k] - Y[j+k]||) for k = 0..n_steps.

    ``U_i`` is ``indices[indptr[r]:indptr[r+1]]`` for ``i = ref[r]``.  Reference points whose mean distance is
    exactly 0 at step k are left out of that step's average; the second output counts the reference points used
    per step.  Each reference point's pairs are followed along k (contiguous rows of Y); the references are
    split into a fixed number of chunks with their own accumulators, summed in order at the end.
    """
    n_ref = ref.shape[0]
    n_points = n_steps + 1
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
