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
        The estimate ``lambda_max`` came from (curves, fit range, embedding, interval, warnings).
    tau_low, tau_high : int
        Interval of ``tau`` in steps, from ``lambda_high`` and ``lambda_low`` (a high exponent gives a short
        interval).
    tau_pred_low, tau_pred_high : float
        Interval of ``tau_pred`` in time units (``ln 2 / lambda_high`` and ``ln 2 / lambda_low``; ``inf`` if
        ``lambda_low <= 0``).
    """

    tau: int
    tau_pred: float
    lambda_max: float
    dt: float
    estimate: LyapunovEstimate
    tau_low: int = 0
    tau_high: int = 0
    tau_pred_low: float = float("nan")
    tau_pred_high: float = float("nan")

    @property
    def warnings(self):
        """The estimate's warnings (list of str)."""
        return self.estimate.warnings

    def __repr__(self):
        return (
            f"TauSuggestion(tau={self.tau} steps [{self.tau_low}, {self.tau_high}], tau_pred={self.tau_pred:.6g} "
            f"time units [{self.tau_pred_low:.4g}, {self.tau_pred_high:.4g}], lambda_max={self.lambda_max:.6g} per "
            f"time unit, dt={self.dt:g}, warnings={len(self.warnings)})"
        )


def suggest_tau(x, *, dt=1.0, **kwargs):
    """Suggest the sparse-forcing interval from a measured series: ``tau = round(ln 2 / (lambda_max dt))``.

    ``lambda_max`` comes from :func:`max_lyapunov` (the consensus of several embeddings, chosen automatically
    unless given), with its interval.  A ``(T, D)`` series is analysed as one joint state (all columns, z-scored,
    delayed together), not column by column.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
        Series sampled every ``dt`` time units.
    dt : float, optional
        Sampling interval in time units (default 1).
    **kwargs
        Passed to :func:`max_lyapunov` (``dim``, ``lag``, ``method``, ``radius``, ``theiler``, ``max_steps``,
        ``fit_range``, ...).

    Returns
    -------
    TauSuggestion
        ``tau`` (int, steps, >= 1) with ``tau_low .. tau_high``, ``tau_pred`` (time units) with
        ``tau_pred_low .. tau_pred_high``, ``lambda_max`` (per time unit) and the estimate (its ``warnings`` are
        also issued as :class:`~fastrnn.timeseries.LyapunovWarning`).

    Raises
    ------
    NoScalingRegionError
        (a ``ValueError``) When the divergence curves have no credible scaling region (noise, periodic or
        quasi-periodic signals, too short or too noisy data); the message says what to try.
    ValueError
        As :func:`max_lyapunov`, and if the estimated exponent is not positive.
    """
    est = max_lyapunov(x, dt=dt, **kwargs)
    tau_pred = predictability_time(est.lambda_max)
    tau_steps = max(1, int(round(tau_pred / est.dt)))
    pred_low = math.log(2.0) / est.lambda_high if est.lambda_high > 0 else math.inf
    pred_high = math.log(2.0) / est.lambda_low if est.lambda_low > 0 else math.inf
    pred_low, pred_high = min(pred_low, tau_pred), max(pred_high, tau_pred)
    tau_low = max(1, int(math.floor(pred_low / est.dt)))
    tau_high = int(math.ceil(pred_high / est.dt)) if math.isfinite(pred_high) else 2 ** 62
    return TauSuggestion(tau=tau_steps, tau_pred=tau_pred, lambda_max=est.lambda_max, dt=est.dt, estimate=est,
                         tau_low=min(tau_low, tau_steps), tau_high=max(tau_high, tau_steps),
                         tau_pred_low=pred_low, tau_pred_high=pred_high)
