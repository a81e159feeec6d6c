r"""The scaling region of a divergence curve ``S(k)``, ``k = 0 .. K`` (steps): the least-squares line, the
smoothing over one oscillation period, the first saturation, and the choice of the fit range.

The rule (:func:`scaling_region`) is what an analyst does reading the curve:

1. **Smooth over one period.**  The curve of an oscillatory signal ripples with the signal's oscillation period
   ``P`` (neighbours separate and re-approach along the rotation); the centred moving average over ``P`` steps
   removes the ripple and keeps the slope of a straight stretch.  Where ``P < 4`` steps (maps, white noise) the
   curve is not smoothed.
2. **Stop at the first saturation.**  The search ends at the first local maximum of the smoothed curve (a
   turnover), or, before that, where it has done 95 % of its rise up to there (the plateau); nothing after it is
   fitted.
3. **The first linear rise.**  Candidate windows ``[a, b]`` (end points on a grid) between the curve's minimum in
   its first half and the saturation, at least ``max(min_points, P)`` steps long, are *linear* if the smoothed
   curve's slope is positive and the slopes of the window's three thirds lie within ``tolerance`` (relative) of
   it: this rejects windows that reach into the noise transient (a fast jump, or a slow convex start) or into the
   bend towards saturation.  Among the linear windows the one covering most e-folds (slope x length) wins; on a
   concave curve that is the steep start, not the long slow approach to saturation.  If none is linear the
   tolerance is doubled, at most twice, and the result says so.
4. **Fit whole periods of the raw curve.**  Where the curve is smoothed, the window is shortened to a whole number
   of periods; the line is fitted to the raw curve there, so slope, R^2 and the plotted line describe the curve
   as it is.

:func:`first_saturation` is also used to choose the curve's length.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["fit_line", "smoothing_width", "smooth", "first_saturation", "Region", "scaling_region", "window_region",
           "earlier_rise", "earlier_slope"]

_MIN_SMOOTH = 4  # periods shorter than this (steps) are not smoothed


def fit_line(k, y):
    """Least-squares line ``y = intercept + slope * k``.

    Parameters
    ----------
    k, y : numpy.ndarray, shape (n,)
        Steps and curve values.

    Returns
    -------
    slope, intercept, r2, stderr : float
        ``stderr`` is the standard error of the slope (0 for two points); ``r2`` is 1 for a constant ``y``.
    """
    kk = k - k.mean()
    sxx = float(np.dot(kk, kk))
    slope = float(np.dot(kk, y - y.mean()) / sxx)
    intercept = float(y.mean() - slope * k.mean())
    res = y - (intercept + slope * k)
    ss_res = float(np.dot(res, res))
    ss_tot = float(np.dot(y - y.mean(), y - y.mean()))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    n = k.size
    stderr = math.sqrt(ss_res / (n - 2) / sxx) if n > 2 else 0.0
    return slope, intercept, r2, stderr


def smoothing_width(period, n_points):
    """Moving-average width in steps for a curve of ``n_points`` points: the oscillation period ``period`` (steps)
    rounded, 1 (no smoothing) below 4 steps, at most a quarter of the curve."""
    w = int(round(period)) if period is not None and period >= _MIN_SMOOTH else 1
    return max(1, min(w, n_points // 4))


def smooth(y, width):
    """Centred moving average of ``y`` over ``width`` steps (windows shrink at the ends; ``width <= 1``: a copy)."""
    y = np.asarray(y, dtype=float)
    if width <= 1:
        return y.copy()
    h = width // 2
    c = np.concatenate([[0.0], np.cumsum(y)])
    idx = np.arange(y.size)
    lo = np.maximum(idx - h, 0)
    hi = np.minimum(idx + (width - h), y.size)
    return (c[hi] - c[lo]) / (hi - lo)


def first_saturation(ys, k_lo=0, *, plateau=0.95, look=3):
    """First saturation of a (smoothed) curve after step ``k_lo``: the first turnover (a step whose value the curve
    does not exceed within the next ``look`` steps), or before it the first step at which the curve has done
    ``plateau`` of its rise from ``ys[k_lo]`` to that turnover.

    Returns
    -------
    k_end : int
        The step (the last step if the curve rises to its end).
    turned : bool
        Whether a turnover was found before the last step.
    """
    K = ys.size - 1
    look = max(1, int(look))
    seg = ys[k_lo:]
    pad = np.concatenate([seg[1:], np.full(look, -np.inf)])
    ahead = np.lib.stride_tricks.sliding_window_view(pad, look)[: seg.size].max(axis=1)
    down = np.nonzero(seg >= ahead)[0]
    down = down[k_lo + down < K]
    k_max = k_lo + int(down[0]) if down.size else K
    rise = ys[k_max] - ys[k_lo]
    if not rise > 0:
        return k_max, bool(down.size)
    above = np.nonzero(ys[k_lo: k_max + 1] >= ys[k_lo] + plateau * rise)[0]
    return k_lo + int(above[0]), bool(down.size)


@dataclass(frozen=True)
class Region:
    """A scaling region: fit ``y[start:stop]`` (steps ``start .. stop - 1``) with the line
    ``intercept + slope * k`` (slope per step); ``r2`` and ``stderr`` against the raw curve; ``slope_low`` and
    ``slope_high`` the extreme slopes of the smoothed curve's thirds; ``tolerance`` the slope tolerance that was
    needed; ``width`` the smoothing width; ``saturated`` whether the curve turned over or flattened inside it."""

    start: int
    stop: int
    slope: float
    intercept: float
    r2: float
    stderr: float
    slope_low: float
    slope_high: float
    tolerance: float
    width: int
    saturated: bool

    @property
    def rise(self):
        """e-folds covered: ``slope * (stop - 1 - start)``."""
        return self.slope * (self.stop - 1 - self.start)


def scaling_region(y, *, period=None, tolerance=0.1, min_points=6, grid=48, look=3):
    """The scaling region of a divergence curve by the rule of the module docstring.

    Parameters
    ----------
    y : numpy.ndarray, shape (K + 1,)
        The divergence curve (finite).
    period : float, optional
        Mean period of the signal in steps (smoothing width); None: no smoothing.
    tolerance : float, optional
        Relative slope tolerance of the thirds (default 0.1).
    min_points : int, optional
        Fewest steps in a window.
    grid : int, optional
        Most candidate end points.
    look : int, optional
        Steps a turnover must hold (the curve does not exceed its value within them) to end the region; at least
        the smoothing width. Pass the embedding window (dim - 1) lag: within it delay vectors share coordinates and
        the raw curve wiggles without having saturated.

    Returns
    -------
    Region or None
        None where the curve does not rise or saturates too soon.  Where no window is linear even at four times
        the tolerance, the region is the whole rise before the saturation with ``tolerance = inf`` (not a
        credible scaling region; the second output says so).
    str
        "" or the reason.
    """
    K = y.size - 1
    w = smoothing_width(period, y.size)
    for _ in range(2):
        ys = smooth(y, w)
        h = w // 2 if w > 1 else 0  # where the smoothing window is complete: steps h .. K - (w - h)
        k_lo = h + int(np.argmin(ys[h: max(h + 1, K // 2 + 1)]))
        k_end, turned = first_saturation(ys, k_lo, look=max(w, 3, int(look)))
        k_end = min(k_end, K - (w - h) if w > 1 else K)
        if w == 1 or k_end - k_lo >= 3 * w:
            break
        w = max(1, (k_end - k_lo) // 3)  # the rise is short: smooth over a third of it, not a whole period
        w = w if w >= _MIN_SMOOTH else 1
    if not ys[k_end] > ys[k_lo]:
        return None, "the divergence curve does not grow"
    L_min = max(min_points, w)
    if k_end - k_lo + 1 < L_min:
        return None, f"the divergence curve saturates within {k_end - k_lo} steps, too few for a fit"
    cand = np.unique(np.round(np.linspace(k_lo, k_end, min(grid, k_end - k_lo + 1))).astype(np.int64))
    fit = _window_fitter(ys)
    best, tol = None, tolerance
    for attempt in range(3):
        tol = tolerance * 2 ** attempt
        best = _steepest_linear_window(cand, fit, tol, L_min)
        if best is not None:
            break
    why = ""
    if best is None:
        # no linear window: the whole rise before the saturation, marked by an infinite tolerance (not credible)
        why = (f"no linear stretch: no window of the curve whose slope is positive and consistent within "
               f"{tol:.0%} over its thirds")
        best, tol = (0.0, int(k_lo), int(k_end)), math.inf
    _, a, b = best
    return window_region(y, ys, a, b, w, tol, bool(turned or k_end < K)), why


def window_region(y, ys, a, b, width, tolerance, saturated, *, whole_periods=True):
    """The :class:`Region` of the steps ``a .. b`` of the curve ``y`` (``ys``: ``y`` smoothed over ``width``
    steps): shortened to a whole number of smoothing widths (periods) where ``width > 1`` and ``whole_periods``,
    the line fitted to the raw curve, the thirds' slopes read on the smoothed one."""
    if width > 1 and whole_periods:
        b = a + max(1, (b - a + 1) // width) * width - 1  # a whole number of periods
        b = min(b, y.size - 1)
    k = np.arange(a, b + 1, dtype=float)
    slope, intercept, r2, stderr = fit_line(k, y[a: b + 1])
    L = b - a + 1
    fit = _window_fitter(ys)
    thirds = [fit(lo, hi)[0] for lo, hi in ((a, a + L // 3 - 1), (a + L // 3, a + 2 * L // 3 - 1),
                                               (a + 2 * L // 3, b)) if hi - lo >= 1]
    lo_s = min(thirds + [slope])
    hi_s = max(thirds + [slope])
    return Region(int(a), int(b + 1), slope, intercept, r2, stderr, lo_s, hi_s, tolerance, width, saturated)


def _window_fitter(y):
    """``fit(a, b) -> (slope, r2)`` of ``y`` over the steps ``a .. b`` (inclusive), O(1) from prefix sums."""
    kk = np.arange(y.size, dtype=float)
    c1 = np.arange(y.size + 1, dtype=float)
    ck = np.concatenate([[0.0], np.cumsum(kk)])
    ckk = np.concatenate([[0.0], np.cumsum(kk * kk)])
    cy = np.concatenate([[0.0], np.cumsum(y)])
    cky = np.concatenate([[0.0], np.cumsum(kk * y)])
    cyy = np.concatenate([[0.0], np.cumsum(y * y)])

    def fit(a, b):
        n = c1[b + 1] - c1[a]
        sk = ck[b + 1] - ck[a]
        sy = cy[b + 1] - cy[a]
        sxx = (ckk[b + 1] - ckk[a]) - sk * sk / n
        sxy = (cky[b + 1] - cky[a]) - sk * sy / n
        syy = (cyy[b + 1] - cyy[a]) - sy * sy / n
        slope = sxy / sxx if sxx > 0 else 0.0
        r2 = (sxy * sxy) / (sxx * syy) if syy > 0 and sxx > 0 else 1.0
        return slope, r2

    return fit


def _steepest_linear_window(cand, fit, tolerance, min_points):
    """The window [a, b] (end points in ``cand``, at least ``min_points`` steps) whose slope is positive, whose
    thirds' slopes lie within ``tolerance`` (relative) of it, and that covers most e-folds (slope x length);
    returns (rise, a, b) or None."""
    best = None
    for ia in range(cand.size):
        a = int(cand[ia])
        for ib in range(cand.size - 1, ia, -1):
            b = int(cand[ib])
            L = b - a + 1
            if L < min_points:
                break
            s, _ = fit(a, b)
            if not s > 0 or (best is not None and s * (L - 1) <= best[0]):
                continue
            e1 = a + L // 3
            e2 = a + (2 * L) // 3
            ok = True
            for lo, hi in ((a, e1 - 1), (e1, e2 - 1), (e2, b)):
                if hi - lo < 1:
                    continue
                si, _ = fit(lo, hi)
                if abs(si - s) > tolerance * s:
                    ok = False
                    break
            if ok:
                best = (s * (L - 1), a, b)
    return best


def earlier_rise(y, start, *, period=None, skip=0, min_rise=0.5):
    """``(k0, slope)``: the lowest step ``k0`` of the smoothed curve ``y`` after ``skip`` steps and before
    ``start``, and the mean slope (per step) from there to ``start``; None where that stretch is shorter than
    ``max(10, period)`` steps or rises by less than ``min_rise`` e-folds (see :func:`earlier_slope`)."""
    w = smoothing_width(period, y.size)
    ys = smooth(y, w)
    skip = max(0, int(skip), w // 2)
    if start - skip < 2:
        return None
    k0 = skip + int(np.argmin(ys[skip:start]))
    if start - k0 < max(10, w) or ys[start] - ys[k0] < min_rise:
        return None
    return k0, float((ys[start] - ys[k0]) / (start - k0))


def earlier_slope(y, start, *, period=None, skip=0, min_rise=0.5):
    """Mean slope (per step) of the smoothed curve ``y`` between its lowest point after ``skip`` steps and step
    ``start`` (the start of a fitted region), or None if that stretch is shorter than ``max(10, period)`` steps or
    rises by less than ``min_rise`` e-folds.

    A divergence curve that rose clearly faster before the fitted region than inside it has a shoulder: part of
    the neighbour pairs saturated first (a short series, a thin band of the attractor), or the region is the slow
    approach to saturation; the early rise is then the better reading of ``lambda_max``, or at least a reason to
    doubt the fitted one.
    """
    rise = earlier_rise(y, start, period=period, skip=skip, min_rise=min_rise)
    return None if rise is None else rise[1]
