"""The ``fastrnn`` command: demo, train, evaluate, lyapunov, sweep.

Run ``fastrnn --help`` or ``fastrnn <command> --help``. Every error is reported as one line on stderr
(``fastrnn <command>: error: ...``) with exit status 1 (2 for a malformed command line).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

__all__ = ["main", "run_demo", "DEMO_SETTINGS", "DEMO_MODEL_SETTINGS"]

#: the demo's settings common to all models. Forced runs and baselines of a model get the same budget and the same
#: gradient-norm clipping at 1, so that forcing is the only difference between them.
DEMO_SETTINGS = {
    "seq_len": 600,
    "batch_size": 4,
    "batches_per_epoch": 50,
    "lr_end": 1e-4,
    "clip": 1.0,
    "n_steps": 30000,
    "n_test": 10000,
    "eval_transient": 1000,
    "eval_starts": 8,
    "lyapunov_steps": 10000,
    "dtype": "float32",
    "select": True,
}
#: per-model size and training budget of the demo, in float32: 20-70 s of one core per run (an update of 4 windows
#: of 600 steps took about 1.3 ms for the PLRNN and 1.2 ms for the tanh RNN at M = 50, 1.9 ms for the LSTM at
#: M = 32 and 1.6 ms for the GRU at M = 32, 10-20 % less for the gated models since). The tanh RNN needs the most
#: updates to settle on the attractor. Step sizes, from the forced runs of seeds 0-2 (median D_stsp of the 8 free
#: runs with lr 1e-3 against 2e-3): PLRNN 1.09-1.62 against 1.63-2.47; tanh RNN 1.98-2.37 against 2.42-5.07 (with
#: 2e-3 one seed ended with a second attractor, its worst run scoring 14 like the baselines); GRU 0.87-1.23 against
#: 1.01-2.77; the LSTM is better with 2e-3 (0.88-1.26 against 1.91-6.36).
DEMO_MODEL_SETTINGS = {
    "PLRNN": {"n_latent": 50, "n_epochs": 300, "lr": 1e-3},
    "TanhRNN": {"n_latent": 50, "n_epochs": 1200, "lr": 1e-3},
    "LSTM": {"n_latent": 32, "n_epochs": 400, "lr": 2e-3},
    "GRU": {"n_latent": 32, "n_epochs": 300, "lr": 1e-3},
}
_PER_MODEL = ("n_latent", "n_epochs", "lr")
DEMO_MODELS = ("PLRNN", "TanhRNN", "LSTM", "GRU")
LORENZ_SPECTRUM = (0.9056, 0.0, -14.5723)   # literature values, per time unit (DESIGN §5)


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0]} (see {self.prog} --help)\n")


def _say(quiet, msg):
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ inputs
def _model_name(text):
    from .sweep import model_kind
    try:
        return model_kind(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _int_list(text):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _read_array(path, what):
    """Read a (T,) or (T, N) float array from .npy, .csv or .txt; one-line errors that say what to do."""
    import numpy as np

    if not os.path.exists(path):
        raise CommandError(f"{what} file {path!r} not found; give a .npy or .csv file (time along the first axis)")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif ext in (".csv", ".txt", ".dat", ".tsv"):
            delim = "," if ext == ".csv" else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)      # "input contained no data": reported below
                try:
                    arr = np.loadtxt(path, delimiter=delim, ndmin=2)
                except ValueError:
                    arr = np.loadtxt(path, delimiter=delim, ndmin=2, skiprows=1)   # a header line
        else:
            raise CommandError(f"{what} file {path!r} has an unknown extension {ext!r}; use .npy or .csv")
    except CommandError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CommandError(f"cannot read {what} file {path!r} ({reason}); it must hold a numeric (T, N) array "
                           f"(.npy saved with np.save, or .csv with one row per time step)") from None
    if arr.size == 0:
        raise CommandError(f"{what} file {path!r} holds no data; it must hold a numeric (T, N) array")
    if arr.dtype.kind not in "fiu":
        raise CommandError(f"{what} file {path!r} holds {arr.dtype} values; it must hold numbers")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise CommandError(f"{what} file {path!r} holds an array of shape {arr.shape}; expected (T, N) with time "
                           f"along the first axis")
    if arr.shape[0] < arr.shape[1]:
        raise CommandError(f"{what} file {path!r} has shape {arr.shape}: fewer time steps than columns; time must "
                           f"run along the first axis (transpose it with arr.T)")
    if not np.all(np.isfinite(arr)):
        raise CommandError(f"{what} file {path!r} contains NaN or infinite values; remove or interpolate them")
    return arr.astype(np.float64)


def _standardize(x, mean=None, std=None):
    import numpy as np

    mean = x.mean(axis=0) if mean is None else np.asarray(mean)
    std = x.std(axis=0) if std is None else np.asarray(std)
    if np.any(std == 0):
        raise CommandError(f"data column(s) {np.nonzero(std == 0)[0].tolist()} are constant; drop them")
    return (x - mean) / std, mean, std


def _load_data(source, args, *, scaling=None):
    """(x, inputs, dt, label, scaling) from a system name or a file, standardised unless --raw."""
    from .sweep import SYSTEMS, system_series

    n_steps = getattr(args, "n_steps", None) or 30000
    if not os.path.exists(source) and source.strip().lower() in SYSTEMS:
        x, s, dt = system_series(source, n_steps, dt=args.dt, rng=getattr(args, "data_seed", 0))
        return x, s, dt, source.strip().lower(), None
    if not os.path.exists(source) and os.path.splitext(source)[1] == "":
        raise CommandError(f"{source!r} is neither a data file nor a system; give a .npy/.csv file or one of "
                           f"{', '.join(SYSTEMS)}")
    x = _read_array(source, "data")
    s = _read_array(args.inputs, "inputs") if getattr(args, "inputs", None) else None
    if s is not None and s.shape[0] != x.shape[0]:
        raise CommandError(f"inputs file has {s.shape[0]} rows but the data have {x.shape[0]}; they must be aligned "
                           f"(one row per time step)")
    if not getattr(args, "raw", False):
        if scaling is not None:
            x, _, _ = _standardize(x, scaling["mean"], scaling["std"])
        else:
            x, mean, std = _standardize(x)
            scaling = {"mean": mean.tolist(), "std": std.tolist()}
    return x, s, (args.dt or 1.0), os.path.basename(source), scaling


def _sidecar(model_path):
    return os.path.splitext(model_path)[0] + ".json"


def _load_model(path):
    from .models import load

    if not os.path.exists(path):
        raise CommandError(f"model file {path!r} not found; train one with `fastrnn train ... --out {path}`")
    try:
        model = load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise CommandError(f"{path!r} is not a fastrnn model file ({str(exc).splitlines()[0]}); models are saved "
                           f"by `fastrnn train --out model.npz` or model.save(path)") from None
    meta = {}
    if os.path.exists(_sidecar(path)):
        with open(_sidecar(path)) as fh:
            meta = json.load(fh)
    return model, meta


def _emit(result, json_path, quiet):
    from .sweep import _write_json

    if json_path:
        _write_json(json_path, result)
    if not quiet or not json_path:
        print(json.dumps(result, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


# ------------------------------------------------------------------ commands
def _cmd_train(args):
    import numpy as np

    from .models import MODELS
    from .optim import Adam
    from .sweep import BASELINES, _fit_forcing, _keep_heap_memory, parse_forcing
    from .training import fit

    _keep_heap_memory()

    x, s, dt, label, scaling = _load_data(args.data, args)
    if args.tau == "auto":
        from .timeseries import suggest_tau
        _say(args.quiet, f"estimating lambda_max of {label} (first column) to set tau ...")
        sug = suggest_tau(x[:, 0], dt=dt)
        tau_opt = {"kind": "tau", "tau": sug.tau}
        _say(args.quiet, f"lambda_max = {sug.lambda_max:.4g} per time unit -> tau = {sug.tau} steps")
    else:
        tau_opt = parse_forcing(args.tau)
    if args.baseline:
        tau_opt = {"kind": "none"}
    model = MODELS[args.model](args.n_latent, x.shape[1], 0 if s is None else s.shape[1], dtype=args.dtype,
                               rng=args.seed)
    opt = Adam(model.params, lr=args.lr)
    kwargs = _fit_forcing(tau_opt, args.seq_len)
    if args.baseline:
        kwargs.update(BASELINES[args.baseline])
    if args.clip is not None:
        kwargs["clip"] = args.clip
    lr0, lr_end, n_epochs = args.lr, args.lr_end, args.epochs

    def decay(epoch, history, _model):
        if lr_end is not None:
            opt.lr = lr0 * (lr_end / lr0) ** ((epoch + 1) / max(n_epochs - 1, 1))
        return False

    out = args.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    hist = fit(model, x, inputs=s, seq_len=args.seq_len, batch_size=args.batch_size,
               batches_per_epoch=args.batches_per_epoch, n_epochs=n_epochs, lr=lr0, rng=args.seed,
               progress=not args.quiet, optimizer=opt, callback=decay, checkpoint=args.checkpoint,
               checkpoint_every=args.checkpoint_every, **kwargs)
    model.save(out)
    from .sweep import _write_json, forcing_label
    meta = {"data": label, "dt": dt, "scaling": scaling, "model": args.model, "n_latent": args.n_latent,
            "forcing": forcing_label(tau_opt), "baseline": args.baseline, "seed": args.seed,
            "history": {"loss": hist.loss, "grad_norm": hist.grad_norm, "seconds": hist.seconds}}
    _write_json(_sidecar(out), meta)
    _say(args.quiet, f"loss {hist.loss[0]:.4g} -> {hist.loss[-1]:.4g} in {np.sum(hist.seconds):.1f} s; model saved "
                     f"to {out} (metadata {_sidecar(out)})")
    return 0


def _cmd_evaluate(args):
    from .sweep import evaluate_model

    if args.starts < 1:
        raise CommandError(f"--starts must be at least 1, got {args.starts}")
    model, meta = _load_model(args.model)
    if args.dt is None and meta.get("dt"):
        args.dt = meta["dt"]
    x, s, dt, label, _ = _load_data(args.data, args, scaling=meta.get("scaling"))
    if x.shape[1] != model.n_obs:
        raise CommandError(f"the data have {x.shape[1]} columns but the model observes {model.n_obs}; pass the "
                           f"series the model was trained on")
    if (s is None) != (model.n_inputs == 0):
        raise CommandError(f"the model has {model.n_inputs} inputs: pass --inputs FILE with one row per time step"
                           if model.n_inputs else "the model has no inputs; drop --inputs")
    if args.n_test:
        x = x[-args.n_test:]
        s = None if s is None else s[-args.n_test:]
    _say(args.quiet, f"evaluating {model!r} on {label} ({x.shape[0]} samples) ...")
    res = evaluate_model(model, x, dt=dt, inputs=s, transient=args.transient, lyapunov_steps=args.lyapunov_steps,
                         rng=args.seed, n_starts=args.starts)
    res = {"model": args.model, "data": label, "dt": dt, **res}
    _emit(res, args.json, args.quiet)
    return 0


def _cmd_lyapunov(args):
    from .sweep import SYSTEMS

    src = args.source
    if src.lower().endswith(".npz"):
        from .lyapunov import lyapunov_spectrum

        model, meta = _load_model(src)
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
        unit = "per iteration" if name in ("henon", "logistic") else "per time unit"
        res = {"system": name, "units": unit, "exponents": lam.tolist()}
    else:
        from .timeseries import max_lyapunov, predictability_time

        x = _read_array(src, "data")
        dt = args.dt or 1.0
        _say(args.quiet, f"lambda_max of {src} ({x.shape[0]} samples, {x.shape[1]} column(s), dt = {dt}) ...")
        est = max_lyapunov(x if args.joint else x[:, 0], dt=dt)
        res = {"data": src, "dt": dt, "lambda_max": est.lambda_max, "per_step": est.per_step,
               "fit_range": list(est.fit_range), "r2": est.r2, "dim": est.dim, "lag": est.lag}
        if est.lambda_max > 0:
            res["tau_pred"] = predictability_time(est.lambda_max)
            res["tau_steps"] = max(1, int(round(res["tau_pred"] / dt)))
        if args.plot:
            from . import plotting
            plotting.save(plotting.divergence_figure(est), args.plot)
            res["plot"] = args.plot
    _emit(res, args.json, args.quiet)
    return 0


def _settings_from(args):
    keys = ("n_latent", "seq_len", "batch_size", "batches_per_epoch", "lr", "lr_end", "n_steps", "n_test",
            "lyapunov_steps", "dtype")
    out = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if getattr(args, "epochs", None) is not None:
        out["n_epochs"] = args.epochs
    return out


def _cmd_sweep(args):
    from .sweep import run_sweep

    data, inputs = args.data, None
    if os.path.exists(args.data):
        data = _read_array(args.data, "data")
        data, _, _ = _standardize(data)
        inputs = _read_array(args.inputs, "inputs") if args.inputs else None
    taus = [t for t in args.taus.split(",") if t.strip()]
    res = run_sweep(args.out, data=data, inputs=inputs, models=args.models.split(","), taus=taus,
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


def _cmd_demo(args):
    settings = _settings_from(args)
    report = run_demo(args.out, quiet=args.quiet, n_workers=args.workers, fresh=args.fresh, seed=args.seed,
                      scheduler=args.scheduler, **settings)
    print(report["markdown"])
    return 3 if args.check and not report["checks"]["all_passed"] else 0


# ------------------------------------------------------------------ demo
def run_demo(out_dir="out/demo", *, quiet=False, n_workers=None, fresh=False, seed=0, scheduler=None, **settings):
    """The whole workflow on Lorenz: lambda_max from data -> tau_pred -> four models with sparse forcing at
    tau_pred and the clipping baseline -> D_stsp, D_H, Lyapunov spectra -> report and figures.

    Steps (Lorenz sigma = 10, rho = 28, beta = 8/3, dt = 0.01, standardised):

    1. ``n_steps`` samples; the last ``n_test`` are held out for evaluation.
    2. lambda_max of the training part's x-coordinate (:func:`fastrnn.timeseries.suggest_tau`, automatic
       embedding and scaling region) -> tau_pred = ln 2 / lambda_max -> tau = round(tau_pred / dt) steps.
    3. The Lorenz system's own spectrum from its tangent dynamics (:func:`fastrnn.systems.lyapunov_spectrum`).
    4. PLRNN, TanhRNN, LSTM and GRU trained with sparse forcing at tau, and each trained without forcing (the
       baseline), with the same budget and gradient-norm clipping at 1 in both, so that forcing is the only
       difference; on a Dask local cluster (:func:`fastrnn.sweep.run_specs`). Budgets: :data:`DEMO_SETTINGS`
       and :data:`DEMO_MODEL_SETTINGS`; ``settings`` overrides them (``n_epochs`` and ``lr`` for every model).
    5. Each model runs freely from ``eval_starts`` (8) observations spread over the test data: the medians of D_stsp
       and D_H against the test data over those runs, and the worst D_stsp; from the first test observation, the
       Lyapunov spectrum of the model (per time unit = per step / dt) and Jacobian-product norms.
    6. ``report.json``, ``report.md`` and figures in ``out_dir``.

    Returns
    -------
    dict
        The report (also written to ``report.json``); ``report["markdown"]`` is the table.
    """
    import numpy as np

    from . import lyapunov, plotting, systems
    from .models import load
    from .sweep import make_spec, run_id, run_specs, system_series
    from .timeseries import suggest_tau

    t_start = time.perf_counter()
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    cfg = dict(DEMO_SETTINGS)
    cfg.update({k: v for k, v in settings.items() if k not in _PER_MODEL})
    per_model = {m: {**cfg, **DEMO_MODEL_SETTINGS[m], **{k: v for k, v in settings.items() if k in _PER_MODEL}}
                 for m in DEMO_MODELS}
    dt = 0.01
    say = lambda msg: _say(quiet, f"fastrnn demo: {msg}")  # noqa: E731

    say(f"[1/6] Lorenz data: {cfg['n_steps']} samples, dt = {dt}, last {cfg['n_test']} held out")
    x, _, _ = system_series("lorenz", cfg["n_steps"], dt=dt, rng=0)
    x_train, x_test = x[: -cfg["n_test"]], x[-cfg["n_test"]:]

    say("[2/6] lambda_max from the data (x-coordinate, automatic embedding) -> tau_pred")
    sug = suggest_tau(x_train[:, 0], dt=dt)
    tau = sug.tau
    say(f"      lambda_max = {sug.lambda_max:.4f} per time unit, tau_pred = {sug.tau_pred:.3f} time units "
        f"= {tau} steps")

    say("[3/6] Lorenz spectrum from its tangent dynamics")
    ref = systems.lyapunov_spectrum("lorenz", 100000, dt=dt, rng=0)
    say(f"      ({', '.join(f'{v:.4f}' for v in ref)}) per time unit")

    say(f"[4/6] training {', '.join(DEMO_MODELS)} with sparse forcing at tau = {tau} and without forcing (both "
        f"with gradient clipping; "
        + ", ".join(f"{m} M = {per_model[m]['n_latent']}, {per_model[m]['n_epochs']} epochs" for m in DEMO_MODELS)
        + ")")
    specs = []
    for m in DEMO_MODELS:
        specs.append(make_spec(data="lorenz", model=m, forcing_option=tau, seed=seed, dt=dt, **per_model[m]))
        specs.append(make_spec(data="lorenz", model=m, baseline="clipping", seed=seed, dt=dt, **per_model[m]))
    if fresh:
        for s in specs:
            p = os.path.join(out_dir, "runs", run_id(s) + ".json")
            if os.path.exists(p):
                os.unlink(p)
    results, skipped, _, failed = run_specs(specs, out_dir, scheduler=scheduler,
                                            n_workers=n_workers or min(2, os.cpu_count() or 1),
                                            progress=not quiet, desc="demo training")
    if failed:
        raise CommandError("demo runs failed: " + "; ".join(f"{rid}: {err}" for rid, err in failed))
    if skipped:
        say(f"      {skipped} run(s) reused from {os.path.join(out_dir, 'runs')} (pass --fresh to redo them)")

    say("[5/6] figures")
    rows, gens, gens_base, jac, losses = [], {}, {}, {}, {}
    for spec, res in zip(specs, results):
        model = load(os.path.join(out_dir, "runs", res["run_id"] + ".npz"))
        met = res["metrics"]
        kind = "clipping" if spec["baseline"] else f"forcing tau={tau}"
        label = f"{spec['model']} ({'clipping' if spec['baseline'] else 'forced'})"
        losses[label] = res["train"].get("loss", [])
        Xg = None
        if not met.get("generation_diverged"):
            Xg, _ = model.generate(cfg["eval_transient"] + x_test.shape[0], x0=x_test[0])
            Xg = Xg[cfg["eval_transient"]:]
        (gens_base if spec["baseline"] else gens)[label] = Xg
        lam = met.get("lambda_1")
        if not spec["baseline"]:
            try:
                lags, logn = lyapunov.jacobian_norms(model, 3000, transient=cfg["eval_transient"], x0=x_test[0])
                jac[spec["model"]] = (lags, logn, None if lam is None else lam * dt)
            except lyapunov.OrbitDivergedError:
                pass
        spectrum = met.get("lyapunov_per_step")
        rows.append({
            "model": spec["model"], "training": kind, "run_id": res["run_id"],
            "D_stsp": met.get("D_stsp"), "D_stsp_worst": met.get("D_stsp_worst"),
            "D_stsp_starts": met.get("D_stsp_starts"), "n_diverged": met.get("n_diverged"),
            "D_stsp_legacy": met.get("D_stsp_legacy"), "D_H": met.get("D_H"),
            "lambda_1": lam,
            "lambda_1_rel_error": None if lam is None else abs(lam - LORENZ_SPECTRUM[0]) / LORENZ_SPECTRUM[0],
            "spectrum_top3": None if spectrum is None else [None if v is None else v / dt for v in spectrum[:3]],
            "final_loss": (res["train"].get("loss") or [None])[-1],
            "selected_epoch": res["train"].get("selected_epoch"),
            "train_seconds": res["train"].get("seconds"),
            "generation_diverged": met.get("generation_diverged", False),
            "training_error": res["train"].get("error"),
        })
    figs = {}
    figs["attractor"] = plotting.save(plotting.attractor_figure(
        x_test, {**gens, **gens_base}, title="Lorenz: test data vs free-running models"),
        os.path.join(out_dir, "attractor.png"))
    figs["trajectories"] = plotting.save(plotting.trajectories_figure(
        x_test, {k: v for k, v in _fresh_runs(gens, specs, results, out_dir, x_test).items()}, dt=dt),
        os.path.join(out_dir, "trajectories.png"))
    figs["power_spectra"] = plotting.save(plotting.spectra_figure(x_test, gens, dt=dt),
                                          os.path.join(out_dir, "power_spectra.png"))
    if jac:
        figs["jacobian_norms"] = plotting.save(plotting.jacobian_norms_figure(jac, dt=dt),
                                               os.path.join(out_dir, "jacobian_norms.png"))
    figs["lambda_divergence"] = plotting.save(plotting.divergence_figure(sug.estimate),
                                              os.path.join(out_dir, "lambda_divergence.png"))
    figs["loss"] = plotting.save(plotting.loss_figure(losses), os.path.join(out_dir, "loss.png"))

    say("[6/6] report")
    ratios = {}
    for m in DEMO_MODELS:
        f = next(r for r in rows if r["model"] == m and r["training"] != "clipping")
        b = next(r for r in rows if r["model"] == m and r["training"] == "clipping")
        if f["D_stsp"] is not None:
            ratios[m] = math.inf if b["D_stsp"] is None else b["D_stsp"] / f["D_stsp"]
    close = [r["model"] for r in rows if r["training"] != "clipping" and r["lambda_1_rel_error"] is not None
             and r["lambda_1_rel_error"] <= 0.30]
    checks = {
        "D_stsp_ratio_clipping_over_forced": {m: (None if not math.isfinite(v) else v) for m, v in ratios.items()},
        "forcing_beats_clipping_5x_every_model": len(ratios) == len(DEMO_MODELS) and all(v >= 5 for v in
                                                                                         ratios.values()),
        "models_with_lambda_1_within_30pct": close,
    }
    checks["all_passed"] = bool(checks["forcing_beats_clipping_5x_every_model"] and close)
    report = {
        "system": {"name": "lorenz", "sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0, "dt": dt,
                   "n_train": int(x_train.shape[0]), "n_test": int(x_test.shape[0]), "standardized": True},
        "lambda_max_data": sug.lambda_max,
        "lambda_max_fit": {"per_step": sug.estimate.per_step, "fit_range": list(sug.estimate.fit_range),
                           "r2": sug.estimate.r2, "dim": sug.estimate.dim, "lag": sug.estimate.lag},
        "tau_pred_time": sug.tau_pred,
        "tau_steps": tau,
        "reference_spectrum": {"tangent_dynamics": ref.tolist(), "literature": list(LORENZ_SPECTRUM)},
        "settings": cfg,
        "model_settings": {m: {k: per_model[m][k] for k in _PER_MODEL} for m in DEMO_MODELS},
        "seed": seed,
        "rows": rows,
        "checks": checks,
        "figures": figs,
        "wall_seconds": time.perf_counter() - t_start,
    }
    report["markdown"] = _demo_markdown(report)
    from .sweep import _write_json
    from .checkpoint import atomic_write
    _write_json(os.path.join(out_dir, "report.json"), report)
    atomic_write(os.path.join(out_dir, "report.md"), lambda fh: fh.write(report["markdown"].encode()))
    say(f"done in {report['wall_seconds']:.0f} s: {os.path.join(out_dir, 'report.md')}")
    return report


def _fresh_runs(gens, specs, results, out_dir, x_test):
    """Trajectories from the first test observation without transient (for the time-series figure)."""
    import numpy as np

    from .models import load

    out = {}
    for spec, res in zip(specs, results):
        if spec["baseline"]:
            continue
        model = load(os.path.join(out_dir, "runs", res["run_id"] + ".npz"))
        X, _ = model.generate(1500, x0=x_test[0])
        if np.isfinite(X).all():
            out[spec["model"]] = X
    return out


def _num(v, fmt="{:.3g}"):
    return "n/a" if v is None else fmt.format(v)


def _demo_markdown(rep):
    ref = rep["reference_spectrum"]["tangent_dynamics"]
    lines = [
        "# fastrnn demo: Lorenz reconstruction with sparse forcing",
        "",
        f"- lambda_max from the data (x-coordinate): **{rep['lambda_max_data']:.4f}** per time unit "
        f"(Lorenz: {LORENZ_SPECTRUM[0]})",
        f"- tau_pred = ln 2 / lambda_max = {rep['tau_pred_time']:.3f} time units = **{rep['tau_steps']} steps** "
        f"(dt = {rep['system']['dt']})",
        f"- Lorenz spectrum from its tangent dynamics: ({', '.join(f'{v:.4f}' for v in ref)}) per time unit",
        f"- training: windows of {rep['settings']['seq_len']} steps, "
        f"epochs of {rep['settings']['batches_per_epoch']} batches of {rep['settings']['batch_size']} windows, "
        "Adam with step size decaying geometrically"
        + (f" to {rep['settings']['lr_end']:g}" if rep["settings"].get("lr_end") else "")
        + (f", gradient-norm clipping at {rep['settings']['clip']:g} in every run (forced runs and baselines)"
           if rep["settings"].get("clip") else "") + "; "
        + ", ".join(f"{m}: M = {v['n_latent']}, {v['n_epochs']} epochs from lr {v['lr']:g}"
                    for m, v in rep["model_settings"].items())
        + (f"; {rep['settings'].get('dtype', 'float64')} parameters"
           + ("; in every run the parameters kept are those of the checkpoint (10 per run) whose free run best "
              "matches the last part of the *training* series in D_stsp (test data unseen)"
              if rep["settings"].get("select") else "")),
        "",
        "| model | training | D_stsp | worst D_stsp | D_H | lambda_1 (1/time) | lambda_1 error | "
        "clipping / forced D_stsp | final loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ratios = rep["checks"]["D_stsp_ratio_clipping_over_forced"]
    for r in rep["rows"]:
        forced = r["training"] != "clipping"
        ratio = ""
        if forced:
            v = ratios.get(r["model"], "missing")
            ratio = "inf (baseline diverged)" if v is None else ("n/a" if v == "missing" else f"{v:.1f}x")
        d = "diverged" if r["generation_diverged"] else _num(r["D_stsp"])
        if r.get("n_diverged"):
            worst = f"{r['n_diverged']} of {len(r['D_stsp_starts'])} runs diverged"
        else:
            worst = "" if r["generation_diverged"] else _num(r.get("D_stsp_worst"))
        loss = "non-finite gradient (reset to last finite parameters)" if r.get("training_error") else \
            _num(r["final_loss"])
        lines.append(f"| {r['model']} | {r['training']} | {d} | {worst} | {_num(r['D_H'])} | {_num(r['lambda_1'])} | "
                     f"{_num(r['lambda_1_rel_error'], '{:.0%}')} | {ratio} | {loss} |")
    c = rep["checks"]
    lines += [
        "",
        f"- sparse forcing beats the clipping baseline by >= 5x in D_stsp for every model: "
        f"**{'yes' if c['forcing_beats_clipping_5x_every_model'] else 'no'}**",
        f"- models with lambda_1 within 30 % of {LORENZ_SPECTRUM[0]}: "
        f"**{', '.join(c['models_with_lambda_1_within_30pct']) or 'none'}**",
        f"- wall time: {rep['wall_seconds']:.0f} s",
        "",
        "D_stsp: KL divergence of binned states (30 bins per dimension, fastrnn.metrics default convention); D_H: "
        "Hellinger distance of smoothed power spectra; both against the held-out data, as the median over "
        f"{rep['settings'].get('eval_starts', 1)} free runs of 10^4 steps (after a transient of "
        f"{rep['settings']['eval_transient']} steps) from observations spread over the test data; worst D_stsp: the "
        "largest of those runs (a model with a second, spurious attractor shows here); the clipping / forced ratio "
        "compares the medians. lambda_1 and the figures: the free run from the first test observation.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ parser
def _add_training_options(p, *, defaults, note="(default %(default)s)"):
    g = p.add_argument_group("training")
    g.add_argument("--n-latent", type=int, default=defaults.get("n_latent"), metavar="M",
                   help=f"latent units M {note if defaults.get('n_latent') is None else '(default %(default)s)'}")
    g.add_argument("--seq-len", type=int, default=defaults.get("seq_len"), metavar="T",
                   help="window length in steps (default %(default)s)")
    g.add_argument("--batch-size", type=int, default=defaults.get("batch_size"), help="windows per batch "
                   "(default %(default)s)")
    g.add_argument("--batches-per-epoch", type=int, default=defaults.get("batches_per_epoch"),
                   help="(default %(default)s)")
    g.add_argument("--epochs", type=int, default=defaults.get("n_epochs"), help=f"epochs {note}")
    g.add_argument("--lr", type=float, default=defaults.get("lr"), help=f"initial Adam step size {note}")
    g.add_argument("--lr-end", type=float, default=defaults.get("lr_end"),
                   help="decay the step size geometrically to this value over training (default: constant)")
    g.add_argument("--dtype", choices=("float32", "float64"), default=defaults.get("dtype", "float64"),
                   help="model precision (default %(default)s; float32 trains the tanh RNN, LSTM and GRU 2-4x "
                        "faster)")


def build_parser():
    """The argparse parser of the ``fastrnn`` command."""
    from . import __version__
    from .sweep import DEFAULT_SETTINGS

    parser = _Parser(prog="fastrnn", description="Sparsely forced BPTT for recurrent networks that reconstruct "
                     "chaotic dynamics. Data files are .npy or .csv arrays (T, N) with time along the first axis; "
                     "a system name (lorenz, rossler, duffing, mackey_glass, henon, logistic) generates data.")
    parser.add_argument("--version", action="version", version=f"fastrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="Lorenz end to end: lambda_max -> tau_pred -> four models vs the clipping "
                       "baseline -> report and figures",
                       description="Lorenz end to end: lambda_max from data -> tau_pred -> PLRNN, TanhRNN, LSTM and "
                       "GRU with sparse forcing at tau_pred and without forcing with gradient clipping -> D_stsp, "
                       "D_H, Lyapunov spectra -> report.md, report.json and figures.")
    p.add_argument("--out", default="out/demo", help="output directory (default %(default)s)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: min(2, CPUs))")
    p.add_argument("--scheduler", default=None, help="use an existing Dask scheduler (tcp://host:port)")
    p.add_argument("--fresh", action="store_true", help="retrain even if finished runs exist in --out")
    p.add_argument("--seed", type=int, default=0, help="seed of the models and window draws (default 0)")
    p.add_argument("--check", action="store_true", help="exit with status 3 unless the report's checks pass "
                   "(forcing beats clipping >= 5x in D_stsp for every model; a lambda_1 within 30 %%)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    _add_training_options(p, defaults={k: v for k, v in DEMO_SETTINGS.items()},
                          note="(default: per model, see fastrnn.cli.DEMO_MODEL_SETTINGS)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("train", help="train a model on a data file or a system",
                       description="Train a model by sparsely forced BPTT and save it (.npz, with a .json of "
                       "metadata: scaling, dt, forcing, loss history). File data are z-scored per column unless "
                       "--raw.")
    p.add_argument("data", help="data file (.npy/.csv, (T, N)) or system name (e.g. lorenz)")
    p.add_argument("--model", type=_model_name, default="PLRNN", help="PLRNN, TanhRNN, LSTM or GRU "
                   "(default PLRNN)")
    p.add_argument("--tau", default="auto", help="forcing: an interval in steps, 'auto' (ln 2 / lambda_max of the "
                   "data), 'none', 'annealed:T', 'jittered:T:D', 'alpha:A' or 'alpha:A:B' (default auto)")
    p.add_argument("--baseline", choices=("clipping", "windowing"), default=None,
                   help="train a baseline without forcing instead (clipping: gradient-norm clipping at 1; "
                   "windowing: every window starts from a zero state)")
    p.add_argument("--clip", type=float, default=None, help="clip the gradient norm to this value")
    p.add_argument("--inputs", default=None, help="file of external inputs (T, K) aligned with the data")
    p.add_argument("--dt", type=float, default=None, help="time units per sample (default: the system's, or 1)")
    p.add_argument("--n-steps", type=int, default=30000, help="samples generated for a system (default "
                   "%(default)s)")
    p.add_argument("--raw", action="store_true", help="do not z-score file data")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and window draws")
    p.add_argument("--out", default="model.npz", help="model file to write (default %(default)s)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file: resume from it if it exists, and "
                   "write it during training")
    p.add_argument("--checkpoint-every", type=int, default=1, help="epochs between checkpoints (default 1)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_training_options(p, defaults=DEFAULT_SETTINGS)
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
                       "data file (.npy/.csv: lambda_max by Rosenstein's method with automatic embedding, and "
                       "tau_pred), or a system name (its reference spectrum from the tangent dynamics).")
    p.add_argument("source", help="model .npz, data .npy/.csv, or system name")
    p.add_argument("--dt", type=float, default=None, help="time units per sample")
    p.add_argument("--n-steps", type=int, default=20000, help="steps averaged (default %(default)s)")
    p.add_argument("--transient", type=int, default=1000, help="steps discarded first (default %(default)s)")
    p.add_argument("--joint", action="store_true", help="data: embed all columns jointly (default: first column)")
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
    p.add_argument("--taus", default="5,10,25,50,100,200", help="comma-separated forcing options "
                   "(default %(default)s)")
    p.add_argument("--seeds", type=_int_list, default=[0, 1], help="comma-separated seeds (default 0,1)")
    p.add_argument("--baselines", default="", help="comma-separated baselines: clipping, windowing")
    p.add_argument("--dt", type=float, default=None, help="time units per sample")
    p.add_argument("--n-steps", type=int, default=None, help="samples generated for a system")
    p.add_argument("--n-test", type=int, default=None, help="samples held out for evaluation")
    p.add_argument("--lyapunov-steps", type=int, default=None, help="steps of each model's spectrum (0: skip)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:port); "
                   "default: a local cluster")
    p.add_argument("--workers", type=int, default=None, help="local cluster workers (default: one per CPU)")
    p.add_argument("--out", default="out/sweep", help="output directory (default %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_training_options(p, defaults=DEFAULT_SETTINGS)
    p.set_defaults(func=_cmd_sweep)
    return parser


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
        return args.func(args)
    except KeyboardInterrupt:
        print(f"fastrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, TypeError, OSError, FloatingPointError, KeyError) as exc:
        msg = str(exc).strip().replace("\n", " ") or type(exc).__name__
        if isinstance(exc, KeyError):
            msg = f"missing {msg}"
        print(f"fastrnn {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
