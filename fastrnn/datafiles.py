"""Measured series from files: reading .npy/.csv arrays and loading a series by file name or system name.

Errors are :class:`DataFileError` (a ``ValueError``) with one-line messages that say what to do. Issue 14 adds gaps
and segments here.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from .preprocessing import zscore
from .systems import SYSTEMS, system_series

__all__ = ["DataFileError", "load_series", "read_array"]


class DataFileError(ValueError):
    """A data or inputs file that cannot be used; the message says why and what to do."""


def read_array(path, what="data"):
    """Read a (T,) or (T, N) float array from .npy, .csv or .txt (a header line is skipped).

    Parameters
    ----------
    path : str
        The file.
    what : str
        What the file is, for messages ("data", "inputs").

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
        raise DataFileError(f"{what} file {path!r} contains NaN or infinite values; remove or interpolate them")
    return arr.astype(np.float64)


def _standardize(x, mean=None, std=None):
    try:
        return zscore(x, mean, std, return_stats=True)
    except ValueError as exc:
        raise DataFileError(f"data {exc}") from None


def load_series(source, *, n_steps=30000, dt=None, data_seed=0, inputs=None, raw=False, scaling=None):
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
    x = read_array(source, "data")
    s = read_array(inputs, "inputs") if inputs else None
    if s is not None and s.shape[0] != x.shape[0]:
        raise DataFileError(f"inputs file has {s.shape[0]} rows but the data have {x.shape[0]}; they must be "
                            f"aligned (one row per time step)")
    if not raw:
        if scaling is not None:
            x, _, _ = _standardize(x, scaling["mean"], scaling["std"])
        else:
            x, mean, std = _standardize(x)
            scaling = {"mean": mean.tolist(), "std": std.tolist()}
    return x, s, (dt or 1.0), os.path.basename(source), scaling
