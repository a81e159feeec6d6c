"""PLRNN on the GPU: z' = A * z + W relu(z) + h + C s (DESIGN §1), the twin of :mod:`fastrnn.kernels.plrnn`.

One thread block per window; thread ``i`` owns latent unit ``i`` (strided over units when M exceeds the block). The
forced state and its relu are double-buffered in shared memory, so each time step needs one barrier.
:func:`loss_grad` has the signature and the returns of :func:`fastrnn.kernels.plrnn.loss_grad`.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import cuda, float64, from_dtype

from ._common import MAX_THREADS, Batch, device_functions, launch, session_or_default, upload_T


#: Dynamic shared memory of the (forward, backward) kernels, in values per latent unit.
SHARED = (6, 3)


@functools.lru_cache(maxsize=None)
def kernels(dtype):
    """(forward, backward) kernels for ``dtype`` (float32 or float64).

    ``forward[nb, threads, 0, SHARED[0] M itemsize](A, WT, h, CT, B, PT, X, S, alpha, mask, Z, ZF, R, losses)``
        WT = W^T (M, M), CT = C^T (K, M), PT = P^T (N, M) with P the control matrix (z~ = P x). Stores Z (nb, T+1, M)
        forced states, ZF (nb, T, M) free states, R (nb, T, N) residuals x_t - B zf_t, and losses[b] (float64) the
        window's sum of squared residuals.
    ``backward[nb, threads, 0, SHARED[1] M itemsize](A, W, B, alpha, mask, Z, R, scale, GF, GZt)``
        GF[b, t-1] = dL/dzf_t (adjoint of the free state of step t), GZt[b, t] = dL/dz~_t.
    """
    nbdt = from_dtype(np.dtype(dtype))
    dev = device_functions(dtype)
    zero = dev.zero
    start, force, residuals, block_loss, free_adjoint = (dev.start, dev.force, dev.residuals, dev.block_loss,
                                                         dev.free_adjoint)

    @cuda.jit
    def forward(A, WT, h, CT, B, PT, X, S, alpha, mask, Z, ZF, R, losses):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = A.shape[0]
        K = CT.shape[0]
        T1 = X.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # z[2][M] | relu(z)[2][M] | zf[2][M]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        start(PT, X, Z, sh, b, tid, nt, M)
        for i in range(tid, M, nt):                          # the entries this thread wrote
            sh[2 * M + i] = sh[i] if sh[i] > zero else zero
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
                z = force(v, PT, X, b, t, i, at * mask[i])
                sh[cur + i] = z
                sh[2 * M + cur + i] = z if z > zero else zero
                Z[b, t, i] = z
            cuda.syncthreads()
            loss = residuals(B, X, R, sh, 4 * M + cur, b, t, tid, nt, loss)
        block_loss(red, loss, tid, nt, losses, b)

    @cuda.jit
    def backward(A, W, B, alpha, mask, Z, R, scale, GF, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = A.shape[0]
        T = R.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # gz[M] (each entry touched by its owner only) | gf[2][M]
        for i in range(tid, M, nt):
            sh[i] = zero
        for t in range(T, 0, -1):
            par = M + (t & 1) * M
            at = alpha[b, t]
            for i in range(tid, M, nt):
                gf = free_adjoint(B, R, scale, GZt, b, t, i, at * mask[i], sh[i])
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


def loss_grad(params, X, S, alpha, mask, P, control_grad, session=None, cut=None):
    """Loss and gradients of sparsely forced BPTT over a batch of windows on the GPU.

    The parameters and returns of :func:`fastrnn.kernels.plrnn.loss_grad` ((loss, grads, dL/dP float64 or None)),
    with X and S device arrays of the parameters' dtype; ``session`` (a
    :class:`~fastrnn.kernels.cuda.driver.Session`, by default the process's own) holds the device buffers.
    """
    ses = session_or_default(session)
    bt = Batch(ses, params, X, S, alpha, mask, P, cut)
    A, W, h, B = params["A"], params["W"], params["h"], params["B"]
    dt, nb, T, N, K = bt.dtype, bt.nb, bt.T, bt.N, bt.K
    M = A.shape[0]
    C = bt.input_matrix(params, "C", M)
    fwd, bwd = kernels(dt.str)
    Z = ses.buffer("Z", (nb, T + 1, M), dt)
    ZF = ses.buffer("ZF", (nb, T, M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    d_B, d_A = ses.to_device(B), ses.to_device(A)
    launch(fwd, ses, M, SHARED[0], nb, dt)(
        d_A, upload_T(ses, W), ses.to_device(h), upload_T(ses, C), d_B, bt.PT, X, S, bt.alpha, bt.mask, Z, ZF, R,
        bt.losses)
    GF = ses.buffer("GF", (nb, T, M), dt)
    GZt = ses.buffer("GZt", (nb, T + 1, M), dt)
    launch(bwd, ses, M, SHARED[1], nb, dt)(
        d_A, ses.to_device(W), d_B, bt.alpha_back, bt.mask, Z, R, bt.scale, GF, GZt)
    gW = ses.product(GF, 0, 0, M, Z, 0, 0, M, T, relu_b=True)
    np.fill_diagonal(gW, 0.0)
    grads = {
        "A": ses.column_sums(GF, 0, 0, M, T, B=Z),
        "W": gW,
        "h": ses.column_sums(GF, 0, 0, M, T),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-bt.scale),
    }
    if K:
        grads["C"] = ses.product(GF, 0, 0, M, S, 1, 0, K, T)
    return bt.finish(grads, GZt, control_grad)
