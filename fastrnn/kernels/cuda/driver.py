"""Host side of the GPU backend: device buffers, uploads, window gathering, and per-model loss and gradients.

The semantics are those of the CPU path (DESIGN §1): :meth:`Session.loss_grad` runs a model's CUDA twin
(``fastrnn.kernels.cuda.<model>.loss_grad``, the signature and returns of the CPU kernel module's ``loss_grad``):
the loss, dL/dparameter for every parameter and dL/dP (P the control matrix, z~ = P x); the chain rule through P into
B stays on the host, once per batch, as on the CPU.

Per batch the host uploads the parameters (a few small arrays), the forcing weights and the mask, launches the forward
kernel, the backward kernel and one reduction per parameter gradient, and copies back the per-window losses and the
gradients. Observations stay on the device: :meth:`Session.upload_series` sends the training series once and
:meth:`Session.gather` cuts each batch's windows out of them from their start indices.
"""
from __future__ import annotations


import numpy as np
from numba import config as _numba_config
from numba import cuda

from ... import config as _config
from . import _linalg, gru, lstm, plrnn, shplrnn, tanhrnn
from ._common import MAX_THREADS

#: Model kind -> its CUDA kernel module.
MODULES = {"PLRNN": plrnn, "TanhRNN": tanhrnn, "LSTM": lstm, "GRU": gru, "ShPLRNN": shplrnn}


def _cdiv(a, b):
    return -(-a // b)


class DeviceSeries:
    """Training series resident on the device: all series concatenated along time, inputs aligned with them."""

    def __init__(self, X, S, lengths):
        self.X, self.S, self.lengths = X, S, tuple(lengths)

    @property
    def offsets(self):
        """Start row of each series in the concatenation."""
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)


