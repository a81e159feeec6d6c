"""Files: the one atomic writer and the one NumPy-aware JSON encoding of fastrnn.

Everything fastrnn writes (models, checkpoints, run results, reports, figures) goes through :func:`atomic_write`, so
an interrupted write never leaves a truncated file behind, and every JSON file through :func:`write_json` /
:func:`json_default`.
"""
from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np

__all__ = ["TEMP_SUFFIX", "atomic_write", "decode_tagged", "encode_tagged", "finite_or_none", "json_default",
           "read_json", "temp_files", "write_json", "write_text"]

#: suffix of the temporary files :func:`atomic_write` creates next to their destination (``.<name>.<random>.tmp``)
TEMP_SUFFIX = ".tmp"


def atomic_write(path, write):
    """Write a file atomically: ``write(fh)`` fills a temporary file next to ``path``, which then replaces ``path``.

    Parameters
    ----------
    path : str or path
        Destination. Its directory must exist.
    write : callable
        ``write(fh)`` with ``fh`` a binary file object.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def temp_files(path) -> list:
    """The temporary files that :func:`atomic_write` calls for ``path`` may have left behind (a writer killed
    mid-write), for clean-up."""
    import glob

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    return glob.glob(os.path.join(glob.escape(directory), "." + glob.escape(os.path.basename(path)) + ".*"
                                  + TEMP_SUFFIX))


def json_default(obj):
    """``default`` for :func:`json.dumps`: NumPy arrays become lists and NumPy scalars Python numbers."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    raise TypeError(f"not JSON-able: {type(obj).__name__}")


def encode_tagged(obj):
    """JSON-able copy of nested dicts/lists holding NumPy arrays and integers that :func:`decode_tagged` restores
    exactly: an array becomes ``{"__ndarray__": list, "dtype": str}`` (e.g. a bit generator's state)."""
    if isinstance(obj, dict):
        return {str(k): encode_tagged(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.str}
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (list, tuple)):
        return [encode_tagged(v) for v in obj]
    return obj


def decode_tagged(obj):
    """The inverse of :func:`encode_tagged`."""
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return np.asarray(obj["__ndarray__"], dtype=np.dtype(obj["dtype"]))
        return {k: decode_tagged(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_tagged(v) for v in obj]
    return obj


def write_json(path, obj, *, indent=1):
    """Write ``obj`` as JSON (NumPy values converted by :func:`json_default`) atomically to ``path``."""
    text = json.dumps(obj, indent=indent, default=json_default)
    atomic_write(path, lambda fh: fh.write(text.encode()))


def write_text(path, text):
    """Write ``text`` (UTF-8) atomically to ``path``."""
    atomic_write(path, lambda fh: fh.write(text.encode()))


def read_json(path):
    """Read a JSON file."""
    with open(os.fspath(path)) as fh:
        return json.load(fh)


def finite_or_none(v):
    """``float(v)``, or None for None, NaN and infinities (JSON has no non-finite numbers)."""
    return float(v) if v is not None and math.isfinite(v) else None
