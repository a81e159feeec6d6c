"""Measured series from files: reading .npy/.csv arrays, splitting a series with gaps into its finite segments, and
loading a series by file name or system name.

Errors are :class:`DataFileError` (a ``ValueError``) with one-line messages that say what to do.
"""
from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from .preprocessing import zscore
from .systems import SYSTEMS, system_series

__all__ = ["MISSING_TOKENS", "DataFileError", "DataFileWarning", "Segments", "finite_segments", "load_series",
           "longest_segment", "read_array", "time_axis_columns"]


class DataFileError(ValueError):
    """A data or inputs file that cannot be used; the message says why and what to do."""


MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "-nan", "+nan", "null", "none", "#n/a", "?"})
"""Cells read as missing values (NaN) in text files, compared after stripping blanks and quotes, case-insensitively:
empty cells and the markers that spreadsheets, pandas and R write."""

_DELIMITERS = (",", ";", "\t", None)      # None: runs of blanks
_SAMPLE = 50                              # lines from the end of a text file that decide its layout


class DataFileWarning(UserWarning):
    """A data file that was read, with something in it that the result may not be meant to include (a time axis
    read as a measured column)."""


def read_array(path, what="data", *, allow_gaps=False, columns=None):
    """Read a (T,) or (T, N) float array from .npy, or from a text table (.csv, .tsv, .txt, .dat).

    Text tables are read as a spreadsheet writes them: a UTF-8 (with or without byte-order mark), UTF-16 or Latin-1
    file; the delimiter found in the file (comma, semicolon, tab or blanks; with a semicolon, tab or blank delimiter a
    decimal comma is accepted); any number of leading header lines (the last one names the columns in messages)
    and ``#`` comment lines; quoted numbers; missing cells (:data:`MISSING_TOKENS`: empty, ``NA``, ``NaN``,
    ``null``, ...) read as NaN, i.e. gaps.

    Parameters
    ----------
    path : str
        The file.
    what : str
        What the file is, for messages ("data", "inputs").
    allow_gaps : bool
        Accept rows with NaN or infinite values (gaps; see :func:`finite_segments`); the file must still hold at
        least one finite row.
    columns : int or sequence of int, optional
        The columns that will be used (0-based; default all).  Only for the time-axis check: a used column that
        increases in equal steps is a time axis read as data, and a :class:`DataFileWarning` says so.

    Returns
    -------
    ndarray (T, N) float64

    Raises
    ------
    DataFileError
        Missing or unreadable file, unknown extension, a text column (e.g. dates), a cell that is neither a number
        nor a missing-value marker (the message names its line and column), rows of different lengths, empty
        content, time not along the first axis, NaN or infinite values (unless ``allow_gaps``).

    Warns
    -----
    DataFileWarning
        For a used column that increases in equal steps (a time axis or sample index, not a measurement).
    """
    if not os.path.exists(path):
        raise DataFileError(f"{what} file {path!r} not found; give a .npy or .csv file (time along the first axis)")
    ext = os.path.splitext(path)[1].lower()
    names = None
    try:
        if ext == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif ext in (".csv", ".txt", ".dat", ".tsv"):
            arr, names = _read_text_table(path, what)
        else:
            raise DataFileError(f"{what} file {path!r} has an unknown extension {ext!r}; use .npy or .csv")
    except DataFileError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFileError(f"cannot read {what} file {path!r} ({reason}); it must hold a numeric (T, N) array "
                            f"(.npy saved with np.save, or .csv with one row per time step)") from None
    if arr.size == 0:
        raise DataFileError(f"{what} file {path!r} holds no data; it must hold a numeric (T, N) array")
    if arr.dtype.kind not in "fiu":
        raise DataFileError(f"{what} file {path!r} holds {arr.dtype} values; it must hold numbers")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataFileError(f"{what} file {path!r} holds an array of shape {arr.shape}; expected (T, N) with time "
                            f"along the first axis")
    if arr.shape[0] < arr.shape[1]:
        raise DataFileError(f"{what} file {path!r} has shape {arr.shape}: fewer time steps than columns; time must "
                            f"run along the first axis (transpose it with arr.T)")
    if not np.all(np.isfinite(arr)):
        if not allow_gaps:
            raise DataFileError(f"{what} file {path!r} contains NaN or infinite values; remove or interpolate them "
                                f"(fastrnn train splits a file with gaps into its finite segments)")
        if not np.isfinite(arr).all(axis=1).any():
            raise DataFileError(f"{what} file {path!r} has no row without NaN or infinite values")
    arr = arr.astype(np.float64)
    used = range(arr.shape[1]) if columns is None else np.atleast_1d(columns).tolist()
    axes = [(j, step) for j, step in time_axis_columns(arr) if j in used]
    others = [i for i in range(arr.shape[1]) if i not in dict(axes)]
    keep = (f"use only the measured columns (--column {','.join(map(str, others))})" if others else
            "give the measured columns")
    for j, step in axes:
        label = f"column {j}" + (f" ({names[j]!r})" if names else "")
        warnings.warn(f"{what} file {path!r}: {label} increases in equal steps of {step:.6g}, so it is a time axis "
                      f"or sample index, not a measurement, and it is read as data; {keep} and pass its step as "
                      f"the sampling interval (--dt {step:.6g} if it counts time units)", DataFileWarning,
                      stacklevel=2)
    return arr


