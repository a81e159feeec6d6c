"""Reading measured files (fastrnn.datafiles.read_array): text tables as spreadsheets, pandas and R write them
(delimiters, decimal commas, header blocks, byte-order marks, missing-value markers), each read back to the exact
values written; text columns, bad cells and ragged rows refused with the line that is wrong; a time axis among the
used columns warned about, on the Python API and on the command line."""
import json
import warnings

import numpy as np
import pytest

from fastrnn import systems
from fastrnn.datafiles import (MISSING_TOKENS, DataFileError, DataFileWarning, load_series, read_array,
                               time_axis_columns)

from conftest import run_cli as run


@pytest.fixture(scope="module")
def values():
    return systems.lorenz(400, dt=0.01, rng=3)


def _rows(x, delim=",", fmt=repr):
    return [delim.join(fmt(float(v)) for v in row) for row in x]


def _write(path, lines, encoding="utf-8", newline="\n"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(newline.join(lines) + newline)
    return str(path)


LAYOUTS = {
    "plain": lambda x: (_rows(x), {}),
    "header": lambda x: (["x,y,z"] + _rows(x), {}),
    "byte-order mark, no header": lambda x: (_rows(x), {"encoding": "utf-8-sig"}),
    "byte-order mark and header": lambda x: (["x,y,z"] + _rows(x), {"encoding": "utf-8-sig"}),
    "utf-16": lambda x: (["x,y,z"] + _rows(x), {"encoding": "utf-16"}),
    "crlf": lambda x: (["x,y,z"] + _rows(x), {"newline": "\r\n"}),
    "header block and comments": lambda x: (["# Lorenz, recorded 2026", "station: lab 3", "units: a.u.", "x,y,z"]
                                            + _rows(x)[:200] + ["# a comment inside"] + _rows(x)[200:], {}),
    "semicolons": lambda x: (["x;y;z"] + _rows(x, ";"), {}),
    "tabs": lambda x: (["x\ty\tz"] + _rows(x, "\t"), {}),
    "blanks": lambda x: (_rows(x, "  "), {}),
    "quoted header and cells": lambda x: (['"x","y","z"'] + [",".join(f'"{v!r}"' for v in map(float, r)) for r in x],
                                          {}),
    "trailing delimiter": lambda x: (["x,y,z,"] + [r + "," for r in _rows(x)], {}),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_text_layouts_read_back_exactly(tmp_path, values, layout):
    lines, kw = LAYOUTS[layout](values)
    arr = read_array(_write(tmp_path / "x.csv", lines, **kw))
    np.testing.assert_array_equal(arr, values)       # every row (none lost to a BOM or a header) and every digit


def test_decimal_commas_with_semicolons_tabs_or_blanks(tmp_path, values):
    fmt = lambda v: f"{v:.6f}".replace(".", ",")     # noqa: E731
    for delim, ext in ((";", "csv"), ("\t", "tsv"), (" ", "txt")):
        arr = read_array(_write(tmp_path / f"x.{ext}", ["x y z".replace(" ", delim)] + _rows(values, delim, fmt)))
        np.testing.assert_allclose(arr, values, atol=5e-7, rtol=0)


def test_missing_value_markers_are_gaps(tmp_path, values):
    lines = ["x,y,z"] + _rows(values)
    marks = {10: "", 11: "NA", 12: "NaN", 13: "null", 14: "N/A", 15: '""', 16: " na "}
    for row, mark in marks.items():
        cells = lines[row + 1].split(",")
        cells[1] = mark
        lines[row + 1] = ",".join(cells)
    path = _write(tmp_path / "gaps.csv", lines)
    arr = read_array(path, allow_gaps=True)
    expect = values.copy()
    expect[list(marks), 1] = np.nan
    np.testing.assert_array_equal(arr, expect)
    assert {"", "na", "nan", "null", "n/a"} <= MISSING_TOKENS
    with pytest.raises(DataFileError, match="contains NaN or infinite values"):
        read_array(path)
    # tab-separated with an empty last cell: the row keeps its three cells
    tsv = ["\t".join(r.split(",")) for r in _rows(values)]
    tsv[5] = tsv[5].rsplit("\t", 1)[0] + "\t"
    arr = read_array(_write(tmp_path / "gaps.tsv", tsv), allow_gaps=True)
    assert np.isnan(arr[5, 2]) and np.isfinite(np.delete(arr, 5, axis=0)).all()


@pytest.mark.parametrize("case, message", [
    ("dates", "column(s) 0 ('time') hold text (e.g. '2026-01-01T00:06:39'), not numbers"),
    ("bad cell", "line 43, column 2 ('z') holds 'oops', which is neither a number nor a missing value"),
    ("ragged", "line 8 has 2 cell(s) where the table has 3"),
    ("all text", "no column holds numbers"),
    ("header only", "no column holds numbers (line 1: 'x,y,z')"),
])
def test_unreadable_tables_say_which_line_and_column(tmp_path, values, case, message):
    lines = ["x,y,z"] + _rows(values)
    if case == "dates":
        lines = ["time,x,y,z"] + [f"2026-01-01T00:{i // 60:02d}:{i % 60:02d},{r}" for i, r in enumerate(_rows(values))]
    elif case == "bad cell":
        lines[42] = ",".join(lines[42].split(",")[:2] + ["oops"])
    elif case == "ragged":
        lines[7] = ",".join(lines[7].split(",")[:2])
    elif case == "all text":
        lines = ["a,b", "c,d", "e,f"]
    elif case == "header only":
        lines = ["x,y,z"]
    with pytest.raises(DataFileError) as info:
        read_array(_write(tmp_path / "x.csv", lines))
    assert message in str(info.value), str(info.value)


def test_time_axis_columns_are_found_and_signals_are_not(values):
    t = np.arange(400) * 0.01
    assert time_axis_columns(np.column_stack([t, values])) == [(0, pytest.approx(0.01))]
    assert time_axis_columns(np.round(123.4567 + t * 0.4, 3)) == [(0, pytest.approx(0.004))]   # 3 decimals
    assert time_axis_columns(np.arange(400)) == [(0, 1.0)]                                     # a sample index
    rng = np.random.default_rng(0)
    for x in (values, np.sort(rng.uniform(size=400)), np.cumsum(rng.uniform(0.5, 1.5, 400)), t[::-1]):
        assert time_axis_columns(x) == []


def test_a_time_axis_is_warned_about_only_where_it_is_used(tmp_path, values):
    t = np.arange(400) * 0.01
    path = _write(tmp_path / "t.csv", ["t,x,y,z"] + _rows(np.column_stack([t, values])))
    with pytest.warns(DataFileWarning, match=r"column 0 \('t'\) increases in equal steps of 0\.01.*--column 1,2,3"):
        arr = read_array(path)
    np.testing.assert_array_equal(arr[:, 1:], values)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataFileWarning)
        read_array(path, columns=[1, 2])
        x, _, _, _, _ = load_series(path, columns=[3], raw=True)
    np.testing.assert_array_equal(x[:, 1:], values)


def test_lyapunov_of_a_file_with_a_time_column(tmp_path, capsys):
    x = systems.lorenz(6000, dt=0.01, rng=1)[:, 0]
    t = np.arange(x.size) * 0.01
    with_t = _write(tmp_path / "t.csv", ["t,x"] + _rows(np.column_stack([t, x])))
    alone = _write(tmp_path / "x.csv", ["x"] + _rows(x[:, None]))
    code, out_t, err = run(["lyapunov", with_t, "--dt", "0.01", "--column", "1", "--quiet"], capsys)
    assert code == 0 and not any("time axis" in line for line in err)
    code, out_x, _ = run(["lyapunov", alone, "--dt", "0.01", "--quiet"], capsys)
    res_t, res_x = json.loads(out_t), json.loads(out_x)
    assert code == 0 and res_t.pop("data") != res_x.pop("data")
    assert res_t == res_x                                  # the column chosen is the series alone
    code, _, err = run(["lyapunov", with_t, "--dt", "0.01", "--quiet"], capsys)
    warned = [line for line in err if "time axis" in line]
    assert len(warned) == 1 and warned[0].startswith("fastrnn lyapunov: warning: data file ")
    assert "--column 1" in warned[0]
    for argv, msg in ((["--column", "5"], "--column 5 is out of range: " + with_t + " has 2 column(s)"),
                      (["--column", "0,1"], "several --column values need --joint")):
        code, _, err = run(["lyapunov", with_t, "--quiet"] + argv, capsys)
        assert code == 1 and msg in err[-1], err


def test_train_and_evaluate_leave_a_time_column_out_without_a_warning(tmp_path, capsys):
    x = systems.lorenz(1500, dt=0.01, rng=2)
    t = np.arange(x.shape[0]) * 0.01
    path = _write(tmp_path / "t.csv", ["t,x,y,z"] + _rows(np.column_stack([t, x])))
    small = ["--n-latent", "6", "--seq-len", "40", "--batch-size", "4", "--batches-per-epoch", "3", "--epochs", "2",
             "--tau", "10", "--quiet"]
    out = str(tmp_path / "m.npz")
    code, _, err = run(["train", path, "--column", "1,2,3", "--out", out] + small, capsys)
    assert code == 0 and not any("time axis" in line for line in err), err
    code, _, err = run(["evaluate", out, path, "--lyapunov-steps", "0", "--quiet"], capsys)
    assert code == 0 and not any("time axis" in line for line in err), err
    code, _, err = run(["train", path, "--out", str(tmp_path / "m2.npz")] + small, capsys)
    assert code == 0 and sum("time axis" in line for line in err) == 1, err


def test_lyapunov_of_a_file_with_gaps_reads_its_longest_segment(tmp_path, capsys):
    x = systems.lorenz(9000, dt=0.01, rng=4)[:, 0]
    gappy = x.copy()
    gappy[2000:2010] = np.nan                              # segments 0-1999 and 2010-8999 (the longest)
    lines = ["x,other"] + [("" if not np.isfinite(v) else repr(float(v))) + ("," if 5000 <= i < 5006 else ",1")
                           for i, v in enumerate(gappy)]
    path = _write(tmp_path / "gaps.csv", lines)            # the unused column's gap does not split the series
    alone = _write(tmp_path / "seg.csv", ["x"] + _rows(x[2010:, None]))
    code, out, err = run(["lyapunov", path, "--dt", "0.01", "--json", str(tmp_path / "r.json")], capsys)
    assert code == 0, err
    assert any("has gaps: 2 segment(s)" in line and "longest segment, rows 2010-8999" in line for line in err)
    res = json.load(open(tmp_path / "r.json"))
    assert res["segment"] == [2010, 9000]
    code, _, _ = run(["lyapunov", alone, "--dt", "0.01", "--json", str(tmp_path / "s.json")], capsys)
    ref = json.load(open(tmp_path / "s.json"))
    assert res["lambda_max"] == ref["lambda_max"] and res["tau_steps"] == ref["tau_steps"]
    code, _, err = run(["lyapunov", path, "--dt", "0.01", "--fill-gaps", "10", "--quiet",
                        "--json", str(tmp_path / "f.json")], capsys)
    assert code == 0 and json.load(open(tmp_path / "f.json"))["segment"] == [0, 9000]     # the gap interpolated
