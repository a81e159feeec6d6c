"""tau sweeps on a real Dask cluster (scheduler and workers as processes on loopback), run specs, summaries."""
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import experiments, forcing, lyapunov, metrics
from fastrnn.experiments import selection
from fastrnn.models import model_kind
from fastrnn.systems import system_series
from fastrnn.cli import main

TINY = dict(n_latent=6, seq_len=200, batch_size=4, batches_per_epoch=3, n_epochs=2, n_steps=8000, n_test=1500,
            lyapunov_steps=500)
TAUS = (5, 10, 25, 50, 100, 200)


# ------------------------------------------------------------------ specs and options
def test_parse_forcing_forms_and_errors():
    assert forcing.parse_forcing(25) == {"kind": "tau", "tau": 25}
    assert forcing.parse_forcing("25") == forcing.parse_forcing(25.0) == forcing.parse_forcing("tau:25")
    assert forcing.parse_forcing("none") == forcing.parse_forcing(math.inf) == {"kind": "none"}
    assert forcing.parse_forcing("annealed:77") == {"kind": "annealed", "start": 1, "end": 77}
    assert forcing.parse_forcing("jittered:77:10") == {"kind": "jittered", "tau": 77, "delta": 10}
    assert forcing.parse_forcing("alpha:0.2") == {"kind": "alpha", "alpha": 0.2}
    assert forcing.parse_forcing("alpha:1:0") == {"kind": "annealed_alpha", "start": 1.0, "end": 0.0}
    for text in ("25", "none", "annealed:3:40", "jittered:20:4", "alpha:0.5", "alpha:0.9:0.1"):
        assert forcing.forcing_label(forcing.parse_forcing(text)) == text
    for bad, msg in (("0", ">= 1"), ("jittered:5:5", "delta must be < tau"), ("alpha:2", "<= 1"),
                     ("often", "invalid forcing"), (2.5, "whole number")):
        with pytest.raises(ValueError, match=msg):
            forcing.parse_forcing(bad)
    # every option builds a working fit argument
    kinds = {}
    for text in ("25", "none", "annealed:40", "jittered:20:4", "alpha:0.5", "alpha:0.9:0.1"):
        kinds[text] = sorted(forcing.fit_kwargs(forcing.parse_forcing(text), 50))
    assert kinds == {"25": ["tau"], "none": ["tau"], "annealed:40": ["schedule"], "jittered:20:4": ["schedule"],
                     "alpha:0.5": ["alpha"], "alpha:0.9:0.1": ["schedule"]}


def test_model_names_specs_and_run_ids():
    assert [model_kind(n) for n in ("plrnn", "Tanh", "RNN", "lstm", " GRU ")] == \
        ["PLRNN", "TanhRNN", "TanhRNN", "LSTM", "GRU"]
    with pytest.raises(ValueError, match="unknown model 'transformer'; choose one of PLRNN"):
        model_kind("transformer")
    a = experiments.make_spec(model="lstm", forcing_option=25, seed=1, **TINY)
    assert a["model"] == "LSTM" and a["dt"] == 0.01 and a["forcing"] == {"kind": "tau", "tau": 25}
    assert experiments.run_id(a) == experiments.run_id(json.loads(json.dumps(a)))            # stable through JSON
    assert experiments.run_id(a).startswith("LSTM_tau25_s1_")
    assert experiments.run_id(a) != experiments.run_id(experiments.make_spec(model="lstm", forcing_option=25, seed=1,
                                                           **{**TINY, "lr": 2e-3}))
    assert experiments.run_id(a) == experiments.run_id({**a, "threads": 4})                    # threads do not change results
    b = experiments.make_spec(model="gru", baseline="clipping", forcing_option=25)
    assert b["forcing"] == {"kind": "none"} and experiments.run_id(b).startswith("GRU_clipping_s0_")
    with pytest.raises(ValueError, match="unknown settings"):
        experiments.make_spec(model="gru", forcing_option=5, n_hidden=4)
    with pytest.raises(ValueError, match="unknown baseline"):
        experiments.make_spec(model="gru", baseline="dropout")
    assert a["dtype"] == "float64"                                                # the default precision
    c = experiments.make_spec(model="lstm", forcing_option=25, seed=1, **{**TINY, "dtype": np.float32})
    assert c["dtype"] == "float32" and experiments.run_id(c) != experiments.run_id(a)
    with pytest.raises(ValueError, match="dtype.*float16.*float32 or np.float64"):
        experiments.make_spec(model="gru", forcing_option=5, dtype="float16")


