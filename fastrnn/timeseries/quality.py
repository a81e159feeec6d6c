r"""Quality of a Lyapunov estimate read off divergence curves: the per-curve fit (:class:`CurveFit`), the consensus
of the curves that agree (:func:`consensus`), and the error and warning classes (:class:`NoScalingRegionError`,
:class:`LyapunovWarning`).

The consensus rule is how a TISEAN user reads ``lyap_k`` / ``lyap_r`` output for several embedding dimensions ``m``
(and radii ``epsilon``): a slope is believed where several curves show the same one.  Each credible curve (a scaling
region with R^2 >= 0.9, positive slope, at least one e-fold of rise) votes; the largest group of slopes that lie
within ``agree`` (relative) of the group's median wins (ties: the group whose curves cover more e-folds); the
estimate is the median of the group and the interval spans the group's slopes, each widened by the spread of the
slopes over the thirds of its own fit range (the curvature inside the region).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["NoScalingRegionError", "LyapunovWarning", "CurveFit", "consensus", "MIN_R2", "MIN_RISE"]

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
