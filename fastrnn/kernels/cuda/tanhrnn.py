"""Tanh RNN on the GPU: z' = tanh(W z + h + C s) (DESIGN §1), the twin of :mod:`fastrnn.kernels.tanhrnn`.

One thread block per window; thread ``i`` owns latent unit ``i`` (strided when M exceeds the block); the forced and
free states are double-buffered in shared memory, one barrier per time step. :func:`loss_grad` has the signature and
the returns of :func:`fastrnn.kernels.tanhrnn.loss_grad`.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float64, from_dtype

from ._common import MAX_THREADS, Batch, device_functions, launch, session_or_default, upload_T


#: Dynamic shared memory of the (forward, backward) kernels, in values per latent unit.
SHARED = (4, 3)


@functools.lru_cache(maxsize=None)
def kernels(dtype):
    """(forward, backward) kernels for ``dtype``.

    ``forward[nb, threads, 0, SHARED[0] M itemsize](WT, h, CT, B, PT, X, S, alpha, mask, Z, ZF, R, losses)``
        as for the PLRNN: Z (nb, T+1, M), ZF (nb, T, M), R (nb, T, N), losses (nb,) float64.
    ``backward[nb, threads, 0, SHARED[1] M itemsize](W, B, alpha, mask, ZF, R, scale, GP, GZt)``
        GP[b, t-1] = dL/d(pre-activation of step t), GZt[b, t] = dL/dz~_t.
    """
    nbdt = from_dtype(np.dtype(dtype))
    dev = device_functions(dtype)
    one, zero = dev.one, dev.zero
    start, force, residuals, block_loss, free_adjoint = (dev.start, dev.force, dev.residuals, dev.block_loss,
                                                         dev.free_adjoint)

    @cuda.jit
    def forward(WT, h, CT, B, PT, X, S, alpha, mask, Z, ZF, R, losses):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = h.shape[0]
        K = CT.shape[0]
        T1 = X.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # z[2][M] | zf[2][M]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        start(PT, X, Z, sh, b, tid, nt, M)
        cuda.syncthreads()
        loss = 0.0
        for t in range(1, T1):
            cur = (t & 1) * M
            prv = M - cur
            at = alpha[b, t]
            for i in range(tid, M, nt):
                v = h[i]
                acc = zero
                for j in range(M):
                    acc += WT[j, i] * sh[prv + j]
                v += acc
                acc = zero
                for k in range(K):
                    acc += CT[k, i] * S[b, t, k]
                v += acc
                v = math.tanh(v)
                sh[2 * M + cur + i] = v
                ZF[b, t - 1, i] = v
                z = force(v, PT, X, b, t, i, at * mask[i])
                sh[cur + i] = z
                Z[b, t, i] = z
            cuda.syncthreads()
            loss = residuals(B, X, R, sh, 2 * M + cur, b, t, tid, nt, loss)
        block_loss(red, loss, tid, nt, losses, b)

    @cuda.jit
    def backward(W, B, alpha, mask, ZF, R, scale, GP, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = W.shape[0]
        T = R.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # gz[M] (owner-only entries) | gp[2][M]
        for i in range(tid, M, nt):
            sh[i] = zero
        for t in range(T, 0, -1):
            par = M + (t & 1) * M
            at = alpha[b, t]
            for i in range(tid, M, nt):
                gf = free_adjoint(B, R, scale, GZt, b, t, i, at * mask[i], sh[i])
                zf = ZF[b, t - 1, i]
                gp = gf * (one - zf * zf)
                sh[par + i] = gp
                GP[b, t - 1, i] = gp
            cuda.syncthreads()
            for i in range(tid, M, nt):
                acc = zero
                for j in range(M):
                    acc += W[j, i] * sh[par + j]
                sh[i] = acc
        for i in range(tid, M, nt):
            GZt[b, 0, i] = sh[i]

    return forward, backward


def loss_grad(params, X, S, alpha, mask, P, control_grad, session=None, cut=None):
    """Loss and gradients on the GPU: the parameters and returns of :func:`fastrnn.kernels.tanhrnn.loss_grad`, with
    X and S device arrays (see :func:`fastrnn.kernels.cuda.plrnn.loss_grad`)."""
    ses = session_or_default(session)
    bt = Batch(ses, params, X, S, alpha, mask, P, cut)
    W, h, B = params["W"], params["h"], params["B"]
    dt, nb, T, N, K = bt.dtype, bt.nb, bt.T, bt.N, bt.K
    M = h.shape[0]
    C = bt.input_matrix(params, "C", M)
    fwd, bwd = kernels(dt.str)
    Z = ses.buffer("Z", (nb, T + 1, M), dt)
    ZF = ses.buffer("ZF", (nb, T, M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    d_B = ses.to_device(B)
    launch(fwd, ses, M, SHARED[0], nb, dt)(
        upload_T(ses, W), ses.to_device(h), upload_T(ses, C), d_B, bt.PT, X, S, bt.alpha, bt.mask, Z, ZF, R,
        bt.losses)
    GP = ses.buffer("GP", (nb, T, M), dt)
    GZt = ses.buffer("GZt", (nb, T + 1, M), dt)
    launch(bwd, ses, M, SHARED[1], nb, dt)(
        ses.to_device(W), d_B, bt.alpha_back, bt.mask, ZF, R, bt.scale, GP, GZt)
    grads = {
        "W": ses.product(GP, 0, 0, M, Z, 0, 0, M, T),
        "h": ses.column_sums(GP, 0, 0, M, T),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-bt.scale),
    }
    if K:
        grads["C"] = ses.product(GP, 0, 0, M, S, 1, 0, K, T)
    return bt.finish(grads, GZt, control_grad)
