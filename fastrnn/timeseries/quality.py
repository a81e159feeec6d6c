r"""Quality of a Lyapunov estimate read off divergence curves: the per-curve fit (:class:`CurveFit`), the consensus
of the curves that agree (:func:`consensus`), and the error and warning classes (:class:`NoScalingRegionError`,
:class:`LyapunovWarning`).

The consensus rule is how a TISEAN user reads ``lyap_k`` / ``lyap_r`` output for several embedding dimensions ``m``
(and radii ``epsilon``): a slope is believed where several curves show the same one.  Each credible curve (a scaling
region with R^2 >= 0.9, positive slope, at least one e-fold of rise) votes; the largest group of slopes that lie
within ``agree`` (relative) of the group's median wins (ties: the group whose curves cover more e-folds); the
estimate is the median of the group and the interval spans the group's slopes, each widened by the spread of the
slopes over the thirds of its own fit range (the curvature inside the region).

A region that lies past a *shoulder* (the curve rose clearly faster before it) is moved, per curve, to the rise
before it, or to the whole rise where the curve bends throughout (:func:`before_shoulder`).  The warnings about an
estimate (:func:`quality_notes`) include the shapes of the representative curve whose reading depends on the
window: that move (:func:`passed_over_note`), a shoulder that remains (:func:`shoulder`) and a *bend throughout*
(:func:`later_rise`: it keeps rising after the region, at a lower slope).  :func:`~fastrnn.timeseries.max_lyapunov`
widens its interval to the slope of the other reading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .scaling import earlier_rise, smooth, smoothing_width, window_region

__all__ = ["NoScalingRegionError", "LyapunovWarning", "CurveFit", "consensus", "MIN_R2", "MIN_RISE", "SHORT_RISE",
           "WEAK_R2", "WEAK_RISE", "SHOULDER", "STILL_RISING", "shoulder", "shoulder_note", "before_shoulder",
           "passed_over_note", "later_rise", "still_rising_note", "quality_notes"]

#: fits with a lower coefficient of determination (on the raw curve) are not credible
MIN_R2 = 0.9
#: fits that rise less than this (natural log units, e-folds) are not credible
MIN_RISE = 1.0
#: fits that rise less than this get a warning (the scaling region is short)
SHORT_RISE = 2.0
#: when no curve is credible, the best curve with at least this R^2 and rise (e-folds) gives a *weak* estimate
#: (with a warning) instead of an error: a short rise under noise or in a high-dimensional system
WEAK_R2 = 0.8
WEAK_RISE = 0.2


class NoScalingRegionError(ValueError):
    """No credible scaling region: the divergence curves show no linear rise that could be read as an exponent.

    Raised by :func:`~fastrnn.timeseries.max_lyapunov` and :func:`~fastrnn.timeseries.suggest_tau` for white or
    coloured noise, periodic or quasi-periodic signals, series too short for the curve to rise, or fits with
    R^2 below 0.9; the message says what was seen and what to try.  A subclass of ``ValueError``.
    """


class LyapunovWarning(UserWarning):
    """A Lyapunov estimate was returned but a careful analyst would check it (short scaling region, curves that
    disagree, a curve that did not saturate, ...).  The same messages are in ``LyapunovEstimate.warnings``."""


@dataclass(frozen=True, eq=False)
class CurveFit:
    """The fit of one divergence curve (one embedding dimension and neighbourhood).

    Attributes
    ----------
    dim : int
        Number of delays.
    radius : float or None
        Kantz's neighbourhood radius epsilon (z-scored units), None for nearest neighbours.
    n_neighbors : int
        Nearest neighbours per reference point (0 with a radius).
    slope : float
        Fitted slope per step (NaN if the curve has no scaling region).
    fit_range : tuple of int
        ``(start, stop)`` in steps (``(0, 0)`` if none).
    intercept, r2, stderr : float
        Line ``S(k) = intercept + slope * k``; R^2 and the slope's standard error, against the raw curve.
    rise : float
        ``slope * (stop - 1 - start)``: e-folds the curve covers inside the region.
    slope_low, slope_high : float
        Smallest and largest slope of the region's thirds (per step).
    credible : bool
        Whether this curve votes in the consensus.
    note : str
        Why the curve is not credible, or how its region was found ("" if nothing to say).
    divergence : numpy.ndarray, shape (K + 1,)
        The curve ``S(k)`` itself (read-only).
    n_reference : int
        Reference points that entered the curve at step 0.
    passed_over : tuple or None
        ``(start, stop, slope)`` of the slower stretch after a shoulder that the fit was moved away from (to the
        first rise before it, or to the whole rise; see :func:`before_shoulder`), else None.
    """

    dim: int
    radius: float | None
    n_neighbors: int
    slope: float
    fit_range: tuple
    intercept: float
    r2: float
    stderr: float
    rise: float
    slope_low: float
    slope_high: float
    credible: bool
    note: str = ""
    divergence: np.ndarray = None
    n_reference: int = 0
    passed_over: tuple = None

    def label(self):
        """A short name of the curve: ``"m=3"`` or ``"m=3, eps=0.12"``."""
        return f"m={self.dim}" if self.radius is None else f"m={self.dim}, eps={self.radius:.3g}"


def consensus(fits, *, agree=0.15):
    """The consensus slope of the credible curves.

    Parameters
    ----------
    fits : sequence of CurveFit
    agree : float, optional
        Relative half-width within which slopes agree with their group's median (default 0.15).

    Returns
    -------
    index : int
        Position in ``fits`` of the representative curve (the group's median slope).
    members : list of int
        Positions of the curves in the winning group.
    low, high : float
        Interval of the slope per step.

    Raises
    ------
    NoScalingRegionError
        If no curve is credible.
    """
    cred = [i for i, f in enumerate(fits) if f.credible]
    if not cred:
        raise NoScalingRegionError("no curve has a credible scaling region")
    s = np.array([fits[i].slope for i in cred])
    best = None
    for c in range(len(cred)):
        # a group centred on each slope: the curves within `agree` of it, then re-centred on their median
        members = [cred[j] for j in range(len(cred)) if abs(s[j] - s[c]) <= agree * s[c]]
        med = float(np.median([fits[i].slope for i in members]))
        members = [cred[j] for j in range(len(cred)) if abs(s[j] - med) <= agree * med] or members
        key = (len(members), sum(fits[i].rise for i in members))
        if best is None or key > best[0]:
            best = (key, members)
    members = sorted(best[1], key=lambda i: fits[i].slope)
    # representative: the median slope (of two middle ones, the curve covering more e-folds)
    mid = (len(members) - 1) / 2.0
    cands = sorted({members[int(math.floor(mid))], members[int(math.ceil(mid))]}, key=lambda i: -fits[i].rise)
    index = cands[0]
    low = min(min(fits[i].slope, fits[i].slope_low) for i in members)
    high = max(max(fits[i].slope, fits[i].slope_high) for i in members)
    return index, members, low, high


#: a rise this many times steeper before the fitted region than inside it is reported
SHOULDER = 1.5


def shoulder(rep, period, window):
    """The slope per step of the rise before the fit of ``rep`` (a :class:`CurveFit`) where it was at least
    :data:`SHOULDER` times steeper than the fit (a shoulder: a partial saturation, the fit past it), else None.

    The earlier rise must be substantial: at least half an e-fold and half the region's own rise (a short steep
    transient before a long clean region is the usual start of a curve, not a shoulder), after the first
    ``window`` steps (the embedding window).
    """
    early = _shoulder_rise(rep.divergence, rep.fit_range[0], rep.slope, rep.rise, period, window)
    return None if early is None else early[1]


def _shoulder_rise(y, start, slope, rise, period, window):
    """``(k0, slope)`` of the rise of curve ``y`` before step ``start`` where it is a shoulder of a fit there of
    ``slope`` per step over ``rise`` e-folds (the test of :func:`shoulder`), else None."""
    if not slope > 0:
        return None
    early = earlier_rise(y, start, period=period, skip=window, min_rise=max(0.5, 0.5 * rise))
    return None if early is None or early[1] < SHOULDER * slope else early


def before_shoulder(y, region, period, window):
    """The region to read instead where the scaling region ``region`` (a
    :class:`~fastrnn.timeseries.scaling.Region`) of curve ``y`` lies past a shoulder: the first rise, or the whole
    rise where the curve bends throughout; else None.

    A shoulder is an earlier rise at least :data:`SHOULDER` times steeper than the region, over at least half an
    e-fold and half the region's rise, after the first ``window`` steps (the embedding window) - the test of
    :func:`shoulder`.  Part of the neighbour pairs then saturated first (across a thin band of the attractor, or in
    a short record), and the long straight stretch after it is the slower spreading of the rest, not the
    exponent; an analyst reads the rise before it.  That rise runs from the curve's lowest point (after half a
    period, where the region's own search starts) to the region's start, fitted to the raw curve as it stands
    (it is often under three periods long, and trimming it to whole periods would drop up to a third of it).
    Where that rise is no straight stretch of its own - the slopes of its thirds differ from its slope by more
    than twice the region's tolerance, or it rises by under :data:`MIN_RISE` e-fold, or R^2 < :data:`MIN_R2` - the
    curve has no kink but bends throughout (Mackey-Glass, Lorenz-96, some Rössler records): its steep start reads
    high and the long stretch low, and the whole rise from the same start to the region's end is read instead.
    The new region is used only if it is credible on its own (R^2 >= :data:`MIN_R2`, at least :data:`MIN_RISE`
    e-fold) and steeper than the region; the interval of :func:`~fastrnn.timeseries.max_lyapunov` reaches down to
    the region passed over (:func:`passed_over_note`).
    """
    if _shoulder_rise(y, region.start, region.slope, region.rise, period, window) is None:
        return None
    # the rise itself starts where the scaling region's search does: the lowest point after half a period
    k0 = earlier_rise(y, region.start, period=period, min_rise=0.0)[0]
    w = smoothing_width(period, y.size)
    ys = smooth(y, w)
    first = window_region(y, ys, k0, region.start - 1, w, region.tolerance, True, whole_periods=False)
    spread = max(first.slope_high - first.slope, first.slope - first.slope_low)
    if not (spread <= 2 * region.tolerance * first.slope and first.rise >= MIN_RISE and first.r2 >= MIN_R2):
        # the first rise is no straight stretch of its own: the curve bends throughout, read the whole rise
        first = window_region(y, ys, k0, region.stop - 1, w, region.tolerance, True, whole_periods=False)
    if first.r2 < MIN_R2 or first.rise < MIN_RISE or not first.slope > region.slope:
        return None
    return first


def passed_over_note(rep, dt):
    """The warning for a fit moved by :func:`before_shoulder` (``rep.passed_over`` set)."""
    start, stop, slope = rep.passed_over
    if rep.fit_range[1] <= start:
        read = (f"it rises {rep.slope / slope:.1f}x faster up to step {rep.fit_range[1] - 1} than over the longer "
                f"stretch after it (steps {start} to {stop - 1}, {slope / dt:.4g} per time unit); the estimate reads "
                f"the first rise")
    else:
        read = (f"the rise before step {start} is steeper than the longer stretch after it (steps {start} to "
                f"{stop - 1}, {slope / dt:.4g} per time unit) but bends itself, so the curve bends throughout; the "
                f"estimate reads the whole rise (steps {rep.fit_range[0]} to {rep.fit_range[1] - 1})")
    return (f"the divergence curve has a shoulder: {read}, and the interval reaches down to the later stretch - "
            f"check LyapunovEstimate.plot(), or pass fit_range to read another range")


def shoulder_note(rep, early, dt):
    """The warning for a :func:`shoulder` of slope ``early`` per step."""
    return (f"the divergence curve rose {early / rep.slope:.1f}x faster before the fitted region (about "
            f"{early / dt:.4g} per time unit up to step {rep.fit_range[0]}) than inside it: the region may lie past "
            f"a partial saturation (a shoulder) and the estimate may be too low, so the interval reaches up to the "
            f"earlier rise - check LyapunovEstimate.plot(), or pass fit_range to read the earlier rise")


#: a curve that still rises by this many times the fitted region's e-folds after it is reported
STILL_RISING = 1.5


def later_rise(rep, period):
    """``(e_folds, slope)`` where the curve of ``rep`` goes on rising after its fit by more than
    :data:`STILL_RISING` times the fit's e-folds (a concave curve without one straight stretch, whose reading
    depends on the window), else None.

    ``e_folds`` is the rise from the fit's end to the curve's maximum (smoothed over one period); ``slope`` (per
    step) is the mean slope over the first half of that rise, the stretch that a fit starting where this one ends
    would read.
    """
    if not (rep.slope > 0 and rep.rise >= MIN_RISE):
        return None
    ys = smooth(rep.divergence, smoothing_width(period, rep.divergence.size))
    stop = min(rep.fit_range[1] - 1, ys.size - 1)
    after = float(np.max(ys[stop:]) - ys[stop])
    if after <= STILL_RISING * rep.rise:
        return None
    half = stop + int(np.argmax(ys[stop:] >= ys[stop] + 0.5 * after))
    return after, float((ys[half] - ys[stop]) / max(1, half - stop))


def still_rising_note(rep, after):
    """The warning for a :func:`later_rise` of ``after`` e-folds."""
    return (f"the divergence curve rises by {after:.2f} more e-folds after the fitted region (steps "
            f"{rep.fit_range[0]} to {rep.fit_range[1] - 1}, {rep.rise:.2f} e-folds), at a lower slope: it bends "
            f"throughout and has no single straight stretch, so the estimate depends on the window and the interval "
            f"reaches down to the later rise - check LyapunovEstimate.plot()")


def quality_notes(fits, index, members, low, high, saturated, n_steps):
    """Human-readable warnings about a consensus estimate: the representative curve ``fits[index]``, the curves
    that agree (``members``), the interval ``low .. high`` per step, whether the probe curve ``saturated`` within
    ``n_steps``."""
    rep = fits[index]
    notes = []
    credible = [i for i, f in enumerate(fits) if f.credible]
    if not saturated:
        notes.append(f"the divergence curve is still rising after {n_steps} steps (a quarter of the series); "
                     f"the scaling region may not be complete - use a longer series")
    if rep.rise < SHORT_RISE:
        notes.append(f"the scaling region covers only {rep.rise:.2f} e-folds (steps {rep.fit_range[0]} to "
                     f"{rep.fit_range[1] - 1}); neighbours start too far apart to see a clear exponential stretch, "
                     f"so the slope is likely biased low - use a longer series, a smaller dim, or check the curve "
                     f"with LyapunovEstimate.plot()")
    if rep.note:
        notes.append(f"the representative curve ({rep.label()}) is {rep.note}; the scaling region is poorly "
                     f"defined (noisy or short data)")
    if len(fits) > 1 and len(members) < 2:
        notes.append(f"only one of {len(fits)} curves ({rep.label()}) gives this slope; the others "
                     f"{'disagree' if len(credible) > 1 else 'have no credible scaling region'}")
    elif len(members) * 2 < len(credible):
        others = ", ".join(f"{fits[i].label()}: {fits[i].slope:.4g}" for i in credible if i not in members)
        notes.append(f"the curves disagree: {len(members)} of {len(credible)} credible curves agree (per-step "
                     f"slopes elsewhere {others})")
    if rep.slope > 0 and (high - low) / rep.slope > 0.5:
        notes.append(f"the interval is wide: per-step slopes {low:.4g} .. {high:.4g} around {rep.slope:.4g}")
    return notes
