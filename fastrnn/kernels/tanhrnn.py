"""Tanh RNN kernels: z' = tanh(W z + h + C s) (DESIGN §1)."""
import numpy as np
from numba import njit

from ._common import FASTMATH, dot_rows, gemm_tn, loss_adjoint, matvec_add, observation_grad, residuals, tanh


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
def forward(Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, ZF, R):
    """Forced forward pass, all windows in lockstep: one (nb, M) x (M, M) product per step for the whole batch.

    Wt = W^T (M, M) and Ct = C^T (K, M), C-contiguous. Time-major outputs: Z (T+1, nb, M) forced states,
    ZF (T, nb, M) free states, R (T, nb, N) residuals x_t - B zf_t. Returns the per-window loss sums (float64).
    float32 uses the vectorised rational tanh of :func:`fastrnn.kernels._common.tanh` (within 0.85 ulp).
    """
    nb, T1, N = X.shape
    M = Wt.shape[0]
    K = Ct.shape[0]
    for b in range(nb):
        for i in range(M):
            Z[0, b, i] = Zt[b, 0, i]
    for t in range(1, T1):
        zf = ZF[t - 1]
        zn = Z[t]
        dot_rows(Z[t - 1], Wt, zf)                           # W z for every window at once
        for b in range(nb):
            for k in range(K):
                sk = S[b, t, k]
                for i in range(M):
                    zf[b, i] += sk * Ct[k, i]
            for i in range(M):
                zf[b, i] = tanh(zf[b, i] + h[i])
            a = alpha[b, t]
            if a == 0.0:
                for i in range(M):
                    zn[b, i] = zf[b, i]
            else:
                for i in range(M):
                    w = a * mask[i]
                    zn[b, i] = (1.0 - w) * zf[b, i] + w * Zt[b, t, i]
    return residuals(B, X, ZF, R)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def backward(W, B, alpha, mask, Z, ZF, R, scale, GP, GZt, gW, gh, gB):
    """Reverse sweep over the lockstep layout of :func:`forward`, then the parameter gradients.

    Writes GP (T, nb, M) = dL/d(pre-activation of step t) (time-major), GZt (nb, T+1, M) = dL/dz~_t, and the
    gradients gh (float64 accumulator), gW = GP^T Z[:-1], gB = -scale R^T ZF.
    """
    T, nb, M = GP.shape
    loss_adjoint(B, R, scale, GP)                            # GP = -scale R B (the loss terms), then the recursion
    gz = np.zeros((nb, M), dtype=GP.dtype)
    for t in range(T, 0, -1):
        gp = GP[t - 1]
        zf = ZF[t - 1]
        for b in range(nb):
            a = alpha[b, t]
            if a == 0.0:
                for i in range(M):
                    gp[b, i] = (gp[b, i] + gz[b, i]) * (1.0 - zf[b, i] * zf[b, i])
                    GZt[b, t, i] = 0.0
            else:
                for i in range(M):
                    w = a * mask[i]
                    gp[b, i] = (gp[b, i] + (1.0 - w) * gz[b, i]) * (1.0 - zf[b, i] * zf[b, i])
                    GZt[b, t, i] = w * gz[b, i]
        dot_rows(gp, W, gz)                                  # W^T gp for every window at once
    for b in range(nb):
        for i in range(M):
            GZt[b, 0, i] = gz[b, i]
    G2 = GP.reshape(T * nb, M)
    for r in range(T * nb):
        for i in range(M):
            gh[i] += G2[r, i]
    gemm_tn(G2, Z[:T].reshape(T * nb, M), gW)
    observation_grad(R, ZF, scale, gB)
