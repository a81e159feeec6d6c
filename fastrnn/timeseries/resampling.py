r"""The sampling uncertainty of a Lyapunov estimate read from one finite record: a block bootstrap of the
divergence curve over its reference points, with the scaling region chosen anew on every resampled curve.

The divergence curve is a mean over reference points ``S(k) = < ln d_i(k) >_i``.  A record of finite length holds
only so many independent stretches of the attractor, and the curve - above all its shape, hence which stretch the
scaling-region rule reads - depends on which stretches the record happens to contain.  The spread of the slopes
over embedding dimensions does not see this: every dimension is computed from the same stretches (on Rössler x of
10^4 samples, seeds differ by up to 2x while the dimensions of one seed agree within 10 %).

:func:`block_curves` splits the reference points, which lie in time order, into :data:`N_BLOCKS` contiguous blocks
(each at least two Theiler windows long, so that blocks are nearly independent) and computes one curve per block
from the curve's own neighbour sets.  :func:`resampled_slopes` draws the blocks with replacement
:data:`N_RESAMPLES` times, averages the drawn curves (weighted by their reference points, so that the average of
all blocks is the curve itself) and applies the same reading to each average - for an automatic fit the whole
scaling-region rule, so that an unstable choice of the region shows as a wide spread.  The central
:data:`LEVEL` of the resampled slopes is the bootstrap interval (percentile method; Efron & Tibshirani 1993,
ch. 13; blocks after Künsch 1989).  The draws use a fixed seed: the result is deterministic.
"""
from __future__ import annotations

import numpy as np

__all__ = ["N_BLOCKS", "MIN_BLOCKS", "N_RESAMPLES", "LEVEL", "SEED", "MISSED_REGIONS", "number_of_blocks",
           "block_curves", "resampled_slopes", "percentile_interval", "curve_bootstrap"]

#: blocks of reference points, at most
N_BLOCKS = 20
#: fewer blocks than this (a record shorter than 2 * MIN_BLOCKS Theiler windows): no bootstrap
MIN_BLOCKS = 5
#: resampled curves
N_RESAMPLES = 200
#: central probability of the bootstrap interval
LEVEL = 0.9
#: seed of the block draws (fixed: the estimate is deterministic)
SEED = 0
#: more than this fraction of resamples without a scaling region is reported (the region is unstable)
MISSED_REGIONS = 0.1


def number_of_blocks(span, theiler):
    """Blocks for reference points spread over ``span`` steps: :data:`N_BLOCKS`, fewer where a block would be
    shorter than two Theiler windows, 0 where that leaves fewer than :data:`MIN_BLOCKS`."""
    b = min(N_BLOCKS, int(span) // max(1, 2 * int(theiler)))
    return b if b >= MIN_BLOCKS else 0


def block_curves(divergence, ref, indptr, indices, n_blocks):
    """One divergence curve per contiguous block of reference points.

    Parameters
    ----------
    divergence : callable
        ``divergence(ref, indptr, indices) -> (curve, n_used)`` for a subset of the neighbour sets (compressed
        rows), e.g. :func:`~fastrnn.timeseries.divergence.divergence_from_sets` with the curve's settings bound.
    ref, indptr, indices : numpy.ndarray
        The curve's neighbour sets, reference points in increasing time order.
    n_blocks : int

    Returns
    -------
    curves : numpy.ndarray, shape (n_blocks, K + 1)
    weights : numpy.ndarray, shape (n_blocks,)
        Reference points used by each block at step 0.

    Or None where a block has too few reference points or an undefined step.
    """
    edges = np.linspace(0, ref.size, n_blocks + 1).round().astype(np.int64)
    curves, weights = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a < 2:
            return None
        y, n_used = divergence(ref[a:b], indptr[a:b + 1] - indptr[a], indices[indptr[a]:indptr[b]])
        if n_used < 2 or not np.all(np.isfinite(y)):
            return None
        curves.append(y)
        weights.append(float(n_used))
    return np.array(curves), np.array(weights)


def resampled_slopes(curves, weights, fit, n_resamples=N_RESAMPLES, seed=SEED):
    """Slopes of ``fit`` on block-bootstrap averages of ``curves``.

    Parameters
    ----------
    curves, weights : numpy.ndarray
        As returned by :func:`block_curves`.
    fit : callable
        ``fit(curve) -> slope`` per step, NaN where the curve gives none.
    n_resamples : int, optional
    seed : int, optional

    Returns
    -------
    numpy.ndarray, shape (n_resamples,)
        NaN where ``fit`` found no slope.
    """
    rng = np.random.default_rng(seed)
    B = curves.shape[0]
    out = np.empty(n_resamples)
    for r in range(n_resamples):
        # drawing with replacement: the average is weighted by how often each block was drawn
        counts = np.bincount(rng.integers(0, B, B), minlength=B) * weights
        out[r] = fit(counts @ curves / counts.sum())
    return out


def percentile_interval(slopes, level=LEVEL):
    """``(low, median, high)`` of the finite ``slopes``: the central ``level`` (percentile method); NaNs if none."""
    s = np.asarray(slopes, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return (float("nan"),) * 3
    tail = 50.0 * (1.0 - level)
    lo, med, hi = np.percentile(s, [tail, 50.0, 100.0 - tail])
    return float(lo), float(med), float(hi)


def curve_bootstrap(c, theiler, fit):
    """The block bootstrap of one curve of :func:`~fastrnn.timeseries.curves.curve_family`.

    Parameters
    ----------
    c : dict
        The curve (its ``sets`` and ``divergence``).
    theiler : int
        Theiler window in steps (the shortest block is two of them).
    fit : callable
        ``fit(curve) -> slope`` per step, NaN where the curve has none: the reading of the curve itself (the
        scaling-region rule, or an explicit range), applied to every resampled curve.

    Returns
    -------
    interval : tuple of float or None
        ``(low, median, high)`` slope per step (:func:`percentile_interval`), None where the record is too short
        for :data:`MIN_BLOCKS` blocks or no resample has a slope.
    n_blocks : int
        0 without a bootstrap.
    missed : int
        Resamples that had no slope (no scaling region).
    """
    ref, indptr, indices = c["sets"]
    n_blocks = number_of_blocks(int(ref[-1] - ref[0]) + 1 if ref.size else 0, theiler)
    blocks = block_curves(c["divergence"], ref, indptr, indices, n_blocks) if n_blocks else None
    if blocks is None:
        return None, 0, 0
    slopes = resampled_slopes(*blocks, fit)
    missed = int(np.count_nonzero(~np.isfinite(slopes)))
    interval = percentile_interval(slopes, LEVEL)
    return (interval if np.isfinite(interval[0]) else None), n_blocks, missed
