"""The demo: the whole workflow on Lorenz, from the data's lambda_max to a report of four reconstructed models.

:func:`run_demo` (``fastrnn demo``): Lorenz data -> lambda_max from the data -> tau_pred -> PLRNN, tanh RNN, LSTM and
GRU trained with sparse forcing at tau_pred and a clipping baseline without forcing -> D_stsp, D_H and Lyapunov
spectra -> ``report.json``, ``report.md`` and figures.

The demo's machinery is public here and shared with the demo on a measured series
(:func:`fastrnn.experiments.run_data_demo`, :mod:`fastrnn.experiments.demo_data`): :func:`demo_config` (settings),
:func:`demo_specs` and :func:`train_demo` (the runs on Dask), :func:`demo_rows` (a report row per run),
:func:`demo_figures`, :func:`demo_checks`, :func:`demo_training_line` and :func:`demo_table` (the report).
"""
from __future__ import annotations

import math
import os
import sys
import time


from .. import lyapunov, systems
from ..io import write_json, write_text
from ..models import load
from ..systems import system_series
from ..timeseries import suggest_tau
from .cluster import run_specs
from .run import run_paths
from .spec import make_spec, run_id

__all__ = ["DEMO_MODELS", "DEMO_MODEL_SETTINGS", "DEMO_SETTINGS", "LORENZ_SPECTRUM", "demo_budget_line", "demo_checks",
           "demo_config", "demo_figures", "demo_fresh_runs", "demo_rows", "demo_specs", "demo_table",
           "demo_training_line", "run_demo", "train_demo", "write_report"]

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
       difference; on a Dask local cluster (:func:`fastrnn.experiments.run_specs`). Budgets: :data:`DEMO_SETTINGS`
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
    t_start = time.perf_counter()
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    cfg, per_model = demo_config(settings)
    dt = 0.01
    say = lambda msg: None if quiet else print(f"fastrnn demo: {msg}", file=sys.stderr, flush=True)  # noqa: E731

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
        f"with gradient clipping; {demo_budget_line(per_model)})")
    specs = demo_specs("lorenz", tau, per_model, seed=seed, dt=dt)
    results = train_demo(specs, out_dir, fresh=fresh, scheduler=scheduler, n_workers=n_workers, quiet=quiet,
                         say=say)

    say("[5/6] figures")
    rows, runs = demo_rows(specs, results, out_dir, x_test, tau=tau, dt=dt, eval_transient=cfg["eval_transient"],
                           lambda_ref=LORENZ_SPECTRUM[0])
    figs = demo_figures(out_dir, x_test, runs, sug.estimate, dt=dt,
                        title="Lorenz: test data vs free-running models",
                        fresh=demo_fresh_runs(specs, results, out_dir, x_test))

    say("[6/6] report")
    checks = demo_checks(rows)
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
    return write_report(report, _demo_markdown(report), out_dir, say)


def write_report(report, markdown, out_dir, say):
    """Store ``markdown`` in ``report["markdown"]``, write ``report.json`` and ``report.md`` to ``out_dir`` (both
    atomically), say where, and return the report (the last step of both demos)."""
    report["markdown"] = markdown
    write_json(os.path.join(out_dir, "report.json"), report)
    write_text(os.path.join(out_dir, "report.md"), markdown)
    say(f"done in {report['wall_seconds']:.0f} s: {os.path.join(out_dir, 'report.md')}")
    return report


def demo_config(settings, model_settings=None):
    """The settings of a demo: (common settings, {model: its run settings}).

    Parameters
    ----------
    settings : dict
        Overrides of :data:`DEMO_SETTINGS`; ``n_latent``, ``n_epochs`` and ``lr`` override every model's.
    model_settings : dict, optional
        Per-model size and budget (default :data:`DEMO_MODEL_SETTINGS`).
    """
    model_settings = DEMO_MODEL_SETTINGS if model_settings is None else model_settings
    cfg = dict(DEMO_SETTINGS)
    cfg.update({k: v for k, v in settings.items() if k not in _PER_MODEL})
    per_model = {m: {**cfg, **model_settings[m], **{k: v for k, v in settings.items() if k in _PER_MODEL}}
                 for m in DEMO_MODELS}
    return cfg, per_model


def demo_budget_line(per_model) -> str:
    """The models' sizes and epochs, for progress messages."""
    return ", ".join(f"{m} M = {per_model[m]['n_latent']}, {per_model[m]['n_epochs']} epochs" for m in DEMO_MODELS)