def time_axis_columns(x):
    """The columns of ``x`` that increase in equal steps: a time axis or a sample index, not a measurement.

    Parameters
    ----------
    x : ndarray (T, N)

    Returns
    -------
    list of (int, float)
        Column index and its step, for every column of at least 3 finite values whose differences are all positive
        and within 5 % of their mean (a measured signal, chaotic or noisy, never increases monotonically in equal
        steps; times written with a few decimals are still recognised).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    out = []
    if x.shape[0] < 3:
        return out
    for j in range(x.shape[1]):
        if not np.isfinite(x[:, j]).all():
            continue
        d = np.diff(x[:, j])
        if d.min() > 0 and d.max() - d.min() <= 0.05 * d.mean():
            out.append((j, float(d.mean())))
    return out


def _decode(raw):
    """Text of a file's bytes: UTF-16 by its byte-order mark, else UTF-8 (a BOM dropped), else Latin-1."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _cells(line, delim):
    """The cells of one line, blanks and quotes stripped."""
    parts = line.split(delim) if delim is not None else line.split()
    return [p.strip().strip("\"'").strip() for p in parts]


def _number(cell, decimal_comma):
    """The float of a cell, NaN for a missing-value marker, None if it is neither."""
    if cell.lower() in MISSING_TOKENS:
        return math.nan
    try:
        return float(cell.replace(",", ".") if decimal_comma else cell)
    except ValueError:
        return None


def _layout(lines):
    """(delimiter, number of cells, decimal comma) of a text table, read from its last lines (the data): the
    delimiter whose cells are most consistently many and numeric."""
    sample = lines[-_SAMPLE:]
    best, best_score = (None, 1), 0.0
    for delim in _DELIMITERS:
        cells = [_cells(line, delim) for line in sample]
        counts = [len(c) for c in cells]
        n = max(set(counts), key=counts.count)
        if n < 2:
            continue
        rows = [c for c in cells if len(c) == n]
        numeric = np.mean([_number(v, delim != ",") is not None for c in rows for v in c])
        score = len(rows) / len(cells) * (numeric + 0.01)     # all-text tables still split consistently
        if score > best_score + 1e-9:
            best, best_score = (delim, n), score
    delim, n = best
    decimal_comma = delim != "," and any(re.fullmatch(r"[+-]?\d*,\d+([eE][+-]?\d+)?", c)
                                         for line in sample for c in _cells(line, delim))
    return delim, n, decimal_comma


