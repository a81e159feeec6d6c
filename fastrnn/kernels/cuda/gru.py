"""GRU on the GPU (DESIGN §1, PyTorch's gate order r, u, n with one bias per block), the twin of
:mod:`fastrnn.kernels.gru`.

One thread block per window; thread ``m`` owns unit ``m`` and computes its three gate rows; the forced and free states
are double-buffered in shared memory, one barrier per time step. The forward pass stores (r, u, n, q = W_n z) per step.
:func:`loss_grad` has the signature and the returns of :func:`fastrnn.kernels.gru.loss_grad`.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float64, from_dtype

from ._common import MAX_THREADS, Batch, device_functions, launch, session_or_default, upload_T


#: Dynamic shared memory of the (forward, backward) kernels, in values per latent unit.
SHARED = (4, 7)


@functools.lru_cache(maxsize=None)
def kernels(dtype):
    """(forward, backward) kernels for ``dtype``.

    ``forward[nb, threads, 0, SHARED[0] M itemsize](WT, UT, bias, B, PT, X, S, alpha, mask, Z, ZF, G, R, losses)``
        WT = W^T (M, 3M), UT = U^T (K, 3M). Stores Z (nb, T+1, M), ZF (nb, T, M), G (nb, T, 4M) = (r, u, n, q),
        R (nb, T, N) and losses (nb,).
    ``backward[nb, threads, 0, SHARED[1] M itemsize](W, B, alpha, mask, Z, G, R, scale, GA, GZt)``
        GA[b, t-1] (4M) = (dL/da_r, dL/da_u, dL/dq, dL/da_n) of step t, GZt[b, t] = dL/dz~_t.
    """
    nbdt = from_dtype(np.dtype(dtype))
    dev = device_functions(dtype)
    one, zero = dev.one, dev.zero
    start, force, residuals, block_loss, free_adjoint = (dev.start, dev.force, dev.residuals, dev.block_loss,
                                                         dev.free_adjoint)

    @cuda.jit
    def forward(WT, UT, bias, B, PT, X, S, alpha, mask, Z, ZF, G, R, losses):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = WT.shape[0]
        K = UT.shape[0]
        T1 = X.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # z[2][M] | z_free[2][M]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        start(PT, X, Z, sh, b, tid, nt, M)
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
                z = force(zf, PT, X, b, t, m, at * mask[m])
                sh[cur + m] = z
                Z[b, t, m] = z
            cuda.syncthreads()
            loss = residuals(B, X, R, sh, 2 * M + cur, b, t, tid, nt, loss)
        block_loss(red, loss, tid, nt, losses, b)

    @cuda.jit
    def backward(W, B, alpha, mask, Z, G, R, scale, GA, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = W.shape[1]
        T = R.shape[1]
        sh = cuda.shared.array(0, dtype=nbdt)  # gz[M] (owner-only) | (ga_r, ga_u, ga_q)[2][3M]
        for m in range(tid, M, nt):
            sh[m] = zero
        for t in range(T, 0, -1):
            par = M + (t & 1) * 3 * M
            at = alpha[b, t]
            for m in range(tid, M, nt):
                g = free_adjoint(B, R, scale, GZt, b, t, m, at * mask[m], sh[m])
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


def loss_grad(params, X, S, alpha, mask, P, control_grad, session=None, cut=None):
    """Loss and gradients on the GPU: the parameters and returns of :func:`fastrnn.kernels.gru.loss_grad`, with X
    and S device arrays (see :func:`fastrnn.kernels.cuda.plrnn.loss_grad`)."""
    ses = session_or_default(session)
    bt = Batch(ses, params, X, S, alpha, mask, P, cut)
    W, b, B = params["W"], params["b"], params["B"]
    dt, nb, T, N, K = bt.dtype, bt.nb, bt.T, bt.N, bt.K
    M = W.shape[1]
    U = bt.input_matrix(params, "U", 3 * M)
    fwd, bwd = kernels(dt.str)
    Z = ses.buffer("Z", (nb, T + 1, M), dt)
    ZF = ses.buffer("ZF", (nb, T, M), dt)
    G = ses.buffer("G", (nb, T, 4 * M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    d_B = ses.to_device(B)
    launch(fwd, ses, M, SHARED[0], nb, dt)(
        upload_T(ses, W), upload_T(ses, U), ses.to_device(b), d_B, bt.PT, X, S, bt.alpha, bt.mask, Z, ZF, G, R,
        bt.losses)
    GA = ses.buffer("GA", (nb, T, 4 * M), dt)
    GZt = ses.buffer("GZt", (nb, T + 1, M), dt)
    launch(bwd, ses, M, SHARED[1], nb, dt)(
        ses.to_device(W), d_B, bt.alpha_back, bt.mask, Z, G, R, bt.scale, GA, GZt)
    gsum = ses.column_sums(GA, 0, 0, 4 * M, T)
    grads = {
        "W": ses.product(GA, 0, 0, 3 * M, Z, 0, 0, M, T),
        "b": np.concatenate([gsum[:2 * M], gsum[3 * M:]]),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-bt.scale),
    }
    if K:
        grads["U"] = np.concatenate([ses.product(GA, 0, 0, 2 * M, S, 1, 0, K, T),
                                     ses.product(GA, 0, 3 * M, M, S, 1, 0, K, T)])
    return bt.finish(grads, GZt, control_grad)
