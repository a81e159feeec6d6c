"""Host side of the GPU backend: device buffers, uploads, window gathering, and per-model loss and gradients.

The semantics are those of the CPU path (DESIGN §1): :meth:`Session.loss_grad` returns the loss, dL/dparameter for
every parameter and dL/dP (P the control matrix, z~ = P x); the chain rule through P into B stays on the host
(:func:`fastrnn.training._loss_and_grad`), once per batch, as on the CPU.

Per batch the host uploads the parameters (a few small arrays), the forcing weights and the mask, launches the forward
kernel, the backward kernel and one reduction per parameter gradient, and copies back the per-window losses and the
gradients. Observations stay on the device: :meth:`Session.upload_series` sends the training series once and
:meth:`Session.gather` cuts each batch's windows out of them from their start indices.
"""
from __future__ import annotations


import numpy as np
from numba import config as _numba_config
from numba import cuda

from . import _linalg, gru, lstm, plrnn, tanhrnn

# Launch geometry. Under the simulator (one Python thread per CUDA thread, each barrier costs about a millisecond)
# blocks are kept small: 2 threads per recurrent block (strided loops over units), 4x4 product tiles (partial for
# the tests' tiny sizes) and 2 row chunks per product (multi-chunk reductions).
_GPU_CONFIG = dict(warp=32, max_threads=plrnn.MAX_THREADS, tile=16, threads_1d=256, target_blocks=1024,
                   max_chunks=4096)
_SIM_CONFIG = dict(warp=1, max_threads=2, tile=4, threads_1d=4, target_blocks=2, max_chunks=2)


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
        self.config = dict(_SIM_CONFIG if self.simulator else _GPU_CONFIG)
        if config:
            self.config.update(config)
        if self.config["max_threads"] > plrnn.MAX_THREADS:
            raise ValueError(f"max_threads must be <= {plrnn.MAX_THREADS}")
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

    def loss_grad(self, kind, params, X, S, alpha, mask, P, control_grad):
        """Loss and gradients of sparsely forced BPTT over a batch of windows on the device.

        Parameters
        ----------
        kind : str
            Model kind ("PLRNN", "TanhRNN", "LSTM" or "GRU").
        params : dict of str -> ndarray
            The model's parameters (host arrays of one dtype, float32 or float64).
        X, S : device arrays (nb, T+1, N) and (nb, T+1, K)
            Observation windows and inputs in the parameters' dtype (K may be 0).
        alpha : ndarray (nb, T+1)
            Forcing weights; mask : ndarray (M,) unit mask (1 where forcing acts); both in the parameters' dtype.
        P : ndarray (M, N)
            Control matrix (z~ = P x) in the parameters' dtype.
        control_grad : bool
            Also return dL/dP.

        Returns
        -------
        loss : float
        grads : dict of str -> ndarray (host, parameters' dtype)
        dP : ndarray (M, N) float64, or None if ``control_grad`` is False
        """
        try:
            run = _MODELS[kind]
        except KeyError:
            raise ValueError(f"no CUDA kernels for model kind {kind!r}; known kinds: {sorted(_MODELS)}") from None
        dt = params["B"].dtype
        if X.dtype != dt or S.dtype != dt:
            raise TypeError(f"X and inputs must have the model's dtype {dt} on the device, got {X.dtype}, {S.dtype}")
        nb, T1, N = X.shape
        T = T1 - 1
        scale = dt.type(2.0 / (nb * T * N))
        d_alpha = self.to_device(np.asarray(alpha, dtype=dt))
        d_mask = self.to_device(np.asarray(mask, dtype=dt))
        PT = self.to_device(np.ascontiguousarray(np.asarray(P, dtype=dt).T))
        losses, grads, GZt = run(self, params, X, S, d_alpha, d_mask, PT, scale)
        loss = float(losses.copy_to_host().sum()) / (nb * T * N)
        dP = None
        if control_grad:
            M = GZt.shape[2]
            dP = self.product(GZt, 0, 0, M, X, 0, 0, N, T1).astype(np.float64)
        return loss, grads, dP


def _upload_T(session, a):
    """Upload a.T as a C-contiguous device array."""
    return session.to_device(np.ascontiguousarray(a.T))


def _launch(kernel, session, units, shared_bytes, nb):
    threads = session.threads_for(units)
    return kernel[nb, threads, 0, max(int(shared_bytes), 1)]


