"""τ sweeps: a grid of (model, forcing option, seed) run on Dask, and its summary table and figure.

:func:`run_sweep` builds the specs, executes them (:func:`fastrnn.experiments.run_specs`; finished runs are skipped,
so an interrupted sweep loses nothing when rerun), and writes ``summary.md``, ``summary.json`` and ``tau_sweep.png``
(D_stsp and D_H against the forcing interval per model, the data's predictability time marked).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from .. import forcing, validation
from ..io import write_json, write_text
from ..models import model_kind
from ..systems import system_series
from ..timeseries import suggest_tau
from .cluster import run_specs
from .spec import BASELINES, make_spec

__all__ = ["SweepResult", "run_sweep", "summarize"]


@dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`.

    Attributes
    ----------
    results : list of dict
        One result per finished run (see :func:`fastrnn.experiments.execute_run`), in grid order.
    skipped : int
        Runs found finished in the output directory and not repeated.
    executed : int
        Runs executed by this call.
    failed : list of (str, str)
        (run id, error message) of runs that raised.
    table : str
        Markdown summary table (also in ``summary.md``).
    rows : list of dict
        The table's rows (:func:`summarize`).
    tau_pred : float or None
        Predictability time of the data in time units (ln 2 / lambda_max), if known.
    tau_steps : float or None
        The same in steps (tau_pred / dt), marked in the figure.
    paths : dict
        ``summary_md``, ``summary_json`` and ``figure`` (absent without matplotlib).
    """

    results: list
    skipped: int
    executed: int
    failed: list
    table: str
    rows: list = field(default_factory=list)
    tau_pred: float | None = None
    tau_steps: float | None = None
    paths: dict = field(default_factory=dict)


def run_sweep(out_dir, *, data="lorenz", models=("PLRNN", "LSTM"), forcings=(5, 10, 25, 50, 100, 200),
              seeds=(0, 1), baselines=(), dt=None, inputs=None, tau_pred="auto", scheduler=None, n_workers=None,
              progress=True, figure=True, taus=None, **settings):
    """Run a grid of (model, forcing option, seed) on Dask and summarise it.

    Parameters
    ----------
    out_dir : str or path
        Output directory: ``runs/`` (one JSON result and one model file per run), ``summary.md``,
        ``summary.json`` and ``tau_sweep.png``.
    data : str or ndarray (T, N)
        A system name (:data:`fastrnn.systems.SYSTEMS`, generated with ``n_steps`` samples and standardised) or a
        series; the last ``n_test`` samples are held out for evaluation.
    models : sequence of str
        Model names.
    forcings : sequence
        Forcing options: intervals in steps, "none", or schedules (see :func:`fastrnn.forcing.parse_forcing`).
    seeds : sequence of int
    baselines : sequence of str
        Baselines run for every model and seed: "clipping[:THR]", "value_clipping[:THR]", "windowing",
        "truncated:STEPS" (see :data:`fastrnn.experiments.BASELINES`).
    dt : float, optional
        Sampling interval in time units per sample (systems: their default; arrays: 1).
    inputs : ndarray (T, K), optional
        Inputs aligned with an array ``data``.
    tau_pred : "auto", float or None
        Predictability time in time units, marked in the figure; "auto" estimates it from the training part of
        the data (:func:`fastrnn.timeseries.suggest_tau` of the first observed coordinate); None: not marked.
    scheduler : None, str or distributed.Client
        An existing client, the address of a running scheduler ("tcp://host:port"), or None for a local cluster
        started for this sweep (:func:`fastrnn.experiments.open_client`).
    n_workers : int, optional
        Workers of the local cluster (default: one per CPU).
    progress : bool
        Progress bar over the epochs of all runs.
    figure : bool
        Draw ``tau_sweep.png`` (needs matplotlib).
    taus : sequence, optional
        Former name of ``forcings`` (accepted for compatibility).
    **settings
        Overrides of :data:`fastrnn.experiments.DEFAULT_SETTINGS` (n_latent, seq_len, n_epochs, lr, ...).

    Returns
    -------
    SweepResult
    """
    if taus is not None:
        forcings = taus
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    arr = None
    if isinstance(data, str):
        label = data
    else:
        arr = validation.as_float_array(data, "data", np.float64, ndim=(1, 2))
        arr = arr[:, None] if arr.ndim == 1 else arr
        label = "array"
        if inputs is not None:
            inputs = validation.as_float_array(inputs, "inputs", np.float64, ndim=2)
            if inputs.shape[0] != arr.shape[0]:
                raise ValueError(f"inputs has {inputs.shape[0]} rows but data has {arr.shape[0]}; align them")
    models = [model_kind(m) for m in models]
    options = [forcing.parse_forcing(f) for f in forcings]
    seeds = [validation.check_int(s, "seed", minimum=0) for s in seeds]
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"unknown baseline {b!r}; choose one of {', '.join(BASELINES)}")
    specs = []
    for m in models:
        for f in options:
            for s in seeds:
                specs.append(make_spec(data=label, model=m, forcing_option=f, seed=s, dt=dt, **settings))
        for b in baselines:
            for s in seeds:
                specs.append(make_spec(data=label, model=m, baseline=b, seed=s, dt=dt, **settings))
    if not specs:
        raise ValueError("the sweep grid is empty: give at least one model, one forcing option (or baseline) and "
                         "one seed")
    spec_dt = specs[0]["dt"]
    if tau_pred == "auto":
        tau_pred = _auto_tau_pred(specs[0], arr)
    elif tau_pred is not None:
        tau_pred = validation.check_float(tau_pred, "tau_pred", minimum=0.0, strict_min=True)
    tau_steps = None if tau_pred is None else tau_pred / spec_dt
    results, skipped, executed, failed = run_specs(specs, out_dir, data=arr, inputs=inputs, scheduler=scheduler,
                                                   n_workers=n_workers, progress=progress, desc="sweep")
    done = [r for r in results if r is not None]
    table, rows = summarize(done)
    paths = {"summary_md": os.path.join(out_dir, "summary.md"), "summary_json": os.path.join(out_dir, "summary.json")}
    header = f"# tau sweep on {label}\n\n"
    if tau_pred is not None:
        header += f"tau_pred = {tau_steps:.1f} steps ({tau_pred:.3g} time units)\n\n"
    write_text(paths["summary_md"], header + table + "\n")
    write_json(paths["summary_json"], {"data": label, "dt": spec_dt, "tau_pred": tau_pred, "tau_steps": tau_steps,
                                       "rows": rows, "failed": failed, "runs": [r["run_id"] for r in done]})
    if figure and done:
        try:
            from .. import plotting
        except ImportError:  # pragma: no cover - matplotlib missing
            plotting = None
        if plotting is not None:
            paths["figure"] = os.path.join(out_dir, "tau_sweep.png")
            plotting.save(plotting.tau_sweep_figure(rows, tau_steps=tau_steps), paths["figure"])
    return SweepResult(results=done, skipped=skipped, executed=executed, failed=failed, table=table, rows=rows,
                       tau_pred=tau_pred, tau_steps=tau_steps, paths=paths)