def demo_specs(data, tau, per_model, *, seed, dt):
    """The demo's run specs: each model forced every ``tau`` steps and as the clipping baseline, in that order."""
    specs = []
    for m in DEMO_MODELS:
        specs.append(make_spec(data=data, model=m, forcing_option=tau, seed=seed, dt=dt, **per_model[m]))
        specs.append(make_spec(data=data, model=m, baseline="clipping", seed=seed, dt=dt, **per_model[m]))
    return specs


def train_demo(specs, out_dir, *, fresh, scheduler, n_workers, quiet, say, data=None):
    """Execute the demo's runs on Dask (finished ones reused unless ``fresh``); their results in spec order.

    ``data``: the series (train part then test part) of specs whose data is not a system.
    """
    if fresh:
        for s in specs:
            p = run_paths(out_dir, run_id(s))["result"]
            if os.path.exists(p):
                os.unlink(p)
    results, skipped, _, failed = run_specs(specs, out_dir, data=data, scheduler=scheduler,
                                            n_workers=n_workers or min(2, os.cpu_count() or 1),
                                            progress=not quiet, desc="demo training")
    if failed:
        raise RuntimeError("demo runs failed: " + "; ".join(f"{rid}: {err}" for rid, err in failed))
    if skipped:
        say(f"      {skipped} run(s) reused from {os.path.join(out_dir, 'runs')} (pass --fresh to redo them)")
    return results


def demo_rows(specs, results, out_dir, x_test, *, tau, dt, eval_transient, lambda_ref):
    """One report row per run, and the free runs behind the figures.

    ``lambda_ref`` (per time unit) is what each model's lambda_1 is compared with (``lambda_1_rel_error``).

    Returns
    -------
    rows : list of dict
    runs : dict
        ``gens`` and ``gens_base`` (label -> free run after the transient, None if it diverged), ``jac`` (model ->
        Jacobian-product norms of the forced run), ``losses`` (label -> loss history).
    """
    rows, gens, gens_base, jac, losses = [], {}, {}, {}, {}
    for spec, res in zip(specs, results):
        model = load(run_paths(out_dir, res["run_id"])["model"])
        met = res["metrics"]
        kind = "clipping" if spec["baseline"] else f"forcing tau={tau}"
        label = f"{spec['model']} ({'clipping' if spec['baseline'] else 'forced'})"
        losses[label] = res["train"].get("loss", [])
        Xg = None
        if not met.get("generation_diverged"):
            try:
                Xg, _ = model.generate(eval_transient + x_test.shape[0], x0=x_test[0])
                Xg = Xg[eval_transient:]
            except lyapunov.OrbitDivergedError:       # this start diverged (fewer than half did)
                Xg = None
        (gens_base if spec["baseline"] else gens)[label] = Xg
        lam = met.get("lambda_1")
        if not spec["baseline"]:
            try:
                lags, logn = lyapunov.jacobian_norms(model, 3000, transient=eval_transient, x0=x_test[0])
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
            "lambda_1_rel_error": None if lam is None else abs(lam - lambda_ref) / lambda_ref,
            "spectrum_top3": None if spectrum is None else [None if v is None else v / dt for v in spectrum[:3]],
            "final_loss": (res["train"].get("loss") or [None])[-1],
            "selected_epoch": res["train"].get("selected_epoch"),
            "train_seconds": res["train"].get("seconds"),
            "generation_diverged": met.get("generation_diverged", False),
            "training_error": res["train"].get("error"),
        })
    return rows, {"gens": gens, "gens_base": gens_base, "jac": jac, "losses": losses}


def demo_figures(out_dir, x_test, runs, estimate, *, dt, title, fresh, columns=None):
    """The demo's figures in ``out_dir`` (attractor, trajectories, power spectra, Jacobian norms, the lambda_max
    divergence curves, loss); their paths by name. ``columns``: the observed columns shown in the trajectory
    figure (default all)."""
    from .. import plotting   # matplotlib: imported only when the demo runs

    gens, gens_base, jac, losses = runs["gens"], runs["gens_base"], runs["jac"], runs["losses"]
    cut = (lambda a: a) if columns is None else (lambda a: a[:, :columns])  # noqa: E731
    figs = {}
    figs["attractor"] = plotting.save(plotting.attractor_figure(x_test, {**gens, **gens_base}, title=title),
                                      os.path.join(out_dir, "attractor.png"))
    figs["trajectories"] = plotting.save(plotting.trajectories_figure(
        cut(x_test), {k: cut(v) for k, v in fresh.items()}, dt=dt), os.path.join(out_dir, "trajectories.png"))
    figs["power_spectra"] = plotting.save(plotting.spectra_figure(x_test, gens, dt=dt),
                                          os.path.join(out_dir, "power_spectra.png"))
    if jac:
        figs["jacobian_norms"] = plotting.save(plotting.jacobian_norms_figure(jac, dt=dt),
                                               os.path.join(out_dir, "jacobian_norms.png"))
    figs["lambda_divergence"] = plotting.save(plotting.divergence_figure(estimate),
                                              os.path.join(out_dir, "lambda_divergence.png"))
    figs["loss"] = plotting.save(plotting.loss_figure(losses), os.path.join(out_dir, "loss.png"))
    return figs


