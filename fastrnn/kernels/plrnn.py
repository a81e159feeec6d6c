"""PLRNN kernels: z' = A * z + W relu(z) + h + C s (DESIGN §1)."""
import numpy as np
from numba import njit, prange

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
def _forward_rows(A, Wt, h, Ct, S, alpha, mask, Zt, Z, RZ, ZF, b0, b1):
    """The state recursion of windows b0 .. b1-1, in lockstep: one (b1-b0, M) x (M, M) product per step."""
    T1, _, M = Z.shape
    K = Ct.shape[0]
    for b in range(b0, b1):
        for i in range(M):
            Z[0, b, i] = Zt[b, 0, i]
    for t in range(1, T1):
        zp = Z[t - 1, b0:b1]
        rz = RZ[t - 1, b0:b1]
        zf = ZF[t - 1, b0:b1]
        zn = Z[t, b0:b1]
        for r in range(b1 - b0):
            for i in range(M):
                rz[r, i] = max(zp[r, i], 0.0)
        dot_rows(rz, Wt, zf)                                 # relu(z) W^T for all these windows at once
        for r in range(b1 - b0):
            b = b0 + r
            for k in range(K):
                sk = S[b, t, k]
                for i in range(M):
                    zf[r, i] += sk * Ct[k, i]
            for i in range(M):
                zf[r, i] += A[i] * zp[r, i] + h[i]
            a = alpha[b, t]
            if a == 0.0:
                for i in range(M):
                    zn[r, i] = zf[r, i]
            else:
                for i in range(M):
                    w = a * mask[i]
                    zn[r, i] = (1.0 - w) * zf[r, i] + w * Zt[b, t, i]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def forward(A, Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, RZ, ZF, R):
    """Forced forward pass, all windows in lockstep: one (nb, M) x (M, M) product per step for the whole batch.

    Wt = W^T (M, M) and Ct = C^T (K, M), C-contiguous. Time-major outputs: Z (T+1, nb, M) forced states,
    RZ (T, nb, M) = relu(Z[:-1]), ZF (T, nb, M) free states, R (T, nb, N) residuals x_t - B zf_t. Returns the
    per-window loss sums (float64). Only the state recursion runs step by step; the read-out B zf of all steps is
    one product afterwards (forcing does not depend on it).
    """
    _forward_rows(A, Wt, h, Ct, S, alpha, mask, Zt, Z, RZ, ZF, 0, X.shape[0])
    return residuals(B, X, ZF, R)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def forward_parallel(A, Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, RZ, ZF, R, n_chunks):
    """:func:`forward` with the batch split into ``n_chunks`` groups of windows, one thread each (for large M)."""
    nb = X.shape[0]
    per = (nb + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        _forward_rows(A, Wt, h, Ct, S, alpha, mask, Zt, Z, RZ, ZF, min(nb, c * per), min(nb, (c + 1) * per))
    return residuals(B, X, ZF, R)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _backward_rows(A, W, alpha, mask, Z, GF, GZt, b0, b1):
    """The adjoint recursion of windows b0 .. b1-1; GF holds the loss terms on entry and dL/dzf on exit."""
    T, _, M = GF.shape
    gz = np.zeros((b1 - b0, M), dtype=GF.dtype)
    wt = np.empty((b1 - b0, M), dtype=GF.dtype)
    for t in range(T, 0, -1):
        gf = GF[t - 1, b0:b1]
        for r in range(b1 - b0):
            b = b0 + r
            a = alpha[b, t]
            if a == 0.0:
                for i in range(M):
                    gf[r, i] += gz[r, i]
                    GZt[b, t, i] = 0.0
            else:
                for i in range(M):
                    w = a * mask[i]
                    gf[r, i] += (1.0 - w) * gz[r, i]
                    GZt[b, t, i] = w * gz[r, i]
        dot_rows(gf, W, wt)                                  # W^T gf for all these windows at once
        zp = Z[t - 1, b0:b1]
        for r in range(b1 - b0):
            for i in range(M):
                gz[r, i] = A[i] * gf[r, i] + (wt[r, i] if zp[r, i] > 0.0 else 0.0)
    for r in range(b1 - b0):
        for i in range(M):
            GZt[b0 + r, 0, i] = gz[r, i]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _param_grads(Z, RZ, GF, t0, t1, gA, gW, gh):
    """Steps t0 .. t1-1 (0-based free-state index) of gA += sum GF * Z[:-1], gh += sum GF, gW = GF^T relu(Z[:-1])."""
    _, nb, M = GF.shape
    for t in range(t0, t1):
        for b in range(nb):
            for i in range(M):
                g = GF[t, b, i]
                gA[i] += g * Z[t, b, i]
                gh[i] += g
    gemm_tn(GF[t0:t1].reshape((t1 - t0) * nb, M), RZ[t0:t1].reshape((t1 - t0) * nb, M), gW)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def backward(A, W, B, alpha, mask, Z, RZ, ZF, R, scale, GF, GZt, gA, gW, gh, gB):
    """Reverse sweep over the lockstep layout of :func:`forward`, then the parameter gradients.

    Writes GF (T, nb, M) = dL/dzf_t (adjoint of the free state, time-major), GZt (nb, T+1, M) = dL/dz~_t, and the
    gradients gA, gh (float64 accumulators), gW = GF^T relu(Z[:-1]) with a zero diagonal, gB = -scale R^T ZF.
    """
    T, nb, M = GF.shape
    loss_adjoint(B, R, scale, GF)                            # GF = -scale R B (the loss terms), then the recursion
    _backward_rows(A, W, alpha, mask, Z, GF, GZt, 0, nb)
    _param_grads(Z, RZ, GF, 0, T, gA, gW, gh)
    for i in range(M):
        gW[i, i] = 0.0
    observation_grad(R, ZF, scale, gB)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def backward_parallel(A, W, B, alpha, mask, Z, RZ, ZF, R, scale, GF, GZt, gA, gW, gh, gB, n_chunks):
    """:func:`backward` with the batch split into ``n_chunks`` groups of windows, one thread each, and the weight
    gradient summed over ``n_chunks`` stretches of time in parallel (for large M)."""
    T, nb, M = GF.shape
    loss_adjoint(B, R, scale, GF)
    per = (nb + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        _backward_rows(A, W, alpha, mask, Z, GF, GZt, min(nb, c * per), min(nb, (c + 1) * per))
    pA = np.zeros((n_chunks, M))
    ph = np.zeros((n_chunks, M))
    pW = np.empty((n_chunks, M, M), dtype=GF.dtype)
    tper = (T + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        t0 = min(T, c * tper)
        t1 = min(T, (c + 1) * tper)
        if t1 > t0:
            _param_grads(Z, RZ, GF, t0, t1, pA[c], pW[c], ph[c])
        else:
            pW[c] = 0.0
    for i in range(M):
        for c in range(n_chunks):
            gA[i] += pA[c, i]
            gh[i] += ph[c, i]
        for j in range(M):
            acc = pW[0, i, j]
            for c in range(1, n_chunks):
                acc += pW[c, i, j]
            gW[i, j] = acc
        gW[i, i] = 0.0
    observation_grad(R, ZF, scale, gB)
