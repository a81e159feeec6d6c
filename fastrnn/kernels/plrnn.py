"""PLRNN kernels: z' = A * z + W relu(z) + h + C s (DESIGN §1)."""
import numpy as np
from numba import njit

from ._common import FASTMATH, dot_rows, gemm_tn, loss_adjoint, matvec_add, observation_grad, residuals


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


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def forward(A, Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, RZ, ZF, R):
    """Forced forward pass, all windows in lockstep: one (nb, M) x (M, M) product per step for the whole batch.

    Wt = W^T (M, M) and Ct = C^T (K, M), C-contiguous. Time-major outputs: Z (T+1, nb, M) forced states,
    RZ (T, nb, M) = relu(Z[:-1]), ZF (T, nb, M) free states, R (T, nb, N) residuals x_t - B zf_t. Returns the
    per-window loss sums (float64). Only the state recursion runs step by step; the read-out B zf of all steps is
    one product afterwards (forcing does not depend on it).
    """
    nb, T1, N = X.shape
    M = A.shape[0]
    K = Ct.shape[0]
    T = T1 - 1
    for b in range(nb):
        for i in range(M):
            Z[0, b, i] = Zt[b, 0, i]
    for t in range(1, T1):
        zp = Z[t - 1]
        rz = RZ[t - 1]
        zf = ZF[t - 1]
        zn = Z[t]
        for b in range(nb):
            for i in range(M):
                rz[b, i] = max(zp[b, i], 0.0)
        dot_rows(rz, Wt, zf)                                 # relu(z) W^T for every window at once
        for b in range(nb):
            for k in range(K):
                sk = S[b, t, k]
                for i in range(M):
                    zf[b, i] += sk * Ct[k, i]
            for i in range(M):
                zf[b, i] += A[i] * zp[b, i] + h[i]
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
def backward(A, W, B, alpha, mask, Z, RZ, ZF, R, scale, GF, GZt, gA, gW, gh, gB):
    """Reverse sweep over the lockstep layout of :func:`forward`, then the parameter gradients.

    Writes GF (T, nb, M) = dL/dzf_t (adjoint of the free state, time-major), GZt (nb, T+1, M) = dL/dz~_t, and the
    gradients gA, gh (float64 accumulators), gW = GF^T relu(Z[:-1]) with a zero diagonal, gB = -scale R^T ZF.
    """
    T, nb, M = GF.shape
    loss_adjoint(B, R, scale, GF)                            # GF = -scale R B (the loss terms), then the recursion
    gz = np.zeros((nb, M), dtype=GF.dtype)
    wt = np.empty((nb, M), dtype=GF.dtype)
    for t in range(T, 0, -1):
        gf = GF[t - 1]
        for b in range(nb):
            a = alpha[b, t]
            if a == 0.0:
                for i in range(M):
                    gf[b, i] += gz[b, i]
                    GZt[b, t, i] = 0.0
            else:
                for i in range(M):
                    w = a * mask[i]
                    gf[b, i] += (1.0 - w) * gz[b, i]
                    GZt[b, t, i] = w * gz[b, i]
        dot_rows(gf, W, wt)                                  # W^T gf for every window at once
        zp = Z[t - 1]
        for b in range(nb):
            for i in range(M):
                gz[b, i] = A[i] * gf[b, i] + (wt[b, i] if zp[b, i] > 0.0 else 0.0)
    for b in range(nb):
        for i in range(M):
            GZt[b, 0, i] = gz[b, i]
    G2 = GF.reshape(T * nb, M)
    Z2 = Z.reshape((T + 1) * nb, M)
    for r in range(T * nb):
        for i in range(M):
            g = G2[r, i]
            gA[i] += g * Z2[r, i]
            gh[i] += g
    gemm_tn(G2, RZ.reshape(T * nb, M), gW)
    for i in range(M):
        gW[i, i] = 0.0
    observation_grad(R, ZF, scale, gB)
