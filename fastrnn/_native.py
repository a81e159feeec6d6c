"""Loader of fastrnn's C core (``csrc/``) through cffi in ABI mode.

The C core is a plain shared library without Python headers (``libfastrnn_core.so`` on Linux,
``libfastrnn_core.dylib`` on macOS, ``fastrnn_core.dll`` on Windows), built by the top-level CMakeLists.txt and
installed next to the Python files of the package. It is looked up, in this order, at

1. the path in the environment variable ``FASTRNN_CORE_LIBRARY`` (if set),
2. the package directory: the directory of this module, then ``importlib.resources.files("fastrnn")`` (the
   installed package for wheels; the source package for editable installs and source checkouts, where
   ``make native`` or ``pip install -e .`` put it),
3. the other directories of the package's ``__path__`` and ``site-packages/fastrnn`` of this interpreter
   (scikit-build-core's redirecting editable installs place it there).

If it is not found, importing this module raises ImportError naming the command that rebuilds it.

The interface (see ``csrc/fastrnn_core.h``) is re-entrant: the caller owns all state. :func:`qr_accumulate`
wraps it for NumPy arrays. Numba code can call ``lib.fastrnn_qr_accumulate`` directly (cffi functions are
supported in nopython mode); pass ``lib.fastrnn_qr_accumulate`` as an *argument* of the jitted function rather
than reaching it through a global, or ``cache=True`` cannot cache the compiled function, and pass every pointer
as ``ffi.from_buffer(array)`` of the right dtype (an int64 array of length 1 for the count, a (k, k) array and a
length-1 array for ``tri`` and ``tri_log_scale``)::

    @njit(cache=True)
    def accumulate(f, J, Q, sums, count, T, log_scale):
        return f(J.shape[0], J.shape[1], Q.shape[1], ffi.from_buffer(J), ffi.from_buffer(Q),
                 ffi.from_buffer(sums), ffi.from_buffer(count), ffi.from_buffer(T), ffi.from_buffer(log_scale), 32)

    accumulate(lib.fastrnn_qr_accumulate, J, Q, sums, count, T, log_scale)
"""
from __future__ import annotations

import importlib.resources
import os
import sys
import sysconfig

import numpy as np

try:
    from cffi import FFI
except ImportError as exc:  # pragma: no cover - cffi is a declared dependency
    raise ImportError("fastrnn's C core is loaded with cffi, which is not installed: `pip install cffi` "
                      "(or reinstall fastrnn, which depends on it)") from exc

__all__ = ["ffi", "lib", "library_path", "qr_accumulate", "ABI_VERSION", "REBUILD_HINT", "library_filename"]

#: Must equal FASTRNN_CORE_ABI in csrc/fastrnn_core.h.
ABI_VERSION = 1

#: The command(s) that rebuild the library; quoted in every loading error.
REBUILD_HINT = ("rebuild it with `make native` in the fastrnn source checkout (after changing csrc/ or on a fresh "
                "clone; `make test` does it too), or reinstall the package: `pip install -e .` (editable) or "
                "`pip install .`")

_CDEF = """
int fastrnn_core_abi(void);
int fastrnn_core_simd(void);
int fastrnn_qr_accumulate(int64_t n_steps, int32_t dim, int32_t k, const double *jac, double *frame,
                          double *log_sums, int64_t *n_done, double *tri, double *tri_log_scale,
                          int32_t max_interval);
"""

OK, EARG, ENOMEM, ENONFINITE, EOVERFLOW = 0, -1, -2, -3, -4

ffi = FFI()
ffi.cdef(_CDEF)


def library_filename() -> str:
    """File name of the C core on this platform."""
    if sys.platform.startswith("win"):
        return "fastrnn_core.dll"
    if sys.platform == "darwin":
        return "libfastrnn_core.dylib"
    return "libfastrnn_core.so"


def _candidates():
    name = library_filename()
    env = os.environ.get("FASTRNN_CORE_LIBRARY")
    if env:
        yield os.fspath(env)
    seen = set()
    # The directory of this very module first: the installed package for wheels, the source package for
    # editable installs (where `make native` refreshes the library).
    dirs = [os.path.dirname(os.path.abspath(__file__))]
    try:
        dirs.append(os.fspath(importlib.resources.files("fastrnn")))
    except (TypeError, ModuleNotFoundError):  # pragma: no cover - only without a regular package
        pass
    pkg = sys.modules.get("fastrnn")
    dirs.extend(getattr(pkg, "__path__", []) or [])
    for key in ("platlib", "purelib"):
        try:
            dirs.append(os.path.join(sysconfig.get_paths()[key], "fastrnn"))
        except KeyError:  # pragma: no cover
            pass
    for d in dirs:
        d = os.path.abspath(d)
        if d not in seen:
            seen.add(d)
            yield os.path.join(d, name)


