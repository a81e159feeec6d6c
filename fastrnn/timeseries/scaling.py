r"""The scaling region of a divergence curve: the least-squares line, the automatic choice of the fit range
(steps), and the saturation test used to choose the curve's length.

This is the one place that decides which part of ``S(k)`` is fitted; replace :func:`auto_fit_range` (and
:func:`curve_saturated`) to change that rule.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["fit_line", "auto_fit_range", "curve_saturated"]


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


def auto_fit_range(y, *, tolerance=0.1, top=0.9, grid=64, min_points=6):
    r"""Find the linear scaling region of a divergence curve ``y(k)``, ``k = 0 .. K`` (steps).

    Rule:

    1. Search only between ``k_lo`` = the position of the minimum of ``y`` in its first half and ``k_hi`` =
       the first ``k > k_lo`` at which ``y`` reaches ``y_min + top (y_max - y_min)`` (the onset of saturation).
    2. Candidate windows ``[a, b]`` have end points on a grid of at most ``grid`` points in ``[k_lo, k_hi]`` and
       at least ``min_points`` steps.  A window is *linear* if its least-squares slope ``s`` is positive and the
       slopes fitted separately to its three thirds all lie within ``tolerance * s`` of ``s`` (this rejects
       windows that reach into the initial transient or into the bend towards saturation).
    3. The longest linear window wins (ties: the higher R^2).  If no window is linear, the tolerance is doubled
       (at most twice) and a :class:`RuntimeWarning` says so; if still none is, ValueError.

    Parameters
    ----------
    y : numpy.ndarray, shape (K + 1,)
        The divergence curve.
    tolerance : float, optional
        Relative slope tolerance.
    top : float, optional
        Fraction of the curve's rise taken as the onset of saturation.
    grid : int, optional
        Most candidate end points.
    min_points : int, optional
        Fewest steps in a window.

    Returns
    -------
    start, stop : int
        Fit ``y[start:stop]`` (steps ``start .. stop - 1``).

    Raises
    ------
    ValueError
        If the curve has undefined points, does not grow, saturates too early, or has no linear window.
    """
    k_last = y.size - 1  # the curve's last step
    if not np.all(np.isfinite(y)):
        raise ValueError(
            "the divergence curve has undefined points (no neighbour pairs at some step); use a longer series or "
            "smaller max_steps"
        )
    k_lo = int(np.argmin(y[: k_last // 2 + 1]))
    y_min = y[k_lo]
    y_max = float(np.max(y[k_lo:]))
    if not y_max > y_min:
        raise ValueError(
            "the divergence curve does not grow: no positive exponent can be fitted (the series may not be "
            "chaotic); pass fit_range=(start, stop) to fit a range of your choice"
        )
    above = np.nonzero(y[k_lo:] >= y_min + top * (y_max - y_min))[0]
    k_hi = k_lo + int(above[0])
    if k_hi - k_lo + 1 < min_points:
        raise ValueError(
            f"the divergence curve saturates within {k_hi - k_lo} steps, too few for a fit: the series is too "
            f"short or too noisy, or the sampling too coarse (use a longer series, or pass fit_range)"
        )
    cand = np.unique(np.round(np.linspace(k_lo, k_hi, min(grid, k_hi - k_lo + 1))).astype(np.int64))
    fit = _window_fitter(y)
    for attempt in range(3):
        tol = tolerance * 2 ** attempt
        best = _longest_linear_window(cand, fit, tol, min_points)
        if best is not None:
            break
    if best is None:
        raise ValueError(
            "no linear scaling region found in the divergence curve (no window whose slope is positive and "
            f"consistent within {tol:.0%} over its thirds); the series may not be chaotic, or too short or noisy - "
            "inspect the curve (LyapunovEstimate.plot with fit_range given) and pass fit_range=(start, stop)"
        )
    if attempt:
        warnings.warn(
            f"max_lyapunov: the divergence curve has no window whose slopes agree within tolerance={tolerance:g}; "
            f"the fit range {best[2], best[3] + 1} was found with a tolerance of {tol:g}. The scaling region is "
            f"poorly defined (noisy or short data): check the curve with LyapunovEstimate.plot().",
            RuntimeWarning,
            stacklevel=3,
        )
    return best[2], best[3] + 1


def _window_fitter(y):
    """``fit(a, b) -> (slope, r2)`` of ``y`` over the steps ``a .. b`` (inclusive), O(1) from prefix sums."""
    kk = np.arange(y.size, dtype=float)
    c1 = np.concatenate([[0.0], np.cumsum(np.ones_like(kk))])
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
        slope = sxy / sxx
        r2 = (sxy * sxy) / (sxx * syy) if syy > 0 else 1.0
        return slope, r2

    return fit


def _longest_linear_window(cand, fit, tolerance, min_points):
    """Longest window [a, b] (end points in ``cand``) whose slope is positive and whose thirds' slopes lie within
    ``tolerance`` (relative) of it; returns (length, r2, a, b) or None."""
    best = None
    for ia in range(cand.size):
        a = int(cand[ia])
        for ib in range(cand.size - 1, ia, -1):
            b = int(cand[ib])
            L = b - a + 1
            if L < min_points or (best is not None and L < best[0]):
                break  # windows only get shorter from here on
            s, r2 = fit(a, b)
            if not s > 0:
                continue
            e1 = a + L // 3
            e2 = a + (2 * L) // 3
            ok = True
            for lo, hi in ((a, e1 - 1), (e1, e2 - 1), (e2, b)):
                si, _ = fit(lo, hi)
                if abs(si - s) > tolerance * s:
                    ok = False
                    break
            if ok and (best is None or L > best[0] or (L == best[0] and r2 > best[1])):
                best = (L, r2, a, b)
    return best


def curve_saturated(y):
    """True if the last quarter of the curve ``y`` adds at most 10 % of its total rise."""
    k_last = y.size - 1
    rise = float(np.max(y) - np.min(y))
    if not rise > 0:
        return True
    return float(y[-1] - y[(3 * k_last) // 4]) <= 0.1 * rise