def _auto_tau_pred(spec, arr):
    """tau_pred in time units from the training data's first coordinate, or None if it cannot be estimated."""
    try:
        if arr is None:
            x, _, _ = system_series(spec["data"], spec["n_steps"], dt=spec["dt"], rng=spec["data_seed"])
        else:
            x = arr
        x = x[: x.shape[0] - spec["n_test"], 0]
        return float(suggest_tau(x, dt=spec["dt"]).tau_pred)
    except ValueError:
        return None


def _mean_sd(values):
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None, None, 0
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else 0.0), len(v)


def _fmt(mean, sd, digits=3):
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}g}" if not sd else f"{mean:.{digits}g} ± {sd:.2g}"


def summarize(results):
    """Markdown table and rows (mean and sample standard deviation over seeds) per (model, forcing).

    Columns: model, forcing (tau in steps, schedule or baseline), runs, D_stsp, D_H, lambda_1 per time unit, the
    final training loss, and the runs whose free run diverged (their measures are absent and not averaged).

    Returns
    -------
    table : str
    rows : list of dict
        Per (model, forcing): ``model``, ``forcing`` (label), ``tau`` (the interval in steps that the row is
        plotted at, :func:`fastrnn.forcing.interval_steps`; None for baselines), ``baseline``, ``runs``, the means
        and sds ``D_stsp``, ``D_stsp_sd``, ``D_H``, ``D_H_sd``, ``lambda_1``, ``lambda_1_sd``, ``final_loss``,
        ``diverged``, and the per-run values ``D_stsp_runs``, ``D_H_runs`` with their ``seeds``.
    """
    groups = {}
    for r in results:
        s = r["spec"]
        label = s["baseline"] or forcing.forcing_label(s["forcing"])
        groups.setdefault((s["model"], label), []).append(r)

    def order(key):
        rs = groups[key]
        return (key[0], rs[0]["spec"]["baseline"] is not None, forcing.interval_steps(rs[0]["spec"]["forcing"]),
                key[1])

    rows = []
    lines = ["| model | forcing | runs | D_stsp | D_H | lambda_1 (1/time) | final loss | diverged |",
             "|---|---|---|---|---|---|---|---|"]
    for key in sorted(groups, key=order):
        rs = groups[key]
        get = lambda name: [r["metrics"].get(name) for r in rs]  # noqa: E731
        d = _mean_sd(get("D_stsp"))
        h = _mean_sd(get("D_H"))
        lam = _mean_sd(get("lambda_1"))
        loss = _mean_sd([(r["train"].get("loss") or [None])[-1] for r in rs])
        n_div = sum(bool(r["metrics"].get("generation_diverged")) or "error" in r["train"] for r in rs)
        spec = rs[0]["spec"]
        rows.append({"model": key[0], "forcing": key[1],
                     "tau": forcing.interval_steps(spec["forcing"]) if not spec["baseline"] else None,
                     "baseline": spec["baseline"], "runs": len(rs),
                     "D_stsp": d[0], "D_stsp_sd": d[1], "D_H": h[0], "D_H_sd": h[1], "lambda_1": lam[0],
                     "lambda_1_sd": lam[1], "final_loss": loss[0], "diverged": n_div,
                     "D_stsp_runs": get("D_stsp"), "D_H_runs": get("D_H"), "seeds": [r["spec"]["seed"] for r in rs]})
        lines.append(f"| {key[0]} | {key[1]} | {len(rs)} | {_fmt(*d[:2])} | {_fmt(*h[:2])} | {_fmt(*lam[:2])} | "
                     f"{_fmt(*loss[:2])} | {n_div} |")
    return "\n".join(lines), rows