def _run_plrnn(ses, p, X, S, d_alpha, d_mask, PT, scale):
    A, W, h, B = p["A"], p["W"], p["h"], p["B"]
    dt = B.dtype
    nb, T1, N = X.shape
    T, M, K = T1 - 1, A.shape[0], S.shape[2]
    C = p["C"] if K else np.zeros((M, 0), dt)
    fwd, bwd = plrnn.kernels(dt.str)
    Z = ses.buffer("Z", (nb, T1, M), dt)
    ZF = ses.buffer("ZF", (nb, T, M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    losses = ses.buffer("losses", (nb,), np.float64)
    d_B, d_A = ses.to_device(B), ses.to_device(A)
    _launch(fwd, ses, M, plrnn.shared_forward(M, N, dt.itemsize), nb)(
        d_A, _upload_T(ses, W), ses.to_device(h), _upload_T(ses, C), d_B, PT, X, S, d_alpha, d_mask, Z, ZF, R,
        losses)
    GF = ses.buffer("GF", (nb, T, M), dt)
    GZt = ses.buffer("GZt", (nb, T1, M), dt)
    _launch(bwd, ses, M, plrnn.shared_backward(M, N, dt.itemsize), nb)(
        d_A, ses.to_device(W), d_B, d_alpha, d_mask, Z, R, scale, GF, GZt)
    gW = ses.product(GF, 0, 0, M, Z, 0, 0, M, T, relu_b=True)
    np.fill_diagonal(gW, 0.0)
    grads = {
        "A": ses.column_sums(GF, 0, 0, M, T, B=Z),
        "W": gW,
        "h": ses.column_sums(GF, 0, 0, M, T),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-scale),
    }
    if K:
        grads["C"] = ses.product(GF, 0, 0, M, S, 1, 0, K, T)
    return losses, grads, GZt


def _run_tanhrnn(ses, p, X, S, d_alpha, d_mask, PT, scale):
    W, h, B = p["W"], p["h"], p["B"]
    dt = B.dtype
    nb, T1, N = X.shape
    T, M, K = T1 - 1, h.shape[0], S.shape[2]
    C = p["C"] if K else np.zeros((M, 0), dt)
    fwd, bwd = tanhrnn.kernels(dt.str)
    Z = ses.buffer("Z", (nb, T1, M), dt)
    ZF = ses.buffer("ZF", (nb, T, M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    losses = ses.buffer("losses", (nb,), np.float64)
    d_B = ses.to_device(B)
    _launch(fwd, ses, M, tanhrnn.shared_forward(M, N, dt.itemsize), nb)(
        _upload_T(ses, W), ses.to_device(h), _upload_T(ses, C), d_B, PT, X, S, d_alpha, d_mask, Z, ZF, R, losses)
    GP = ses.buffer("GP", (nb, T, M), dt)
    GZt = ses.buffer("GZt", (nb, T1, M), dt)
    _launch(bwd, ses, M, tanhrnn.shared_backward(M, N, dt.itemsize), nb)(
        ses.to_device(W), d_B, d_alpha, d_mask, ZF, R, scale, GP, GZt)
    grads = {
        "W": ses.product(GP, 0, 0, M, Z, 0, 0, M, T),
        "h": ses.column_sums(GP, 0, 0, M, T),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-scale),
    }
    if K:
        grads["C"] = ses.product(GP, 0, 0, M, S, 1, 0, K, T)
    return losses, grads, GZt


def _run_lstm(ses, p, X, S, d_alpha, d_mask, PT, scale):
    W, b, B = p["W"], p["b"], p["B"]
    dt = B.dtype
    nb, T1, N = X.shape
    T, M, K = T1 - 1, W.shape[1], S.shape[2]
    U = p["U"] if K else np.zeros((4 * M, 0), dt)
    fwd, bwd = lstm.kernels(dt.str)
    Z = ses.buffer("Z", (nb, T1, 2 * M), dt)
    ZF = ses.buffer("ZF", (nb, T, 2 * M), dt)
    G = ses.buffer("G", (nb, T, 5 * M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    losses = ses.buffer("losses", (nb,), np.float64)
    d_B = ses.to_device(B)
    _launch(fwd, ses, M, lstm.shared_forward(M, N, dt.itemsize), nb)(
        _upload_T(ses, W), _upload_T(ses, U), ses.to_device(b), d_B, PT, X, S, d_alpha, d_mask, Z, ZF, G, R, losses)
    GP = ses.buffer("GP", (nb, T, 4 * M), dt)
    GZt = ses.buffer("GZt", (nb, T1, M), dt)
    _launch(bwd, ses, M, lstm.shared_backward(M, N, dt.itemsize), nb)(
        ses.to_device(W), d_B, d_alpha, d_mask, Z, G, R, scale, GP, GZt)
    grads = {
        "W": ses.product(GP, 0, 0, 4 * M, Z, 0, 0, M, T),
        "b": ses.column_sums(GP, 0, 0, 4 * M, T),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-scale),
    }
    if K:
        grads["U"] = ses.product(GP, 0, 0, 4 * M, S, 1, 0, K, T)
    return losses, grads, GZt


def _run_gru(ses, p, X, S, d_alpha, d_mask, PT, scale):
    W, b, B = p["W"], p["b"], p["B"]
    dt = B.dtype
    nb, T1, N = X.shape
    T, M, K = T1 - 1, W.shape[1], S.shape[2]
    U = p["U"] if K else np.zeros((3 * M, 0), dt)
    fwd, bwd = gru.kernels(dt.str)
    Z = ses.buffer("Z", (nb, T1, M), dt)
    ZF = ses.buffer("ZF", (nb, T, M), dt)
    G = ses.buffer("G", (nb, T, 4 * M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    losses = ses.buffer("losses", (nb,), np.float64)
    d_B = ses.to_device(B)
    _launch(fwd, ses, M, gru.shared_forward(M, N, dt.itemsize), nb)(
        _upload_T(ses, W), _upload_T(ses, U), ses.to_device(b), d_B, PT, X, S, d_alpha, d_mask, Z, ZF, G, R, losses)
    GA = ses.buffer("GA", (nb, T, 4 * M), dt)
    GZt = ses.buffer("GZt", (nb, T1, M), dt)
    _launch(bwd, ses, M, gru.shared_backward(M, N, dt.itemsize), nb)(
        ses.to_device(W), d_B, d_alpha, d_mask, Z, G, R, scale, GA, GZt)
    gsum = ses.column_sums(GA, 0, 0, 4 * M, T)
    grads = {
        "W": ses.product(GA, 0, 0, 3 * M, Z, 0, 0, M, T),
        "b": np.concatenate([gsum[:2 * M], gsum[3 * M:]]),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-scale),
    }
    if K:
        grads["U"] = np.concatenate([ses.product(GA, 0, 0, 2 * M, S, 1, 0, K, T),
                                     ses.product(GA, 0, 3 * M, M, S, 1, 0, K, T)])
    return losses, grads, GZt


_MODELS = {"PLRNN": _run_plrnn, "TanhRNN": _run_tanhrnn, "LSTM": _run_lstm, "GRU": _run_gru}
