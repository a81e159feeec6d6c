"""Figures of the workflow (needs matplotlib, the ``plot`` extra).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so it works with any backend
(and in worker processes without a display); :func:`save` writes one to a PNG file atomically. Time axes are in
time units (steps times ``dt``).
"""
from __future__ import annotations

import math
import os

import numpy as np

try:
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("fastrnn.plotting needs matplotlib: pip install 'fastrnn[plot]'") from exc

from .io import atomic_write

__all__ = ["save", "loss_figure", "trajectories_figure", "attractor_figure", "spectra_figure",
           "jacobian_norms_figure", "divergence_figure", "tau_sweep_figure", "reproduction_figure",
           "log_tick_labels", "TICK_GAP"]

_TRUE_COLOR = "0.25"


def save(fig, path, dpi=110):
    """Write ``fig`` to ``path`` (format from the extension, e.g. .png or .pdf) atomically; return ``path``."""
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight"))
    return path


def _as2d(x):
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def loss_figure(losses, *, title="training loss"):
    """Per-epoch training loss (log scale) of several runs.

    Parameters
    ----------
    losses : dict of str -> sequence of float
        Label -> per-epoch loss.
    """
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    for label, loss in losses.items():
        loss = np.asarray(loss, dtype=float)
        if loss.size:
            ax.plot(np.arange(1, loss.size + 1), loss, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE of free states)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def trajectories_figure(x_true, generated, *, dt=1.0, n_steps=1500, names=None):
    """Observed vs generated time series, one panel per observed dimension.

    Parameters
    ----------
    x_true : ndarray (T, N)
    generated : dict of str -> ndarray (T', N)
        Free-running trajectories started from ``x_true[0]``.
    dt : float
        Time units per step.
    n_steps : int
        Steps shown.
    """
    x_true = _as2d(x_true)
    N = x_true.shape[1]
    names = names or [f"x{i + 1}" for i in range(N)]
    fig = Figure(figsize=(8, 1.8 * N + 0.6))
    axes = fig.subplots(N, 1, sharex=True, squeeze=False)[:, 0]
    n = min(n_steps, x_true.shape[0])
    t = np.arange(n) * dt
    for d, ax in enumerate(axes):
        ax.plot(t, x_true[:n, d], color=_TRUE_COLOR, lw=1.4, label="data")
        for label, xg in generated.items():
            xg = _as2d(xg)
            m = min(n, xg.shape[0])
            ax.plot(t[:m], xg[:m, d], lw=1.0, label=label)
        ax.set_ylabel(names[d])
    axes[0].legend(fontsize=8, ncol=min(4, len(generated) + 1), loc="upper right")
    axes[-1].set_xlabel("time" if dt != 1.0 else "step")
    fig.suptitle("data vs free-running models (same initial observation)")
    return fig


