"""Shallow PLRNN on the GPU: z' = A * z + W1 phi(W2 z + h2) + h1 + C s, phi = relu (clipped: relu(u + h2) - relu(u)),
the twin of :mod:`fastrnn.kernels.shplrnn`.

One thread block per window; thread ``i`` owns latent unit ``i`` and hidden unit ``i`` (strided over units when M or
H exceeds the block). Each time step has two phases separated by a barrier: the hidden layer (u = W2 z, phi), then
the latent units (the free state, the forcing); the read-out residuals follow the second barrier. The adjoint sweep
mirrors it in three phases. :func:`loss_grad` has the signature and the returns of
:func:`fastrnn.kernels.shplrnn.loss_grad`.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import cuda, float64, from_dtype

from ._common import MAX_THREADS, Batch, device_functions, session_or_default, upload_T


@functools.lru_cache(maxsize=None)
def kernels(dtype, clipped=False):
    """(forward, backward) kernels for ``dtype`` (float32 or float64) and the variant ``clipped``.

    ``forward[nb, threads, 0, (2 M + H) itemsize](A, W2, h2, W1T, h1, CT, B, PT, X, S, alpha, mask, Z, U, Q, ZF, R,
    losses)``
        W1T = W1^T (H, M), CT = C^T (K, M), PT = P^T (N, M) with P the control matrix (z~ = P x). Stores Z (nb, T+1, M)
        forced states, U (nb, T, H) = W2 z_{t-1}, Q (nb, T, H) = phi, ZF (nb, T, M) free states, R (nb, T, N)
        residuals x_t - B zf_t, and losses[b] (float64) the window's sum of squared residuals.
    ``backward[nb, threads, 0, (2 M + H) itemsize](A, W1, W2T, h2, B, alpha, mask, U, R, scale, GF, GU, GH, GZt)``
        W2T = W2^T (M, H). GF[b, t-1] = dL/dzf_t, GU[b, t-1] = dL/du_t, GH[b, t-1] = dL/dh2 of step t (GU without the
        clipped term), GZt[b, t] = dL/dz~_t.
    """
    nbdt = from_dtype(np.dtype(dtype))
    dev = device_functions(dtype)
    zero = dev.zero
    clip = bool(clipped)
    force, residuals, block_loss, free_adjoint, start = (dev.force, dev.residuals, dev.block_loss, dev.free_adjoint,
                                                         dev.start)

    @cuda.jit
    def forward(A, W2, h2, W1T, h1, CT, B, PT, X, S, alpha, mask, Z, U, Q, ZF, R, losses):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = A.shape[0]
        H = h2.shape[0]
        K = CT.shape[0]
        T1 = X.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # z[M] | zf[M] | phi[H]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        start(PT, X, Z, sh, b, tid, nt, M)
        cuda.syncthreads()
        loss = 0.0
        for t in range(1, T1):
            for k in range(tid, H, nt):                      # the hidden layer
                u = zero
                for j in range(M):
                    u += W2[k, j] * sh[j]
                a = u + h2[k]
                q = a if a > zero else zero
                if clip and u > zero:
                    q -= u
                U[b, t - 1, k] = u
                Q[b, t - 1, k] = q
                sh[2 * M + k] = q
            cuda.syncthreads()
            at = alpha[b, t]
            for i in range(tid, M, nt):                      # the latent units (each reads and writes its own z[i])
                v = A[i] * sh[i] + h1[i]
                acc = zero
                for k in range(H):
                    acc += W1T[k, i] * sh[2 * M + k]
                v += acc
                acc = zero
                for k in range(K):
                    acc += CT[k, i] * S[b, t, k]
                v += acc
                sh[M + i] = v
                ZF[b, t - 1, i] = v
                z = force(v, PT, X, b, t, i, at * mask[i])
                sh[i] = z
                Z[b, t, i] = z
            cuda.syncthreads()
            loss = residuals(B, X, R, sh, M, b, t, tid, nt, loss)
        block_loss(red, loss, tid, nt, losses, b)

    @cuda.jit
    def backward(A, W1, W2T, h2, B, alpha, mask, U, R, scale, GF, GU, GH, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = A.shape[0]
        H = h2.shape[0]
        T = R.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # gz[M] (each entry touched by its owner only) | gf[M] | gu[H]
        for i in range(tid, M, nt):
            sh[i] = zero
        for t in range(T, 0, -1):
            at = alpha[b, t]
            for i in range(tid, M, nt):
                gf = free_adjoint(B, R, scale, GZt, b, t, i, at * mask[i], sh[i])
                sh[M + i] = gf
                GF[b, t - 1, i] = gf
            cuda.syncthreads()
            for k in range(tid, H, nt):
                gq = zero
                for i in range(M):
                    gq += W1[i, k] * sh[M + i]
                u = U[b, t - 1, k]
                g = gq if u + h2[k] > zero else zero
                GH[b, t - 1, k] = g
                if clip and u > zero:
                    g -= gq
                GU[b, t - 1, k] = g
                sh[2 * M + k] = g
            cuda.syncthreads()
            for i in range(tid, M, nt):
                acc = zero
                for k in range(H):
                    acc += W2T[i, k] * sh[2 * M + k]
                sh[i] = A[i] * sh[M + i] + acc
        for i in range(tid, M, nt):
            GZt[b, 0, i] = sh[i]

    return forward, backward


def loss_grad(params, X, S, alpha, mask, P, control_grad, clipped=False, session=None, cut=None):
    """Loss and gradients of sparsely forced BPTT over a batch of windows on the GPU.

    The parameters and returns of :func:`fastrnn.kernels.shplrnn.loss_grad` ((loss, grads, dL/dP float64 or None)),
    with X and S device arrays of the parameters' dtype; ``session`` (a
    :class:`~fastrnn.kernels.cuda.driver.Session`, by default the process's own) holds the device buffers.
    """
    ses = session_or_default(session)
    bt = Batch(ses, params, X, S, alpha, mask, P) if cut is None else Batch(ses, params, X, S, alpha, mask, P, cut)
    alpha_back = getattr(bt, "alpha_back", bt.alpha)       # the backward sweep's alpha (gradient cuts)
    A, W1, W2, h1, h2, B = (params[k] for k in ("A", "W1", "W2", "h1", "h2", "B"))
    dt, nb, T, N, K = bt.dtype, bt.nb, bt.T, bt.N, bt.K
    M, H = A.shape[0], h2.shape[0]
    C = bt.input_matrix(params, "C", M)
    fwd, bwd = kernels(dt.str, bool(clipped))
    Z = ses.buffer("Z", (nb, T + 1, M), dt)
    U = ses.buffer("U", (nb, T, H), dt)
    Q = ses.buffer("Q", (nb, T, H), dt)
    ZF = ses.buffer("ZF", (nb, T, M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    threads = ses.threads_for(max(M, H))
    shared = (2 * M + H) * dt.itemsize
    d_A, d_B, d_h2 = ses.to_device(A), ses.to_device(B), ses.to_device(h2)
    fwd[nb, threads, 0, shared](
        d_A, ses.to_device(W2), d_h2, upload_T(ses, W1), ses.to_device(h1), upload_T(ses, C), d_B, bt.PT, X, S,
        bt.alpha, bt.mask, Z, U, Q, ZF, R, bt.losses)
    GF = ses.buffer("GF", (nb, T, M), dt)
    GU = ses.buffer("GU", (nb, T, H), dt)
    GH = ses.buffer("GH", (nb, T, H), dt)
    GZt = ses.buffer("GZt", (nb, T + 1, M), dt)
    bwd[nb, threads, 0, shared](
        d_A, ses.to_device(W1), upload_T(ses, W2), d_h2, d_B, alpha_back, bt.mask, U, R, bt.scale, GF, GU, GH, GZt)
    grads = {
        "A": ses.column_sums(GF, 0, 0, M, T, B=Z),
        "W1": ses.product(GF, 0, 0, M, Q, 0, 0, H, T),
        "W2": ses.product(GU, 0, 0, H, Z, 0, 0, M, T),
        "h1": ses.column_sums(GF, 0, 0, M, T),
        "h2": ses.column_sums(GH, 0, 0, H, T),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-bt.scale),
    }
    if K:
        grads["C"] = ses.product(GF, 0, 0, M, S, 1, 0, K, T)
    return bt.finish(grads, GZt, control_grad)
