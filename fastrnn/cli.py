"""The ``fastrnn`` command: demo, train, evaluate, lyapunov, sweep, reproduce — argument parsing and thin commands
over :mod:`fastrnn.experiments`, :mod:`fastrnn.datafiles` and the library.

Run ``fastrnn --help`` or ``fastrnn <command> --help``. Every error is reported as one line on stderr
(``fastrnn <command>: error: ...``) with exit status 1 (2 for a malformed command line).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from .cli_options import (add_column_option, add_observation_options, add_preprocessing_options,
                          add_training_options, baseline_name, int_list, model_name, name_list)

__all__ = ["build_parser", "main"]


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0]} (see {self.prog} --help)\n")


def _say(quiet, msg):
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def _load(source, args, *, scaling=None, allow_gaps=False, columns=None):
    """(x, inputs, dt, label, scaling) of a data file or system named on the command line (``columns``: those of
    the file that will be used, for the time-axis check)."""
    from .datafiles import load_series

    return load_series(source, n_steps=getattr(args, "n_steps", None) or 30000, dt=args.dt,
                       data_seed=getattr(args, "data_seed", 0), inputs=getattr(args, "inputs", None),
                       raw=getattr(args, "raw", False), scaling=scaling, allow_gaps=allow_gaps, columns=columns)


def _emit(result, json_path, quiet):
    from .io import json_default, write_json

    if json_path:
        write_json(json_path, result)
    if not quiet or not json_path:
        print(json.dumps(result, indent=1, default=json_default))


def _segments(x, s, args, label):
    """The finite segments of a series with gaps, the inputs cut alike, and the Segments (None: no gaps)."""
    import numpy as np

    from .datafiles import finite_segments

    if np.isfinite(x).all():
        return x, s, None
    segs = finite_segments(x, fill_gaps=args.fill_gaps, min_length=args.seq_len + 1)
    if len(segs.series) > 1 or segs.dropped or segs.filled:
        _say(args.quiet, f"{label} has gaps: {segs.summary()}; the segments train together")
    if s is not None:
        s = [s[a:b] for a, b in segs.spans]
    if len(segs.series) == 1:
        return segs.series[0], (None if s is None else s[0]), segs
    return segs.series, s, segs


# ------------------------------------------------------------------ commands
def _observation(args):
    """The (unfitted) observation pipeline named on the command line."""
    from .observation import Observation

    return Observation(args.column, _preprocess_steps(args), args.embed, standardize=not getattr(args, "raw", False))


def _observed(x, s, args, label):
    """Fit the observation pipeline on the training series (or its segments) and apply it: (y, s, obs, segs, x)."""
    x, s, segs = _segments(x, s, args, label)
    obs = _observation(args).fit(x)
    y, s = obs.apply(x), obs.align_inputs(s)
    if obs.steps or obs.embed:
        _say(args.quiet, f"observation: {obs.describe()} ({obs.n_obs()} observed column(s))")
    if isinstance(y, list) and obs.window:        # segments shorter than a window after the embedding
        keep = [i for i, v in enumerate(y) if len(v) > args.seq_len]
        if not keep:
            raise CommandError(f"no segment is longer than --seq-len {args.seq_len} after the embedding "
                               f"(window {obs.window}); use a smaller --seq-len or --embed")
        segs.dropped = sorted(segs.dropped + [segs.spans[i] for i in range(len(y)) if i not in keep])
        segs.spans = [segs.spans[i] for i in keep]
        y, x = [y[i] for i in keep], [x[i] for i in keep]
        s = None if s is None else [s[i] for i in keep]
    if isinstance(y, list) and len(y) == 1:
        y, x, s = y[0], x[0], (None if s is None else s[0])
    return y, s, obs, segs, x


def _validation_split(y, s, args):
    """(training series, inputs, fit's validation arguments) of ``--validation FRACTION``: the last FRACTION of the
    series (of each segment long enough) held out (:func:`fastrnn.model_selection.hold_out`)."""
    if not args.validation:
        if args.patience is not None:
            raise CommandError("--patience needs validation data: add --validation FRACTION (e.g. 0.2)")
        return y, s, {}
    from .model_selection import hold_out
    try:
        y, v, s, vs = hold_out(y, s, args.validation, min_length=args.seq_len + 1)
    except ValueError as exc:
        raise CommandError(f"--validation {args.validation}: {exc}") from exc
    n_val = sum(map(len, v)) if isinstance(v, list) else len(v)
    _say(args.quiet, f"validation: the last {args.validation:g} of the series ({n_val} samples) held out; selection "
                     f"by {args.selection}" + (f", early stopping after {args.patience} validations without "
                                               f"improvement" if args.patience else ""))
    return y, s, {"validation": v, "validation_inputs": vs, "selection": args.selection,
                  "validate_every": args.validate_every, "patience": args.patience}


def _validation_report(args, hist):
    """The metadata entry of a run with validation (and a line saying which epoch the model keeps)."""
    _say(args.quiet, f"best validation {min(hist.val_score):.4g} after epoch {hist.best_epoch}"
                     + (" (stopped early)" if hist.stopped_early else "") + "; the model keeps those parameters")
    return {"fraction": args.validation, "selection": args.selection, "validate_every": args.validate_every,
            "patience": args.patience, "epochs": hist.val_epoch, "scores": hist.val_score,
            "best_epoch": hist.best_epoch, "stopped_early": hist.stopped_early}


def _cmd_train(args):
    import numpy as np

    from .datafiles import load_series
    from .experiments.train import metadata_path, save_trained, train_model
    from .forcing import forcing_label

    x, s, dt, label, _ = load_series(args.data, n_steps=args.n_steps, dt=args.dt, inputs=args.inputs, raw=True,
                                     allow_gaps=True, columns=args.column)
    y, s, obs, segs, x = _observed(x, s, args, label)
    if args.tau == "auto":
        from .timeseries import suggest_tau
        longest = max(x, key=len) if isinstance(x, list) else x
        _say(args.quiet, f"estimating lambda_max of {label} (first column, preprocessed"
                         + (", longest segment" if segs is not None else "") + ") to set tau ...")
        sug = _estimate_caught(suggest_tau, obs.apply(longest, embed=False)[:, 0], dt=dt)
        option = {"kind": "tau", "tau": sug.tau}
        _warn("train", sug.estimate.warnings)
        _say(args.quiet, f"lambda_max = {sug.lambda_max:.4g} [{sug.estimate.lambda_low:.4g}, "
                         f"{sug.estimate.lambda_high:.4g}] per time unit -> tau = {sug.tau} steps "
                         f"[{sug.tau_low}, {sug.tau_high}]")
    else:
        option = args.tau
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    y, s, val = _validation_split(y, s, args)
    model, hist, option = train_model(
        y, s, model=args.model, n_latent=args.n_latent, forcing_option=option, baseline=args.baseline,
        clip=args.clip, clip_value=args.clip_value, observation=args.readout, seq_len=args.seq_len,
        batch_size=args.batch_size, batches_per_epoch=args.batches_per_epoch,
        n_epochs=args.epochs, lr=args.lr, lr_end=args.lr_end, dtype=args.dtype, seed=args.seed,
        progress=not args.quiet, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every, **val)
    meta = {"data": label, "dt": dt, "model": args.model, "n_latent": args.n_latent, "observation": obs.to_dict(),
            "scaling": None if obs.mean is None else {"mean": obs.mean.tolist(), "std": obs.std.tolist()},
            "segments": None if segs is None else {"spans": segs.spans, "dropped": segs.dropped,
                                                   "filled": segs.filled, "fill_gaps": args.fill_gaps},
            "forcing": forcing_label(option), "baseline": args.baseline, "seed": args.seed,
            "history": {"loss": hist.loss, "grad_norm": hist.grad_norm, "seconds": hist.seconds,
                        **({"alpha": hist.alpha} if hist.alpha else {})}}
    if val:
        meta["validation"] = _validation_report(args, hist)
    save_trained(model, args.out, meta)
    _say(args.quiet, f"loss {hist.loss[0]:.4g} -> {hist.loss[-1]:.4g} in {np.sum(hist.seconds):.1f} s; model saved "
                     f"to {args.out} (metadata {metadata_path(args.out)})")
    return 0


def _evaluation_data(args, meta, n_obs):
    """(series or segments, inputs, spans or None, dt, label) of ``fastrnn evaluate``, observed like the training
    data: through the recorded observation pipeline (no refitting), or with the recorded scaling (older models)."""
    import numpy as np

    from .datafiles import finite_segments
    from .observation import Observation

    rec = meta.get("observation")
    if rec and args.raw and rec.get("standardize", True):
        raise CommandError("the model's recorded observation pipeline z-scores with the training statistics; drop "
                           "--raw")
    if rec:
        args.raw = True                          # the recorded pipeline scales the raw file with the training stats
    x, s, dt, label, _ = _load(args.data, args, scaling=None if rec else meta.get("scaling"), allow_gaps=True,
                               columns=rec.get("columns") if rec else None)
    n_cols = rec["n_columns"] if rec else n_obs
    if x.shape[1] != n_cols:
        what = "" if n_cols == n_obs else (f" (trained on data with {n_cols}, observed as {n_obs} through "
                                           f"{Observation.from_dict(rec).describe()})")
        raise CommandError(f"the data have {x.shape[1]} columns but the model observes {n_obs}{what}; pass the "
                           f"series the model was trained on")
    if args.n_test:
        x = x[-args.n_test:]
        s = None if s is None else s[-args.n_test:]
    spans, obs = None, (Observation.from_dict(rec) if rec else None)
    if not np.isfinite(x).all():                 # a file with gaps: each finite segment on its own, as in training
        segs = finite_segments(x, fill_gaps=(meta.get("segments") or {}).get("fill_gaps", 0),
                               min_length=100 + (obs.window if obs else 0))
        _say(args.quiet, f"{label} has gaps: {segs.summary()}; evaluating each segment")
        x, spans = segs.series, segs.spans
        s = None if s is None else [s[a:b] for a, b in spans]
    if obs is not None:
        x, s = obs.apply(x), obs.align_inputs(s)
    return x, s, spans, dt, label


def _cmd_evaluate(args):
    from .experiments import evaluate_model, evaluate_segments
    from .experiments.train import load_trained

    if args.starts < 1:
        raise CommandError(f"--starts must be at least 1, got {args.starts}")
    model, meta = load_trained(args.model)
    if args.dt is None and meta.get("dt"):
        args.dt = meta["dt"]
    x, s, spans, dt, label = _evaluation_data(args, meta, model.n_obs)
    if (s is None) != (model.n_inputs == 0):
        raise CommandError(f"the model has {model.n_inputs} inputs: pass --inputs FILE with one row per time step"
                           if model.n_inputs else "the model has no inputs; drop --inputs")
    n = sum(len(v) for v in x) if spans is not None else x.shape[0]
    _say(args.quiet, f"evaluating {model!r} on {label} ({n} samples) ...")
    kwargs = dict(dt=dt, transient=args.transient, lyapunov_steps=args.lyapunov_steps, rng=args.seed,
                  n_starts=args.starts)
    if spans is None:
        res = evaluate_model(model, x, inputs=s, **kwargs)
    else:
        res = evaluate_segments(model, x, spans, inputs=s, **kwargs)
    _emit({"model": args.model, "data": label, "dt": dt, **res}, args.json, args.quiet)
    return 0


def _cmd_lyapunov(args):
    from .systems import MAPS, SYSTEMS

    src = args.source
    if src.lower().endswith(".npz"):
        from .experiments.train import load_trained
        from .lyapunov import lyapunov_spectrum

        model, meta = load_trained(src)
        dt = args.dt or meta.get("dt") or 1.0
        _say(args.quiet, f"Lyapunov spectrum of {model!r}: {args.n_steps} steps after a transient of "
                         f"{args.transient} ...")
        lam = lyapunov_spectrum(model, args.n_steps, transient=args.transient, rng=args.seed)
        res = {"model": src, "dt": dt, "per_step": lam.tolist(), "per_time_unit": (lam / dt).tolist()}
    elif not os.path.exists(src) and src.strip().lower() in SYSTEMS:
        from .systems import lyapunov_spectrum as ref_spectrum

        name = src.strip().lower()
        kwargs = {} if args.dt is None else {"dt": args.dt}
        lam = ref_spectrum(name, args.n_steps, rng=args.seed, **kwargs)
        unit = "per iteration" if name in MAPS else "per time unit"
        res = {"system": name, "units": unit, "exponents": lam.tolist()}
    else:
        res = _lyapunov_of_data(args)
    _emit(res, args.json, args.quiet)
    return 0


def _warn(command, messages):
    """Print the warnings of an estimate, one line each, on stderr (also with --quiet: they qualify a result)."""
    for m in messages:
        print(f"fastrnn {command}: warning: {m}", file=sys.stderr, flush=True)


def _estimate_caught(fn, *args, **kwargs):
    """Call an estimator with its LyapunovWarnings caught (they are printed as one-line warnings instead)."""
    import warnings

    from .timeseries import LyapunovWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LyapunovWarning)
        return fn(*args, **kwargs)


def _preprocess_steps(args):
    """The preprocessing steps named on the command line, in the order detrend -> cycle -> denoise."""
    steps = []
    if args.detrend:
        step = {"op": "detrend", "method": args.detrend}
        if args.detrend == "polynomial":
            step["order"] = args.detrend_order
        if args.detrend == "moving_average":
            if args.detrend_window is None:
                raise CommandError("--detrend moving_average needs --detrend-window W (samples)")
            step["window"] = args.detrend_window
        steps.append(step)
    if args.cycle is not None:
        steps.append({"op": "remove_cycle", "period": args.cycle})
    if args.denoise:
        step = {"op": "denoise", "method": args.denoise}
        for name in ("dim", "lag", "radius", "q", "n_iter"):
            v = getattr(args, "denoise_" + name)
            if v is not None:
                step[name] = v
        steps.append(step)
    return steps


def _lyapunov_series(args):
    """(series, rows [start, stop) of its longest finite segment or None) of ``fastrnn lyapunov FILE``: the columns
    of ``--column`` (the first, or all with ``--joint``, without it)."""
    from .datafiles import longest_segment, read_array

    used = args.column if args.column is not None else (None if args.joint else [0])
    x = read_array(args.source, "data", allow_gaps=True, columns=used)
    bad = [c for c in (args.column or []) if not 0 <= c < x.shape[1]]
    if bad:
        raise CommandError(f"--column {','.join(map(str, bad))} is out of range: {args.source} has {x.shape[1]} "
                           f"column(s), numbered from 0")
    if used is not None and len(used) > 1 and not args.joint:
        raise CommandError("several --column values need --joint (embed them jointly); or give one column")
    x, span, segs = longest_segment(x if used is None else x[:, used], fill_gaps=args.fill_gaps)
    if span is not None:
        _say(args.quiet, f"{args.source} has gaps: {segs.summary()}; lambda_max of the longest segment, rows "
                         f"{span[0]}-{span[1] - 1} (--fill-gaps N interpolates gaps of up to N rows)")
    return x, None if span is None else list(span)


def _lyapunov_of_data(args):
    """``fastrnn lyapunov FILE``: lambda_max with its interval and warnings, tau and its interval."""
    from .preprocessing import preprocess
    from .timeseries import suggest_tau

    x, segment = _lyapunov_series(args)
    dt = args.dt or 1.0
    steps = _preprocess_steps(args)
    if steps:
        _say(args.quiet, "preprocessing: " + " -> ".join(s["op"] for s in steps))
        x = preprocess(x, steps)
    _say(args.quiet, f"lambda_max of {args.source} ({x.shape[0]} samples, {x.shape[1]} column(s), dt = {dt}) ...")
    sug = _estimate_caught(suggest_tau, x if args.joint else x[:, 0], dt=dt, method=args.method,
                           transverse=True if args.transverse else None,
                           noise_floor=False if args.no_noise_floor else args.noise_sd)
    est = sug.estimate
    _warn("lyapunov", est.warnings)
    if est.noise_sd is not None:
        source = "as given (--noise-sd)" if args.noise_sd is not None else "estimated (--no-noise-floor to keep it)"
        _say(args.quiet, f"observation noise of about {', '.join(f'{v:.3g}' for v in est.noise_sd)} standard "
                         f"deviations, {source}: its floor was subtracted from the neighbour distances")
    _say(args.quiet, f"lambda_max = {est.lambda_max:.4g} [{est.lambda_low:.4g}, {est.lambda_high:.4g}] per time unit; "
                     f"tau = {sug.tau} steps [{sug.tau_low}, {sug.tau_high}], tau_pred = {sug.tau_pred:.4g} "
                     f"[{sug.tau_pred_low:.4g}, {sug.tau_pred_high:.4g}] time units")
    if est.resampled is not None:
        _say(args.quiet, f"the record's own uncertainty (block bootstrap over {est.n_blocks} stretches of the "
                         f"record): 90 % of the resampled readings of lambda_max lie in [{est.resampled[0]:.4g}, "
                         f"{est.resampled[2]:.4g}] (median {est.resampled[1]:.4g}); the interval above includes it")
    res = {"data": args.source, "dt": dt, "method": sug.estimate.method, "transverse": est.transverse,
           "noise_sd": None if est.noise_sd is None else est.noise_sd.tolist(), "preprocessing": steps,
           "lambda_max": est.lambda_max, "lambda_low": est.lambda_low, "lambda_high": est.lambda_high,
           "per_step": est.per_step, "fit_range": list(est.fit_range), "r2": est.r2, "dim": est.dim, "lag": est.lag,
           "tau_pred": sug.tau_pred, "tau_pred_low": sug.tau_pred_low, "tau_pred_high": sug.tau_pred_high,
           "tau_steps": sug.tau, "tau_steps_low": sug.tau_low, "tau_steps_high": sug.tau_high,
           "lambda_resampled": None if est.resampled is None else list(est.resampled), "n_blocks": est.n_blocks,
           "warnings": list(est.warnings), "segment": segment}
    if args.plot:
        from . import plotting
        plotting.save(plotting.divergence_figure(est), args.plot)
        res["plot"] = args.plot
    return res


def _settings_from(args):
    keys = ("n_latent", "seq_len", "batch_size", "batches_per_epoch", "lr", "lr_end", "n_steps", "n_test",
            "lyapunov_steps", "dtype")
    out = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if getattr(args, "epochs", None) is not None:
        out["n_epochs"] = args.epochs
    return out


def _cmd_sweep(args):
    from .experiments import run_sweep
    from .experiments.cluster import require_distributed

    require_distributed()
    data, inputs = args.data, None
    if os.path.exists(args.data):
        from .datafiles import read_array
        from .preprocessing import zscore

        data = zscore(read_array(args.data, "data"))
        inputs = read_array(args.inputs, "inputs") if args.inputs else None
    forcings = [t for t in args.forcings.split(",") if t.strip()]
    res = run_sweep(args.out, data=data, inputs=inputs, models=args.models.split(","), forcings=forcings,
                    seeds=args.seeds, baselines=[b for b in (args.baselines or "").split(",") if b],
                    dt=args.dt, scheduler=args.scheduler, n_workers=args.workers, progress=not args.quiet,
                    **_settings_from(args))
    print(res.table)
    _say(args.quiet, f"{res.executed} run(s) executed, {res.skipped} skipped (already finished); summary in "
                     f"{res.paths['summary_md']}" + (f", figure {res.paths['figure']}" if "figure" in res.paths
                                                      else ""))
    if res.failed:
        for rid, err in res.failed:
            print(f"fastrnn sweep: run {rid} failed: {err}", file=sys.stderr)
        return 1
    return 0


def _cmd_reproduce(args):
    from .experiments.cluster import require_distributed
    from .experiments.reproduce import reproduce_experiment

    require_distributed()
    budget = "full" if args.full else "tiny" if args.tiny else "quick"
    out = args.out or os.path.join("out", "reproduce", f"{args.experiment}-{budget}")
    try:
        res = reproduce_experiment(args.experiment, out, budget=budget, scheduler=args.scheduler,
                                   n_workers=args.workers, progress=not args.quiet, models=args.models,
                                   settings=args.settings, seeds=args.seeds)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print(res.markdown)
    _say(args.quiet, f"{res.executed} run(s) executed, {res.skipped} reused (already finished); table in "
                     f"{res.paths['table_md']}" + (f", figure {res.paths['figure']}" if "figure" in res.paths
                                                    else ""))
    for rid, err in res.failed:
        print(f"fastrnn reproduce: run {rid} failed: {err}", file=sys.stderr)
    return 1 if res.failed else 0


def _cmd_demo(args):
    from .experiments import run_demo

    common = dict(quiet=args.quiet, n_workers=args.workers, fresh=args.fresh, seed=args.seed,
                  scheduler=args.scheduler, **_settings_from(args))
    if args.data is None:
        given = [f"--{k.replace('_', '-')}" for k in ("dt", "column", "embed", "detrend", "cycle", "denoise",
                                                      "noise_sd") if getattr(args, k) is not None]
        if given:
            raise CommandError(f"{', '.join(given)} apply to a data file: add --data FILE (without it, the demo is "
                               f"the Lorenz demo)")
        report = run_demo(args.out or "out/demo", **common)
    else:
        from .experiments import run_data_demo

        if args.dt is not None and not args.dt > 0:
            raise CommandError(f"--dt must be > 0 (the sampling interval in time units per sample), got {args.dt}")
        report = run_data_demo(args.data, args.out or "out/demo_data", dt=args.dt or 1.0, columns=args.column,
                               steps=_preprocess_steps(args), embed=args.embed or "auto", noise_sd=args.noise_sd,
                               **common)
    print(report["markdown"])
    return 3 if args.check and not report["checks"]["all_passed"] else 0


# ------------------------------------------------------------------ parser
def build_parser():
    """The argparse parser of the ``fastrnn`` command."""
    from . import __version__
    from .experiments import DEFAULT_SETTINGS, DEMO_SETTINGS
    from .experiments.reproduce import EXPERIMENTS as REPRODUCE_EXPERIMENTS

    parser = _Parser(prog="fastrnn", description="Sparsely forced BPTT for recurrent networks that reconstruct "
                     "chaotic dynamics. Data files are .npy or .csv arrays (T, N) with time along the first axis; "
                     "a system name (lorenz, rossler, duffing, mackey_glass, henon, logistic) generates data.")
    parser.add_argument("--version", action="version", version=f"fastrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="Lorenz (or --data FILE) end to end: lambda_max -> tau_pred -> four models vs "
                       "the clipping baseline -> report and figures",
                       description="Lorenz end to end: lambda_max from data -> tau_pred -> PLRNN, TanhRNN, LSTM and "
                       "GRU with sparse forcing at tau_pred and without forcing with gradient clipping -> D_stsp, "
                       "D_H, Lyapunov spectra -> report.md, report.json and figures. With --data FILE: the same "
                       "workflow on your own measured series, after the observation pipeline (--column, "
                       "preprocessing, --embed).")
    p.add_argument("--data", default=None, metavar="FILE",
                   help="run the workflow on your own measured series (.npy/.csv, time along the first axis) "
                   "instead of Lorenz: preprocessing, delay embedding, lambda_max -> tau, the four models, evaluation "
                   "on the held-out last quarter (at most 5000 samples)")
    p.add_argument("--dt", type=float, default=None, help="with --data: time units per sample (default 1)")
    p.add_argument("--noise-sd", type=float, default=None, metavar="SIGMA",
                   help="with --data: a known standard deviation of the observation noise, in units of the "
                        "series' standard deviation, for lambda_max (default: estimated)")
    p.add_argument("--out", default=None, help="output directory (default out/demo, with --data out/demo_data)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: min(2, CPUs))")
    p.add_argument("--scheduler", default=None, help="use an existing Dask scheduler (tcp://host:port)")
    p.add_argument("--fresh", action="store_true", help="retrain even if finished runs exist in --out")
    p.add_argument("--seed", type=int, default=0, help="seed of the models and window draws (default 0)")
    p.add_argument("--check", action="store_true", help="exit with status 3 unless the report's checks pass "
                   "(forcing beats clipping >= 5x in D_stsp for every model; a lambda_1 within 30 %%)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    add_training_options(p, defaults={k: v for k, v in DEMO_SETTINGS.items()},
                          note="(default: per model, see fastrnn.experiments.DEMO_MODEL_SETTINGS)")
    add_observation_options(p, embed_default=None, embed_note="(with --data; default auto)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("train", help="train a model on a data file or a system",
                       description="Train a model by sparsely forced BPTT and save it (.npz, with a .json of "
                       "metadata: the observation pipeline, dt, forcing, loss history). The data go through the "
                       "observation pipeline: the chosen columns (--column), preprocessing (--detrend, --cycle, "
                       "--denoise), a per-column z-score (unless --raw) and a delay embedding (--embed); `fastrnn "
                       "evaluate` applies the recorded pipeline, with the training statistics, to new data.")
    p.add_argument("data", help="data file (.npy/.csv, (T, N)) or system name (e.g. lorenz)")
    p.add_argument("--model", type=model_name, default="PLRNN", help="PLRNN, TanhRNN, LSTM or GRU "
                   "(default PLRNN)")
    p.add_argument("--tau", "--forcing", dest="tau", default="auto", help="forcing: an interval in steps, 'auto' "
                   "(ln 2 / lambda_max of the data), 'none', 'annealed:T', 'jittered:T:D', 'alpha:A' (or 'gtf:A'), "
                   "'alpha:A:B' or 'agtf' (adaptive alpha; 'agtf:GAMMA:K') (default auto)")
    p.add_argument("--baseline", type=baseline_name, default=None,
                   help="train a baseline without forcing instead: 'clipping[:THR]' (gradient-norm clipping at THR, "
                   "default 1), 'value_clipping[:THR]' (element-wise gradient clipping at THR, default 1), "
                   "'windowing' (every window starts from a zero state) or 'truncated:STEPS' (truncated BPTT, the "
                   "gradient cut every STEPS steps)")
    p.add_argument("--clip", type=float, default=None, help="clip the gradient norm to this value")
    p.add_argument("--clip-value", type=float, default=None, metavar="THR",
                   help="clip every gradient entry to [-THR, THR] (with or without forcing)")
    p.add_argument("--readout", choices=("learned", "identity"), default="learned",
                   help="the model's observation: a trained B (default) or identity, x = z[:N] with forcing of the "
                        "first N units (generalised teacher forcing's setting)")
    p.add_argument("--inputs", default=None, help="file of external inputs (T, K) aligned with the data")
    p.add_argument("--dt", type=float, default=None, help="time units per sample (default: the system's, or 1)")
    p.add_argument("--n-steps", type=int, default=30000, help="samples generated for a system (default "
                   "%(default)s)")
    p.add_argument("--raw", action="store_true", help="do not z-score file data")
    p.add_argument("--fill-gaps", type=int, default=0, metavar="N",
                   help="interpolate interior gaps (rows with NaN) of at most N rows; longer gaps split the file "
                   "into segments that train together (segments shorter than a window are dropped; default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and window draws")
    p.add_argument("--out", default="model.npz", help="model file to write (default %(default)s)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file: resume from it if it exists, and "
                   "write it during training")
    p.add_argument("--checkpoint-every", type=int, default=1, help="epochs between checkpoints (default 1)")
    p.add_argument("--validation", type=float, default=None, metavar="FRACTION",
                   help="hold out the last FRACTION of the series (of each segment) for validation; the model "
                        "keeps the parameters of its best validation")
    p.add_argument("--selection", choices=("loss", "prediction", "D_stsp"), default="loss",
                   help="validation measure: the training loss at the run's forcing (default), the 20-step "
                        "free-running prediction error, or the state space divergence of a free run")
    p.add_argument("--validate-every", type=int, default=1, metavar="EPOCHS",
                   help="epochs between validations (default 1)")
    p.add_argument("--patience", type=int, default=None, metavar="N",
                   help="early stopping: stop after N validations without improvement (needs --validation)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_training_options(p, defaults=DEFAULT_SETTINGS)
    add_observation_options(p, embed_default="none")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="D_stsp, D_H and Lyapunov spectrum of a saved model against data",
                       description="Run a saved model freely from the first observation of the data and compare: "
                       "D_stsp, D_H (fastrnn.metrics) and the model's Lyapunov spectrum. Prints JSON.")
    p.add_argument("model", help="model file (.npz) written by `fastrnn train`")
    p.add_argument("data", help="data file (.npy/.csv) or system name; scaled like the training data")
    p.add_argument("--inputs", default=None, help="inputs file (T, K) for models with inputs")
    p.add_argument("--dt", type=float, default=None, help="time units per sample (default: from the model's "
                   "metadata, or 1)")
    p.add_argument("--n-test", type=int, default=None, help="use only the last N samples")
    p.add_argument("--n-steps", type=int, default=10000, help="samples generated for a system (default "
                   "%(default)s)")
    p.add_argument("--data-seed", type=int, default=1, help="initial condition of a generated system "
                   "(default 1, unlike training)")
    p.add_argument("--transient", type=int, default=1000, help="free steps discarded first (default %(default)s)")
    p.add_argument("--lyapunov-steps", type=int, default=10000, help="steps of the spectrum, 0 to skip "
                   "(default %(default)s)")
    p.add_argument("--starts", type=int, default=8, help="free runs from observations spread over the data; "
                   "D_stsp and D_H are their medians (default %(default)s)")
    p.add_argument("--raw", action="store_true", help="do not z-score file data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the result to this file")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("lyapunov", help="Lyapunov spectrum of a saved model, lambda_max of data, or a "
                       "system's reference spectrum",
                       description="SOURCE is a model file (.npz: its spectrum, per step and per time unit), a "
                       "data file (.npy/.csv: lambda_max from divergence curves with automatic embedding, and "
                       "tau_pred), or a system name (its reference spectrum from the tangent dynamics).")
    p.add_argument("source", help="model .npz, data .npy/.csv, or system name")
    p.add_argument("--dt", type=float, default=None, help="time units per sample")
    p.add_argument("--n-steps", type=int, default=20000, help="steps averaged (default %(default)s)")
    p.add_argument("--transient", type=int, default=1000, help="steps discarded first (default %(default)s)")
    p.add_argument("--joint", action="store_true", help="data: embed all columns (or --column's) jointly")
    add_column_option(p, "data: the column analysed, 0-based (default 0); several with --joint")
    p.add_argument("--fill-gaps", type=int, default=0, metavar="N", help="data: interpolate interior gaps (NaN "
                   "rows) of at most N rows; with longer gaps the longest finite segment is analysed (default 0)")
    p.add_argument("--method", choices=("auto", "rosenstein", "kantz"), default="auto",
                   help="data: divergence curves of Rosenstein et al. or Kantz; auto (default): Rosenstein for "
                        "finely sampled flows, Kantz over three radii for maps and coarsely sampled series")
    p.add_argument("--transverse", action="store_true",
                   help="data (flows): measure neighbour separations across the flow at every step, which "
                        "removes a slowly growing phase lag (phase-coherent oscillators such as Rössler); "
                        "default: only where a noise floor is subtracted")
    noise = p.add_mutually_exclusive_group()
    noise.add_argument("--no-noise-floor", action="store_true",
                       help="data: do not subtract the floor of the observation noise estimated in the series "
                            "(default: subtracted when the noise is at least 0.5 %% of the spread)")
    noise.add_argument("--noise-sd", type=float, default=None, metavar="SIGMA",
                       help="data: a known standard deviation of the observation noise, in units of the series' "
                            "standard deviation (e.g. 0.02 for 2 %%), used instead of the estimated one")
    add_preprocessing_options(p, "before lambda_max")
    p.add_argument("--plot", default=None, help="data: write the divergence curve with its fit to this image")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the result to this file")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=_cmd_lyapunov)

    p = sub.add_parser("sweep", help="tau sweep over models and seeds on Dask",
                       description="Train every (model, tau, seed) of a grid on Dask (a local cluster by default, "
                       "or --scheduler), each run writing its result atomically; rerunning skips finished runs. "
                       "Ends with summary.md, summary.json and tau_sweep.png in --out.")
    p.add_argument("--data", default="lorenz", help="system name or data file (default lorenz)")
    p.add_argument("--inputs", default=None, help="inputs file aligned with a data file")
    p.add_argument("--models", default="PLRNN,LSTM", help="comma-separated models (default %(default)s)")
    p.add_argument("--forcings", "--taus", dest="forcings", default="5,10,25,50,100,200",
                   help="comma-separated forcing options: intervals in steps or schedules (default %(default)s)")
    p.add_argument("--seeds", type=int_list, default=[0, 1], help="comma-separated seeds (default 0,1)")
    p.add_argument("--baselines", default="", help="comma-separated baselines: clipping[:THR], "
                   "value_clipping[:THR], windowing, truncated:STEPS")
    p.add_argument("--dt", type=float, default=None, help="time units per sample")
    p.add_argument("--n-steps", type=int, default=None, help="samples generated for a system")
    p.add_argument("--n-test", type=int, default=None, help="samples held out for evaluation")
    p.add_argument("--lyapunov-steps", type=int, default=None, help="steps of each model's spectrum (0: skip)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:port); "
                   "default: a local cluster")
    p.add_argument("--workers", type=int, default=None, help="local cluster workers (default: one per CPU)")
    p.add_argument("--out", default="out/sweep", help="output directory (default %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_training_options(p, defaults=DEFAULT_SETTINGS)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("reproduce", help="one of the paper's experiments beside its published numbers",
                       description="Run one experiment of the sparse-forcing paper (Mikhaeil et al. 2022) on Dask "
                       "and write table.md, table.json and figure.png in --out: D_stsp and D_H (the paper's "
                       "legacy measures and fastrnn's) per model and setting, mean +- sd over seeds, beside the "
                       "paper's values, and the data's tau_pred beside the paper's. Rerunning reuses finished runs "
                       "(an interrupted experiment resumes).")
    p.add_argument("experiment", choices=list(REPRODUCE_EXPERIMENTS), metavar="EXPERIMENT",
                   help=f"one of {', '.join(REPRODUCE_EXPERIMENTS)}")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the default: fewer epochs, seeds, models and tau "
                      "values; about 10 minutes on 2 cores (the report says so)")
    size.add_argument("--full", action="store_true", help="the paper's budget (Adam 1e-3, batch 32, 10 batches "
                      "per epoch, 3000 epochs, M = 30, 3 seeds): hours")
    size.add_argument("--tiny", action="store_true", help="a smoke test in seconds (numbers meaningless)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:port); "
                   "default: a local cluster")
    p.add_argument("--workers", type=int, default=None, help="local cluster workers (default: one per CPU)")
    p.add_argument("--out", default=None, help="output directory (default out/reproduce/EXPERIMENT-BUDGET)")
    p.add_argument("--models", type=name_list, default=None, metavar="M1,M2",
                   help="run only these models of the budget (e.g. TanhRNN,PLRNN); the table says it is a subset")
    p.add_argument("--settings", type=name_list, default=None, metavar="S1,S2",
                   help="run only these settings (e.g. tau:30,tau:50,clipping:1)")
    p.add_argument("--seeds", type=int_list, default=None, metavar="0,1",
                   help="run only these seeds (finished runs are reused, so subsets add up to the whole budget)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_reproduce)
    return parser


def _show_warning(command, show):
    """A ``warnings.showwarning`` that prints a :class:`~fastrnn.datafiles.DataFileWarning` as one line of the
    command's output, like the estimates' warnings, and leaves every other warning to ``show``."""
    def _show(message, category, filename, lineno, file=None, line=None):
        from .datafiles import DataFileWarning

        if issubclass(category, DataFileWarning):
            _warn(command, [str(message)])
        else:
            show(message, category, filename, lineno, file, line)
    return _show


def main(argv=None):
    """Entry point of the ``fastrnn`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if hasattr(args, "n_latent"):
        for name in ("n_latent", "seq_len", "batch_size", "batches_per_epoch", "epochs"):
            v = getattr(args, name, None)
            if v is not None and v < 1:
                parser.exit(2, f"fastrnn {args.command}: error: --{name.replace('_', '-')} must be >= 1, got {v}\n")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning(args.command, warnings.showwarning)
            return args.func(args)
    except KeyboardInterrupt:
        print(f"fastrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, TypeError, OSError, FloatingPointError, KeyError, ImportError,
            RuntimeError) as exc:
        msg = str(exc).strip().replace("\n", " ") or type(exc).__name__
        if isinstance(exc, KeyError):
            msg = f"missing {msg}"
        print(f"fastrnn {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
