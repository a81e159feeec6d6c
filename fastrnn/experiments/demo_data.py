"""The demo on the user's own measured series (``fastrnn demo --data FILE``): the Lorenz demo's workflow and report,
with the observation pipeline (preprocessing, z-score, delay embedding) of :mod:`fastrnn.observation` in front.

:func:`run_data_demo`: a data file -> the chosen columns -> a held-out final segment -> the observation pipeline
fitted on the training part (preprocessing, z-score, delay embedding) -> lambda_max of the preprocessed first column
with its interval -> tau -> PLRNN, tanh RNN, LSTM and GRU with sparse forcing at tau and the clipping baseline ->
D_stsp, D_H, prediction error and lambda_1 on the held-out segment -> ``report.json``, ``report.md`` and figures. It
shares its runs, evaluation, selection, figures, checks and report table with :func:`fastrnn.experiments.run_demo`
(:mod:`fastrnn.experiments.demo`).
"""
from __future__ import annotations

import hashlib
import math
import os
import sys
import time
import warnings

import numpy as np

from .. import validation
from ..datafiles import longest_segment, read_array
from ..io import finite_or_none
from ..lyapunov import OrbitDivergedError
from ..metrics import prediction_error
from ..model_selection import held_out_length
from ..models import load
from ..observation import Observation
from ..timeseries import LyapunovWarning, suggest_tau
from .demo import (DEMO_MODEL_SETTINGS, DEMO_MODELS, demo_budget_line, demo_checks, demo_config, demo_figures, demo_fresh_runs,
                   demo_rows, demo_specs, demo_table, demo_training_line, train_demo, write_report)
from .run import run_paths

__all__ = ["DATA_DEMO_MODEL_SETTINGS", "DATA_DEMO_TEST_FRACTION", "DATA_DEMO_VALIDATION_FRACTION", "MIN_VALIDATION",
           "run_data_demo"]

#: per-model size and budget of the data demo: those of the Lorenz demo (:data:`DEMO_MODEL_SETTINGS`, a copy; change
#: this dict, or pass ``model_settings``, to give measured series their own budgets)
DATA_DEMO_MODEL_SETTINGS = {m: dict(v) for m, v in DEMO_MODEL_SETTINGS.items()}
#: share of the samples held out at the end of the series for evaluation (at most :data:`MAX_TEST` samples)
DATA_DEMO_TEST_FRACTION = 0.25
#: most samples held out: the free runs of the evaluation and of the checkpoint selection are as long as the test part
#: (selection scores 16 of them at each of 10 checkpoints per run), so this bounds their cost for long series. With
#: 5000, Lorenz x (2 * 10^4 samples, 5 % noise, embedded in 7 dimensions) took 1100 s of CPU time in all.
MAX_TEST = 5000
#: share of the training part held out at its end as the validation part on which each run's checkpoints are selected
#: (never trained on; the test part stays unseen); below :data:`MIN_VALIDATION` rows the selection falls back to the
#: training series itself
DATA_DEMO_VALIDATION_FRACTION = 0.2
#: fewest rows of a validation part (shorter ones rank checkpoints by noise)
MIN_VALIDATION = 1000
_PREDICTION_STARTS = 200


def _longest_finite(x, columns, label, say):
    """(x, span): the rows of the longest stretch where the used ``columns`` are finite (all of ``x`` and None
    without gaps; out-of-range columns are left to the observation pipeline's error)."""
    cols = list(range(x.shape[1])) if columns is None else np.atleast_1d(columns).tolist()
    if not all(isinstance(c, (int, np.integer)) and 0 <= c < x.shape[1] for c in cols):
        return x, None
    _, span, segs = longest_segment(x[:, cols])
    if span is None:
        return x, None
    say(f"{label} has gaps: {segs.summary()}; the workflow runs on the longest segment, rows {span[0]}-{span[1] - 1}")
    return x[span[0]:span[1]], list(span)


