"""Tanh RNN on the GPU: z' = tanh(W z + h + C s) (DESIGN §1), the twin of :mod:`fastrnn.kernels.tanhrnn`.

One thread block per window; thread ``i`` owns latent unit ``i`` (strided when M exceeds the block); the forced and
free states are double-buffered in shared memory, one barrier per time step.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float64, from_dtype

from .plrnn import MAX_THREADS


def shared_forward(M, N, itemsize):
    """Bytes of dynamic shared memory of the forward kernel."""
    return 4 * M * itemsize


def shared_backward(M, N, itemsize):
    """Bytes of dynamic shared memory of the backward kernel."""
    return 3 * M * itemsize


@functools.lru_cache(maxsize=None)
def kernels(dtype):
    """(forward, backward) kernels for ``dtype``.

    ``forward[nb, threads, 0, shared_forward(...)](WT, h, CT, B, PT, X, S, alpha, mask, Z, ZF, R, losses)``
        as for the PLRNN: Z (nb, T+1, M), ZF (nb, T, M), R (nb, T, N), losses (nb,) float64.
    ``backward[nb, threads, 0, shared_backward(...)](W, B, alpha, mask, ZF, R, scale, GP, GZt)``
        GP[b, t-1] = dL/d(pre-activation of step t), GZt[b, t] = dL/dz~_t.
    """
    nbdt = from_dtype(np.dtype(dtype))
    one = np.dtype(dtype).type(1.0)
    zero = np.dtype(dtype).type(0.0)

    @cuda.jit
    def forward(WT, h, CT, B, PT, X, S, alpha, mask, Z, ZF, R, losses):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = h.shape[0]
        N = B.shape[0]
        K = CT.shape[0]
        T1 = X.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # z[2][M] | zf[2][M]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        for i in range(tid, M, nt):
            acc = zero
            for n in range(N):
                acc += PT[n, i] * X[b, 0, n]
            Z[b, 0, i] = acc
            sh[i] = acc
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
                zt = zero
                for n in range(N):
                    zt += PT[n, i] * X[b, t, n]
                w = at * mask[i]
                z = (one - w) * v + w * zt
                sh[cur + i] = z
                Z[b, t, i] = z
            cuda.syncthreads()
            for n in range(tid, N, nt):
                acc = zero
                for i in range(M):
                    acc += B[n, i] * sh[2 * M + cur + i]
                r = X[b, t, n] - acc
                R[b, t - 1, n] = r
                loss += r * r
        red[tid] = loss
        cuda.syncthreads()
        if tid == 0:
            s = 0.0
            for k in range(nt):
                s += red[k]
            losses[b] = s

    @cuda.jit
    def backward(W, B, alpha, mask, ZF, R, scale, GP, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = W.shape[0]
        N = B.shape[0]
        T = R.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # gz[M] (owner-only entries) | gp[2][M]
        for i in range(tid, M, nt):
            sh[i] = zero
        for t in range(T, 0, -1):
            par = M + (t & 1) * M
            at = alpha[b, t]
            for i in range(tid, M, nt):
                w = at * mask[i]
                g = sh[i]
                GZt[b, t, i] = w * g
                gf = (one - w) * g
                for n in range(N):
                    gf -= (scale * R[b, t - 1, n]) * B[n, i]
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
