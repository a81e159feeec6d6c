"""`fastrnn demo --data FILE`: the demo's workflow on a measured series (plumbing with tiny budgets; its numbers need
the full budget), and its input checks."""
import json

import numpy as np
import pytest

from fastrnn import systems

from conftest import run_cli as run

TINY = ["--quiet", "--workers", "1", "--n-latent", "5", "--seq-len", "100", "--batch-size", "4",
        "--batches-per-epoch", "2", "--epochs", "2"]


@pytest.fixture(scope="module")
def scalar_csv(tmp_path_factory):
    """Lorenz x with 5 % noise and a second, unused column, as a CSV with a header."""
    x = systems.lorenz(4000, dt=0.01, rng=0)[:, 0]
    x = x + 0.05 * x.std() * np.random.default_rng(0).standard_normal(x.size)
    path = tmp_path_factory.mktemp("data") / "lorenz_x.csv"
    np.savetxt(path, np.column_stack([np.arange(x.size), x]), delimiter=",", header="t,x", comments="")
    return path


def test_demo_on_a_scalar_csv(tmp_path, capsys, scalar_csv, monkeypatch):
    from fastrnn.experiments import demo_data

    monkeypatch.setattr(demo_data, "MIN_VALIDATION", 100)     # so that this short series gets a validation part
    out = tmp_path / "mydata"
    argv = ["demo", "--data", str(scalar_csv), "--column", "1", "--dt", "0.01", "--embed", "3,8", "--detrend",
            "linear", "--noise-sd", "0.05", "--out", str(out)] + TINY
    code, printed, _ = run(argv, capsys)
    assert code == 0
    rep = json.loads((out / "report.json").read_text())
    lo, hi = rep["lambda_max_interval"]
    assert 0.4 < rep["lambda_max_data"] < 1.3 and lo <= rep["lambda_max_data"] <= hi
    assert rep["lambda_max_fit"]["noise_sd"] == [0.05] and rep["lambda_max_fit"]["noise_sd_given"]
    assert rep["tau_steps"] == round(rep["tau_pred_time"] / 0.01)
    assert rep["tau_steps_interval"][0] <= rep["tau_steps"] <= rep["tau_steps_interval"][1]
    obs = rep["observation"]
    assert obs["columns"] == [1] and (obs["dim"], obs["lag"]) == (3, 8) and obs["steps"][0]["op"] == "detrend"
    assert rep["data"]["n_test"] == 1000 and rep["data"]["n_test_rows"] == 1000 - 16
    # model selection on the last 20 % of the training part, which the runs did not train on
    assert rep["data"]["n_validation_rows"] == round(0.2 * (3000 - 16)) and rep["settings"]["select"] == 0.2
    assert "validation part for model selection" in (out / "report.md").read_text()
    trained = [json.loads(f.read_text()) for f in (out / "runs").glob("*.json")]
    trained = [r for r in trained if "train" in r]
    assert len(trained) == 8
    assert all(r["train"]["n_validation"] == rep["data"]["n_validation_rows"] for r in trained)
    assert set(rep["checks"]) == {"D_stsp_ratio_clipping_over_forced", "forcing_beats_clipping_5x_every_model",
                                  "models_with_lambda_1_within_30pct", "all_passed"}
    for m in ("PLRNN", "TanhRNN", "LSTM", "GRU"):
        for kind in ("forced", "clipping"):
            sc = rep["scores"][m][kind]
            assert sc["generation_diverged"] or sc["D_stsp"] > 0
            assert {"D_H", "prediction_error_1", "prediction_error_tau", "lambda_1", "lambda_1_in_interval"} <= set(sc)
    assert [(r["model"], r["training"]) for r in rep["rows"]] == [
        (m, t) for m in ("PLRNN", "TanhRNN", "LSTM", "GRU") for t in (f"forcing tau={rep['tau_steps']}", "clipping")]
    for fig in ("attractor", "trajectories", "power_spectra", "lambda_divergence", "loss"):
        assert (out / f"{fig}.png").read_bytes()[:4] == b"\x89PNG", fig
    assert (out / "report.md").read_text() in printed and "| PLRNN | forcing tau=" in printed
    # --check: exit status 3 unless the checks pass (they cannot with this budget); the runs are reused
    code, _, _ = run(argv + ["--check"], capsys)
    assert code == (0 if rep["checks"]["all_passed"] else 3)
    assert json.loads((out / "report.json").read_text())["rows"] == rep["rows"]


@pytest.mark.parametrize("extra, msg", [
    (["--data", "missing.csv"], "data file 'missing.csv' not found"),
    (["--column", "5"], "column(s) [5] out of range: the data have 2 column(s)"),
    (["--dt", "0"], "--dt must be > 0"),
    (["--dt", "-0.1"], "--dt must be > 0"),
    (["--embed", "3,0"], "lag must be >= 1"),
    (["--column", "1", "--dt", "0.01", "--seq-len", "20"], "is not shorter than the training windows (seq_len = 20)"),
])
def test_demo_data_input_errors(tmp_path, capsys, scalar_csv, extra, msg):
    argv = ["demo", "--data", str(scalar_csv), "--out", str(tmp_path / "o")] + TINY + extra
    code, _, err = run(argv, capsys)
    assert code == 1 and len(err) == 1 and msg in err[0], err


def test_data_options_need_data(capsys):
    code, _, err = run(["demo", "--dt", "0.01", "--embed", "auto", "--quiet"], capsys)
    assert code == 1 and len(err) == 1 and "--dt, --embed apply to a data file: add --data FILE" in err[0]
    code, _, err = run(["demo", "--noise-sd", "0.02", "--quiet"], capsys)
    assert code == 1 and "--noise-sd apply to a data file" in err[0]


def test_demo_on_a_file_with_gaps_runs_on_its_longest_segment(tmp_path, capsys):
    x = systems.lorenz(5200, dt=0.01, rng=1)[:, 0]
    cells = [repr(float(v)) for v in x]
    for i in range(1000, 1004):
        cells[i] = "NA"                                     # a gap: segments 0-999 and 1004-5199 (the longest)
    path = tmp_path / "gaps.csv"
    path.write_text("x\n" + "\n".join(cells) + "\n")
    out = tmp_path / "o"
    code, _, err = run(["demo", "--data", str(path), "--dt", "0.01", "--embed", "none", "--out", str(out)]
                       + TINY[1:], capsys)
    assert code == 0, err
    assert any("has gaps: 2 segment(s)" in line and "longest segment, rows 1004-5199" in line for line in err)
    rep = json.loads((out / "report.json").read_text())
    assert rep["data"]["segment"] == [1004, 5200] and rep["data"]["n_samples"] == 4196
