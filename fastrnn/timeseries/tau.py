r"""From the largest Lyapunov exponent to the sparse-forcing interval: the predictability time
``tau_pred = ln 2 / lambda_max`` (time units) and the interval ``tau`` in steps suggested from data."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..validation import check_float
from .exponent import LyapunovEstimate, max_lyapunov

__all__ = ["predictability_time", "TauSuggestion", "suggest_tau"]


def predictability_time(lambda_max, dt=1.0, *, in_steps=False):
    r"""Predictability time ``tau_pred = ln 2 / lambda_max``: the time over which a small error doubles.

    Parameters
    ----------
    lambda_max : float
        Largest Lyapunov exponent **per time unit** (e.g. :attr:`LyapunovEstimate.lambda_max`; for a per-step
        exponent of a model or a map, pass ``per_step / dt``).  Must be positive.
    dt : float, optional
        Sampling interval in time units; used only with ``in_steps=True``.
    in_steps : bool, optional
        If True return ``tau_pred / dt`` (a float number of steps) instead of time units.

    Returns
    -------
    float
        ``ln 2 / lambda_max`` in time units (or ``ln 2 / (lambda_max dt)`` steps).

    Raises
    ------
    ValueError
        If ``lambda_max <= 0``: a non-chaotic system (no positive exponent) has no finite predictability time.
    """
    lambda_per_time = check_float(lambda_max, "lambda_max")
    dt = check_float(dt, "dt", minimum=0.0, strict_min=True)
    if lambda_per_time <= 0:
        raise ValueError(
            f"lambda_max={lambda_per_time} <= 0: a non-chaotic series (no positive Lyapunov exponent) has no finite "
            f"predictability time; sparse forcing then needs an interval chosen by other means"
        )
    tau_pred = math.log(2.0) / lambda_per_time
    return tau_pred / dt if in_steps else tau_pred


@dataclass(frozen=True, eq=False)
class TauSuggestion:
    """Forcing interval suggested from data (result of :func:`suggest_tau`).

    Attributes
    ----------
    tau : int
        Forcing interval in steps, ``max(1, round(tau_pred / dt))``.
    tau_pred : float
        Predictability time ``ln 2 / lambda_max`` in time units.
    lambda_max : float
        Largest Lyapunov exponent per time unit.
    dt : float
        Sampling interval in time units.
    estimate : LyapunovEstimate
        The estimate ``lambda_max`` came from (curve, fit range, embedding).
    """

    tau: int
    tau_pred: float
    lambda_max: float
    dt: float
    estimate: LyapunovEstimate

    def __repr__(self):
        return (
            f"TauSuggestion(tau={self.tau} steps, tau_pred={self.tau_pred:.6g} time units, "
            f"lambda_max={self.lambda_max:.6g} per time unit, dt={self.dt:g})"
        )


def suggest_tau(x, *, dt=1.0, **kwargs):
    """Suggest the sparse-forcing interval from a measured series: ``tau = round(ln 2 / (lambda_max dt))``.

    ``lambda_max`` comes from :func:`max_lyapunov` (embedding chosen automatically unless given).  A ``(T, D)``
    series is analysed as one joint state (all columns, z-scored, delayed together), not column by column.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
        Series sampled every ``dt`` time units.
    dt : float, optional
        Sampling interval in time units (default 1).
    **kwargs
        Passed to :func:`max_lyapunov` (``dim``, ``lag``, ``method``, ``theiler``, ``max_steps``, ``fit_range``,
        ...).

    Returns
    -------
    TauSuggestion
        ``tau`` (int, steps, >= 1), ``tau_pred`` (time units), ``lambda_max`` (per time unit) and the estimate.

    Raises
    ------
    ValueError
        As :func:`max_lyapunov`, and if the estimated exponent is not positive.
    """
    est = max_lyapunov(x, dt=dt, **kwargs)
    tau_pred = predictability_time(est.lambda_max)
    tau_steps = max(1, int(round(tau_pred / est.dt)))
    return TauSuggestion(tau=tau_steps, tau_pred=tau_pred, lambda_max=est.lambda_max, dt=est.dt, estimate=est)