class Session:
    """State of the GPU backend for one caller (a :func:`fastrnn.fit` run or a :func:`fastrnn.loss_and_grad` call).

    Device buffers are allocated once per shape and reused from batch to batch.
    """

    def __init__(self, config=None):
        self.simulator = bool(_numba_config.ENABLE_CUDASIM)
        # launch geometry (fastrnn.config): tiny blocks under the simulator, where every barrier costs a millisecond
        self.config = dict(_config.CUDA_SIM_LAUNCH if self.simulator else _config.CUDA_GPU_LAUNCH)
        if config:
            self.config.update(config)
        if self.config["max_threads"] > MAX_THREADS:
            raise ValueError(f"max_threads must be <= {MAX_THREADS}")
        self._buffers = {}

    # ------------------------------------------------------------------ memory
    def to_device(self, arr):
        """Copy a host array to the device (C-contiguous)."""
        return cuda.to_device(np.ascontiguousarray(arr))

    def buffer(self, name, shape, dtype):
        """A device array reused across calls while its shape and dtype stay the same (contents undefined)."""
        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = cuda.device_array(shape, dtype=dtype)
            self._buffers[name] = buf
        return buf

    def upload_series(self, series, inputs):
        """Send the training series (list of (T_i, N) arrays) and inputs (list of (T_i, K)) to the device once."""
        X = np.ascontiguousarray(np.concatenate(series, axis=0))
        S = np.ascontiguousarray(np.concatenate(inputs, axis=0))
        return DeviceSeries(self.to_device(X), self.to_device(S), [len(x) for x in series])

    def gather(self, data, starts, T):
        """Windows of T+1 samples starting at rows ``starts`` (nb,) of the concatenated series: (X, S) on the device.

        The returned arrays are reused by the next call.
        """
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        nb = starts.shape[0]
        d_starts = self.to_device(starts)
        X = self.buffer("gather_X", (nb, T + 1, data.X.shape[1]), data.X.dtype)
        S = self.buffer("gather_S", (nb, T + 1, data.S.shape[1]), data.S.dtype)
        threads = self.config["threads_1d"]
        _linalg.gather(data.X.dtype.str)[nb, threads](data.X, d_starts, X)
        if data.S.shape[1]:
            _linalg.gather(data.S.dtype.str)[nb, threads](data.S, d_starts, S)
        return X, S

    # ------------------------------------------------------------------ reductions over (window, time)
    def _reduce(self, partial, nc, size, factor, dtype, name):
        out = self.buffer(name, (size,), dtype)
        threads = self.config["threads_1d"]
        _linalg.reduce_chunks(np.dtype(dtype).str)[_cdiv(size, threads), threads](
            partial, nc, np.dtype(dtype).type(factor), out)
        return out.copy_to_host()

    def _chunks(self, L, tiles, unit):
        cap = min(self.config["max_chunks"], _cdiv(L, unit))
        nc = max(1, min(_cdiv(self.config["target_blocks"], tiles), cap))
        rows = _cdiv(_cdiv(L, nc), unit) * unit
        return _cdiv(L, rows), rows

    def product(self, A, a_t0, a_c0, m, B, b_t0, b_c0, n, nT, relu_b=False, factor=1.0):
        """sum over (window w, step t < nT) of A[w, t + a_t0, a_c0:a_c0+m]^T f(B[w, t + b_t0, b_c0:b_c0+n]) * factor:
        a host array (m, n) in A's dtype; f = relu if ``relu_b``."""
        dtype = A.dtype
        if m == 0 or n == 0:
            return np.zeros((m, n), dtype=dtype)
        nb = A.shape[0]
        L = nb * nT
        tile = self.config["tile"]
        gi, gj = _cdiv(m, tile), _cdiv(n, tile)
        nc, rows = self._chunks(L, gi * gj, tile)
        partial = self.buffer(f"partial_{m}x{n}", (nc, m * n), dtype)
        _linalg.gemm_tn(dtype.str, tile)[(gi, gj, nc), (tile, tile)](
            A, a_t0, a_c0, B, b_t0, b_c0, 1 if relu_b else 0, nT, L, m, n, rows, partial)
        return self._reduce(partial, nc, m * n, factor, dtype, f"prod_{m}x{n}").reshape(m, n)

    def column_sums(self, A, a_t0, a_c0, m, nT, B=None, b_t0=0, b_c0=0):
        """sum over (w, t < nT) of A[w, t + a_t0, a_c0 + j] (times B[w, t + b_t0, b_c0 + j] if B is given): (m,)."""
        dtype = A.dtype
        nb = A.shape[0]
        L = nb * nT
        warp = self.config["warp"]
        threads = min(self.config["threads_1d"], _cdiv(m, warp) * warp)
        gj = _cdiv(m, threads)
        nc, rows = self._chunks(L, gj, 1)
        partial = self.buffer(f"partial_col_{m}", (nc, m), dtype)
        _linalg.coldot(dtype.str)[(gj, nc), threads](
            A, a_t0, a_c0, A if B is None else B, b_t0, b_c0, 0 if B is None else 1, nT, L, m, rows, partial)
        return self._reduce(partial, nc, m, 1.0, dtype, f"col_{m}")

    # ------------------------------------------------------------------ loss and gradients
    def threads_for(self, units):
        warp = self.config["warp"]
        return max(1, min(_cdiv(units, warp) * warp, self.config["max_threads"]))

    def loss_grad(self, kind, params, X, S, alpha, mask, P, control_grad, cut=None, **options):
        """Loss and gradients of sparsely forced BPTT over a batch of windows on the device.

        Parameters
        ----------
        kind : str
            Model kind ("PLRNN", "TanhRNN", "LSTM", "GRU" or "ShPLRNN").
        params : dict of str -> ndarray
            The model's parameters (host arrays of one dtype, float32 or float64).
        X, S : device arrays (nb, T+1, N) and (nb, T+1, K)
            Observation windows and inputs in the parameters' dtype (K may be 0).
        alpha : ndarray (nb, T+1)
            Forcing weights; mask : ndarray (M,) unit mask (1 where forcing acts).
        P : ndarray (M, N)
            Control matrix (z~ = P x), float64 as on the CPU; cast to the parameters' dtype.
        control_grad : bool
            Also return dL/dP.
        cut : ndarray (nb, T+1), optional
            Gradient cuts (truncated BPTT), as on the CPU (:func:`fastrnn.kernels.host.backward_alpha`).
        **options
            The model's variant, passed on to its kernel module (the ShPLRNN's ``clipped``).

        Returns
        -------
        loss : float
        grads : dict of str -> ndarray (host, parameters' dtype)
        dP : ndarray (M, N) float64, or None if ``control_grad`` is False
        """
        try:
            module = MODULES[kind]
        except KeyError:
            raise ValueError(f"no CUDA kernels for model kind {kind!r}; known kinds: {sorted(MODULES)}") from None
        return module.loss_grad(params, X, S, alpha, mask, P, control_grad, session=self, cut=cut, **options)


_default = None


def default_session():
    """The process's default :class:`Session` (created on first use), for kernel calls that pass none."""
    global _default
    if _default is None:
        _default = Session()
    return _default