def _read_text_table(path, what):
    """(array (T, N) with NaN for missing cells, column names or None) of a text table; see :func:`read_array`."""
    with open(path, "rb") as fh:
        text = _decode(fh.read())
    lines = [(i + 1, line.strip(" \r\n")) for i, line in enumerate(text.splitlines())]    # tabs may be cells
    lines = [(i, line) for i, line in lines if line.strip() and not line.startswith("#")]
    if not lines:
        return np.empty((0, 0)), None
    delim, n_cells, decimal_comma = _layout([line for _, line in lines])
    if delim is not None and n_cells > 1 and all(line.endswith(delim) for _, line in lines[-_SAMPLE:]):
        # every row ends with the delimiter (spreadsheet exports): an empty last column, dropped
        lines = [(i, line[:-1] if line.endswith(delim) else line) for i, line in lines]
        n_cells -= 1
    # a column whose last cells are all text is a text column (dates, labels): say which, and what to do
    tail = [_cells(line, delim) for _, line in lines[-_SAMPLE:]]
    tail = [c for c in tail if len(c) == n_cells]
    text_cols = [j for j in range(n_cells) if all(_number(c[j], decimal_comma) is None for c in tail)]
    # leading header lines: any line before the first whose cells are all numbers or missing
    start = 0
    while start < len(lines) and not _is_row(lines[start][1], delim, n_cells, decimal_comma, text_cols):
        start += 1
    header = _cells(lines[start - 1][1], delim) if start else None
    names = header if header is not None and len(header) == n_cells else None
    if len(text_cols) == n_cells:
        lineno, line = lines[-1]
        raise DataFileError(f"cannot read {what} file {path!r}: no column holds numbers (line {lineno}: {line!r}); "
                            f"it must hold a numeric (T, N) array (.npy saved with np.save, or .csv with one row per "
                            f"time step)")
    if text_cols:
        which = ", ".join(f"{j}" + (f" ({names[j]!r})" if names else "") for j in text_cols)
        first = tail[-1][text_cols[0]] if tail else ""
        raise DataFileError(
            f"{what} file {path!r}: column(s) {which} hold text (e.g. {first!r}), not numbers; fastrnn reads "
            f"numeric columns only. Remove the text column(s) from the file (a time stamp column is not needed: "
            f"give the sampling interval with --dt)")
    rows = lines[start:]
    if not rows:
        raise DataFileError(f"{what} file {path!r} holds no numeric rows, only {start} header line(s)")
    if not decimal_comma:
        try:    # the fast path: plain numbers throughout
            data = np.loadtxt([line for _, line in rows], delimiter=delim, ndmin=2, quotechar='"', comments=None)
            if data.shape[1] == n_cells:
                return data, names
        except ValueError:
            pass    # missing-value markers, ragged rows or a bad cell: read cell by cell below
    data = np.empty((len(rows), n_cells))
    for r, (lineno, line) in enumerate(rows):
        cells = _cells(line, delim)
        if len(cells) != n_cells:
            raise DataFileError(f"{what} file {path!r}: line {lineno} has {len(cells)} cell(s) where the table has "
                                f"{n_cells}; every row needs one cell per column (leave a missing value empty)")
        for j, cell in enumerate(cells):
            v = _number(cell, decimal_comma)
            if v is None:
                raise DataFileError(
                    f"{what} file {path!r}: line {lineno}, column {j}" + (f" ({names[j]!r})" if names else "")
                    + f" holds {cell!r}, which is neither a number nor a missing value; write missing values as an "
                      f"empty cell, NA or NaN")
            data[r, j] = v
    return data, names


def _is_row(line, delim, n_cells, decimal_comma, text_cols):
    """Whether a line is a data row: its cells (outside text columns) are numbers or missing."""
    cells = _cells(line, delim)
    if len(cells) != n_cells:
        return False
    return all(_number(c, decimal_comma) is not None for j, c in enumerate(cells) if j not in text_cols)


@dataclass
class Segments:
    """A series split at its gaps (result of :func:`finite_segments`).

    Attributes
    ----------
    series : list of ndarray (T_i, N)
        The finite segments kept, in time order.
    spans : list of (int, int)
        Rows ``start, stop`` of each kept segment in the original series.
    dropped : list of (int, int)
        Rows of the finite segments dropped for being shorter than ``min_length``.
    filled : list of (int, int)
        Rows of the gaps filled by linear interpolation.
    """

    series: list
    spans: list
    dropped: list = field(default_factory=list)
    filled: list = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many segments, samples, filled gaps and dropped segments."""
        n = sum(len(s) for s in self.series)
        out = f"{len(self.series)} segment(s), {n} samples"
        if self.filled:
            out += f"; {len(self.filled)} gap(s) of <= {max(b - a for a, b in self.filled)} rows interpolated"
        if self.dropped:
            out += (f"; {len(self.dropped)} segment(s) shorter than the minimum dropped (rows "
                    + ", ".join(f"{a}-{b - 1}" for a, b in self.dropped) + ")")
        return out


def _runs(mask):
    """(start, stop) of the maximal runs of True in a boolean vector."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def finite_segments(x, *, fill_gaps=0, min_length=2):
    """Split a series at its gaps (rows with a NaN or infinite value) into finite segments.

    Parameters
    ----------
    x : array_like (T,) or (T, N)
        Time along axis 0.
    fill_gaps : int
        Interior gaps of at most this many rows are filled by linear interpolation (column by column) between the
        finite rows on either side; longer gaps, and gaps at the start or end, split the series. 0 (default): no
        interpolation. Interpolated samples are not measurements: fill only gaps much shorter than the dynamics'
        time scales.
    min_length : int
        Segments with fewer rows are dropped and reported (e.g. ``seq_len + 1`` for training windows); segments are
        never joined across a gap.

    Returns
    -------
    Segments

    Raises
    ------
    ValueError
        If no segment of at least ``min_length`` rows remains.
    """
    from . import validation

    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"x must be (T,) or (T, N), got shape {arr.shape}")
    fill_gaps = validation.check_int(fill_gaps, "fill_gaps", minimum=0)
    min_length = validation.check_int(min_length, "min_length", minimum=1)
    ok = np.isfinite(arr).all(axis=1)
    arr = arr.copy()
    filled = []
    for a, b in _runs(~ok):
        if 0 < a and b < len(arr) and b - a <= fill_gaps:
            w = (np.arange(a, b) - (a - 1)) / (b - (a - 1))
            arr[a:b] = (1.0 - w)[:, None] * arr[a - 1] + w[:, None] * arr[b]
            ok[a:b] = True
            filled.append((a, b))
    series, spans, dropped = [], [], []
    for a, b in _runs(ok):
        (spans if b - a >= min_length else dropped).append((a, b))
    series = [arr[a:b] for a, b in spans]
    if not series:
        raise ValueError(f"no finite segment (rows without NaN or infinite values) of at least {min_length} rows: "
                         f"the longest has "
                         f"{max([b - a for a, b in dropped], default=0)}; fill short gaps (fill_gaps) or use a "
                         f"shorter window")
    return Segments(series, spans, dropped, filled)