def run_data_demo(path, out_dir="out/demo_data", *, dt=1.0, columns=None, steps=(), embed="auto",
                  standardize=True, n_test=None, noise_sd=None, quiet=False, n_workers=None, fresh=False, seed=0,
                  scheduler=None, model_settings=None, **settings):
    """The whole workflow on a measured series: preprocessing, embedding, lambda_max -> tau, four models with sparse
    forcing at tau against the clipping baseline, evaluation on a held-out final segment, report and figures.

    Steps:

    1. The file (.npy/.csv, time along the first axis) and its ``columns``; where those have gaps (NaN rows), their
       longest finite segment (``report["data"]["segment"]``: its rows [start, stop)); the last ``n_test`` samples
       are held out (default: :data:`DATA_DEMO_TEST_FRACTION` of them, at most :data:`MAX_TEST` = 5000).
    2. The observation pipeline (:class:`fastrnn.observation.Observation`: ``steps`` of
       :func:`fastrnn.preprocessing.preprocess`, z-score, delay embedding ``embed``) is fitted on the training part
       (``"auto"`` embedding parameters resolved there) and applied unchanged to the held-out part. Each part loses
       ``(dim - 1) * lag`` rows to the embedding.
    3. lambda_max of the preprocessed training part's first column, before embedding
       (:func:`fastrnn.timeseries.suggest_tau`), with its interval -> tau_pred = ln 2 / lambda_max (time units) ->
       tau = round(tau_pred / dt) steps, with its interval.
    4. PLRNN, TanhRNN, LSTM and GRU with sparse forcing every tau steps, and each as the clipping baseline (no
       forcing), with the same budget and gradient clipping (:func:`fastrnn.experiments.run_demo`'s runs): on Dask,
       each run keeping the checkpoint whose free runs best match the last part of the training series (the test
       part unseen).
    5. On the held-out part: D_stsp and D_H (medians over free runs from 8 test observations), the mean squared
       prediction error at horizons 1 and tau (z-scored units squared, 200 starts), and the model's lambda_1 (per time
       unit) against the data's lambda_max and its interval.
    6. ``report.json`` (with the Lorenz demo's ``checks``), ``report.md`` and figures in ``out_dir``.

    Parameters
    ----------
    path : str
        The data file.
    out_dir : str
        Output directory (finished runs in ``out_dir/runs`` are reused unless ``fresh``).
    dt : float
        Sampling interval in time units per sample (> 0); lambda_max and lambda_1 are per time unit.
    columns : None, int or list of int
        Columns of the file (0-based; default all).
    steps : list of dict
        Preprocessing steps (:func:`fastrnn.preprocessing.preprocess` format), applied before the z-score.
    embed : "auto", "M,LAG", (M, LAG) or None
        Delay embedding (:func:`fastrnn.observation.parse_embed`); None: the columns themselves.
    standardize : bool
        z-score the columns with the training part's statistics.
    n_test : int, optional
        Samples held out at the end (see step 1).
    noise_sd : float, optional
        A known standard deviation of the observation noise, in units of the series' standard deviation, for the
        lambda_max step (``noise_floor`` of :func:`fastrnn.timeseries.max_lyapunov`; default: estimated).
    quiet, n_workers, fresh, seed, scheduler :
        As in :func:`fastrnn.experiments.run_demo`.
    model_settings : dict, optional
        Per-model ``n_latent``, ``n_epochs``, ``lr`` (default :data:`DATA_DEMO_MODEL_SETTINGS`).
    **settings
        Overrides of :data:`fastrnn.experiments.DEMO_SETTINGS` (``n_latent``, ``n_epochs`` and ``lr`` for every model).

    Returns
    -------
    dict
        The report (also ``report.json``); ``report["markdown"]`` is ``report.md``.

    Raises
    ------
    ValueError
        For a missing or unreadable file, ``dt <= 0``, a column out of range, a series too short for the split or the
        embedding, a series without a credible lambda_max, and a tau not shorter than the training windows (the
        message says what to try).
    """
    t_start = time.perf_counter()
    dt = validation.check_float(dt, "dt", minimum=0.0, strict_min=True)
    obs = Observation(columns, steps, embed, standardize=standardize)
    label = os.path.basename(os.fspath(path))
    say = lambda msg: None if quiet else print(f"fastrnn demo: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    x, span = _longest_finite(read_array(os.fspath(path), "data", columns=columns, allow_gaps=True), columns,
                              label, say)
    T = x.shape[0]
    n_test = _test_length(T, n_test)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    cfg, per_model = demo_config(settings, model_settings or DATA_DEMO_MODEL_SETTINGS)

    say(f"[1/6] {label}: {T} samples, {x.shape[1]} column(s), dt = {dt}; the last {n_test} held out")
    x_train, x_test = x[:-n_test], x[-n_test:]
    obs.fit(x_train)
    y_train, y_test = obs.apply(x_train), obs.apply(x_test)
    say(f"      observation: {obs.describe()} -> {obs.n_obs()} observed column(s), {y_train.shape[0]} training and "
        f"{y_test.shape[0]} test rows")

    say("[2/6] lambda_max of the preprocessed first column (before embedding) -> tau")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LyapunovWarning)
        sug = suggest_tau(obs.apply(x_train, embed=False)[:, 0], dt=dt, noise_floor=noise_sd)
    est = sug.estimate
    for w in caught:
        if issubclass(w.category, LyapunovWarning):
            say(f"      warning: {w.message}")
    tau = sug.tau
    say(f"      lambda_max = {est.lambda_max:.4g} [{est.lambda_low:.4g}, {est.lambda_high:.4g}] per time unit, "
        f"tau = {tau} steps [{sug.tau_low}, {sug.tau_high}]")
    if tau >= cfg["seq_len"]:
        raise ValueError(f"tau = {tau} steps (from lambda_max = {est.lambda_max:.4g} per time unit) is not shorter "
                         f"than the training windows (seq_len = {cfg['seq_len']}): sparse forcing would only set each "
                         f"window's initial state, so the forced runs and the baseline would be the same training; "
                         f"check the lambda_max estimate (its warnings above; fastrnn lyapunov FILE --plot div.png) "
                         f"or pass --seq-len of at least 2 tau (the training part has {y_train.shape[0]} rows)")
    if cfg["seq_len"] >= y_train.shape[0]:
        raise ValueError(f"the training part has {y_train.shape[0]} rows after the embedding, fewer than a window of "
                         f"seq_len={cfg['seq_len']}; use a longer series or a smaller seq_len")

    say("[3/6] the held-out part: free runs, prediction error and lambda_1 are judged there")
    y = np.concatenate([y_train, y_test], axis=0)
    data_id = f"{label}#{hashlib.sha1(np.ascontiguousarray(y).tobytes()).hexdigest()[:12]}"
    cfg.update(n_steps=int(y.shape[0]), n_test=int(y_test.shape[0]))
    if cfg.get("select") is True and DATA_DEMO_VALIDATION_FRACTION * y_train.shape[0] >= max(MIN_VALIDATION,
                                                                                            cfg["seq_len"] + 1):
        cfg["select"] = DATA_DEMO_VALIDATION_FRACTION
    for m in DEMO_MODELS:
        per_model[m].update(n_steps=int(y.shape[0]), n_test=int(y_test.shape[0]), select=cfg.get("select"))
    n_validation = 0
    if cfg.get("select") not in (None, False, True):
        n_validation = held_out_length(y_train.shape[0], cfg["select"])
        say(f"      model selection on the last {cfg['select']:.0%} of the training part ({n_validation} rows, not "
            f"trained on)")

    say(f"[4/6] training {', '.join(DEMO_MODELS)} with sparse forcing at tau = {tau} and without forcing (both "
        f"with gradient clipping; {demo_budget_line(per_model)})")
    specs = demo_specs(data_id, tau, per_model, seed=seed, dt=dt)
    results = train_demo(specs, out_dir, fresh=fresh, scheduler=scheduler, n_workers=n_workers, quiet=quiet,
                         say=say, data=y)

    say("[5/6] evaluation on the held-out part and figures")
    rows, runs = demo_rows(specs, results, out_dir, y_test, tau=tau, dt=dt, eval_transient=cfg["eval_transient"],
                           lambda_ref=est.lambda_max)
    for spec, res, row in zip(specs, results, rows):
        lam = row["lambda_1"]
        row["lambda_1_in_interval"] = None if lam is None else bool(est.lambda_low <= lam <= est.lambda_high)
        row.update(_prediction_errors(load(run_paths(out_dir, res["run_id"])["model"]), y_test, tau, seed))
    figs = demo_figures(out_dir, y_test, runs, est, dt=dt, title=f"{label}: test data vs free-running models",
                        fresh=demo_fresh_runs(specs, results, out_dir, y_test), columns=min(3, obs.n_obs()))

    say("[6/6] report")
    report = {
        "data": {"file": os.fspath(path), "label": label, "id": data_id, "dt": dt, "n_samples": int(T), "segment": span,
                 "n_columns": int(x.shape[1]), "n_train": int(x_train.shape[0]), "n_test": int(x_test.shape[0]),
                 "n_train_rows": int(y_train.shape[0]), "n_test_rows": int(y_test.shape[0]),
                 "n_validation_rows": n_validation,
                 "n_obs": obs.n_obs(), "embedding_window": obs.window},
        "observation": obs.to_dict(),
        "lambda_max_data": est.lambda_max,
        "lambda_max_interval": [est.lambda_low, est.lambda_high],
        "lambda_max_fit": {"per_step": est.per_step, "fit_range": list(est.fit_range), "r2": est.r2,
                           "dim": est.dim, "lag": est.lag, "method": est.method,
                           "noise_sd": None if est.noise_sd is None else est.noise_sd.tolist(),
                           "noise_sd_given": noise_sd is not None},
        "lambda_max_warnings": list(est.warnings),
        "tau_pred_time": sug.tau_pred,
        "tau_pred_interval": [finite_or_none(sug.tau_pred_low), finite_or_none(sug.tau_pred_high)],
        "tau_steps": tau,
        "tau_steps_interval": [sug.tau_low, sug.tau_high if sug.tau_high < 2 ** 62 else None],
        "settings": cfg,
        "model_settings": {m: {k: per_model[m][k] for k in ("n_latent", "n_epochs", "lr")} for m in DEMO_MODELS},
        "seed": seed,
        "rows": rows,
        "scores": _scores(rows),
        "checks": demo_checks(rows),
        "figures": figs,
        "wall_seconds": time.perf_counter() - t_start,
    }
    return write_report(report, _markdown(report), out_dir, say)


