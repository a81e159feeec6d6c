"""LSTM on the GPU (DESIGN §1), the twin of :mod:`fastrnn.kernels.lstm`.

State (h, c) stored as one vector of length 2M; gates a = W h + U s + b in block order i, f, g, o. One thread block
per window; thread ``m`` owns hidden unit ``m`` and computes its four gate rows, so the cell state never leaves its
thread's slot of shared memory; h is double-buffered, one barrier per time step. The forward pass stores the
activations (i, f, g, o, tanh(c')) of every step, so the reverse sweep evaluates no exponential. :func:`loss_grad`
has the signature and the returns of :func:`fastrnn.kernels.lstm.loss_grad`.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float64, from_dtype

from ._common import MAX_THREADS, Batch, device_functions, launch, session_or_default, upload_T


#: Dynamic shared memory of the (forward, backward) kernels, in values per latent unit.
SHARED = (5, 10)


@functools.lru_cache(maxsize=None)
def kernels(dtype):
    """(forward, backward) kernels for ``dtype``.

    ``forward[nb, threads, 0, SHARED[0] M itemsize](WT, UT, bias, B, PT, X, S, alpha, mask, Z, ZF, G, R, losses)``
        WT = W^T (M, 4M), UT = U^T (K, 4M). Stores Z (nb, T+1, 2M) forced states (h, c), ZF (nb, T, 2M) free states,
        G (nb, T, 5M) activations (i, f, g, o, tanh(c_f)), R (nb, T, N) residuals x_t - B h_f and losses (nb,).
    ``backward[nb, threads, 0, SHARED[1] M itemsize](W, B, alpha, mask, Z, G, R, scale, GP, GZt)``
        GP[b, t-1] (4M) = dL/d(gate pre-activations of step t), GZt[b, t] = dL/dz~_t.
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
        sh = cuda.shared.array(0, dtype=nbdt)  # h[2][M] | c[M] (owner-only) | h_free[2][M]
        red = cuda.shared.array(MAX_THREADS, dtype=float64)
        start(PT, X, Z, sh, b, tid, nt, M)
        for m in range(tid, M, nt):
            Z[b, 0, M + m] = zero
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
                w = at * mask[m]
                hn = force(hf, PT, X, b, t, m, w)
                cn = (one - w) * c
                sh[cur + m] = hn
                sh[2 * M + m] = cn
                Z[b, t, m] = hn
                Z[b, t, M + m] = cn
            cuda.syncthreads()
            loss = residuals(B, X, R, sh, 3 * M + cur, b, t, tid, nt, loss)
        block_loss(red, loss, tid, nt, losses, b)

    @cuda.jit
    def backward(W, B, alpha, mask, Z, G, R, scale, GP, GZt):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        M = W.shape[1]
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
                gh = free_adjoint(B, R, scale, GZt, b, t, m, w, sh[m])
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


def loss_grad(params, X, S, alpha, mask, P, control_grad, session=None, cut=None):
    """Loss and gradients on the GPU: the parameters and returns of :func:`fastrnn.kernels.lstm.loss_grad`, with X
    and S device arrays (see :func:`fastrnn.kernels.cuda.plrnn.loss_grad`)."""
    ses = session_or_default(session)
    bt = Batch(ses, params, X, S, alpha, mask, P, cut)
    W, b, B = params["W"], params["b"], params["B"]
    dt, nb, T, N, K = bt.dtype, bt.nb, bt.T, bt.N, bt.K
    M = W.shape[1]
    U = bt.input_matrix(params, "U", 4 * M)
    fwd, bwd = kernels(dt.str)
    Z = ses.buffer("Z", (nb, T + 1, 2 * M), dt)
    ZF = ses.buffer("ZF", (nb, T, 2 * M), dt)
    G = ses.buffer("G", (nb, T, 5 * M), dt)
    R = ses.buffer("R", (nb, T, N), dt)
    d_B = ses.to_device(B)
    launch(fwd, ses, M, SHARED[0], nb, dt)(
        upload_T(ses, W), upload_T(ses, U), ses.to_device(b), d_B, bt.PT, X, S, bt.alpha, bt.mask, Z, ZF, G, R,
        bt.losses)
    GP = ses.buffer("GP", (nb, T, 4 * M), dt)
    GZt = ses.buffer("GZt", (nb, T + 1, M), dt)
    launch(bwd, ses, M, SHARED[1], nb, dt)(
        ses.to_device(W), d_B, bt.alpha_back, bt.mask, Z, G, R, bt.scale, GP, GZt)
    grads = {
        "W": ses.product(GP, 0, 0, 4 * M, Z, 0, 0, M, T),
        "b": ses.column_sums(GP, 0, 0, 4 * M, T),
        "B": ses.product(R, 0, 0, N, ZF, 0, 0, M, T, factor=-bt.scale),
    }
    if K:
        grads["U"] = ses.product(GP, 0, 0, 4 * M, S, 1, 0, K, T)
    return bt.finish(grads, GZt, control_grad)
