"""Validation at the public boundary: the one home of fastrnn's argument checks and their messages.

Every public function validates its arguments with these helpers (the pattern of scikit-learn's
``sklearn.utils.validation``): a wrong type raises ``TypeError``, a wrong value ``ValueError``, and each message names
the argument, says what it must be and what was given.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype) -> np.dtype:
    """Return a supported float dtype (float32 or float64) or raise TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype={dtype!r} is not a NumPy dtype; use np.float32 or np.float64") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype={dt} is not supported; use np.float32 or np.float64")
    return dt


def as_float_array(x, name: str, dtype, *, ndim=None, allow_nonfinite=False) -> np.ndarray:
    """Convert ``x`` to a C-contiguous array of ``dtype``; check rank and finiteness.

    Integer, boolean and other-precision float input is converted (a copy); complex, object or string input raises
    TypeError. Non-contiguous input is copied to C order.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} has dtype {arr.dtype}; it must hold real numbers (convert it with np.asarray({name}, dtype=float))"
        )
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if ndim is not None:
        ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in ndims:
            want = " or ".join(f"{d}-D" for d in ndims)
            raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if not allow_nonfinite and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); remove or interpolate them before calling (e.g. with "
            f"np.nan_to_num or by dropping the affected samples)"
        )
    return arr


def check_int(value, name: str, *, minimum=None) -> int:
    """``value`` as an int (bool is refused) that is at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_float(value, name: str, *, minimum=None, maximum=None, strict_min=False) -> float:
    """``value`` as a finite float in [minimum, maximum] (``strict_min``: > minimum); bool is refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict_min else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict_min else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_positive(value, name: str) -> float:
    """``value`` as a finite float > 0; anything else (also a non-number) raises ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_bool(value, name: str) -> bool:
    """``value`` as a bool; only True, False and NumPy booleans are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_point(x0, dim: int, name: str = "x0") -> np.ndarray:
    """A finite float64 point of shape (dim,) (a scalar is accepted when dim is 1)."""
    try:
        arr = np.array(x0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a sequence of {dim} real numbers, got {x0!r}") from exc
    if dim == 1 and arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}")
    return arr


def check_rng(rng) -> np.random.Generator:
    """SPEC 7: accept None, an int seed, a SeedSequence, a BitGenerator or a Generator.

    Raises
    ------
    TypeError
        For an object that is no seed (e.g. a string or a float).
    ValueError
        For a seed NumPy refuses (e.g. a negative integer).
    """
    try:
        return np.random.default_rng(rng)
    except TypeError as exc:
        raise TypeError(f"rng={rng!r} is not a seed or numpy Generator; pass an int, None or "
                        f"np.random.default_rng(...)") from exc
    except ValueError as exc:
        raise ValueError(f"rng={rng!r} is not a valid seed ({exc}); pass None, a non-negative int, a SeedSequence "
                         f"or np.random.default_rng(...)") from exc
