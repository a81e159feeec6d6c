"""The divergence figure: every curve of a Lyapunov estimate, the chosen scaling region, and the interval."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_divergence"]


def plot_divergence(estimate, ax=None):
    """Plot the divergence curves of an estimate with the fitted line, the fit range and the interval (needs
    matplotlib, the ``plot`` extra).

    Draws, in this order: the representative curve (dark, ``ax.lines[0]``), its fitted line (red,
    ``ax.lines[1]``), every other curve (coloured where it agrees with the consensus, grey where not; thin), the
    lines of slope ``lambda_low`` and ``lambda_high`` through the middle of the fit range (dashed), and the fit
    range (shaded).

    Parameters
    ----------
    estimate : LyapunovEstimate
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is created if None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .exponent import LyapunovEstimate

    if not isinstance(estimate, LyapunovEstimate):
        raise TypeError(f"estimate must be a LyapunovEstimate (from max_lyapunov), got {type(estimate).__name__}")
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_divergence needs matplotlib: pip install 'fastrnn[plot]'") from exc
    if ax is None:
        _, ax = plt.subplots()
    e = estimate
    rep = next((c for c in e.curves if c.divergence is e.divergence), None)
    label = rep.label() if rep is not None else f"m={e.dim}"
    ax.plot(e.steps, e.divergence, color="0.15", lw=1.4, label=f"S(k), {label} (representative)")
    k, line = e.fitted_line()
    ax.plot(k, line, color="C3", lw=2.2,
            label=f"fit: {e.per_step:.4g}/step = {e.lambda_max:.4g}/time unit (R² {e.r2:.3f})")
    for i, c in enumerate(e.curves):
        if c.divergence is e.divergence or c.divergence is None:
            continue
        agrees = i in e.consensus
        ax.plot(np.arange(c.divergence.size), c.divergence, lw=0.8, alpha=0.9 if agrees else 0.5,
                color=f"C{i % 10}" if agrees else "0.65",
                label=f"{c.label()}: " + (f"{c.slope:.3g}/step" if c.credible else "no region"))
        if c.credible and c.fit_range[1] > c.fit_range[0]:
            kk = np.arange(*c.fit_range)
            ax.plot(kk, c.intercept + c.slope * kk, lw=0.8, ls=":", color=f"C{i % 10}" if agrees else "0.65")
    if np.isfinite(e.lambda_low) and np.isfinite(e.lambda_high):
        km = 0.5 * (k[0] + k[-1])
        ym = e.intercept + e.per_step * km
        for lam, name in ((e.lambda_low, "low"), (e.lambda_high, "high")):
            s = lam * e.dt
            ax.plot(k, ym + s * (k - km), color="C3", lw=0.9, ls="--",
                    label=f"interval {name}: {lam:.4g}/time unit" if name == "low" else
                    f"interval high: {lam:.4g}/time unit")
    ax.axvspan(e.fit_range[0], e.fit_range[1] - 1, color="C3", alpha=0.08)
    ax.set_xlabel("steps k" if e.dt == 1.0 else f"steps k (dt = {e.dt:g} time units)")
    ax.set_ylabel("S(k) = <ln distance>")
    ax.set_title(f"{e.method}, dim={e.dim}, lag={e.lag}, theiler={e.theiler}; "
                 f"{len(e.consensus)}/{len(e.curves)} curves agree")
    ax.legend(loc="lower right", fontsize=7)
    return ax
