"""LSTM on the GPU (DESIGN §1), the twin of :mod:`fastrnn.kernels.lstm`.

State (h, c) stored as one vector of length 2M; gates a = W h + U s + b in block order i, f, g, o. One thread block
per window; thread ``m`` owns hidden unit ``m`` and computes its four gate rows, so the cell state never leaves its
thread's slot of shared memory; h is double-buffered, one barrier per time step. The forward pass stores the
activations (i, f, g, o, tanh(c')) of every step, so the reverse sweep evaluates no exponential.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float64, from_dtype

from .plrnn import MAX_THREADS


def shared_forward(M, N, itemsize):
    """Bytes of dynamic shared memory of the forward kernel."""
    return 5 * M * itemsize


def shared_backward(M, N, itemsize):
    """Bytes of dynamic shared memory of the backward kernel."""
    return 10 * M * itemsize


@functools.lru_cache(maxsize=None)
def kernels(dtype):
    """(forward, backward) kernels for ``dtype``.

    ``forward[nb, threads, 0, shared_forward(...)](WT, UT, bias, B, PT, X, S, alpha, mask, Z, ZF, G, R, losses)``
        WT = W^T (M, 4M), UT = U^T (K, 4M). Stores Z (nb, T+1, 2M) forced states (h, c), ZF (nb, T, 2M) free states,
        G (nb, T, 5M) activations (i, f, g, o, tanh(c_f)), R (nb, T, N) residuals x_t - B h_f and losses (nb,).
    ``backward[nb, threads, 0, shared_backward(...)](W, B, alpha, mask, Z, G, R, scale, GP, GZt)``
        GP[b, t-1] (4M) = dL/d(gate pre-activations of step t), GZt[b, t] = dL/dz~_t.
    """
    nbdt = from_dtype(np.dtype(dtype))
    one = np.dtype(dtype).type(1.0)
    zero = np.dtype(dtype).type(0.0)

    @cuda.jit
    def forward(WT, UT, bias, B, PT, X, S, alpha, mask, Z, ZF, G, R, losses):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = WT.shape[0]
        N = B.shape[0]
        K = UT.shape[0]
        T1 = X.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # h[2][M] | c[M] (owner-only) | h_free[2][M]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        for m in range(tid, M, nt):
            acc = zero
            for n in range(N):
                acc += PT[n, m] * X[b, 0, n]
            Z[b, 0, m] = acc
            Z[b, 0, M + m] = zero
            sh[m] = acc
            sh[2 * M + m] = zero
        cuda.syncthreads()
        loss = 0.0
        for t in range(1, T1):
            cur = (t & 1) * M
            prv = M - cur
            at = alpha[b, t]
            for m in range(tid, M, nt):
                ai = bias[m]
                af = bias[M + m]
                ag = bias[2 * M + m]
                ao = bias[3 * M + m]
                for k in range(M):
                    hk = sh[prv + k]
                    ai += WT[k, m] * hk
                    af += WT[k, M + m] * hk
                    ag += WT[k, 2 * M + m] * hk
                    ao += WT[k, 3 * M + m] * hk
                for k in range(K):
                    sk = S[b, t, k]
                    ai += UT[k, m] * sk
                    af += UT[k, M + m] * sk
                    ag += UT[k, 2 * M + m] * sk
                    ao += UT[k, 3 * M + m] * sk
                gi = one / (one + math.exp(-ai))
                gf = one / (one + math.exp(-af))
                gg = math.tanh(ag)
                go = one / (one + math.exp(-ao))
                c = gf * sh[2 * M + m] + gi * gg
                tc = math.tanh(c)
                hf = go * tc
                G[b, t - 1, m] = gi
                G[b, t - 1, M + m] = gf
                G[b, t - 1, 2 * M + m] = gg
                G[b, t - 1, 3 * M + m] = go
                G[b, t - 1, 4 * M + m] = tc
                ZF[b, t - 1, m] = hf
                ZF[b, t - 1, M + m] = c
                sh[3 * M + cur + m] = hf
                zt = zero
                for n in range(N):
                    zt += PT[n, m] * X[b, t, n]
                w = at * mask[m]
                hn = (one - w) * hf + w * zt
                cn = (one - w) * c
                sh[cur + m] = hn
                sh[2 * M + m] = cn
                Z[b, t, m] = hn
                Z[b, t, M + m] = cn
            cuda.syncthreads()
            for n in range(tid, N, nt):
                acc = zero
                for i in range(M):
                    acc += B[n, i] * sh[3 * M + cur + i]
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
    def backward(W, B, alpha, mask, Z, G, R, scale, GP, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = W.shape[1]
        N = B.shape[0]
        T = R.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # dL/dh[M] | dL/dc[M] (owner-only) | gate adjoints[2][4M]
        for m in range(tid, M, nt):
            sh[m] = zero
            sh[M + m] = zero
        for t in range(T, 0, -1):
            par = 2 * M + (t & 1) * 4 * M
            at = alpha[b, t]
            for m in range(tid, M, nt):
                w = at * mask[m]
                g = sh[m]
                GZt[b, t, m] = w * g
                gh = (one - w) * g
                for n in range(N):
                    gh -= (scale * R[b, t - 1, n]) * B[n, m]
                gi = G[b, t - 1, m]
                gf = G[b, t - 1, M + m]
                gg = G[b, t - 1, 2 * M + m]
                go = G[b, t - 1, 3 * M + m]
                tc = G[b, t - 1, 4 * M + m]
                gc = (one - w) * sh[M + m] + gh * go * (one - tc * tc)
                pi = gc * gg * gi * (one - gi)
                pf = gc * Z[b, t - 1, M + m] * gf * (one - gf)
                pg = gc * gi * (one - gg * gg)
                po = gh * tc * go * (one - go)
                sh[par + m] = pi
                sh[par + M + m] = pf
                sh[par + 2 * M + m] = pg
                sh[par + 3 * M + m] = po
                GP[b, t - 1, m] = pi
                GP[b, t - 1, M + m] = pf
                GP[b, t - 1, 2 * M + m] = pg
                GP[b, t - 1, 3 * M + m] = po
                sh[M + m] = gc * gf
            cuda.syncthreads()
            for k in range(tid, M, nt):
                acc = zero
                for j in range(4 * M):
                    acc += W[j, k] * sh[par + j]
                sh[k] = acc
        for m in range(tid, M, nt):
            GZt[b, 0, m] = sh[m]

    return forward, backward