def _test_length(T, n_test):
    """The held-out samples: ``n_test`` checked, or the default share of ``T``."""
    if n_test is None:
        n_test = min(MAX_TEST, int(round(DATA_DEMO_TEST_FRACTION * T)))
    n_test = validation.check_int(n_test, "n_test", minimum=1)
    if n_test >= T // 2 or n_test < 2:
        raise ValueError(f"the series has {T} samples: too few to hold out n_test={n_test} for evaluation and train "
                         f"on the rest (the test part must be shorter than half the series); use a longer series "
                         f"or a smaller n_test")
    return n_test


def _prediction_errors(model, y_test, tau, seed):
    """Mean squared prediction error on the test rows at horizons 1 and tau (None where a prediction diverged)."""
    horizon = max(1, min(tau, y_test.shape[0] // 2))
    starts = min(_PREDICTION_STARTS, y_test.shape[0] - horizon)
    try:
        with np.errstate(all="ignore"):
            mse = prediction_error(model, y_test, horizon, n_starts=starts, rng=seed, per_step=True)
    except (OrbitDivergedError, FloatingPointError):
        return {"prediction_error_1": None, "prediction_error_tau": None, "prediction_horizon": horizon}
    return {"prediction_error_1": finite_or_none(mse[0]), "prediction_error_tau": finite_or_none(mse[-1]),
            "prediction_horizon": horizon}


def _scores(rows):
    """Per model, the test scores of the forced run and of the clipping baseline."""
    keys = ("D_stsp", "D_stsp_worst", "D_H", "prediction_error_1", "prediction_error_tau", "lambda_1",
            "lambda_1_rel_error", "lambda_1_in_interval", "generation_diverged")
    out = {}
    for r in rows:
        out.setdefault(r["model"], {})["clipping" if r["training"] == "clipping" else "forced"] = \
            {k: r.get(k) for k in keys}
    return out


def _num(v, fmt="{:.3g}"):
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def _markdown(rep):
    d, obs = rep["data"], rep["observation"]
    lo, hi = rep["lambda_max_interval"]
    t_lo, t_hi = rep["tau_steps_interval"]
    lines = [
        f"# fastrnn demo: {d['label']} reconstructed with sparse forcing",
        "",
        f"- data: {d['file']}, {d['n_samples']} samples of {d['n_columns']} column(s), dt = {d['dt']}; the last "
        f"{d['n_test']} held out for evaluation",
        "- observation: " + (f"columns {obs['columns']}" if obs["columns"] is not None else "all columns")
        + "".join(f" -> {s['op']}" + (f" ({s['method']})" if "method" in s else "") for s in obs["steps"])
        + (" -> z-score (training statistics)" if obs["standardize"] else "")
        + (f" -> delay embedding dim = {obs['dim']}, lag = {obs['lag']} samples"
           + (" (estimated)" if obs["embed"] and "auto" in obs["embed"].values() else "")
           if obs["embed"] else "")
        + f": {d['n_obs']} observed column(s), {d['n_train_rows']} training"
        + (f" (the last {d['n_validation_rows']} of them the validation part for model selection, not trained on)"
           if d.get("n_validation_rows") else "") + f" and {d['n_test_rows']} test rows",
        f"- lambda_max of the preprocessed first column: **{rep['lambda_max_data']:.4g}** [{lo:.4g}, {hi:.4g}] per "
        f"time unit" + (f" ({len(rep['lambda_max_warnings'])} warning(s) in report.json)"
                        if rep["lambda_max_warnings"] else ""),
        f"- tau_pred = ln 2 / lambda_max = {rep['tau_pred_time']:.4g} time units = **{rep['tau_steps']} steps** "
        f"[{t_lo}, {_num(t_hi, '{}')}]",
        demo_training_line(rep),
    ]
    lines += demo_table(rep, f"the data's lambda_max {rep['lambda_max_data']:.4g}",
                        run_steps=str(d["n_test_rows"]), n_obs=d["n_obs"])
    lines += ["| model | training | prediction error, 1 step | prediction error, "
              f"{rep['rows'][0].get('prediction_horizon', rep['tau_steps'])} steps | lambda_1 in the data's interval |",
              "|---|---|---|---|---|"]
    for r in rep["rows"]:
        inside = r.get("lambda_1_in_interval")
        lines.append(f"| {r['model']} | {r['training']} | {_num(r.get('prediction_error_1'))} | "
                     f"{_num(r.get('prediction_error_tau'))} | {'n/a' if inside is None else ('yes' if inside else 'no')} |")
    lines += ["", "Prediction error: mean squared error of free runs from test observations, in z-scored units "
              "squared, averaged over the observed columns.", ""]
    return "\n".join(lines)