def demo_checks(rows) -> dict:
    """The demo's checks: clipping / forced D_stsp per model, forcing >= 5x better for every model, the models whose
    lambda_1 is within 30 % of the reference, and ``all_passed`` (the first two)."""
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
    return checks


def demo_fresh_runs(specs, results, out_dir, x_test):
    """Trajectories from the first test observation without transient (for the time-series figure)."""
    out = {}
    for spec, res in zip(specs, results):
        if spec["baseline"]:
            continue
        model = load(run_paths(out_dir, res["run_id"])["model"])
        X, _ = model.generate(1500, x0=x_test[0], on_divergence="truncate")
        if len(X) == 1500:
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
        demo_training_line(rep),
    ]
    return "\n".join(lines + demo_table(rep, f"{LORENZ_SPECTRUM[0]}"))


def demo_training_line(rep) -> str:
    """The markdown line describing the demo's training settings."""
    return (
        f"- training: windows of {rep['settings']['seq_len']} steps, "
        f"epochs of {rep['settings']['batches_per_epoch']} batches of {rep['settings']['batch_size']} windows, "
        "Adam with step size decaying geometrically"
        + (f" to {rep['settings']['lr_end']:g}" if rep["settings"].get("lr_end") else "")
        + (f", gradient-norm clipping at {rep['settings']['clip']:g} in every run (forced runs and baselines)"
           if rep["settings"].get("clip") else "") + "; "
        + ", ".join(f"{m}: M = {v['n_latent']}, {v['n_epochs']} epochs from lr {v['lr']:g}"
                    for m, v in rep["model_settings"].items())
        + (f"; {rep['settings'].get('dtype', 'float64')} parameters"
           + _selection_text(rep["settings"].get("select"))))


def _selection_text(select) -> str:
    """The report's words for a run's checkpoint selection (``spec["select"]``)."""
    if not select:
        return ""
    if select is True:
        return ("; in every run the parameters kept are those of the checkpoint (10 per run) whose free run best "
                "matches the last part of the *training* series in D_stsp (test data unseen)")
    return (f"; in every run the parameters kept are those of the checkpoint (10 per run) whose free runs best match "
            f"the validation part, the last {select:.0%} of the training segment, in D_stsp (not trained on; test "
            f"data unseen)")


def demo_table(rep, lambda_ref, *, run_steps="10^4", n_obs=3) -> list:
    """The markdown lines from the results table to the end of a demo report; ``lambda_ref`` is the text of the
    lambda_1 reference (e.g. ``"0.9056"``), ``run_steps`` the text of the free runs' length, ``n_obs`` the number of
    observed columns (D_stsp is binned for up to 3, a Gaussian-mixture estimate above)."""
    lines = [
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
        f"- models with lambda_1 within 30 % of {lambda_ref}: "
        f"**{', '.join(c['models_with_lambda_1_within_30pct']) or 'none'}**",
        f"- wall time: {rep['wall_seconds']:.0f} s",
        "",
        ("D_stsp: KL divergence of binned states (30 bins per dimension, fastrnn.metrics default convention); D_H: "
         if n_obs <= 3 else "D_stsp: KL divergence of Gaussian mixtures over the visited states (fastrnn.metrics "
         f"default convention for {n_obs} dimensions); D_H: ")
        + "Hellinger distance of smoothed power spectra; both against the held-out data, as the median over "
        f"{rep['settings'].get('eval_starts', 1)} free runs of {run_steps} steps (after a transient of "
        f"{rep['settings']['eval_transient']} steps) from observations spread over the test data; worst D_stsp: the "
        "largest of those runs (a model with a second, spurious attractor shows here); the clipping / forced ratio "
        "compares the medians. lambda_1 and the figures: the free run from the first test observation.",
        "",
    ]
    return lines
