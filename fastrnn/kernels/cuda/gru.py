"""GRU on the GPU (DESIGN §1, PyTorch's gate order r, u, n with one bias per block), the twin of
:mod:`fastrnn.kernels.gru`.

One thread block per window; thread ``m`` owns unit ``m`` and computes its three gate rows; the forced and free states
are double-buffered in shared memory, one barrier per time step. The forward pass stores (r, u, n, q = W_n z) per step.
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
    return 7 * M * itemsize


@functools.lru_cache(maxsize=None)
def kernels(dtype):
    """(forward, backward) kernels for ``dtype``.

    ``forward[nb, threads, 0, shared_forward(...)](WT, UT, bias, B, PT, X, S, alpha, mask, Z, ZF, G, R, losses)``
        WT = W^T (M, 3M), UT = U^T (K, 3M). Stores Z (nb, T+1, M), ZF (nb, T, M), G (nb, T, 4M) = (r, u, n, q),
        R (nb, T, N) and losses (nb,).
    ``backward[nb, threads, 0, shared_backward(...)](W, B, alpha, mask, Z, G, R, scale, GA, GZt)``
        GA[b, t-1] (4M) = (dL/da_r, dL/da_u, dL/dq, dL/da_n) of step t, GZt[b, t] = dL/dz~_t.
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
        sh = cuda.shared.array(0, dtype=nbdt)  # z[2][M] | z_free[2][M]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        for m in range(tid, M, nt):
            acc = zero
            for n in range(N):
                acc += PT[n, m] * X[b, 0, n]
            Z[b, 0, m] = acc
            sh[m] = acc
        cuda.syncthreads()
        loss = 0.0
        for t in range(1, T1):
            cur = (t & 1) * M
            prv = M - cur
            at = alpha[b, t]
            for m in range(tid, M, nt):
                wr = zero
                wu = zero
                wn = zero
                for k in range(M):
                    zk = sh[prv + k]
                    wr += WT[k, m] * zk
                    wu += WT[k, M + m] * zk
                    wn += WT[k, 2 * M + m] * zk
                ar = bias[m]
                au = bias[M + m]
                an = bias[2 * M + m]
                for k in range(K):
                    sk = S[b, t, k]
                    ar += UT[k, m] * sk
                    au += UT[k, M + m] * sk
                    an += UT[k, 2 * M + m] * sk
                r = one / (one + math.exp(-(ar + wr)))
                u = one / (one + math.exp(-(au + wu)))
                nn = math.tanh(an + r * wn)
                zf = (one - u) * nn + u * sh[prv + m]
                G[b, t - 1, m] = r
                G[b, t - 1, M + m] = u
                G[b, t - 1, 2 * M + m] = nn
                G[b, t - 1, 3 * M + m] = wn
                ZF[b, t - 1, m] = zf
                sh[2 * M + cur + m] = zf
                zt = zero
                for n in range(N):
                    zt += PT[n, m] * X[b, t, n]
                w = at * mask[m]
                z = (one - w) * zf + w * zt
                sh[cur + m] = z
                Z[b, t, m] = z
            cuda.syncthreads()
            for n in range(tid, N, nt):
                acc = zero
                for i in range(M):
                    acc += B[n, i] * sh[2 * M + cur + i]
                rr = X[b, t, n] - acc
                R[b, t - 1, n] = rr
                loss += rr * rr
        red[tid] = loss
        cuda.syncthreads()
        if tid == 0:
            s = 0.0
            for k in range(nt):
                s += red[k]
            losses[b] = s

    @cuda.jit
    def backward(W, B, alpha, mask, Z, G, R, scale, GA, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = W.shape[1]
        N = B.shape[0]
        T = R.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # gz[M] (owner-only) | (ga_r, ga_u, ga_q)[2][3M]
        for m in range(tid, M, nt):
            sh[m] = zero
        for t in range(T, 0, -1):
            par = M + (t & 1) * 3 * M
            at = alpha[b, t]
            for m in range(tid, M, nt):
                w = at * mask[m]
                g0 = sh[m]
                GZt[b, t, m] = w * g0
                g = (one - w) * g0
                for n in range(N):
                    g -= (scale * R[b, t - 1, n]) * B[n, m]
                r = G[b, t - 1, m]
                u = G[b, t - 1, M + m]
                nn = G[b, t - 1, 2 * M + m]
                q = G[b, t - 1, 3 * M + m]
                gan = g * (one - u) * (one - nn * nn)
                gar = gan * q * r * (one - r)
                gau = g * (Z[b, t - 1, m] - nn) * u * (one - u)
                gaq = gan * r
                sh[par + m] = gar
                sh[par + M + m] = gau
                sh[par + 2 * M + m] = gaq
                GA[b, t - 1, m] = gar
                GA[b, t - 1, M + m] = gau
                GA[b, t - 1, 2 * M + m] = gaq
                GA[b, t - 1, 3 * M + m] = gan
                sh[m] = g * u
            cuda.syncthreads()
            for k in range(tid, M, nt):
                acc = zero
                for j in range(3 * M):
                    acc += W[j, k] * sh[par + j]
                sh[k] = acc + sh[k]
        for m in range(tid, M, nt):
            GZt[b, 0, m] = sh[m]

    return forward, backward