def _load():
    tried = []
    for path in _candidates():
        if not os.path.isfile(path):
            tried.append(path)
            continue
        try:
            handle = ffi.dlopen(path)
        except OSError as exc:
            raise ImportError(f"fastrnn's C core at {path} could not be loaded ({exc}); {REBUILD_HINT}") from exc
        abi = handle.fastrnn_core_abi()
        if abi != ABI_VERSION:
            raise ImportError(f"fastrnn's C core at {path} has interface version {abi}, this Python code expects "
                              f"{ABI_VERSION} (a stale build); {REBUILD_HINT}")
        return handle, path
    raise ImportError(f"fastrnn's C core ({library_filename()}) was not found; looked in: {', '.join(tried)}. "
                      f"To fix this, {REBUILD_HINT}")


lib, library_path = _load()


def _ptr(a, ctype="double *"):
    return ffi.cast(ctype, ffi.from_buffer(a))


def _check_array(a, name, shape, *, writable):
    if not isinstance(a, np.ndarray) or a.dtype != np.float64 or not a.flags.c_contiguous:
        raise TypeError(f"{name} must be a C-contiguous float64 ndarray (use np.ascontiguousarray(x, float64))")
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writable")


def qr_accumulate(jac, frame, log_sums, n_done, *, tri=None, tri_log_scale=0.0, max_interval=32):
    """Propagate an orthonormal frame through a chunk of Jacobians and accumulate log|diag R| (C core).

    Benettin's QR method, one chunk of a stream: ``J_t Q_{t-1} = Q_t R_t``; ``log_sums += sum_t log|diag R_t|``.
    The frame, the sums and the count are the state the caller carries from one chunk to the next; exponents per
    step are ``log_sums / n_done``.

    Parameters
    ----------
    jac : ndarray (n, D, D), float64, C-contiguous
        Jacobians of the map (per step), ``jac[t]`` acting on tangent vectors at step t.
    frame : ndarray (D, k), float64, C-contiguous, orthonormal columns
        Updated in place.
    log_sums : ndarray (k,), float64
        Running sums of log|R_ii| (natural log), updated in place.
    n_done : int
        Steps accumulated so far.
    tri : ndarray (k, k), float64, optional
        Scaled product of the R factors (start from the identity), updated in place; with ``tri_log_scale`` it
        gives the Jacobian product restricted to the initial frame, ``P Q_0 = Q_n exp(tri_log_scale) tri``.
    tri_log_scale : float
        Natural log of the scale of ``tri``.
    max_interval : int
        Largest number of steps between two re-orthonormalisations (the C core sizes the blocks adaptively so
        that the exponents equal those of the one-QR-per-step method to ~1e-12; 1 forces a QR every step).

    Returns
    -------
    n_done : int
        Updated step count.
    tri_log_scale : float
        Updated log scale (unchanged when ``tri`` is None).

    Raises
    ------
    ValueError
        A Jacobian holds NaN or inf (the message gives its index in the chunk); the state then holds the steps
        before it.
    FloatingPointError
        One step overflowed the float64 range.
    """
    if not isinstance(jac, np.ndarray) or jac.ndim != 3 or jac.shape[1] != jac.shape[2]:
        raise ValueError(f"jac must be an array of shape (n, D, D), got shape {np.shape(jac)}")
    n, D = jac.shape[0], jac.shape[1]
    if frame.ndim != 2 or frame.shape[0] != D or not 1 <= frame.shape[1] <= D:
        raise ValueError(f"frame must have shape (D, k) with D = {D} and 1 <= k <= D, got {frame.shape}")
    k = frame.shape[1]
    _check_array(jac, "jac", (n, D, D), writable=False)
    _check_array(frame, "frame", (D, k), writable=True)
    _check_array(log_sums, "log_sums", (k,), writable=True)
    if tri is not None:
        _check_array(tri, "tri", (k, k), writable=True)
    max_interval = int(max_interval)
    if max_interval < 1:
        raise ValueError(f"max_interval must be >= 1, got {max_interval}")
    start = int(n_done)
    count = ffi.new("int64_t *", start)
    scale = ffi.new("double *", float(tri_log_scale))
    rc = lib.fastrnn_qr_accumulate(n, D, k, _ptr(jac) if n else ffi.NULL, _ptr(frame), _ptr(log_sums), count,
                                   _ptr(tri) if tri is not None else ffi.NULL,
                                   scale if tri is not None else ffi.NULL, max_interval)
    if rc == OK:
        return int(count[0]), float(scale[0])
    where = int(count[0]) - start
    if rc == ENONFINITE:
        raise ValueError(f"jac[{where}] contains NaN or inf (Jacobian of step {int(count[0])} of the stream); the "
                         f"orbit or the map is not finite there")
    if rc == EOVERFLOW:
        raise FloatingPointError(f"step {where} of the chunk overflowed the float64 range (|J| near 1e308)")
    if rc == ENOMEM:
        raise MemoryError(f"the C core could not allocate its workspace for D = {D}")
    raise ValueError(f"invalid arguments for the C core (n={n}, D={D}, k={k}, max_interval={max_interval})")
