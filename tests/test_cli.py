"""The fastrnn command as a new user meets it: help texts, one-line errors, train -> evaluate -> lyapunov, resume."""
import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import systems

from conftest import run_cli as run

SMALL = ["--n-latent", "6", "--seq-len", "40", "--batch-size", "4", "--batches-per-epoch", "3", "--quiet"]


@pytest.fixture
def lorenz_csv(tmp_path):
    x = systems.lorenz(4000, rng=0)
    path = tmp_path / "lorenz.csv"
    np.savetxt(path, x, delimiter=",", header="x,y,z", comments="")
    return path, x


def test_help_texts(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for cmd in ("demo", "train", "evaluate", "lyapunov", "sweep"):
        assert cmd in out
    for cmd, words in (("demo", ["--out", "--workers", "--fresh", "--quiet", "tau_pred"]),
                       ("train", ["--model", "--tau", "auto", "--baseline", "--checkpoint", "--inputs", ".csv"]),
                       ("evaluate", ["D_stsp", "--inputs", "--json"]),
                       ("lyapunov", ["model file", "lambda_max", "--plot"]),
                       ("sweep", ["--scheduler", "tcp://", "--taus", "--seeds", "skips finished runs"])):
        code, out, _ = run([cmd, "--help"], capsys)
        text = " ".join(out.split())
        assert code == 0 and all(w in text for w in words), (cmd, text)
    code, _, err = run([], capsys)
    assert code == 2


def test_python_dash_m_runs_the_command():
    r = subprocess.run([sys.executable, "-m", "fastrnn", "train", "no/such/file.npy"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "fastrnn train: error: data file 'no/such/file.npy' not found; give a .npy or .csv file (time along the "
        "first axis)"]


@pytest.mark.parametrize("case", ["missing", "garbage", "text", "3d", "transposed", "nan", "unknown_ext", "empty"])
def test_bad_data_files_give_one_clear_line(tmp_path, capsys, case):
    path = tmp_path / {"garbage": "x.npy", "text": "x.csv", "3d": "x.npy", "transposed": "x.npy", "nan": "x.csv",
                       "unknown_ext": "x.parquet", "missing": "missing.npy", "empty": "x.csv"}[case]
    if case == "garbage":
        path.write_bytes(b"\x00\x01 not numpy")
    elif case == "text":
        path.write_text("a,b\nc,d\n")
    elif case == "3d":
        np.save(path, np.zeros((100, 3, 2)))
    elif case == "transposed":
        np.save(path, np.zeros((3, 1000)))
    elif case == "nan":
        path.write_text("1,2\n3,nan\n4,5\n")
    elif case == "unknown_ext":
        path.write_text("1,2\n")
    elif case == "empty":
        path.write_text("")
    expected = {"missing": "not found", "garbage": "cannot read data file", "text": "no column holds numbers",
                "3d": "shape (100, 3, 2); expected (T, N)", "transposed": "transpose it",
                "nan": "NaN or infinite", "unknown_ext": "unknown extension '.parquet'",
                "empty": "holds no data"}[case]
    code, out, err = run(["train", str(path)] + SMALL, capsys)
    assert code == 1 and out == ""
    assert len(err) == 1 and err[0].startswith("fastrnn train: error: ") and expected in err[0], err


def test_unknown_model_and_bad_options_give_one_clear_line(capsys):
    code, _, err = run(["train", "lorenz", "--model", "transformer"], capsys)
    assert code == 2 and len(err) == 1
    assert "unknown model 'transformer'; choose one of PLRNN, TanhRNN, LSTM, GRU" in err[0]
    assert err[0].startswith("fastrnn train: error: argument --model")
    for argv, msg in ((["train", "lorenz", "--epochs", "0"], "--epochs must be >= 1"),
                      (["train", "lorenz", "--tau", "often"] + SMALL + ["--n-steps", "3000"], "invalid forcing"),
                      (["train", "lorenz", "--baseline", "dropout"], "unknown baseline 'dropout'"),
                      (["train", "lorenz", "--baseline", "truncated"], "needs its cut interval in steps"),
                      (["train", "not-a-system"], "neither a data file nor a system"),
                      (["sweep", "--seeds", "a,b"], "comma-separated integers"),
                      (["sweep", "--models", "PLRNN,foo", "--quiet"], "unknown model 'foo'"),
                      (["evaluate", "nothing.npz", "lorenz"], "model file 'nothing.npz' not found")):
        code, _, err = run(argv, capsys)
        assert code in (1, 2) and len(err) == 1 and msg in err[0], (argv, err)


def test_train_evaluate_lyapunov_on_a_csv(tmp_path, capsys, lorenz_csv):
    path, x = lorenz_csv
    model_path = tmp_path / "m" / "gru.npz"
    code, _, err = run(["train", str(path), "--model", "gru", "--tau", "10", "--epochs", "3", "--dt", "0.01",
                        "--out", str(model_path)] + SMALL, capsys)
    assert code == 0 and err == []
    model = fr.load(model_path)
    assert model.kind == "GRU" and model.n_latent == 6
    meta = json.loads((tmp_path / "m" / "gru.json").read_text())
    np.testing.assert_allclose(meta["scaling"]["mean"], x.mean(axis=0))
    np.testing.assert_allclose(meta["scaling"]["std"], x.std(axis=0))
    assert meta["forcing"] == "10" and meta["dt"] == 0.01 and len(meta["history"]["loss"]) == 3

    # evaluate scales the data like the training data (from the metadata) and writes JSON
    code, out, err = run(["evaluate", str(model_path), str(path), "--json", str(tmp_path / "ev.json"),
                          "--lyapunov-steps", "2000", "--quiet"], capsys)
    assert code == 0 and err == []
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["dt"] == 0.01 and not ev["generation_diverged"] and ev["D_stsp"] > 0
    assert ev["n_starts"] == 8 and ev["D_stsp"] == np.median(ev["D_stsp_starts"])
    assert len(ev["lyapunov_per_step"]) == 6 and ev["lambda_1"] == pytest.approx(ev["lyapunov_per_step"][0] / 0.01)
    code, out, err = run(["evaluate", str(model_path), str(path), "--starts", "1", "--lyapunov-steps", "0",
                          "--quiet"], capsys)
    one = json.loads(out)
    assert code == 0 and one["n_starts"] == 1 and one["D_stsp_starts"] == ev["D_stsp_starts"][:1]
    code, _, err = run(["evaluate", str(model_path), str(path), "--starts", "0"], capsys)
    assert code == 1 and len(err) == 1 and "--starts must be at least 1, got 0" in err[0]
    code, _, err = run(["evaluate", str(model_path), "henon"], capsys)
    assert code == 1 and len(err) == 1 and "the data have 2 columns but the model observes 3" in err[0]

    # lyapunov of the saved model (per step and per time unit), of the data, and of a system
    code, out, _ = run(["lyapunov", str(model_path), "--n-steps", "3000", "--quiet"], capsys)
    res = json.loads(out)
    assert code == 0 and len(res["per_step"]) == 6
    np.testing.assert_allclose(res["per_time_unit"], np.array(res["per_step"]) / 0.01)
    code, out, _ = run(["lyapunov", str(path), "--dt", "0.01", "--quiet", "--plot", str(tmp_path / "div.png")],
                       capsys)
    res = json.loads(out)
    assert code == 0 and res["lambda_max"] == pytest.approx(0.9056, rel=0.25)
    assert res["tau_steps"] == round(math.log(2) / res["lambda_max"] / 0.01)
    assert (tmp_path / "div.png").read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(["lyapunov", str(path), "--dt", "0.01", "--quiet", "--transverse"], capsys)
    across = json.loads(out)
    assert code == 0 and across["transverse"] and not res["transverse"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = fr.suggest_tau(np.loadtxt(path, delimiter=",", skiprows=1)[:, 0], dt=0.01, transverse=True)
    assert across["lambda_max"] == direct.estimate.lambda_max != res["lambda_max"]
    code, out, _ = run(["lyapunov", "mackey_glass", "--n-steps", "20000", "--quiet"], capsys)
    assert code == 0 and json.loads(out)["exponents"][0] == pytest.approx(0.0051, rel=0.15)
    code, out, _ = run(["lyapunov", "henon", "--n-steps", "20000", "--quiet"], capsys)
    res = json.loads(out)
    assert code == 0 and res["units"] == "per iteration"
    np.testing.assert_allclose(res["exponents"], [0.42, -1.62], atol=0.02)


def test_train_auto_tau_and_baselines(tmp_path, capsys):
    code, _, err = run(["train", "lorenz", "--n-steps", "6000", "--tau", "auto", "--epochs", "1", "--out",
                        str(tmp_path / "a.npz"), "--n-latent", "6", "--seq-len", "100", "--batch-size", "4",
                        "--batches-per-epoch", "2"], capsys)
    assert code == 0
    chosen = [line for line in err if "-> tau =" in line]
    tau = int(chosen[0].split("-> tau =")[1].split()[0])
    assert 50 <= tau <= 110                                        # ln 2 / 0.9056 / 0.01 = 76.5 steps
    assert json.loads((tmp_path / "a.json").read_text())["forcing"] == str(tau)
    for base in ("clipping", "windowing", "truncated:20", "value_clipping:10"):
        out = tmp_path / f"{base.replace(':', '_')}.npz"
        code, _, err = run(["train", "lorenz", "--n-steps", "3000", "--baseline", base, "--epochs", "1", "--out",
                            str(out)] + SMALL, capsys)
        meta = json.loads(out.with_suffix(".json").read_text())
        assert code == 0 and meta["baseline"] == base and meta["forcing"] == "none"


def test_train_resumes_from_a_checkpoint(tmp_path, capsys, lorenz_csv):
    path, _ = lorenz_csv
    common = ["train", str(path), "--tau", "8", "--seed", "3"] + SMALL
    code, _, _ = run(common + ["--epochs", "4", "--out", str(tmp_path / "full.npz")], capsys)
    assert code == 0
    ck = str(tmp_path / "run.ckpt.npz")
    assert run(common + ["--epochs", "2", "--out", str(tmp_path / "half.npz"), "--checkpoint", ck], capsys)[0] == 0
    assert run(common + ["--epochs", "4", "--out", str(tmp_path / "resumed.npz"), "--checkpoint", ck], capsys)[0] == 0
    full, resumed = fr.load(tmp_path / "full.npz"), fr.load(tmp_path / "resumed.npz")
    for name, value in full.params.items():
        np.testing.assert_array_equal(resumed.params[name], value)
    h_full = json.loads((tmp_path / "full.json").read_text())["history"]["loss"]
    h_res = json.loads((tmp_path / "resumed.json").read_text())["history"]["loss"]
    assert h_res == h_full and len(h_full) == 4


def test_inputs_file_for_a_driven_system(tmp_path, capsys):
    x, s = systems.duffing(3000, rng=0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "s_short.npy", s[:-5])
    code, _, err = run(["train", str(tmp_path / "x.npy"), "--inputs", str(tmp_path / "s_short.npy"), "--tau", "5",
                        "--epochs", "1"] + SMALL, capsys)
    assert code == 1 and len(err) == 1 and "aligned" in err[0]
    code, _, _ = run(["train", str(tmp_path / "x.npy"), "--inputs", str(tmp_path / "s.npy"), "--tau", "5",
                      "--epochs", "1", "--out", str(tmp_path / "d.npz"), "--dt", "0.05"] + SMALL, capsys)
    assert code == 0 and fr.load(tmp_path / "d.npz").n_inputs == 1
    code, _, err = run(["evaluate", str(tmp_path / "d.npz"), str(tmp_path / "x.npy"), "--quiet",
                        "--lyapunov-steps", "0"], capsys)
    assert code == 1 and "has 1 inputs: pass --inputs FILE" in err[0]
    code, out, _ = run(["evaluate", str(tmp_path / "d.npz"), str(tmp_path / "x.npy"), "--inputs",
                        str(tmp_path / "s.npy"), "--quiet", "--lyapunov-steps", "500"], capsys)
    res = json.loads(out)
    assert code == 0 and "D_stsp" in res and len(res["lyapunov_per_step"]) == 6


def test_demo_pipeline_with_a_tiny_budget(tmp_path, capsys):
    """The demo's plumbing (report fields, figures, rerun reuse); its numbers need the full budget (make demo)."""
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--quiet", "--workers", "1", "--n-latent", "5", "--seq-len", "100",
            "--batch-size", "4", "--batches-per-epoch", "2", "--epochs", "2"]
    code, printed, _ = run(argv, capsys)
    assert code == 0
    rep = json.loads((out / "report.json").read_text())
    assert 0.6 < rep["lambda_max_data"] < 1.2 and rep["tau_steps"] == round(rep["tau_pred_time"] / 0.01)
    np.testing.assert_allclose(rep["reference_spectrum"]["tangent_dynamics"], [0.9056, 0.0, -14.5723], atol=0.05)
    assert [(r["model"], r["training"]) for r in rep["rows"]] == [
        (m, t) for m in ("PLRNN", "TanhRNN", "LSTM", "GRU") for t in (f"forcing tau={rep['tau_steps']}", "clipping")]
    for fig in ("attractor", "trajectories", "power_spectra", "lambda_divergence", "loss"):
        assert (out / f"{fig}.png").read_bytes()[:4] == b"\x89PNG", fig
    assert set(rep["checks"]) >= {"forcing_beats_clipping_5x_every_model", "models_with_lambda_1_within_30pct"}
    assert "| PLRNN | forcing tau=" in printed and (out / "report.md").read_text() in printed
    # a rerun reuses the finished runs
    code, _, _ = run(argv, capsys)
    assert code == 0
    assert json.loads((out / "report.json").read_text())["rows"] == rep["rows"]


def test_lyapunov_of_data_reports_interval_warnings_and_preprocessing(tmp_path, capsys):
    # Lorenz x with a linear trend and 5 % noise: detrended and denoised before lambda_max; interval in the JSON
    x = systems.lorenz(20000, rng=1)[:, 0]
    t = np.arange(x.size)
    noisy = x + 0.05 * x.std() * np.random.default_rng(0).standard_normal(x.size) + 2e-4 * t
    path = tmp_path / "trend.csv"
    np.savetxt(path, noisy)
    code, out, err = run(["lyapunov", str(path), "--dt", "0.01", "--quiet", "--detrend", "linear",
                          "--denoise", "projective"], capsys)
    res = json.loads(out)
    assert code == 0
    assert [s["op"] for s in res["preprocessing"]] == ["detrend", "denoise"]
    assert res["lambda_low"] <= res["lambda_max"] <= res["lambda_high"]
    lo, med, hi = res["lambda_resampled"]  # the block bootstrap, inside the interval
    assert res["n_blocks"] >= 5 and res["lambda_low"] <= lo < med < hi <= res["lambda_high"]
    assert res["tau_steps_low"] <= res["tau_steps"] <= res["tau_steps_high"]
    assert res["tau_pred_low"] <= res["tau_pred"] <= res["tau_pred_high"]
    assert res["lambda_max"] == pytest.approx(0.9056, rel=0.3)
    # every warning of the estimate is printed as one line on stderr, also with --quiet
    assert [line for line in err if "warning:" in line] == [f"fastrnn lyapunov: warning: {m}" for m in res["warnings"]]
    # without the denoising the noise floor is estimated and subtracted, and the report says so
    code, out, err = run(["lyapunov", str(path), "--dt", "0.01", "--detrend", "linear"], capsys)
    floor = json.loads(out[out.index("{"):])
    assert any("block bootstrap" in line for line in err)
    assert code == 0 and floor["transverse"] and floor["noise_sd"][0] == pytest.approx(0.05, rel=0.1)
    assert any("observation noise of about 0.0" in line and "--no-noise-floor" in line for line in err)
    assert floor["lambda_max"] == pytest.approx(0.9056, rel=0.15)
    code, out, _ = run(["lyapunov", str(path), "--dt", "0.01", "--detrend", "linear", "--quiet",
                        "--no-noise-floor"], capsys)
    plain = json.loads(out)
    assert code == 0 and plain["noise_sd"] is None and not plain["transverse"]
    assert plain["lambda_max"] < floor["lambda_max"]  # the floor held the plain curve down
    # white noise has no positive exponent: one clear line that says what to try, exit 1, no number
    np.savetxt(tmp_path / "noise.csv", np.random.default_rng(1).standard_normal(8000))
    code, out, err = run(["lyapunov", str(tmp_path / "noise.csv"), "--quiet"], capsys)
    assert code == 1 and out == "" and len(err) == 1
    assert err[0].startswith("fastrnn lyapunov: error: ") and "try" in err[0]
    # a bad option combination is one line too
    code, _, err = run(["lyapunov", str(path), "--detrend", "moving_average", "--quiet"], capsys)
    assert code == 1 and "--detrend-window" in err[0]


def test_lyapunov_estimates_or_takes_the_noise_level_of_a_coarsely_sampled_series(tmp_path, capsys):
    # Rössler x at 31 samples per period with 2 % noise: the noise is estimated by local interpolation
    x = systems.rossler(24000, dt=0.05, rng=3)[::4, 0]
    path = tmp_path / "coarse.csv"
    np.savetxt(path, x + 0.02 * x.std() * np.random.default_rng(103).standard_normal(x.size))
    code, out, err = run(["lyapunov", str(path), "--dt", "0.2"], capsys)
    default = json.loads(out[out.index("{"):])
    assert code == 0 and default["noise_sd"][0] == pytest.approx(0.02, rel=0.1)
    assert any("standard deviations, estimated (--no-noise-floor" in line for line in err)
    code, out, err = run(["lyapunov", str(path), "--dt", "0.2", "--noise-sd", "0.03"], capsys)
    given = json.loads(out[out.index("{"):])
    assert code == 0 and given["noise_sd"] == [0.03] and given["transverse"]
    assert any("0.03 standard deviations, as given (--noise-sd)" in line for line in err)
    code, out, _ = run(["lyapunov", str(path), "--dt", "0.2", "--no-noise-floor", "--quiet"], capsys)
    plain = json.loads(out)
    assert code == 0 and plain["noise_sd"] is None and plain["tau_steps"] > 1.25 * default["tau_steps"]
    code, _, err = run(["lyapunov", str(path), "--noise-sd", "0.02", "--no-noise-floor"], capsys)
    assert code == 2 and "not allowed with" in "".join(err)
    code, _, err = run(["lyapunov", str(path), "--noise-sd", "-0.1", "--quiet"], capsys)
    assert code == 1 and "noise_floor must be a finite standard deviation" in err[0]


def test_train_on_a_file_with_gaps_uses_its_finite_segments(tmp_path, capsys):
    from fastrnn.datafiles import finite_segments

    x = systems.lorenz(3000, rng=0)
    x[700] = np.nan                                          # a one-row gap: interpolated with --fill-gaps 2
    x[1500:1520] = np.nan                                    # a long gap: splits the file
    x[2958:2961, 1] = np.inf                                 # a 3-row gap leaves a 39-row tail: too short to train
    path = tmp_path / "gaps.csv"
    np.savetxt(path, x, delimiter=",")
    code, _, err = run(["train", str(path), "--model", "GRU", "--tau", "10", "--epochs", "2", "--fill-gaps", "2",
                        "--out", str(tmp_path / "m.npz"), "--n-latent", "6", "--seq-len", "60", "--batch-size",
                        "4", "--batches-per-epoch", "3"], capsys)
    assert code == 0
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["segments"]["spans"] == [[0, 1500], [1520, 2958]]
    assert meta["segments"]["filled"] == [[700, 701]] and meta["segments"]["dropped"] == [[2961, 3000]]
    assert any("has gaps: 2 segment(s)" in line for line in err)
    assert np.isfinite(meta["history"]["loss"]).all()
    # the z-score used the rows trained on (the kept segments, a filled gap included; the observation pipeline
    # preprocesses each segment before it), and the segments are never joined across a gap
    seg = finite_segments(x, fill_gaps=2, min_length=61)
    assert [len(s) for s in seg.series] == [1500, 1438] and np.isfinite(np.concatenate(seg.series)).all()
    np.testing.assert_allclose(meta["scaling"]["mean"], np.concatenate(seg.series).mean(axis=0))
    assert meta["observation"]["mean"] == meta["scaling"]["mean"]
    np.testing.assert_allclose(seg.series[0][700], (x[699] + x[701]) / 2)          # linear interpolation
    with pytest.raises(ValueError, match="no finite segment"):
        finite_segments(x, min_length=2000)


def test_evaluate_a_file_with_gaps_per_segment(tmp_path, capsys):
    x = systems.lorenz(3000, rng=0)
    path = tmp_path / "train.csv"
    np.savetxt(path, x, delimiter=",")
    code, _, _ = run(["train", str(path), "--model", "GRU", "--tau", "10", "--epochs", "1", "--out",
                      str(tmp_path / "m.npz")] + SMALL, capsys)
    assert code == 0
    test = systems.lorenz(2000, rng=1)
    test[900:950] = np.nan                                   # a gap: two segments, never evaluated across it
    np.savetxt(tmp_path / "test.csv", test, delimiter=",")
    code, out, err = run(["evaluate", str(tmp_path / "m.npz"), str(tmp_path / "test.csv"), "--starts", "2",
                          "--transient", "50", "--lyapunov-steps", "0"], capsys)
    res = json.loads(out)
    assert code == 0 and any("has gaps: 2 segment(s)" in line for line in err)
    assert [r["rows"] for r in res["segments"]] == [[0, 900], [950, 2000]]
    assert all(r["n_starts"] == 2 for r in res["segments"])
    good = [r["D_stsp"] for r in res["segments"] if not r["generation_diverged"]]
    assert res["D_stsp"] == (pytest.approx(float(np.median(good))) if good else None)


def test_train_with_adaptive_gtf(tmp_path, capsys):
    out = tmp_path / "g.npz"
    code, _, err = run(["train", "lorenz", "--n-steps", "3000", "--forcing", "agtf:0.9:1", "--model", "ShPLRNN",
                        "--epochs", "2", "--out", str(out)] + SMALL, capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "g.json").read_text())["forcing"] == "agtf:0.9:1"
    assert fr.load(out).kind == "ShPLRNN"


def test_train_with_value_clipping_identity_readout_and_adaptive_alpha(tmp_path, capsys, lorenz_csv):
    path, _ = lorenz_csv
    out = tmp_path / "agtf.npz"
    code, _, err = run(["train", str(path), "--model", "shplrnn", "--forcing", "agtf", "--readout", "identity",
                        "--clip-value", "0.5", "--epochs", "3", "--dt", "0.01", "--out", str(out)] + SMALL, capsys)
    assert code == 0 and err == []
    model = fr.load(out)
    assert model.observation == "identity"
    np.testing.assert_array_equal(model.params["B"], np.eye(3, 6))  # B = [I 0], never trained
    meta = json.loads((tmp_path / "agtf.json").read_text())
    alpha = meta["history"]["alpha"]
    assert len(alpha) == 3 and all(0.0 <= a <= 1.0 for a in alpha)
    code, _, err = run(["train", str(path), "--readout", "identity", "--n-latent", "2", "--epochs", "1",
                        "--tau", "10", "--out", str(tmp_path / "bad.npz"), "--quiet"], capsys)
    assert code == 1 and len(err) == 1 and "n_obs <= n_latent" in err[0]
