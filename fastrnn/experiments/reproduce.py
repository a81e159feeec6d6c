"""The paper's experiments in one call each (``fastrnn reproduce EXPERIMENT``): the runs on Dask, the table beside
the published numbers, and the figure.

An experiment (:data:`EXPERIMENTS`) is one figure of the sparse-forcing paper (Mikhaeil, Monfared & Durstewitz
2022): a data set of :data:`fastrnn.systems.PAPER_SYSTEMS`, models, and *settings* - forcing intervals, schedules
or baselines, in the grammar of :mod:`fastrnn.experiments.paper_numbers` (``"tau:30"``, ``"clipping:10"``,
``"value_clipping:10"``, ``"windowing:50"``, ``"truncated:50"``, ``"annealed:1:46"``, ``"jittered:46:10"``).
A *budget* (:data:`BUDGETS`) sets the training and evaluation settings and the seeds: ``"full"`` is the paper's,
``"quick"`` fits in about 10 minutes on 2 cores, ``"tiny"`` is a smoke test in seconds.

:func:`reproduce_experiment` executes the runs with :func:`fastrnn.experiments.run_specs` (finished runs are
reused, an interrupted experiment resumes without losing any) and writes ``table.md``, ``table.json`` and
``figure.png``: per (model, setting) the mean ± sd over seeds of the paper's legacy D_stsp and D_H and of
fastrnn's default ones, beside the paper's values; the data's predictability time (from the data, with its interval)
beside the paper's; and, where an experiment has both, how much better sparse forcing is than every baseline.
A run whose training loss went non-finite (:class:`fastrnn.TrainingDivergedError`) is a result: its row says
"diverged".
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import validation
from ..io import finite_or_none, write_json, write_text
from ..systems.paper import PAPER_SYSTEMS, paper_series
from ..timeseries import LyapunovWarning, suggest_tau
from .cluster import run_specs
from .paper_numbers import PAPER, PAPER_SOURCE, paper_value
from .spec import make_spec

__all__ = ["BUDGETS", "EXPERIMENTS", "FACTOR", "MEASURES", "Experiment", "ReproduceResult", "experiment_specs",
           "forcing_checks", "parse_setting", "reproduce_experiment", "reproduction_rows", "reproduction_table",
           "tau_checks"]

#: the four measures of every row: (result key, column title)
MEASURES = (("D_stsp_legacy", "D_stsp legacy"), ("D_H_legacy", "D_H legacy"), ("D_stsp", "D_stsp"),
            ("D_H", "D_H"))
#: factor by which sparse forcing must beat every baseline in D_stsp (the paper's claim)
FACTOR = 5.0


class Experiment(NamedTuple):
    """One of the paper's experiments.

    Attributes
    ----------
    system : str
        Its data set (:data:`fastrnn.systems.PAPER_SYSTEMS`).
    models : tuple of str
        Models of the full run.
    settings : tuple of str
        Settings of the full run (grammar of :mod:`fastrnn.experiments.paper_numbers`).
    quick_models, quick_settings : tuple of str
        The smaller grid of the quick budget.
    axis : tuple of str
        Setting kinds drawn against their parameter in the figure (others are horizontal lines).
    xlabel : str
        The figure's x axis.
    """

    system: str
    models: tuple
    settings: tuple
    quick_models: tuple
    quick_settings: tuple
    axis: tuple
    xlabel: str


_ALL = ("PLRNN", "TanhRNN", "LSTM", "GRU")
_LORENZ_TAUS = PAPER["lorenz"].grid["LSTM"]
#: tau grid (steps) of the sweeps whose published figure gives only each model's best tau (its own grid is not in
#: the transcription): Lorenz's grid plus every best tau the paper names for them (30, 50, 70, 100 are in it; 130)
_SWEEP_TAUS = tuple(sorted(set(_LORENZ_TAUS) | {int(pv.setting.split(":")[1])
                                                for name in ("rossler", "duffing", "lorenz2d", "mackey_glass")
                                                for pv in PAPER[name].values if pv.setting.startswith("tau:")}))
_THRESHOLDS = (1, 10, 100, 1000)
_WINDOWS = (10, 30, 50, 100, 200)
_TAU_AXIS = ("tau",)
#: the quick budget's model of the clipping and windowing experiments (9 and 11 runs): the tanh RNN alone, as the
#: LSTM's updates cost about 2.5 times as much (measured: 1.06 s against 0.43 s for 100 updates); with the LSTM the
#: quick clipping experiment was projected at over 14 minutes on 2 cores shared with other jobs, each LSTM run
#: taking about 170 s
_QUICK_BASELINE_MODELS = ("TanhRNN",)


def _taus(values):
    return tuple(f"tau:{t}" for t in values)


def _sweep(system, taus, quick_taus, quick_models=("PLRNN", "TanhRNN", "LSTM")):
    return Experiment(system, _ALL, _taus(taus) + ("clipping:1",), quick_models, _taus(quick_taus) + ("clipping:1",),
                      _TAU_AXIS, "forcing interval tau (steps)")


#: the paper's experiments by name
EXPERIMENTS = {
    "lorenz": _sweep("lorenz", _LORENZ_TAUS, (5, 30, 100, 200)),
    "duffing": _sweep("duffing", _SWEEP_TAUS, (5, 30, 50, 200)),
    "duffing_input": _sweep("duffing_input", _SWEEP_TAUS, (5, 30, 50, 200)),
    "rossler": _sweep("rossler", _SWEEP_TAUS, (5, 30, 100, 200)),
    "lorenz2d": _sweep("lorenz2d", _LORENZ_TAUS, (5, 30, 100, 200)),
    "mackey_glass": _sweep("mackey_glass", _SWEEP_TAUS, (5, 70, 130, 200)),
    "clipping": Experiment(
        "lorenz", ("TanhRNN", "LSTM"),
        ("tau:30",) + tuple(f"{k}:{t}" for k in ("clipping", "value_clipping") for t in _THRESHOLDS),
        _QUICK_BASELINE_MODELS,
        ("tau:30",) + tuple(f"{k}:{t}" for k in ("clipping", "value_clipping") for t in _THRESHOLDS),
        ("clipping", "value_clipping"), "clipping threshold"),
    "windowing": Experiment(
        "lorenz", ("TanhRNN", "LSTM"),
        ("tau:30",) + tuple(f"{k}:{n}" for k in ("windowing", "truncated") for n in _WINDOWS),
        _QUICK_BASELINE_MODELS,
        ("tau:30",) + tuple(f"{k}:{n}" for k in ("windowing", "truncated") for n in _WINDOWS),
        ("windowing", "truncated"), "window length / truncation interval (steps)"),
    "annealing": Experiment("lorenz", _ALL, ("tau:46", "annealed:1:46", "clipping:1"), ("TanhRNN", "LSTM"),
                            ("tau:46", "annealed:1:46", "clipping:1"), (), "(no axis: one value per setting)"),
    "jitter": Experiment("lorenz", _ALL, ("tau:46",) + tuple(f"jittered:46:{d}" for d in (10, 20, 30)),
                         ("TanhRNN", "LSTM"), ("tau:46",) + tuple(f"jittered:46:{d}" for d in (10, 20, 30)),
                         ("jittered",), "jitter Delta (steps)"),
}

_COMMON = {"lr": 1e-3, "lr_end": None, "clip": None, "lyapunov_steps": 0, "dtype": "float32", "select": False}

#: budgets: spec settings (:data:`fastrnn.experiments.DEFAULT_SETTINGS`), seeds, and what they mean
BUDGETS = {
    "full": {
        "settings": {**_COMMON, "n_latent": 30, "batch_size": 32, "batches_per_epoch": 10, "n_epochs": 3000,
                     "seq_len": 1000, "n_steps": 100000, "n_test": 20000, "n_gen": 100000, "eval_transient": 1000,
                     "eval_starts": 8},
        "seeds": (0, 1, 2), "grid": "full",
        "note": "the paper's budget: Adam 1e-3, batch 32, 10 batches per epoch, 3000 epochs, M = 30, 3 seeds, no "
                "clipping with forcing; windows of 1000 steps (the paper's for its clipping baseline, taken for "
                "every run); 10^5 samples (the last 20000 held out), 10^5 free-running steps per evaluation"},
    "quick": {
        "settings": {**_COMMON, "n_latent": 30, "batch_size": 32, "batches_per_epoch": 10, "n_epochs": 500,
                     "seq_len": 200, "n_steps": 30000, "n_test": 10000, "n_gen": None, "eval_transient": 1000,
                     "eval_starts": 4},
        "seeds": (0,), "grid": "quick",
        "note": "QUICK budget, not the paper's: 500 epochs instead of 3000, 1 seed instead of 3, windows of 200 "
                "steps instead of 1000, fewer models and tau values; 3 x 10^4 samples (the last 10^4 held out), "
                "free runs of 10^4 steps from 4 test observations. Otherwise as the paper: Adam 1e-3, batch 32, "
                "10 batches per epoch, M = 30, no clipping with forcing"},
    "tiny": {
        "settings": {**_COMMON, "n_latent": 8, "batch_size": 4, "batches_per_epoch": 2, "n_epochs": 2,
                     "seq_len": 20, "n_steps": 3000, "n_test": 1000, "n_gen": None, "eval_transient": 100,
                     "eval_starts": 1},
        "seeds": (0,), "grid": "tiny",
        "note": "TINY smoke-test budget (2 epochs of 2 batches, M = 8, 1 model, 1 seed, 3 x 10^3 samples): the "
                "numbers mean nothing"},
}


def parse_setting(setting):
    """The :func:`fastrnn.experiments.make_spec` arguments of a setting: ``forcing_option``, ``baseline`` and
    per-setting overrides (``seq_len`` for windowing).

    Parameters
    ----------
    setting : str
        ``"tau:N"``, ``"annealed:A:B"``, ``"jittered:T:D"``, ``"clipping:THR"``, ``"value_clipping:THR"``,
        ``"windowing:STEPS"`` (windows of STEPS steps from a zero state) or ``"truncated:STEPS"``.

    Returns
    -------
    dict
    """
    kind, _, arg = str(setting).partition(":")
    if kind == "tau" and arg:
        return {"forcing_option": validation.check_int(int(arg), "tau", minimum=1)}
    if kind in ("annealed", "jittered") and arg:
        return {"forcing_option": setting}
    if kind in ("clipping", "value_clipping", "truncated") and arg:
        return {"baseline": setting}
    if kind == "windowing" and arg:
        return {"baseline": "windowing", "seq_len": validation.check_int(int(arg), "window", minimum=1)}
    raise ValueError(f"invalid setting {setting!r}; use tau:N, annealed:A:B, jittered:T:D, clipping:THR, "
                     f"value_clipping:THR, windowing:STEPS or truncated:STEPS")


def _grid(name, budget):
    exp = EXPERIMENTS[name]
    if budget["grid"] == "full":
        return exp.models, exp.settings
    if budget["grid"] == "quick":
        return exp.quick_models, exp.quick_settings
    forced = [s for s in exp.quick_settings if parse_setting(s).get("forcing_option") is not None][:2]
    base = [s for s in exp.quick_settings if parse_setting(s).get("baseline") is not None][:1]
    return exp.quick_models[:1], tuple(forced + base)


def _check(name, budget):
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    return EXPERIMENTS[name], BUDGETS[budget]


def experiment_specs(name, budget="quick", *, models=None, settings=None, seeds=None, overrides=None):
    """The runs of an experiment: a list of ``(model, setting, spec)``.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.
    budget : {"quick", "full", "tiny"}
        A key of :data:`BUDGETS`.
    models, settings, seeds : sequence, optional
        Replace the budget's grid.
    overrides : dict, optional
        Replace spec settings of the budget (e.g. ``{"n_epochs": 50}``); a changed setting changes the run ids.

    Returns
    -------
    list of (str, str, dict)
    """
    exp, bud = _check(name, budget)
    grid_models, grid_settings = _grid(name, bud)
    base = {**bud["settings"], **(overrides or {})}
    out = []
    for m in (models or grid_models):
        for setting in (settings or grid_settings):
            args = parse_setting(setting)
            spec_settings = {**base, **{k: v for k, v in args.items() if k not in ("forcing_option", "baseline")}}
            for s in (seeds if seeds is not None else bud["seeds"]):
                spec = make_spec(data=f"paper:{exp.system}", model=m, forcing_option=args.get("forcing_option"),
                                 baseline=args.get("baseline"), seed=s, dt=PAPER_SYSTEMS[exp.system].params["dt"],
                                 **spec_settings)
                out.append((spec["model"], setting, spec))
    return out


def _mean_sd(values):
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None, None
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else None)


def reproduction_rows(name, runs, results):
    """One row per (model, setting): the fastrnn measures over seeds beside the paper's values.

    Parameters
    ----------
    name : str
        The experiment.
    runs : list of (str, str, dict)
        From :func:`experiment_specs`.
    results : list of dict or None
        The results of the runs, in the same order (None for a run that failed).

    Returns
    -------
    list of dict
        ``model``, ``setting``, ``baseline`` (bool), ``runs`` (finished), ``failed``, ``train_diverged`` (training
        loss non-finite), ``free_diverged`` (free runs left the data), ``status`` ("ok", "diverged", ...), per
        measure of :data:`MEASURES` its ``mean``, ``sd`` and per-run ``values`` (under the measure's key), and
        ``paper_D_stsp``, ``paper_D_H`` (a number, a [low, high] span or None).
    """
    groups = {}
    for (model, setting, _), res in zip(runs, results):
        groups.setdefault((model, setting), []).append(res)
    rows = []
    for (model, setting), rs in groups.items():
        done = [r for r in rs if r is not None]
        train_div = sum("error" in r["train"] for r in done)
        free_div = sum(bool(r["metrics"].get("generation_diverged")) and "error" not in r["train"] for r in done)
        row = {"model": model, "setting": setting, "baseline": "baseline" in parse_setting(setting),
               "runs": len(done), "failed": len(rs) - len(done), "train_diverged": train_div,
               "free_diverged": free_div}
        for key, _ in MEASURES:
            vals = [None if "error" in r["train"] else r["metrics"].get(key) for r in done]
            mean, sd = _mean_sd(vals)
            row[key] = {"mean": mean, "sd": sd, "values": vals}
        parts = []
        if train_div:
            parts.append("diverged" if train_div == len(done) else f"diverged {train_div}/{len(done)}")
        if free_div:
            parts.append(f"free run diverged {free_div}/{len(done)}")
        if row["failed"]:
            parts.append(f"failed {row['failed']}/{len(rs)}")
        row["status"] = ", ".join(parts) or "ok"
        for measure in ("D_stsp", "D_H"):
            v = paper_value(name, model, setting, measure)
            row[f"paper_{measure}"] = list(v) if isinstance(v, tuple) else v
        rows.append(row)
    return rows


def _cell(stat, row):
    if stat["mean"] is None:
        return "diverged" if row["train_diverged"] or row["free_diverged"] else "undefined"
    return f"{stat['mean']:.3g}" if stat["sd"] is None else f"{stat['mean']:.3g} ± {stat['sd']:.2g}"


def _paper_cell(v):
    if v is None:
        return "—"
    return f"{v[0]:g}–{v[1]:g}" if isinstance(v, list) else f"{v:g}"


def reproduction_table(rows):
    """The markdown table of :func:`reproduction_rows`: fastrnn's legacy D_stsp and D_H beside the paper's, then
    fastrnn's default D_stsp and D_H, the seeds finished and the status."""
    lines = ["| model | setting | runs | D_stsp legacy | paper D_stsp | D_H legacy | paper D_H | D_stsp (fastrnn) | "
             "D_H (fastrnn) | status |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['setting']} | {r['runs']} | {_cell(r['D_stsp_legacy'], r)} | "
                     f"{_paper_cell(r['paper_D_stsp'])} | {_cell(r['D_H_legacy'], r)} | "
                     f"{_paper_cell(r['paper_D_H'])} | {_cell(r['D_stsp'], r)} | {_cell(r['D_H'], r)} | "
                     f"{r['status']} |")
    return "\n".join(lines)


def forcing_checks(rows, key="D_stsp_legacy"):
    """Per model: the best sparse-forcing row against every baseline row by the mean of ``key``.

    A baseline that diverged (or whose measure is undefined) counts as beaten. ``passed`` is whether every
    baseline's value is at least :data:`FACTOR` times the best forcing value.

    Returns
    -------
    list of dict
        ``model``, ``forcing``, ``forcing_value``, ``baselines`` (list of {``setting``, ``value``, ``ratio``}),
        ``min_ratio`` (None if no baseline has a value) and ``passed`` (None where the model has no forcing value).
    """
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        forced = [r for r in mine if not r["baseline"] and r[key]["mean"] is not None]
        bases = [r for r in mine if r["baseline"]]
        if not bases:
            continue
        best = min(forced, key=lambda r: r[key]["mean"]) if forced else None
        entries = []
        for b in bases:
            v = b[key]["mean"]
            ratio = None if best is None or v is None or best[key]["mean"] <= 0 else v / best[key]["mean"]
            entries.append({"setting": b["setting"], "value": v, "ratio": ratio})
        ratios = [e["ratio"] for e in entries if e["ratio"] is not None]
        out.append({"model": model, "forcing": None if best is None else best["setting"],
                    "forcing_value": None if best is None else best[key]["mean"], "baselines": entries,
                    "min_ratio": min(ratios) if ratios else None,
                    "passed": None if best is None else all(r >= FACTOR for r in ratios)})
    return out


def tau_checks(rows, tau_pred, key="D_stsp_legacy"):
    """Per model: the constant tau with the lowest mean of ``key`` against the window [tau_pred / 2, 2 tau_pred].

    The window is read twice: from the point estimate of the data's tau_pred and from its interval
    ([tau_pred_low / 2, 2 tau_pred_high]).  A tau is *tied* with the best where their means differ by less than
    the standard error of the difference (``sqrt(sd_a^2 / n_a + sd_b^2 / n_b)``): the runs do not tell them apart.

    Parameters
    ----------
    rows : list of dict
        :func:`reproduction_rows`.
    tau_pred : dict
        The data's tau_pred in steps (``tau_steps``, ``tau_steps_low``, ``tau_steps_high``), or ``error``.
    key : str
        The measure (default the paper's legacy D_stsp).

    Returns
    -------
    list of dict
        Per model with at least two constant-tau settings that have a value: ``model``, ``tau`` (steps),
        ``value``, ``sd``, ``runs``, ``tied`` (the taus tied with it), ``window`` and ``window_wide`` ([low, high]
        steps; None without tau_pred, an end None where tau_pred's interval is unbounded), ``inside`` and
        ``inside_wide`` (bool or None).
    """
    out = []
    tp = tau_pred.get("tau_steps")
    lo, hi = tau_pred.get("tau_steps_low"), tau_pred.get("tau_steps_high")
    window = None if tp is None else [tp / 2, 2 * tp]
    wide = None if tp is None else [None if lo is None else lo / 2, None if hi is None else 2 * hi]
    for model in dict.fromkeys(r["model"] for r in rows):
        taus = [(parse_setting(r["setting"])["forcing_option"], r) for r in rows
                if r["model"] == model and r["setting"].startswith("tau:") and r[key]["mean"] is not None]
        if len(taus) < 2:
            continue
        tau, best = min(taus, key=lambda t: t[1][key]["mean"])
        tied = [t for t, r in taus if t != tau and abs(r[key]["mean"] - best[key]["mean"])
                < math.sqrt(_squared_se(r[key]) + _squared_se(best[key]))]
        inside = None if window is None else window[0] <= tau <= window[1]
        inside_wide = None if wide is None else ((wide[0] is None or wide[0] <= tau)
                                                 and (wide[1] is None or tau <= wide[1]))
        out.append({"model": model, "tau": tau, "value": best[key]["mean"], "sd": best[key]["sd"],
                    "runs": best["runs"], "tied": sorted(tied), "window": window, "window_wide": wide,
                    "inside": inside, "inside_wide": inside_wide})
    return out


def _squared_se(stat):
    """Squared standard error of a row's mean (0 for a single run)."""
    n = sum(v is not None for v in stat["values"])
    return (stat["sd"] or 0.0) ** 2 / max(n, 1)


def _tau_checks_text(checks):
    lines = []
    for c in checks:
        sd = "" if c["sd"] is None else f" ± {c['sd']:.2g}"
        tied = (f"; tied with it (means within one standard error of the difference): tau "
                f"{', '.join(map(str, c['tied']))}" if c["tied"] else "")
        if c["window"] is None:
            where = "the data's tau_pred was not estimated"
        else:
            w = c["window_wide"]
            wide = ", ".join("unbounded" if v is None else f"{v:.1f}" for v in w)
            where = (f"[tau_pred / 2, 2 tau_pred] = [{c['window'][0]:.1f}, {c['window'][1]:.1f}]: "
                     f"**{'inside' if c['inside'] else 'outside'}**; from tau_pred's interval [{wide}]: "
                     f"{'inside' if c['inside_wide'] else 'outside'}")
        lines.append(f"- {c['model']}: best tau {c['tau']} ({c['value']:.3g}{sd}, {c['runs']} run(s)){tied}; "
                     f"{where}")
    return lines


def _checks_text(checks, key):
    lines = []
    for c in checks:
        if c["passed"] is None:
            lines.append(f"- {c['model']}: no sparse-forcing value of {key} to compare with")
            continue
        worst = min((e for e in c["baselines"] if e["ratio"] is not None), key=lambda e: e["ratio"], default=None)
        tail = ("every baseline diverged or is undefined" if worst is None else
                f"closest baseline {worst['setting']} at {worst['value']:.3g} "
                f"({worst['ratio']:.3g} x the forcing value)")
        verdict = "yes" if c["passed"] else "NO"
        lines.append(f"- {c['model']}: {c['forcing']} gives {c['forcing_value']:.3g}; {tail} -> forcing beats every "
                     f"baseline by >= {FACTOR:g}x: **{verdict}**")
    return lines


def _tau_pred(x_train, dt):
    """The data's tau_pred (suggest_tau of all observed columns jointly) as a JSON-able dict, or its error."""
    try:
        with warnings.catch_warnings():     # the estimate's warnings go into the report, not to stderr
            warnings.simplefilter("ignore", LyapunovWarning)
            s = suggest_tau(x_train, dt=dt)
    except ValueError as exc:
        return {"error": str(exc).splitlines()[0]}
    return {"tau_steps": float(s.tau_pred / dt), "tau_steps_low": finite_or_none(s.tau_pred_low / dt),
            "tau_steps_high": finite_or_none(s.tau_pred_high / dt), "tau_pred": float(s.tau_pred),
            "lambda_max": float(s.lambda_max), "warnings": list(s.warnings)}


def _tau_line(tp, paper_tau):
    paper = "not given" if paper_tau is None else f"{paper_tau} steps"
    if "error" in tp:
        return f"tau_pred of the data: not estimated ({tp['error']}); paper: {paper}"
    low, high = (f"{v:.1f}" if v is not None else "unbounded" for v in (tp["tau_steps_low"], tp["tau_steps_high"]))
    return (f"tau_pred of the data: {tp['tau_steps']:.1f} steps [{low}, {high}] ({tp['tau_pred']:.3g} time units, "
            f"lambda_max = {tp['lambda_max']:.3g} per "
            f"time unit; fastrnn.timeseries.suggest_tau of the training part, all observed columns); paper: {paper}"
            + (f" (the estimate warns: {tp['warnings'][0]})" if tp.get("warnings") else ""))


@dataclass
class ReproduceResult:
    """Outcome of :func:`reproduce_experiment`.

    Attributes
    ----------
    experiment, budget : str
    rows : list of dict
        :func:`reproduction_rows`.
    checks : list of dict
        :func:`forcing_checks` in the legacy D_stsp (the paper's measure).
    tau_pred : dict
        The data's predictability time in steps with its interval (or ``error``).
    markdown : str
        The report (also ``table.md``).
    skipped, executed : int
        Runs found finished and reused; runs executed by this call.
    failed : list of (str, str)
        (run id, error) of runs that raised.
    paths : dict
        ``table_md``, ``table_json`` and ``figure`` (absent without matplotlib).
    """

    experiment: str
    budget: str
    rows: list
    checks: list
    tau_pred: dict
    markdown: str
    skipped: int
    executed: int
    failed: list
    paths: dict = field(default_factory=dict)


def reproduce_experiment(name, out_dir, *, budget="quick", scheduler=None, n_workers=None, progress=True,
                         figure=True, models=None, settings=None, seeds=None, overrides=None):
    """Run one of the paper's experiments on Dask and write its table and figure beside the published numbers.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`: "lorenz", "duffing", "duffing_input" (the drive as an input, not in the
        paper), "rossler", "lorenz2d", "mackey_glass", "clipping", "windowing", "annealing" or "jitter".
    out_dir : str or path
        ``runs/`` (one result and one model per run), ``table.md``, ``table.json``, ``figure.png``.
    budget : {"quick", "full", "tiny"}
        :data:`BUDGETS`.
    scheduler : None, str or distributed.Client
        Where runs execute (:func:`fastrnn.experiments.open_client`); a local cluster by default.
    n_workers : int, optional
        Workers of the local cluster (default: one per CPU).
    progress : bool
        Progress bar.
    figure : bool
        Draw ``figure.png`` (needs matplotlib).
    models, settings, seeds, overrides
        Replace parts of the budget (:func:`experiment_specs`).

    Returns
    -------
    ReproduceResult
    """
    exp, bud = _check(name, budget)
    runs = experiment_specs(name, budget, models=models, settings=settings, seeds=seeds, overrides=overrides)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    first = runs[0][2]
    data = paper_series(exp.system, first["n_steps"], rng=first["data_seed"])
    x = data.x * first["data_scale"]
    tau_pred = _tau_pred(x[: x.shape[0] - first["n_test"]], data.dt)
    results, skipped, executed, failed = run_specs([spec for _, _, spec in runs], out_dir, data=data.x,
                                                   inputs=data.inputs, scheduler=scheduler, n_workers=n_workers,
                                                   progress=progress, desc=f"reproduce {name}")
    rows = reproduction_rows(name, runs, results)
    checks = forcing_checks(rows)
    paper = PAPER[name]
    md = [f"# fastrnn reproduce {name} ({budget})", "", f"Paper: {paper.figure}. Source: {PAPER_SOURCE}.",
          f"Paper notes: {paper.notes}", "", f"Data: {data.description}.", "", f"Budget: {bud['note']}.", "",
          _tau_line(tau_pred, paper.tau_pred), "",
          f"Runs: {len(runs)} ({executed} executed, {skipped} reused from {os.path.join(out_dir, 'runs')}"
          + (f", {len(failed)} failed" if failed else "") + ")."
          + (" **A subset of the budget's grid:** " + "; ".join(
              f"{k} {', '.join(map(str, v))}" for k, v in (("models", models), ("settings", settings),
                                                            ("seeds", seeds)) if v is not None) + "."
             if (models, settings, seeds) != (None, None, None) else ""), "",
          "D_stsp in nats, D_H in [0, 1]; 'legacy' are the paper's measures (10 bins over +-2 sd, KL(true||gen); "
          "chunked spectra), the others fastrnn's defaults (fastrnn.metrics); mean ± sd over seeds of the median "
          "over free runs. 'undefined': the legacy measure is NaN for every free run, as in the paper's code (no "
          "generated state inside the data's +-2 sd box, or a constant generated column for D_H) - a failed "
          "reconstruction; 'diverged': the training loss went non-finite (or the free runs left the data's range).",
          "", reproduction_table(rows)]
    checks_default = forcing_checks(rows, "D_stsp")
    if checks:
        md += ["", "Sparse forcing against the baselines, in the paper's legacy D_stsp (an undefined baseline counts "
               "as beaten):"] + _checks_text(checks, "D_stsp_legacy")
        md += ["", "The same in fastrnn's default D_stsp (always defined; bounded above by the data's histogram, "
               "so every model whose states miss the cells the data visit gets about the same largest value):"]
        md += _checks_text(checks_default, "D_stsp")
    taus = tau_checks(rows, tau_pred)
    if taus:
        md += ["", "The best constant tau per model (lowest mean legacy D_stsp) against the data's tau_pred:"]
        md += _tau_checks_text(taus)
    markdown = "\n".join(md) + "\n"
    paths = {"table_md": os.path.join(out_dir, "table.md"), "table_json": os.path.join(out_dir, "table.json")}
    write_text(paths["table_md"], markdown)
    write_json(paths["table_json"], {"experiment": name, "budget": budget, "budget_note": bud["note"],
                                     "system": exp.system, "paper_source": PAPER_SOURCE, "paper_figure": paper.figure,
                                     "paper_tau_pred_steps": paper.tau_pred, "tau_pred": tau_pred, "rows": rows,
                                     "checks": checks, "checks_default": checks_default, "tau_checks": taus,
                                     "failed": failed, "executed": executed, "skipped": skipped,
                                     "subset": {"models": models, "settings": settings, "seeds": seeds}})
    if figure:
        try:
            from .. import plotting
        except ImportError:  # pragma: no cover - matplotlib missing
            plotting = None
        if plotting is not None:
            paths["figure"] = os.path.join(out_dir, "figure.png")
            on_tau = exp.axis == _TAU_AXIS          # tau_pred is marked only on a tau axis
            fig = plotting.reproduction_figure(_figure_rows(exp, rows), xlabel=exp.xlabel,
                                               tau_steps=tau_pred.get("tau_steps") if on_tau else None,
                                               paper_tau_steps=paper.tau_pred if on_tau else None,
                                               title=f"{name} ({budget}): fastrnn (lines) and the paper (crosses)")
            plotting.save(fig, paths["figure"])
    return ReproduceResult(name, budget, rows, checks, tau_pred, markdown, skipped, executed, failed, paths)


def _figure_rows(exp, rows):
    """The rows of :func:`fastrnn.plotting.reproduction_figure`: one line per model and setting kind."""
    out = []
    for r in rows:
        kind, _, arg = r["setting"].partition(":")
        on_axis = kind in exp.axis
        x = float(arg.split(":")[-1]) if on_axis else None
        if on_axis:
            series = r["model"] if kind == "tau" else f"{r['model']} {kind}"
        else:
            series = f"{r['model']} {r['setting']}"
        out.append({"model": r["model"], "series": series, "x": x, "baseline": r["baseline"],
                    "D_stsp_runs": r["D_stsp_legacy"]["values"], "D_H_runs": r["D_H_legacy"]["values"],
                    "paper_D_stsp": r["paper_D_stsp"], "paper_D_H": r["paper_D_H"]})
    return out
