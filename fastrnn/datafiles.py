"""Measured series from files: reading .npy/.csv arrays, splitting a series with gaps into its finite segments, and
loading a series by file name or system name.

Errors are :class:`DataFileError` (a ``ValueError``) with one-line messages that say what to do.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from .preprocessing import zscore
from .systems import SYSTEMS, system_series

__all__ = ["DataFileError", "Segments", "finite_segments", "load_series", "read_array"]


class DataFileError(ValueError):
    """A data or inputs file that cannot be used; the message says why and what to do."""


def read_array(path, what="data", *, allow_gaps=False):
    """Read a (T,) or (T, N) float array from .npy, .csv or .txt (a header line is skipped).

    Parameters
    ----------
    path : str
        The file.
    what : str
        What the file is, for messages ("data", "inputs").
    allow_gaps : bool
        Accept rows with NaN or infinite values (gaps; see :func:`finite_segments`); the file must still hold at
        least one finite row.

    Returns
    -------
    ndarray (T, N) float64

    Raises
    ------
    DataFileError
        Missing or unreadable file, unknown extension, non-numeric or empty content, time not along the first axis,
        NaN or infinite values.
    """
    if not os.path.exists(path):
        raise DataFileError(f"{what} file {path!r} not found; give a .npy or .csv file (time along the first axis)")
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
    return arr.astype(np.float64)


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


def _standardize(x, mean=None, std=None):
    try:
        return zscore(x, mean, std, return_stats=True)
    except ValueError as exc:
        raise DataFileError(f"data {exc}") from None


def load_series(source, *, n_steps=30000, dt=None, data_seed=0, inputs=None, raw=False, scaling=None,
                allow_gaps=False):
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
    x = read_array(source, "data", allow_gaps=allow_gaps)
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
