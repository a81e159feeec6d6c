"""Input handling shared by the :mod:`fastrnn.timeseries` modules: a measured series as a checked float64
``(T, D)`` array, built on :mod:`fastrnn.validation`."""
from __future__ import annotations

import numpy as np

from ..preprocessing import zscore
from ..validation import as_float_array, check_int

__all__ = ["as_series", "as_scalar_series", "standardized_series", "optional_int"]


def as_series(x, name="x", *, min_length=2) -> np.ndarray:
    """Validate a series and return it as a float64 (T, D) array (a copy where needed).

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
    name : str
        Name of the argument in error messages.
    min_length : int
        Fewest samples accepted.

    Returns
    -------
    numpy.ndarray, shape (T, D)

    Raises
    ------
    ValueError
        For a wrong rank, no column, fewer than ``min_length`` samples, NaN/inf, or a constant column (standard
        deviation at rounding level of its magnitude).
    """
    arr = as_float_array(x, name, np.float64, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    T, D = arr.shape
    if D == 0:
        raise ValueError(f"{name} has shape {arr.shape}: it needs at least one column")
    if T < min_length:
        raise ValueError(f"{name} has {T} samples; at least {min_length} are needed")
    std = arr.std(axis=0)
    scale = np.maximum(np.abs(arr).max(axis=0), np.finfo(float).tiny)
    const = np.nonzero(~(std > 1e-12 * scale))[0]
    if const.size:
        raise ValueError(
            f"{name} is constant (column(s) {const.tolist()}); a constant series has no dynamics to analyse - "
            f"drop constant columns or check the data"
        )
    return arr


def standardized_series(x, name="x", *, min_length=2) -> np.ndarray:
    """:func:`as_series` with every column z-scored (:func:`fastrnn.preprocessing.zscore`).

    The columns are never constant here (:func:`as_series` refuses those), so the z-score is always defined.
    """
    return zscore(as_series(x, name, min_length=min_length))


def as_scalar_series(x, name="x") -> np.ndarray:
    """Validate a scalar series (shape (T,) or (T, 1), at least 4 samples) and return it as a float64 (T,) array."""
    arr = as_series(x, name, min_length=4)
    if arr.shape[1] != 1:
        raise ValueError(
            f"{name} must be a scalar series of shape (T,) or (T, 1), got shape {arr.shape}; pass one column"
        )
    return arr[:, 0]


def optional_int(value, name, minimum):
    """None, or ``value`` checked with :func:`fastrnn.validation.check_int`."""
    return None if value is None else check_int(value, name, minimum=minimum)
