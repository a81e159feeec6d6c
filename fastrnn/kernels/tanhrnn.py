"""Tanh RNN kernels: z' = tanh(W z + h + C s) (DESIGN §1)."""
import numpy as np
from numba import njit, prange

from ._common import FASTMATH, adjoint_free_state, force, matvec_add, observe, rmatvec


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


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def forward(W, h, C, B, X, S, alpha, mask, Zt, Z, ZF, R):
    """Forced forward pass. Stores Z (nb, T+1, M) forced states, ZF (nb, T, M) free states, R (nb, T, N) residuals."""
    nb, T1, _ = X.shape
    losses = np.zeros(nb)
    for b in prange(nb):
        buf = np.empty(W.shape[0], dtype=Z.dtype)
        Z[b, 0] = Zt[b, 0]
        acc = 0.0
        for t in range(1, T1):
            step(W, h, C, Z[b, t - 1], S[b, t], ZF[b, t - 1], buf)
            acc += observe(B, ZF[b, t - 1], X[b, t], R[b, t - 1])
            force(ZF[b, t - 1], Zt[b, t], alpha[b, t], mask, Z[b, t])
        losses[b] = acc
    return losses


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def backward(W, B, alpha, mask, ZF, R, scale, GP, GZt):
    """Reverse sweep. GP[b, t-1] = dL/d(pre-activation of step t), GZt[b, t] = dL/dz~_t."""
    nb, T, M = ZF.shape
    for b in prange(nb):
        gz = np.zeros(M, dtype=GP.dtype)
        gf = np.empty(M, dtype=GP.dtype)
        for t in range(T, 0, -1):
            adjoint_free_state(B, R[b, t - 1], scale, gz, alpha[b, t], mask, gf, GZt[b, t])
            gp = GP[b, t - 1]
            zf = ZF[b, t - 1]
            for i in range(M):
                gp[i] = gf[i] * (1.0 - zf[i] * zf[i])
            rmatvec(W, gp, gz)
        GZt[b, 0] = gz
