"""PLRNN on the GPU: z' = A * z + W relu(z) + h + C s (DESIGN §1), the twin of :mod:`fastrnn.kernels.plrnn`.

One thread block per window; thread ``i`` owns latent unit ``i`` (strided over units when M exceeds the block). The
forced state and its relu are double-buffered in shared memory, so each time step needs one barrier.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import cuda, float64, from_dtype

MAX_THREADS = 256  # upper bound on the block size of every recurrent kernel (size of the loss-reduction buffer)


def shared_forward(M, N, itemsize):
    """Bytes of dynamic shared memory of the forward kernel."""
    return 6 * M * itemsize


def shared_backward(M, N, itemsize):
    """Bytes of dynamic shared memory of the backward kernel."""
    return 3 * M * itemsize


@functools.lru_cache(maxsize=None)
def kernels(dtype):
    """(forward, backward) kernels for ``dtype`` (float32 or float64).

    ``forward[nb, threads, 0, shared_forward(...)](A, WT, h, CT, B, PT, X, S, alpha, mask, Z, ZF, R, losses)``
        WT = W^T (M, M), CT = C^T (K, M), PT = P^T (N, M) with P the control matrix (z~ = P x). Stores Z (nb, T+1, M)
        forced states, ZF (nb, T, M) free states, R (nb, T, N) residuals x_t - B zf_t, and losses[b] (float64) the
        window's sum of squared residuals.
    ``backward[nb, threads, 0, shared_backward(...)](A, W, B, alpha, mask, Z, R, scale, GF, GZt)``
        GF[b, t-1] = dL/dzf_t (adjoint of the free state of step t), GZt[b, t] = dL/dz~_t.
    """
    nbdt = from_dtype(np.dtype(dtype))
    one = np.dtype(dtype).type(1.0)
    zero = np.dtype(dtype).type(0.0)

    @cuda.jit
    def forward(A, WT, h, CT, B, PT, X, S, alpha, mask, Z, ZF, R, losses):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = A.shape[0]
        N = B.shape[0]
        K = CT.shape[0]
        T1 = X.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # z[2][M] | relu(z)[2][M] | zf[2][M]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        for i in range(tid, M, nt):
            acc = zero
            for n in range(N):
                acc += PT[n, i] * X[b, 0, n]
            Z[b, 0, i] = acc
            sh[i] = acc
            sh[2 * M + i] = acc if acc > zero else zero
        cuda.syncthreads()
        loss = 0.0
        for t in range(1, T1):
            cur = (t & 1) * M
            prv = M - cur
            at = alpha[b, t]
            for i in range(tid, M, nt):
                v = A[i] * sh[prv + i] + h[i]
                acc = zero
                for j in range(M):
                    acc += WT[j, i] * sh[2 * M + prv + j]
                v += acc
                acc = zero
                for k in range(K):
                    acc += CT[k, i] * S[b, t, k]
                v += acc
                sh[4 * M + cur + i] = v
                ZF[b, t - 1, i] = v
                zt = zero
                for n in range(N):
                    zt += PT[n, i] * X[b, t, n]
                w = at * mask[i]
                z = (one - w) * v + w * zt
                sh[cur + i] = z
                sh[2 * M + cur + i] = z if z > zero else zero
                Z[b, t, i] = z
            cuda.syncthreads()
            for n in range(tid, N, nt):
                acc = zero
                for i in range(M):
                    acc += B[n, i] * sh[4 * M + cur + i]
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
    def backward(A, W, B, alpha, mask, Z, R, scale, GF, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = A.shape[0]
        N = B.shape[0]
        T = R.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # gz[M] (each entry touched by its owner only) | gf[2][M]
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
                sh[par + i] = gf
                GF[b, t - 1, i] = gf
            cuda.syncthreads()
            for i in range(tid, M, nt):
                acc = zero
                for j in range(M):
                    acc += W[j, i] * sh[par + j]
                v = A[i] * sh[par + i]
                if Z[b, t - 1, i] > zero:
                    v += acc
                sh[i] = v
        for i in range(tid, M, nt):
            GZt[b, 0, i] = sh[i]

    return forward, backward
