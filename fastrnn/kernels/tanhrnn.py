"""Tanh RNN kernels: z' = tanh(W z + h + C s) (DESIGN §1)."""
import numpy as np
from numba import njit, prange

from ._common import (FASTMATH, add_column_sums, dot_rows, gemm_tn, loss_adjoint, matvec_add, observation_grad,
                      residuals, tanh)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def step(W, h, C, z, s, out, buf):
    """out = tanh(W z + h + C s); buf is unused (kept for a uniform signature)."""
    out[:] = h
    matvec_add(W, z, out)
    matvec_add(C, s, out)
    for i in range(out.shape[0]):
        out[i] = np.tanh(out[i])


@njit(cache=True, fastmath=FASTMATH, inline="always")
def jacobian(W, znext, J):
    """J = diag(1 - z'^2) W, with z' = F(z) the next state."""
    M = W.shape[0]
    for i in range(M):
        d = 1.0 - znext[i] * znext[i]
        for j in range(M):
            J[i, j] = d * W[i, j]


@njit(cache=True, nogil=True)
def run(W, h, C, z0, S, Zout):
    buf = np.empty_like(z0)
    Zout[0] = z0
    for k in range(S.shape[0]):
        step(W, h, C, Zout[k], S[k], Zout[k + 1], buf)


@njit(cache=True, nogil=True)
def jacobians(W, h, C, z0, S, J, Zout):
    buf = np.empty_like(z0)
    Zout[0] = z0
    for k in range(S.shape[0]):
        step(W, h, C, Zout[k], S[k], Zout[k + 1], buf)
        jacobian(W, Zout[k + 1], J[k])


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _forward_rows(Wt, h, Ct, S, alpha, mask, Zt, Z, ZF, b0, b1):
    """The state recursion of windows b0 .. b1-1, in lockstep: one (b1-b0, M) x (M, M) product per step."""
    T1, _, M = Z.shape
    K = Ct.shape[0]
    for b in range(b0, b1):
        for i in range(M):
            Z[0, b, i] = Zt[b, 0, i]
    for t in range(1, T1):
        zf = ZF[t - 1, b0:b1]
        zn = Z[t, b0:b1]
        dot_rows(Z[t - 1, b0:b1], Wt, zf)                    # W z for all these windows at once
        for r in range(b1 - b0):
            b = b0 + r
            for k in range(K):
                sk = S[b, t, k]
                for i in range(M):
                    zf[r, i] += sk * Ct[k, i]
            for i in range(M):
                zf[r, i] = tanh(zf[r, i] + h[i])
            a = alpha[b, t]
            if a == 0.0:
                for i in range(M):
                    zn[r, i] = zf[r, i]
            else:
                for i in range(M):
                    w = a * mask[i]
                    zn[r, i] = (1.0 - w) * zf[r, i] + w * Zt[b, t, i]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def forward(Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, ZF, R):
    """Forced forward pass, all windows in lockstep: one (nb, M) x (M, M) product per step for the whole batch.

    Wt = W^T (M, M) and Ct = C^T (K, M), C-contiguous. Time-major outputs: Z (T+1, nb, M) forced states,
    ZF (T, nb, M) free states, R (T, nb, N) residuals x_t - B zf_t. Returns the per-window loss sums (float64).
    float32 uses the vectorised rational tanh of :func:`fastrnn.kernels._common.tanh` (within 6 ulp).
    """
    _forward_rows(Wt, h, Ct, S, alpha, mask, Zt, Z, ZF, 0, X.shape[0])
    return residuals(B, X, ZF, R)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def forward_parallel(Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, ZF, R, n_chunks):
    """:func:`forward` with the batch split into ``n_chunks`` groups of windows, one thread each (for large M)."""
    nb = X.shape[0]
    per = (nb + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        _forward_rows(Wt, h, Ct, S, alpha, mask, Zt, Z, ZF, min(nb, c * per), min(nb, (c + 1) * per))
    return residuals(B, X, ZF, R)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _backward_rows(W, alpha, mask, ZF, GP, GZt, b0, b1):
    """The adjoint recursion of windows b0 .. b1-1; GP holds the loss terms on entry, dL/d(pre-activation) on exit."""
    T, _, M = GP.shape
    gz = np.zeros((b1 - b0, M), dtype=GP.dtype)
    for t in range(T, 0, -1):
        gp = GP[t - 1, b0:b1]
        zf = ZF[t - 1, b0:b1]
        for r in range(b1 - b0):
            b = b0 + r
            a = alpha[b, t]
            if a == 0.0:
                for i in range(M):
                    gp[r, i] = (gp[r, i] + gz[r, i]) * (1.0 - zf[r, i] * zf[r, i])
                    GZt[b, t, i] = 0.0
            else:
                for i in range(M):
                    w = a * mask[i]
                    gp[r, i] = (gp[r, i] + (1.0 - w) * gz[r, i]) * (1.0 - zf[r, i] * zf[r, i])
                    GZt[b, t, i] = w * gz[r, i]
        dot_rows(gp, W, gz)                                  # W^T gp for all these windows at once
    for r in range(b1 - b0):
        for i in range(M):
            GZt[b0 + r, 0, i] = gz[r, i]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _param_grads(Z, GP, t0, t1, gW, gh):
    """Steps t0 .. t1-1 of gh += sum GP and gW = GP^T Z[:-1]."""
    _, nb, M = GP.shape
    add_column_sums(GP[t0:t1].reshape((t1 - t0) * nb, M), gh)
    gemm_tn(GP[t0:t1].reshape((t1 - t0) * nb, M), Z[t0:t1].reshape((t1 - t0) * nb, M), gW)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def backward(W, B, alpha, mask, Z, ZF, R, scale, GP, GZt, gW, gh, gB):
    """Reverse sweep over the lockstep layout of :func:`forward`, then the parameter gradients.

    Writes GP (T, nb, M) = dL/d(pre-activation of step t) (time-major), GZt (nb, T+1, M) = dL/dz~_t, and the
    gradients gh (float64 accumulator), gW = GP^T Z[:-1], gB = -scale R^T ZF.
    """
    T, nb, M = GP.shape
    loss_adjoint(B, R, scale, GP)                            # GP = -scale R B (the loss terms), then the recursion
    _backward_rows(W, alpha, mask, ZF, GP, GZt, 0, nb)
    _param_grads(Z, GP, 0, T, gW, gh)
    observation_grad(R, ZF, scale, gB)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def backward_parallel(W, B, alpha, mask, Z, ZF, R, scale, GP, GZt, gW, gh, gB, n_chunks):
    """:func:`backward` with the batch split into ``n_chunks`` groups of windows, one thread each, and the weight
    gradient summed over ``n_chunks`` stretches of time in parallel (for large M)."""
    T, nb, M = GP.shape
    loss_adjoint(B, R, scale, GP)
    per = (nb + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        _backward_rows(W, alpha, mask, ZF, GP, GZt, min(nb, c * per), min(nb, (c + 1) * per))
    ph = np.zeros((n_chunks, M))
    pW = np.empty((n_chunks, M, M), dtype=GP.dtype)
    tper = (T + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        t0 = min(T, c * tper)
        t1 = min(T, (c + 1) * tper)
        if t1 > t0:
            _param_grads(Z, GP, t0, t1, pW[c], ph[c])
        else:
            pW[c] = 0.0
    for i in range(M):
        for c in range(n_chunks):
            gh[i] += ph[c, i]
        for j in range(M):
            acc = pW[0, i, j]
            for c in range(1, n_chunks):
                acc += pW[c, i, j]
            gW[i, j] = acc
    observation_grad(R, ZF, scale, gB)
