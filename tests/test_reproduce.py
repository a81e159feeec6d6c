"""`fastrnn reproduce`: the published numbers, the experiments' grids and budgets, and a tiny experiment end to end
on Dask (table beside the paper's values, finished runs reused, a diverging baseline recorded as diverged)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from fastrnn.cli import build_parser
from fastrnn.experiments import paper_numbers
from fastrnn.experiments.paper_numbers import PAPER, paper_value
from fastrnn.experiments.reproduce import (BUDGETS, EXPERIMENTS, experiment_specs, parse_setting,
                                           reproduce_experiment)


# ------------------------------------------------------------------ the published numbers
def test_every_experiment_has_its_published_numbers():
    assert set(PAPER) == set(EXPERIMENTS)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_published_numbers_are_well_formed(name):
    fig = PAPER[name]
    assert set(fig.grid) == set(fig.sweep)
    for model, taus in fig.grid.items():
        assert len(taus) == len(fig.sweep[model]), model          # every tau grid matches its values
        assert all(v > 0 for v in fig.sweep[model])
        assert all(f"tau:{t}" in EXPERIMENTS[name].settings for t in taus)
    for pv in fig.values:
        assert pv.measure in ("D_stsp", "D_H")
        assert pv.model in (None, "PLRNN", "TanhRNN", "LSTM", "GRU")
        parse_setting(pv.setting)                                 # in the settings grammar
        assert pv.setting in EXPERIMENTS[name].settings, pv       # and run by the full experiment
        lo, hi = pv.value if isinstance(pv.value, tuple) else (pv.value, pv.value)
        assert 0 < lo <= hi
    assert fig.figure and fig.notes
    assert fig.tau_pred is None or fig.tau_pred > 0


def test_paper_values_are_looked_up_by_model_and_setting():
    assert paper_value("lorenz", "LSTM", "tau:30") == 0.0618
    assert paper_value("lorenz", "PLRNN", "tau:100") == 10.86      # the PLRNN line's sixth point
    assert paper_value("lorenz", "PLRNN", "tau:200") is None       # beyond the values given
    assert paper_value("lorenz", "TanhRNN", "tau:30", "D_H") == 0.125
    assert paper_value("rossler", "GRU", "clipping:1") == (15.35, 15.73)   # a span over models
    assert paper_value("clipping", "TanhRNN", "value_clipping:1000") == 7.18
    assert paper_value("windowing", "LSTM", "truncated:200") == 12.26
    assert paper_value("jitter", "GRU", "jittered:46:20") == 0.093
    with pytest.raises(ValueError, match="unknown experiment"):
        paper_value("chua", "LSTM", "tau:30")
    assert "NeurIPS" in paper_numbers.PAPER_SOURCE


# ------------------------------------------------------------------ settings, grids and budgets
def test_parse_setting_forms_and_errors():
    assert parse_setting("tau:30") == {"forcing_option": 30}
    assert parse_setting("annealed:1:46") == {"forcing_option": "annealed:1:46"}
    assert parse_setting("jittered:46:10") == {"forcing_option": "jittered:46:10"}
    assert parse_setting("value_clipping:10") == {"baseline": "value_clipping:10"}
    assert parse_setting("truncated:50") == {"baseline": "truncated:50"}
    assert parse_setting("windowing:50") == {"baseline": "windowing", "seq_len": 50}
    for bad in ("tau", "often:3", "windowing"):
        with pytest.raises(ValueError, match="invalid setting"):
            parse_setting(bad)


def test_full_budget_is_the_papers_and_quick_is_smaller():
    full = experiment_specs("lorenz", "full")
    spec = full[0][2]
    assert (spec["lr"], spec["batch_size"], spec["batches_per_epoch"], spec["n_epochs"], spec["n_latent"]) == \
        (1e-3, 32, 10, 3000, 30)
    assert spec["clip"] is None and spec["data"] == "paper:lorenz" and spec["dt"] == 0.01
    assert {s["seed"] for _, _, s in full} == {0, 1, 2}
    assert {m for m, _, _ in full} == {"PLRNN", "TanhRNN", "LSTM", "GRU"}
    assert len(full) == 4 * (9 + 1) * 3                           # 9 taus and the clipping baseline
    quick = experiment_specs("lorenz", "quick")
    assert len(quick) < len(full) and {s["seed"] for _, _, s in quick} == {0}
    assert quick[0][2]["n_epochs"] < 3000
    assert "QUICK" in BUDGETS["quick"]["note"]
    tiny = experiment_specs("lorenz", "tiny")
    assert [(m, st) for m, st, _ in tiny] == [("PLRNN", "tau:5"), ("PLRNN", "tau:30"), ("PLRNN", "clipping:1")]


def test_baseline_experiments_build_their_specs():
    clip = experiment_specs("clipping", "quick")
    assert {m for m, _, _ in clip} == {"TanhRNN"}                        # quick: the tanh RNN only
    by = {(m, st): s for m, st, s in experiment_specs("clipping", "full")}
    assert by[("LSTM", "value_clipping:100")]["baseline"] == "value_clipping:100"
    assert by[("LSTM", "clipping:1")]["baseline"] == "clipping"          # canonical form of clipping:1
    assert by[("LSTM", "tau:30")]["forcing"] == {"kind": "tau", "tau": 30}
    win = {(m, st): s for m, st, s in experiment_specs("windowing", "full")}
    assert win[("LSTM", "windowing:50")]["seq_len"] == 50 and win[("LSTM", "windowing:50")]["baseline"] == "windowing"
    assert win[("LSTM", "truncated:50")]["seq_len"] == BUDGETS["full"]["settings"]["seq_len"] == 1000
    with pytest.raises(ValueError, match="unknown experiment"):
        experiment_specs("chua")
    with pytest.raises(ValueError, match="unknown budget"):
        experiment_specs("lorenz", "huge")


# ------------------------------------------------------------------ end to end on Dask
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
        yield c


def _mtimes(out):
    runs = os.path.join(out, "runs")
    return {f: os.stat(os.path.join(runs, f)).st_mtime_ns for f in os.listdir(runs) if f.endswith(".json")}


@pytest.mark.slow
def test_tiny_experiment_end_to_end_and_resumed(tmp_path, client):
    out = str(tmp_path / "lorenz")
    res = reproduce_experiment("lorenz", out, budget="tiny", scheduler=client, progress=False)
    assert (res.executed, res.skipped, res.failed) == (3, 0, [])
    assert [(r["model"], r["setting"]) for r in res.rows] == [("PLRNN", "tau:5"), ("PLRNN", "tau:30"),
                                                             ("PLRNN", "clipping:1")]
    table = open(res.paths["table_md"]).read()
    header = [line for line in table.splitlines() if line.startswith("| model |")][0]
    for col in ("D_stsp legacy", "paper D_stsp", "D_H legacy", "paper D_H", "D_stsp (fastrnn)", "D_H (fastrnn)",
                "status"):
        assert f"| {col} |" in header
    row30 = [line for line in table.splitlines() if line.startswith("| PLRNN | tau:30 |")][0]
    assert "| 0.893 |" in row30 and "| 0.235 |" in row30          # the paper's values beside fastrnn's
    assert "TINY" in table and "tau_pred of the data" in table and "paper: 46 steps" in table
    saved = json.load(open(res.paths["table_json"]))
    assert saved["rows"][1]["paper_D_stsp"] == 0.893 and saved["rows"][0]["runs"] == 1
    best = saved["tau_checks"][0]                                   # the best tau against tau_pred's window
    assert best["model"] == "PLRNN" and best["tau"] in (5, 30) and best["window"][0] < best["window"][1]
    assert f"- PLRNN: best tau {best['tau']} (" in table
    for r in saved["rows"]:
        assert r["D_stsp"]["mean"] is not None and r["status"] == "ok"
    assert os.path.getsize(res.paths["figure"]) > 0
    before = _mtimes(out)
    assert len(before) == 3
    again = reproduce_experiment("lorenz", out, budget="tiny", scheduler=client, progress=False, figure=False)
    assert (again.executed, again.skipped) == (0, 3)                 # nothing trained again
    assert _mtimes(out) == before
    assert [r["D_stsp"] for r in again.rows] == [r["D_stsp"] for r in res.rows]


@pytest.mark.slow
def test_a_diverging_baseline_is_recorded_as_diverged(tmp_path, client):
    # a PLRNN without forcing, lr 10, clipping at 1000, on data scaled by 100: the loss goes non-finite
    res = reproduce_experiment("clipping", str(tmp_path / "clip"), budget="tiny", scheduler=client, progress=False,
                               figure=False, models=("PLRNN",), settings=("tau:30", "clipping:1000"),
                               overrides={"lr": 10.0, "data_scale": 100.0, "seq_len": 50, "batches_per_epoch": 5})
    assert res.failed == []
    row = [r for r in res.rows if r["setting"] == "clipping:1000"][0]
    assert row["train_diverged"] == 1 and row["status"] == "diverged"
    assert row["D_stsp_legacy"]["mean"] is None and row["D_stsp_legacy"]["values"] == [None]
    line = [ln for ln in res.markdown.splitlines() if ln.startswith("| PLRNN | clipping:1000 |")][0]
    assert line.count("| diverged |") >= 2 and line.rstrip().endswith("| diverged |")


# ------------------------------------------------------------------ command line
def test_cli_parses_reproduce():
    args = build_parser().parse_args(["reproduce", "windowing"])
    assert (args.experiment, args.full, args.tiny) == ("windowing", False, False)
    args = build_parser().parse_args(["reproduce", "lorenz", "--full", "--workers", "2", "--out", "x"])
    assert args.full and args.workers == 2 and args.out == "x"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "chua"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "lorenz", "--full", "--quick"])
    args = build_parser().parse_args(["reproduce", "lorenz", "--full", "--models", "TanhRNN, PLRNN", "--settings",
                                      "tau:30,clipping:1", "--seeds", "0,2"])
    assert (args.models, args.settings, args.seeds) == (("TanhRNN", "PLRNN"), ("tau:30", "clipping:1"), [0, 2])
    for bad in (["--seeds", "a"], ["--models", ","]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["reproduce", "lorenz", *bad])


@pytest.mark.slow
def test_a_subset_of_the_grid_is_labelled_and_adds_up(tmp_path, client):
    """--models/--settings/--seeds run part of a budget; the table says so, and the finished runs are reused when
    the rest is run."""
    out = str(tmp_path / "sub")
    part = reproduce_experiment("lorenz", out, budget="tiny", scheduler=client, progress=False, figure=False,
                                settings=("tau:30",))
    assert part.executed == 1 and "A subset of the budget's grid:** settings tau:30." in part.markdown
    whole = reproduce_experiment("lorenz", out, budget="tiny", scheduler=client, progress=False, figure=False)
    assert (whole.executed, whole.skipped) == (2, 1) and "A subset of the budget" not in whole.markdown


def test_reproduce_help_names_the_experiments_and_budgets(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["reproduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert exc.value.code == 0
    for word in ("--quick", "--full", "--tiny", "--scheduler", "--workers", "--out", "reuses finished runs",
                 *EXPERIMENTS):
        assert word in text, word


def test_reproduce_without_dask_says_how_to_install(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.modules["distributed"] = None          # as if Dask were not installed
        from fastrnn.cli import main
        sys.exit(main(["reproduce", "lorenz", "--tiny", "--out", sys.argv[1], "--quiet"]))
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "pip install 'fastrnn[sweep]'" in proc.stderr.strip().splitlines()[-1]



def test_log_axis_tick_labels_do_not_overlap():
    from fastrnn.plotting import log_tick_labels as thinned
    assert thinned([5, 30, 40, 50, 60, 70, 100, 200, 500, 1000]) == ["5", "30", "", "50", "", "", "100", "200",
                                                                      "500", "1000"]
    assert thinned([1, 10, 100, 1000]) == ["1", "10", "100", "1000"]


def test_tau_checks_read_the_best_tau_against_the_window_and_its_ties():
    from fastrnn.experiments.reproduce import tau_checks

    def row(setting, values, model="GRU"):
        v = [x for x in values if x is not None]
        mean = sum(v) / len(v) if v else None
        sd = (sum((x - mean) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else None
        return {"model": model, "setting": setting, "runs": len(values),
                "D_stsp_legacy": {"mean": mean, "sd": sd, "values": values}}

    rows = [row("tau:30", [1.0, 1.2, 1.1]), row("tau:40", [1.15, 1.3, 1.2]), row("tau:70", [3.0, 3.1, 2.9]),
            row("clipping:1", [20.0, 21.0, 22.0]), row("tau:5", [None, None, None]),
            row("tau:30", [5.0], "LSTM"), row("tau:60", [4.0], "LSTM"), row("tau:30", [1.0], "PLRNN")]
    tp = {"tau_steps": 64.6, "tau_steps_low": 57.8, "tau_steps_high": 65.8}
    gru, lstm = tau_checks(rows, tp)                        # PLRNN: one tau only, no check
    assert (gru["model"], gru["tau"], gru["runs"]) == ("GRU", 30, 3)
    assert gru["value"] == pytest.approx(1.1) and gru["sd"] == pytest.approx(0.1)
    # 1.2167 - 1.1 = 0.117 > sqrt(0.1^2/3 + 0.0764^2/3) = 0.0727: 40 is not tied; 70 is far
    assert gru["tied"] == []
    assert gru["window"] == pytest.approx([32.3, 129.2]) and gru["inside"] is False
    assert gru["window_wide"] == pytest.approx([28.9, 131.6]) and gru["inside_wide"] is True
    assert (lstm["tau"], lstm["inside"], lstm["tied"]) == (60, True, [])     # single runs: no spread, no tie
    rows[1] = row("tau:40", [1.05, 1.25, 1.15])            # 0.05 apart: within the standard error
    assert tau_checks(rows, tp)[0]["tied"] == [40]
    unbounded = tau_checks(rows, {"tau_steps": 64.6, "tau_steps_low": 57.8, "tau_steps_high": None})[0]
    assert unbounded["window_wide"][1] is None and unbounded["inside_wide"] is True
    assert tau_checks(rows, {"error": "no scaling region"})[0]["inside"] is None