def test_execute_run_trains_in_the_requested_precision(tmp_path):
    spec = experiments.make_spec(model="GRU", forcing_option=10, **{**TINY, "dtype": "float32"})
    res = experiments.execute_run(spec, tmp_path)
    model = fr.load(tmp_path / "runs" / (res["run_id"] + ".npz"))
    assert model.dtype == np.float32 and all(v.dtype == np.float32 for v in model.params.values())
    assert all(math.isfinite(v) for v in res["train"]["loss"]) and res["metrics"]["D_stsp"] > 0


def test_execute_run_writes_atomically_and_is_not_repeated(tmp_path):
    spec = experiments.make_spec(model="PLRNN", forcing_option=10, **TINY)
    res = experiments.execute_run(spec, tmp_path)
    rid = experiments.run_id(spec)
    files = sorted(os.listdir(tmp_path / "runs"))
    assert files == [rid + ".json", rid + ".npz"]                 # no checkpoint, progress or temporary files left
    on_disk = json.loads((tmp_path / "runs" / (rid + ".json")).read_text())
    assert on_disk["run_id"] == rid and on_disk["spec"] == spec and len(on_disk["train"]["loss"]) == 2
    m = res["metrics"]
    assert len(m["lyapunov_per_step"]) == 6
    assert m["lambda_1"] == pytest.approx(m["lyapunov_per_step"][0] / 0.01)
    # the measures are the medians over the saved model's free runs from 8 test observations spread over the test
    # data (the first one first), after the transient
    x, _, _ = system_series("lorenz", TINY["n_steps"], rng=0)
    test = x[-TINY["n_test"]:]
    n = TINY["n_test"]
    assert spec["eval_starts"] == 8 and m["n_starts"] == 8 and m["n_diverged"] == 0
    d_stsp, d_h = [], []
    for i in (k * n // 8 for k in range(8)):
        gen, _ = fr.load(tmp_path / "runs" / (rid + ".npz")).generate(1000 + n, x0=test[i])
        d_stsp.append(metrics.state_space_divergence(test, gen[1000:]))
        d = metrics.power_spectrum_distance(test, gen[1000:])
        d_h.append(d if math.isfinite(d) else None)                # undefined (NaN) is reported as absent
    assert m["D_stsp_starts"] == d_stsp and m["D_H_starts"] == d_h
    assert m["D_stsp"] == np.median(d_stsp) > 0 and m["D_stsp_worst"] == max(d_stsp)
    defined = [d for d in d_h if d is not None]
    assert m["D_H"] == (np.median(defined) if defined else None)
    lam = lyapunov.lyapunov_spectrum(fr.load(tmp_path / "runs" / (rid + ".npz")), 500, transient=1000, x0=test[0],
                                     rng=0)
    np.testing.assert_array_equal(m["lyapunov_per_step"], lam)
    mtime = os.stat(tmp_path / "runs" / (rid + ".json")).st_mtime_ns
    again = experiments.execute_run(spec, tmp_path)
    assert again == on_disk and os.stat(tmp_path / "runs" / (rid + ".json")).st_mtime_ns == mtime
    # a worker killed after writing the result but before its clean-up leaves the checkpoint and progress file: the
    # rerun that finds the result removes them
    paths = experiments.run_paths(tmp_path, rid)
    for key in ("checkpoint", "progress"):
        with open(paths[key], "w") as fh:
            fh.write("left by a killed worker")
    assert experiments.execute_run(spec, tmp_path) == on_disk
    assert sorted(os.listdir(tmp_path / "runs")) == files


class _StaysPut:
    """A stand-in model whose free run stays at its initial observation (and blows up where x0[0] > ``blow``)."""

    def __init__(self, blow=np.inf):
        self.blow = blow

    def generate(self, n, x0, inputs=None):
        X = np.tile(np.asarray(x0, dtype=float), (n, 1))
        if x0[0] > self.blow:
            X[-1] = np.inf
        return X, None


def test_evaluation_medians_over_starts_spread_over_the_test_data():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(800, 2)), axis=0)                # every start sees a different state
    m = experiments.evaluate_model(_StaysPut(), x, transient=10, lyapunov_steps=0, n_starts=5)
    per = [metrics.state_space_divergence(x, np.tile(x[k * 800 // 5], (800, 1))) for k in range(5)]
    assert len(set(per)) > 1 and m["D_stsp_starts"] == per and m["n_starts"] == 5 and m["n_diverged"] == 0
    assert m["D_stsp"] == np.median(per) and m["D_stsp_worst"] == max(per) and not m["generation_diverged"]
    one = experiments.evaluate_model(_StaysPut(), x, transient=10, lyapunov_steps=0, n_starts=1)
    assert one["D_stsp_starts"] == per[:1] and one["D_stsp"] == per[0]
    # runs that leave the data count as infinitely far: two of five shift the median, half or more end it
    order = np.sort(x[[k * 800 // 5 for k in range(5)], 0])
    m = experiments.evaluate_model(_StaysPut(blow=order[2]), x, transient=10, lyapunov_steps=0, n_starts=5)
    assert m["n_diverged"] == 2 and m["D_stsp_starts"].count(None) == 2 and not m["generation_diverged"]
    finite = sorted(d for d in m["D_stsp_starts"] if d is not None)
    assert m["D_stsp"] == finite[-1] and m["D_stsp_worst"] is None
    m = experiments.evaluate_model(_StaysPut(blow=order[1]), x, transient=10, lyapunov_steps=0, n_starts=5)
    assert m["n_diverged"] == 3 and m["generation_diverged"] and "D_stsp" not in m
    with pytest.raises(ValueError, match="n_starts"):
        experiments.evaluate_model(_StaysPut(), x, n_starts=0)


def test_selection_keeps_the_best_checkpointed_parameters_and_resumes_exactly(tmp_path, monkeypatch):
    spec = experiments.make_spec(model="PLRNN", forcing_option=10, **{**TINY, "n_epochs": 10, "select": True})
    res = experiments.execute_run(spec, tmp_path / "a")
    k, best = res["train"]["selected_epoch"], res["train"]["selection_D_stsp"]
    assert 1 <= k <= 10 and math.isfinite(best)
    assert sorted(os.listdir(tmp_path / "a" / "runs")) == sorted(res["run_id"] + e for e in (".json", ".npz"))
    chosen = fr.load(tmp_path / "a" / "runs" / (res["run_id"] + ".npz"))
    # the kept parameters are those after epoch k: an unselected run of k epochs ends there (no schedule depends on
    # the run's length here) and scores exactly the recorded value
    plain = experiments.make_spec(model="PLRNN", forcing_option=10, **{**TINY, "n_epochs": k})
    res_k = experiments.execute_run(plain, tmp_path / "b")
    at_k = fr.load(tmp_path / "b" / "runs" / (res_k["run_id"] + ".npz"))
    for name in chosen.params:
        np.testing.assert_array_equal(chosen.params[name], at_k.params[name])
    x, _, _ = system_series("lorenz", TINY["n_steps"], rng=0)
    sel = experiments.Selection(str(tmp_path / "unused.npz"), x[:-TINY["n_test"]], None, TINY["n_test"], 1000)
    assert len(sel.runs) == 16 and sel.length == 3250 and sel.transient == 1000    # half the 6500 training samples
    ref = x[-TINY["n_test"] - 3250:-TINY["n_test"]]                      # the last 3250 training samples
    starts = np.linspace(0, 3250, 16).astype(int)                        # 0 .. T - L
    expect = []
    for i in starts:
        gen, _ = at_k.generate(3250, x0=x[i])
        expect.append(metrics.state_space_divergence(ref, gen[1000:]))
    assert sel.score(at_k) == best == max(expect)
    # interrupted in the 6th check, then executed again: the same selection and parameters as without interruption
    calls = {"n": 0}
    score = selection.selection_score

    def interrupting(*args):
        calls["n"] += 1
        if calls["n"] == 83:                                      # in the 6th check (16 scores per check)
            raise KeyboardInterrupt
        return score(*args)

    monkeypatch.setattr(selection, "selection_score", interrupting)
    with pytest.raises(KeyboardInterrupt):
        experiments.execute_run(spec, tmp_path / "c")
    monkeypatch.setattr(selection, "selection_score", score)
    rid = res["run_id"]
    assert os.path.exists(tmp_path / "c" / "runs" / (rid + ".best.npz"))
    again = experiments.execute_run(spec, tmp_path / "c")
    assert (again["train"]["selected_epoch"], again["train"]["selection_D_stsp"]) == (k, best)
    resumed = fr.load(tmp_path / "c" / "runs" / (rid + ".npz"))
    for name in chosen.params:
        np.testing.assert_array_equal(resumed.params[name], chosen.params[name])


def test_summarize_means_and_standard_deviations():
    def res(model, tau, seed, d, h, lam, baseline=None):
        spec = experiments.make_spec(model=model, forcing_option=tau, baseline=baseline, seed=seed)
        return {"run_id": experiments.run_id(spec), "spec": spec, "train": {"loss": [1.0, 0.5]},
                "metrics": {"D_stsp": d, "D_H": h, "lambda_1": lam}}
    results = [res("PLRNN", 25, 0, 1.0, 0.1, 0.8), res("PLRNN", 25, 1, 3.0, 0.3, 1.0),
               res("PLRNN", 5, 0, 2.0, 0.2, 0.5), res("PLRNN", 5, 1, None, None, None),
               res("LSTM", 25, 0, 4.0, 0.4, 0.1, baseline="clipping")]
    table, rows = experiments.summarize(results)
    by = {(r["model"], r["forcing"]): r for r in rows}
    assert [(r["model"], r["forcing"]) for r in rows] == [("LSTM", "clipping"), ("PLRNN", "5"), ("PLRNN", "25")]
    r = by[("PLRNN", "25")]
    assert (r["runs"], r["D_stsp"], r["D_H"], r["lambda_1"]) == (2, 2.0, pytest.approx(0.2), pytest.approx(0.9))
    assert r["D_stsp_sd"] == pytest.approx(math.sqrt(2.0)) and r["tau"] == 25
    assert by[("PLRNN", "5")]["D_stsp"] == 2.0 and by[("PLRNN", "5")]["runs"] == 2
    assert by[("LSTM", "clipping")]["tau"] is None
    assert "| PLRNN | 25 | 2 | 2 ± 1.4 | 0.2 ± 0.14 | 0.9 ± 0.14 | 0.5 | 0 |" in table


# ------------------------------------------------------------------ a real cluster on loopback
def _start(args, env, log):
    return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.fixture
def loopback_cluster(tmp_path):
    """A Dask scheduler and two workers (no nanny, so a killed worker stays dead) as separate processes."""
    from distributed import Client

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    sched_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "w")
    procs = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], env, log)]
    try:
        t0 = time.time()
        while not sched_file.exists():
            assert time.time() - t0 < 30, "the scheduler did not start"
            time.sleep(0.1)
        workers = [_start(["distributed.cli.dask_worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
                           "--no-nanny", "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{i}"], env, log)
                   for i in range(2)]
        procs += workers
        address = json.loads(sched_file.read_text())["address"]
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
            pids = c.run(os.getpid)
        yield address, workers, pids
    finally:
        for p in procs[::-1]:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        log.close()


def test_sweep_survives_a_killed_worker_and_rerun_skips_finished_runs(tmp_path, loopback_cluster, capsys):
    address, workers, pids = loopback_cluster
    # runs long enough (about 0.2 s each) that the killer below strikes while runs are still queued
    settings = {**TINY, "n_epochs": 6}
    out = tmp_path / "sweep"
    victim = workers[1]
    victim_pid = victim.pid
    killed = {}

    def by_victim(files):
        for f in files:
            try:
                if json.loads((out / "runs" / f).read_text())["host"].endswith(f":{victim_pid}"):
                    return True
            except (OSError, ValueError):
                pass
        return False

    def killer():
        runs = out / "runs"
        t0 = time.time()
        while time.time() - t0 < 120:
            done = [f for f in os.listdir(runs) if f.endswith(".json")] if runs.exists() else []
            if len(done) >= 4 and by_victim(done):          # the victim has worked, and is busy with more
                killed["after"] = len(done)
                os.kill(victim_pid, signal.SIGKILL)
                victim.wait(10)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=killer)
    thread.start()
    res = experiments.run_sweep(out, data="lorenz", models=("PLRNN", "LSTM"), forcings=TAUS, seeds=(0, 1),
                          scheduler=address, progress=False, **settings)
    thread.join()
    assert killed and victim.returncode == -signal.SIGKILL         # killed midway (after 4 of 24 runs) ...
    assert killed["after"] < 24
    assert res.failed == [] and res.executed == 24 and res.skipped == 0 and len(res.results) == 24  # ... completed
    hosts = {r["host"].rsplit(":", 1)[1] for r in res.results}
    assert str(victim_pid) in hosts and len(hosts) == 2            # both workers did runs before the kill
    runs = sorted(os.listdir(out / "runs"))
    assert len([f for f in runs if f.endswith(".json")]) == 24 and len([f for f in runs if f.endswith(".npz")]) == 24
    assert not [f for f in runs if f.endswith((".tmp", ".progress")) or ".ckpt" in f]
    # summary table, JSON and figure
    summary = json.loads((out / "summary.json").read_text())
    assert {(r["model"], r["tau"]) for r in summary["rows"]} == {(m, t) for m in ("PLRNN", "LSTM") for t in TAUS}
    assert all(r["runs"] == 2 for r in summary["rows"])
    assert res.tau_steps == pytest.approx(76.5, rel=0.4)         # ln 2 / 0.9056 / 0.01 steps, from the data
    assert (out / "tau_sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "summary.md").read_text()
    assert md.count("| PLRNN |") == 6 and md.count("| LSTM |") == 6 and "tau_pred" in md
    # a run does not depend on the worker that ran it: recompute one here and compare
    r0 = res.results[0]
    local = experiments.execute_run(r0["spec"], tmp_path / "local")
    assert local["train"]["loss"] == r0["train"]["loss"] and local["metrics"] == r0["metrics"]

    # rerun: everything is skipped and nothing is rewritten
    mtimes = {f: os.stat(out / "runs" / f).st_mtime_ns for f in runs}
    again = experiments.run_sweep(out, data="lorenz", models=("PLRNN", "LSTM"), forcings=TAUS, seeds=(0, 1),
                            scheduler=address, progress=False, **settings)
    assert (again.executed, again.skipped, len(again.results)) == (0, 24, 24)
    assert {f: os.stat(out / "runs" / f).st_mtime_ns for f in runs} == mtimes
    # an interrupted sweep: two results missing -> only those two run again (on the surviving worker), via the CLI
    for r in res.results[:2]:
        os.unlink(out / "runs" / (r["run_id"] + ".json"))
    argv = ["sweep", "--models", "PLRNN,LSTM", "--taus", ",".join(map(str, TAUS)), "--seeds", "0,1",
            "--scheduler", address, "--out", str(out), "--quiet", "--n-latent", "6", "--seq-len", "200",
            "--batch-size", "4", "--batches-per-epoch", "3", "--epochs", "6", "--n-steps", "8000", "--n-test",
            "1500", "--lyapunov-steps", "500"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| PLRNN | 5 | 2 |" in printed
    redone = [json.loads((out / "runs" / (r["run_id"] + ".json")).read_text()) for r in res.results[:2]]
    assert [r["train"]["loss"] for r in redone] == [r["train"]["loss"] for r in res.results[:2]]
    assert all(r["host"].rsplit(":", 1)[1] != str(victim_pid) for r in redone)


def test_unreachable_scheduler_is_one_clear_error(tmp_path, capsys):
    code = main(["sweep", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path), "--quiet", "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err[0]


def test_execute_run_with_adaptive_gtf_records_alpha(tmp_path):
    spec = experiments.make_spec(model="ShPLRNN", forcing_option="agtf:0.9:2", **TINY)
    assert spec["forcing"] == {"kind": "agtf", "gamma": 0.9, "every": 2} and "agtf" in experiments.run_id(spec)
    res = experiments.execute_run(spec, tmp_path)
    alpha = res["train"]["alpha"]
    assert len(alpha) == len(res["train"]["loss"]) and alpha[0] < 1.0 and alpha[-1] <= alpha[0]
