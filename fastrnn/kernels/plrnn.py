"""PLRNN kernels: z' = A * z + W relu(z) + h + C s (DESIGN §1)."""
import numpy as np
from numba import njit, prange

from ._common import FASTMATH, adjoint_free_state, force, matvec_add, observe, rmatvec


@njit(cache=True, fastmath=FASTMATH, inline="always")
def step(A, W, h, C, z, s, out, buf):
    """out = A * z + W relu(z) + h + C s; buf is scratch of length M."""
    M = A.shape[0]
    for i in range(M):
        buf[i] = z[i] if z[i] > 0.0 else 0.0
        out[i] = A[i] * z[i] + h[i]
    matvec_add(W, buf, out)
    matvec_add(C, s, out)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def jacobian(A, W, z, J):
    """J = diag(A) + W diag(relu'(z))."""
    M = A.shape[0]
    for i in range(M):
        for j in range(M):
            J[i, j] = W[i, j] if z[j] > 0.0 else 0.0
        J[i, i] += A[i]


@njit(cache=True, nogil=True)
def run(A, W, h, C, z0, S, Zout):
    buf = np.empty_like(z0)
    Zout[0] = z0
    for k in range(S.shape[0]):
        step(A, W, h, C, Zout[k], S[k], Zout[k + 1], buf)


@njit(cache=True, nogil=True)
def jacobians(A, W, h, C, z0, S, J, Zout):
    buf = np.empty_like(z0)
    Zout[0] = z0
    for k in range(S.shape[0]):
        jacobian(A, W, Zout[k], J[k])
        step(A, W, h, C, Zout[k], S[k], Zout[k + 1], buf)


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def forward(A, W, h, C, B, X, S, alpha, mask, Zt, Z, ZF, R):
    """Forced forward pass. Stores Z (nb, T+1, M) forced states, ZF (nb, T, M) free states, R (nb, T, N) residuals."""
    nb, T1, _ = X.shape
    losses = np.zeros(nb)
    for b in prange(nb):
        buf = np.empty(A.shape[0], dtype=Z.dtype)
        Z[b, 0] = Zt[b, 0]
        acc = 0.0
        for t in range(1, T1):
            step(A, W, h, C, Z[b, t - 1], S[b, t], ZF[b, t - 1], buf)
            acc += observe(B, ZF[b, t - 1], X[b, t], R[b, t - 1])
            force(ZF[b, t - 1], Zt[b, t], alpha[b, t], mask, Z[b, t])
        losses[b] = acc
    return losses


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def backward(A, W, B, alpha, mask, Z, R, scale, GF, GZt):
    """Reverse sweep. GF[b, t-1] = dL/dzf_t (adjoint of the free state), GZt[b, t] = dL/dz~_t."""
    nb, T1, M = Z.shape
    for b in prange(nb):
        gz = np.zeros(M, dtype=GF.dtype)
        wt = np.empty(M, dtype=GF.dtype)
        for t in range(T1 - 1, 0, -1):
            gf = GF[b, t - 1]
            adjoint_free_state(B, R[b, t - 1], scale, gz, alpha[b, t], mask, gf, GZt[b, t])
            rmatvec(W, gf, wt)
            zp = Z[b, t - 1]
            for i in range(M):
                gz[i] = A[i] * gf[i] + (wt[i] if zp[i] > 0.0 else 0.0)
        GZt[b, 0] = gz
