"""Exact neighbour search in delay space outside a Theiler window: nearest neighbours, epsilon-balls, reference
points, and the default Theiler window (all counts in steps)."""
from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from ..validation import check_int
from .embedding import mean_period_steps

__all__ = ["default_theiler", "theiler_window", "reference_points", "nearest_valid", "neighbour_sets"]


def default_theiler(z):
    """Default Theiler window in steps: the mean period (:func:`~fastrnn.timeseries.mean_period`) of the
    z-scored (T, D) array ``z``, rounded up, at least 1."""
    return max(1, int(math.ceil(mean_period_steps(z))))


def theiler_window(theiler, z):
    """The Theiler window in steps: ``theiler`` checked (an int >= 0), or :func:`default_theiler` of ``z`` if None."""
    return default_theiler(z) if theiler is None else check_int(theiler, "theiler", minimum=0)


def reference_points(n, n_ref):
    """Indices of at most ``n_ref`` reference points evenly spaced in ``0 .. n - 1`` (all of them if None)."""
    if n_ref is None or n_ref >= n:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, n_ref).round().astype(np.int64))


def nearest_valid(points, queries, k_valid, theiler, p=2.0, n_tree=None):
    """Exact nearest neighbours of ``points[queries]`` among ``points[:n_tree]``, skipping the query's
    Theiler window (``|i - j| <= theiler``) and exact duplicates (distance 0).

    Parameters
    ----------
    points : numpy.ndarray, shape (n, d)
    queries : numpy.ndarray of int, shape (q,)
    k_valid : int
        Neighbours wanted per query.
    theiler : int
        Theiler window in steps.
    p : float, optional
        Minkowski norm (2: Euclidean, ``np.inf``: maximum norm).
    n_tree : int, optional
        Only ``points[:n_tree]`` are candidates (default all).

    Returns
    -------
    idx, dist : numpy.ndarray, shape (q, k_valid)
        Rows that have fewer valid neighbours are padded with -1 / inf.

    Notes
    -----
    The search asks the KD-tree for ``k`` candidates and multiplies ``k`` by 4 for the rows that did not find
    ``k_valid`` valid ones, so it is exact (the first valid candidates in distance order are the nearest valid
    points) and costs little unless the window excludes many close points.
    """
    n_tree = points.shape[0] if n_tree is None else n_tree
    tree = cKDTree(points[:n_tree])
    nq = queries.size
    out_j = np.full((nq, k_valid), -1, dtype=np.int64)
    out_d = np.full((nq, k_valid), np.inf)
    todo = np.arange(nq)
    k = min(n_tree, k_valid + 8)
    while todo.size:
        q = queries[todo]
        d, j = tree.query(points[q], k=k, p=p, workers=-1)
        if k == 1:
            d, j = d[:, None], j[:, None]
        valid = (np.abs(j - q[:, None]) > theiler) & (d > 0) & (j < n_tree)
        ok = valid.sum(axis=1) >= k_valid
        if ok.any():
            rows = np.nonzero(ok)[0]
            order = np.argsort(~valid[rows], axis=1, kind="stable")[:, :k_valid]
            out_j[todo[rows]] = np.take_along_axis(j[rows], order, axis=1)
            out_d[todo[rows]] = np.take_along_axis(d[rows], order, axis=1)
        todo = todo[~ok]
        if k >= n_tree:
            break
        k = min(n_tree, 4 * k)
    return out_j, out_d


def neighbour_sets(Y, n, queries, theiler, k_nb, radius):
    """Neighbour sets ``U_i`` of the reference points among ``Y[:n]`` (Euclidean norm, Theiler window and exact
    duplicates excluded), in compressed-row form.

    Parameters
    ----------
    Y : numpy.ndarray, shape (N, d)
        Delay vectors.
    n : int
        Only ``Y[:n]`` are reference points and neighbours.
    queries : numpy.ndarray of int
        Candidate reference points (used when ``radius`` is None, or when they are fewer than ``n``).
    theiler : int
        Theiler window in steps.
    k_nb : int
        Number of nearest neighbours (when ``radius`` is None).
    radius : float or None
        If given, all neighbours within this distance instead.

    Returns
    -------
    ref, indptr, indices : numpy.ndarray of int64
        The reference points that have neighbours; ``U_i = indices[indptr[r]:indptr[r + 1]]`` for ``i = ref[r]``.
    """
    if radius is None:
        idx, _ = nearest_valid(Y, queries, k_nb, theiler, n_tree=n)
        has = idx[:, 0] >= 0
        ref = queries[has]
        indices = np.ascontiguousarray(idx[has]).ravel()
        indptr = np.arange(0, indices.size + 1, k_nb, dtype=np.int64)
        return ref, indptr, indices
    tree = cKDTree(Y[:n])
    if queries.size == n:
        pairs = tree.query_pairs(radius, output_type="ndarray").astype(np.int64)
        pairs = np.concatenate([pairs, pairs[:, ::-1]])
    else:
        lists = tree.query_ball_point(Y[queries], radius)
        lens = np.array([len(v) for v in lists], dtype=np.int64)
        pairs = np.empty((int(lens.sum()), 2), dtype=np.int64)
        pairs[:, 0] = np.repeat(queries, lens)
        pairs[:, 1] = np.concatenate([np.asarray(v, dtype=np.int64) for v in lists]) if lens.sum() else []
    if pairs.size:
        dist = np.sqrt(np.sum((Y[pairs[:, 0]] - Y[pairs[:, 1]]) ** 2, axis=1))
        pairs = pairs[(np.abs(pairs[:, 0] - pairs[:, 1]) > theiler) & (dist > 0)]
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    counts = np.bincount(pairs[:, 0], minlength=n)
    ref = np.nonzero(counts)[0].astype(np.int64)
    indices = np.ascontiguousarray(pairs[:, 1])
    indptr = np.concatenate([[0], np.cumsum(counts[ref])]).astype(np.int64)
    return ref, indptr, indices