def attractor_figure(x_true, generated, *, max_points=6000, title=None):
    """True vs generated attractors: 3-D plots for N >= 3 (first three dimensions), otherwise 2-D.

    Parameters
    ----------
    x_true : ndarray (T, N)
    generated : dict of str -> ndarray or None
        Label -> generated trajectory (None: the model diverged; the panel says so).
    """
    x_true = _as2d(x_true)
    panels = [("data", x_true)] + list(generated.items())
    ncol = min(5, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig = Figure(figsize=(3.2 * ncol, 3.0 * nrow))
    three_d = x_true.shape[1] >= 3
    lo, hi = x_true.min(axis=0), x_true.max(axis=0)
    pad = 0.15 * (hi - lo)
    lims = list(zip(lo - pad, hi + pad))      # every panel on the data's axes, so sizes and positions compare
    for k, (label, x) in enumerate(panels):
        ax = fig.add_subplot(nrow, ncol, k + 1, projection="3d" if three_d else None)
        ax.set_title(label, fontsize=9)
        if x is None:
            ax.text2D(0.5, 0.5, "diverged", ha="center", transform=ax.transAxes) if three_d else \
                ax.text(0.5, 0.5, "diverged", ha="center", transform=ax.transAxes)
            continue
        x = _as2d(x)[:max_points]
        color = _TRUE_COLOR if k == 0 else f"C{(k - 1) % 10}"
        if three_d:
            ax.plot(x[:, 0], x[:, 1], x[:, 2], lw=0.4, color=color)
            ax.set_xlim(*lims[0])
            ax.set_ylim(*lims[1])
            ax.set_zlim(*lims[2])
            ax.set_xticklabels([])
            ax.set_yticklabels([])
            ax.set_zticklabels([])
        elif x.shape[1] == 2:
            ax.plot(x[:, 0], x[:, 1], lw=0.4, color=color)
            ax.set_xlim(*lims[0])
            ax.set_ylim(*lims[1])
        else:
            ax.plot(x[:-1, 0], x[1:, 0], ".", ms=1, color=color)
            ax.set_xlabel("x_t")
            ax.set_ylabel("x_t+1")
    if title:
        fig.suptitle(title)
    return fig


def spectra_figure(x_true, generated, *, dt=1.0, dim=0, nperseg=2048):
    """Power spectra (Welch, Hann window) of one observed dimension: data vs each generated trajectory.

    Parameters
    ----------
    x_true : ndarray (T, N)
    generated : dict of str -> ndarray or None
    dt : float
        Time units per step (frequencies in cycles per time unit).
    dim : int
        Observed dimension shown.
    """
    from scipy.signal import welch

    fig = Figure(figsize=(6.5, 4))
    ax = fig.add_subplot()

    def spec(x):
        x = _as2d(x)[:, dim]
        x = (x - x.mean()) / (x.std() or 1.0)
        f, p = welch(x, fs=1.0 / dt, nperseg=min(nperseg, x.size))
        return f, p

    f, p = spec(x_true)
    shown = f <= f[-1] / 5
    floor = max(p[shown].min() * 1e-2, 1e-300)
    ax.semilogy(f, p, color=_TRUE_COLOR, lw=2.0, label="data")
    for k, (label, x) in enumerate(generated.items()):
        if x is None or np.std(_as2d(x)[:, dim]) == 0:
            continue
        f, p = spec(x)
        ax.semilogy(f, p, lw=1.0, color=f"C{k % 10}", label=label)
    ax.set_xlim(0, f[-1] / 5)
    ax.set_ylim(bottom=floor)
    ax.set_xlabel("frequency (cycles per time unit)" if dt != 1.0 else "frequency (cycles per step)")
    ax.set_ylabel(f"power of x{dim + 1} (z-scored)")
    ax.set_title("power spectra")
    ax.legend(fontsize=8)
    return fig


def jacobian_norms_figure(norms, *, dt=1.0):
    """Log spectral norms of Jacobian products against the lag, with the slope lambda_1 of each model.

    Parameters
    ----------
    norms : dict of str -> (lags, log_norms, lambda_1_per_step or None)
        From :func:`fastrnn.lyapunov.jacobian_norms`; a line of slope lambda_1 (dashed) is drawn when given.
    dt : float
        Time units per step (lags are shown in time units).
    """
    fig = Figure(figsize=(6.5, 4))
    ax = fig.add_subplot()
    for k, (label, (lags, logn, lam)) in enumerate(norms.items()):
        lags = np.asarray(lags, dtype=float)
        c = f"C{k % 10}"
        ax.plot(lags * dt, logn, color=c, lw=1.5, label=label)
        if lam is not None and math.isfinite(lam):
            ax.plot(lags * dt, logn[0] + lam * (lags - lags[0]), color=c, lw=0.8, ls="--")
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.set_xlabel("lag (time units)" if dt != 1.0 else "lag (steps)")
    ax.set_ylabel("ln ||J_L ... J_1||")
    ax.set_title("Jacobian-product norms along free runs (dashed: slope lambda_1)")
    ax.legend(fontsize=8)
    return fig


def divergence_figure(estimate):
    """The data's mean log-divergence curves (every embedding dimension and radius) with the chosen scaling region,
    the fitted line and the interval (a :class:`fastrnn.timeseries.LyapunovEstimate`); warnings, if any, are
    printed under the axes."""
    from .timeseries import plot_divergence

    n_warn = len(getattr(estimate, "warnings", []))
    fig = Figure(figsize=(7.5, 4.8 + 0.25 * n_warn))
    ax = fig.add_subplot()
    plot_divergence(estimate, ax=ax)
    fig.suptitle(f"lambda_max from data: {estimate.lambda_max:.3f} per time unit "
                 f"[{estimate.lambda_low:.3f}, {estimate.lambda_high:.3f}]")
    if n_warn:
        fig.text(0.01, 0.01, "\n".join(f"warning: {w[:110]}" for w in estimate.warnings), fontsize=6,
                 va="bottom", color="C3")
        fig.subplots_adjust(bottom=0.12 + 0.04 * n_warn)
    return fig


def tau_sweep_figure(rows, *, tau_steps=None):
    """D_stsp and D_H against the forcing interval tau, one line per model (mean over seeds, seeds as dots).

    Runs with schedules are placed at their final tau; runs without forcing and baselines are drawn as horizontal
    lines (mean over seeds).

    Parameters
    ----------
    rows : list of dict
        Summary rows, one per (model, forcing) (:func:`fastrnn.experiments.summarize`): ``model``, ``forcing``
        (label), ``tau`` (interval in steps; None for baselines, inf without interval forcing), ``baseline``, and the
        per-run values ``D_stsp_runs`` and ``D_H_runs`` (None where absent).
    tau_steps : float, optional
        Predictability time of the data in steps, marked with a vertical line.
    """
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    models = sorted({r["model"] for r in rows})
    for ax, key, name in ((axes[0], "D_stsp", "D_stsp (nats)"), (axes[1], "D_H", "D_H")):
        for k, model in enumerate(models):
            c = f"C{k % 10}"
            mine = [r for r in rows if r["model"] == model]
            curve, flat = {}, {}
            for r in mine:
                values = [v for v in r[key + "_runs"] if v is not None]
                if not values:
                    continue
                tau = r["tau"]
                if r["baseline"] is None and tau is not None and math.isfinite(tau):
                    curve.setdefault(tau, []).extend(values)
                    ax.plot([tau] * len(values), values, ".", color=c, alpha=0.5)
                else:
                    flat.setdefault(r["baseline"] or r["forcing"], []).extend(values)
            if curve:
                taus = sorted(curve)
                ax.plot(taus, [np.mean(curve[t]) for t in taus], "-o", color=c, ms=4, label=model)
            for j, (label, vs) in enumerate(sorted(flat.items())):
                ax.axhline(np.mean(vs), color=c, ls=":" if j == 0 else "-.", lw=1.0,
                           label=f"{model}, {label}")
        if tau_steps is not None:
            ax.axvline(tau_steps, color="0.3", ls="--", lw=1.0, label=f"tau_pred = {tau_steps:.0f} steps")
        ax.set_xscale("log")
        ax.set_xlabel("forcing interval tau (steps)")
        ax.set_ylabel(name)
    axes[0].legend(fontsize=7)
    fig.suptitle("tau sweep: reconstruction quality against the forcing interval")
    return fig


#: tick labels on a log axis closer than this (decades) to the previous label are left out (no overlap)
TICK_GAP = 0.15


def log_tick_labels(xs):
    """Labels for ticks at the increasing positive ``xs`` of a log axis: each at least :data:`TICK_GAP` decades
    from the previous labelled one (every tick keeps its mark)."""
    if any(x <= 0 for x in xs):
        return [f"{x:g}" for x in xs]
    labels, last = [], None
    for x in xs:
        show = last is None or math.log10(x / last) >= TICK_GAP
        labels.append(f"{x:g}" if show else "")
        last = x if show else last
    return labels


def reproduction_figure(rows, *, xlabel, tau_steps=None, paper_tau_steps=None, title=None):
    """D_stsp and D_H of a reproduced experiment against its parameter (tau, threshold, window), beside the
    paper's values.

    One colour per model; sparse forcing solid, baselines dashed (a second baseline kind dash-dotted).

    Parameters
    ----------
    rows : list of dict
        One per (line, parameter value): ``model``, ``series`` (the line's label), ``x`` (the parameter, or None:
        drawn as a horizontal line), ``baseline`` (drawn dashed), ``D_stsp_runs`` and ``D_H_runs`` (per-run values,
        None where absent), ``paper_D_stsp`` and ``paper_D_H`` (a number, a [low, high] span or None; drawn as
        crosses, a span as a shaded band or bar). A point on the axis without any value (training diverged or the
        measure is undefined) is an open triangle at the top.
    xlabel : str
    tau_steps : float, optional
        The data's predictability time in steps (solid vertical line).
    paper_tau_steps : float, optional
        The paper's (dotted vertical line).
    title : str, optional
    """
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2)
    models = list(dict.fromkeys(r["model"] for r in rows))
    names = list(dict.fromkeys(r["series"] for r in rows))
    xs = sorted({r["x"] for r in rows if r["x"] is not None})
    for ax, key, label in ((axes[0], "D_stsp", "D_stsp, legacy (nats)"), (axes[1], "D_H", "D_H, legacy")):
        n_base = {}
        for name in names:
            mine = [r for r in rows if r["series"] == name]
            c = f"C{models.index(mine[0]['model']) % 10}"
            if mine[0]["baseline"]:
                n_base[mine[0]["model"]] = n_base.get(mine[0]["model"], 0) + 1
                ls = "--" if n_base[mine[0]["model"]] % 2 else "-."
            else:
                ls = "-"
            pts = [(r["x"], [v for v in r[key + "_runs"] if v is not None], r["paper_" + key]) for r in mine]
            curve = sorted((x, float(np.mean(v))) for x, v, _ in pts if x is not None and v)
            if curve:
                ax.plot(*zip(*curve), ls=ls, marker="o", ms=4, color=c, label=name)
            for x, v, paper in pts:
                if x is None and v:
                    ax.axhline(float(np.mean(v)), color=c, ls=ls, lw=1.2, label=name)
                if x is not None and not v:       # no value (diverged or undefined): a triangle at the top
                    ax.plot([x], [0.97], "^", color=c, ms=7, mfc="none", transform=ax.get_xaxis_transform())
                if paper is None:
                    continue
                span = isinstance(paper, (list, tuple))
                if x is None and span:
                    ax.axhspan(paper[0], paper[1], color=c, alpha=0.15)
                elif x is None:
                    ax.axhline(paper, color=c, ls=":", lw=1)
                elif span:
                    ax.vlines(x, paper[0], paper[1], color=c, lw=3, alpha=0.5)
                else:
                    ax.plot([x], [paper], "x", color=c, ms=7, mew=1.5)
        for t, style, what in ((tau_steps, "-", "data"), (paper_tau_steps, ":", "paper")):
            if t is not None and xs and math.isfinite(t):
                ax.axvline(t, color="0.3", ls=style, lw=1.0, label=f"tau_pred ({what}) = {t:.0f} steps")
        if xs:
            ax.set_xscale("log")
            ax.set_xticks(xs, log_tick_labels(xs), minor=False)
            ax.minorticks_off()
        else:
            ax.set_xticks([])
        if key == "D_stsp":
            ax.set_yscale("log")
        else:
            ax.set_ylim(0.0, 1.0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
    for ax in axes:
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title or "reproduced experiment: fastrnn (lines) and the paper (crosses)")
    fig.text(0.5, -0.02, "open triangles at the top: no value (training diverged or the measure is undefined)",
             ha="center", fontsize=7)
    return fig