def longest_segment(x, *, fill_gaps=0):
    """The longest finite segment of a series with gaps (rows with NaN or inf), after interpolating short gaps.

    Parameters
    ----------
    x : ndarray (T, N)
    fill_gaps : int
        Interpolate interior gaps of at most this many rows first (:func:`finite_segments`).

    Returns
    -------
    series : ndarray (L, N)
        ``x`` itself where it has no gaps.
    span : tuple of int or None
        Its rows ``(start, stop)``; None where ``x`` has no gaps.
    segments : Segments or None
        All the finite segments (None without gaps), for a summary.
    """
    if np.isfinite(x).all():
        return x, None, None
    segs = finite_segments(x, fill_gaps=fill_gaps)
    k = int(np.argmax([len(v) for v in segs.series]))
    return segs.series[k], tuple(int(v) for v in segs.spans[k]), segs


def _standardize(x, mean=None, std=None):
    try:
        return zscore(x, mean, std, return_stats=True)
    except ValueError as exc:
        raise DataFileError(f"data {exc}") from None


def load_series(source, *, n_steps=30000, dt=None, data_seed=0, inputs=None, raw=False, scaling=None,
                allow_gaps=False, columns=None):
    """A series from a data file or a benchmark system.

    Parameters
    ----------
    source : str
        A .npy/.csv file, or a system name (:data:`fastrnn.systems.SYSTEMS`) generated with ``n_steps`` samples from
        ``data_seed`` (standardised by the generator).
    n_steps, data_seed : int
        For a system.
    dt : float, optional
        Sampling interval in time units per sample (default: the system's, or 1 for a file).
    inputs : str, optional
        A file of external inputs (T, K) aligned with a data file.
    raw : bool
        Do not z-score file data.
    scaling : dict, optional
        ``{"mean": [...], "std": [...]}``: scale file data with these statistics (those of the training data)
        instead of its own.
    allow_gaps : bool
        Accept rows with NaN or infinite values in a data file (split them off with :func:`finite_segments`); the
        z-score then uses the finite rows' statistics.
    columns : int or sequence of int, optional
        The data file's columns that will be used (default all), for :func:`read_array`'s time-axis check.

    Returns
    -------
    x : ndarray (T, N)
    s : ndarray (T, K) or None
    dt : float
    label : str
        The system name or the file's base name.
    scaling : dict or None
        The statistics used for file data (None for systems and raw data).
    """
    if not os.path.exists(source) and source.strip().lower() in SYSTEMS:
        x, s, dt = system_series(source, n_steps, dt=dt, rng=data_seed)
        return x, s, dt, source.strip().lower(), None
    if not os.path.exists(source) and os.path.splitext(source)[1] == "":
        raise DataFileError(f"{source!r} is neither a data file nor a system; give a .npy/.csv file or one of "
                            f"{', '.join(SYSTEMS)}")
    x = read_array(source, "data", allow_gaps=allow_gaps, columns=columns)
    s = read_array(inputs, "inputs") if inputs else None
    if s is not None and s.shape[0] != x.shape[0]:
        raise DataFileError(f"inputs file has {s.shape[0]} rows but the data have {x.shape[0]}; they must be "
                            f"aligned (one row per time step)")
    if not raw:
        if scaling is not None:
            x, _, _ = _standardize(x, scaling["mean"], scaling["std"])
        else:
            finite = x[np.isfinite(x).all(axis=1)]
            x, mean, std = _standardize(x, finite.mean(axis=0), finite.std(axis=0))
            scaling = {"mean": mean.tolist(), "std": std.tolist()}
    return x, s, (dt or 1.0), os.path.basename(source), scaling
