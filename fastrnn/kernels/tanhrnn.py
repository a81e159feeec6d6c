"""Tanh RNN, z' = tanh(W z + h + C s) (DESIGN §1): the model's one definition.

:func:`step_rows` is the step for a block of rows. The training sweep (:func:`forward`) calls it for the windows of a
batch, the free run (:func:`run`) and the Jacobians (:func:`jacobians`) for a single row, so every path evaluates the
same floating-point operations; in float32 that includes the vectorisable rational tanh of :func:`._common.tanh`
(within 6 ulp), in float64 the library tanh. The host glue at the end (:func:`free_run`, :func:`loss_grad`,
:func:`forward_states`) takes the parameters by name; :mod:`fastrnn.kernels.cuda.tanhrnn` is the GPU twin.
"""
import numpy as np
from numba import njit, prange

from ..config import FASTMATH
from . import host
from ._common import (add_column_sums, add_inputs, dot_rows, force_rows, gemm_tn, loss_adjoint, observation_grad,
                      residuals, tanh)

#: Model kind and parameter names (C only with inputs).
KIND = "TanhRNN"
PARAMS = ("W", "h", "B", "C")


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def step_rows(Wt, h, Ct, S, b0, t, zp, zf):
    """Free step of the rows zp (R, M): zf[r] = tanh(W zp[r] + h + C s) with s = S[b0 + r, t].

    Wt = W^T (M, M), Ct = C^T (K, M). One (R, M) x (M, M) product for all rows.
    """
    R, M = zp.shape
    dot_rows(zp, Wt, zf)                                     # W z for all these rows at once
    add_inputs(S, b0, t, Ct, zf)
    for r in range(R):
        for i in range(M):
            zf[r, i] = tanh(zf[r, i] + h[i])


@njit(cache=True, fastmath=FASTMATH, inline="always")
def jacobian(W, znext, J):
    """J = diag(1 - z'^2) W, with z' = F(z) the next state."""
    M = W.shape[0]
    for i in range(M):
        d = 1.0 - znext[i] * znext[i]
        for j in range(M):
            J[i, j] = d * W[i, j]


@njit(cache=True, nogil=True)
def run(Wt, h, Ct, S, Z):
    """Free run of one row: Z (n+1, 1, M) holds z_0 in Z[0] on entry, Z[k+1] = F(Z[k], S[0, k]); S (1, n, K)."""
    for k in range(Z.shape[0] - 1):
        step_rows(Wt, h, Ct, S, 0, k, Z[k, 0:1], Z[k + 1, 0:1])


@njit(cache=True, nogil=True)
def jacobians(W, Wt, h, Ct, S, J, Z):
    """:func:`run` that also stores J[k] = dF/dz at Z[k] (J (n, M, M))."""
    for k in range(Z.shape[0] - 1):
        step_rows(Wt, h, Ct, S, 0, k, Z[k, 0:1], Z[k + 1, 0:1])
        jacobian(W, Z[k + 1, 0], J[k])


@njit(cache=True, nogil=True)
def jacobian_rows(W, Wt, h, Ct, S, Z, J):
    """J[r] = dF/dz at the states Z[r] (R, M) with inputs S (R, 1, K): one step of :func:`jacobians` per row."""
    Zr = np.empty((2, 1, Z.shape[1]), dtype=Z.dtype)
    for r in range(Z.shape[0]):
        Zr[0, 0] = Z[r]
        jacobians(W, Wt, h, Ct, S[r:r + 1], J[r:r + 1], Zr)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _forward_rows(Wt, h, Ct, S, alpha, mask, Zt, Z, ZF, b0, b1):
    """The state recursion of windows b0 .. b1-1, in lockstep: one :func:`step_rows` per step, then the forcing."""
    T1, _, M = Z.shape
    for b in range(b0, b1):
        for i in range(M):
            Z[0, b, i] = Zt[b, 0, i]
    for t in range(1, T1):
        step_rows(Wt, h, Ct, S, b0, t, Z[t - 1, b0:b1], ZF[t - 1, b0:b1])
        force_rows(alpha, mask, Zt, b0, t, ZF[t - 1, b0:b1], Z[t, b0:b1])


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def forward(Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, ZF, R):
    """Forced forward pass, all windows in lockstep: one (nb, M) x (M, M) product per step for the whole batch.

    Wt = W^T (M, M) and Ct = C^T (K, M), C-contiguous. Time-major outputs: Z (T+1, nb, M) forced states,
    ZF (T, nb, M) free states, R (T, nb, N) residuals x_t - B zf_t. Returns the per-window loss sums (float64).
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


# ---------------------------------------------------------------- host glue
def _operands(params):
    """(W, h, B, C, Wt, Ct): C an empty (M, 0) matrix without inputs, Wt = W^T and Ct = C^T C-contiguous."""
    W, h, B = params["W"], params["h"], params["B"]
    C = host.input_matrix(params, "C", h.shape[0], W.dtype)
    return W, h, B, C, np.ascontiguousarray(W.T), np.ascontiguousarray(C.T)


def free_run(params, z0, S, with_jacobians=False):
    """Free run from ``z0`` (M,) driven by S (n, K): states (n+1, M) in the parameters' dtype, and with
    ``with_jacobians`` also J (n, M, M), J[k] = dF/dz at state k."""
    W, h, _, _, Wt, Ct = _operands(params)
    dtype, M, n = W.dtype, h.shape[0], S.shape[0]
    Z = np.empty((n + 1, 1, M), dtype)
    Z[0, 0] = z0
    S3 = np.ascontiguousarray(S, dtype=dtype).reshape(1, n, S.shape[1])
    if not with_jacobians:
        run(Wt, h, Ct, S3, Z)
        return Z[:, 0]
    J = np.empty((n, M, M), dtype)
    jacobians(W, Wt, h, Ct, S3, J, Z)
    return Z[:, 0], J


def state_jacobians(params, Z, S):
    """Jacobians J (R, M, M) of the free step at the states Z (R, M) with inputs S (R, K), in the parameters'
    dtype."""
    W, h, _, _, Wt, Ct = _operands(params)
    R, M = Z.shape
    J = np.empty((R, M, M), W.dtype)
    jacobian_rows(W, Wt, h, Ct, np.ascontiguousarray(S, dtype=W.dtype).reshape(R, 1, S.shape[1]),
                  np.ascontiguousarray(Z, dtype=W.dtype), J)
    return J


def _sweep(params, X, S, alpha, mask, Zt, backward_too, alpha_back=None):
    W, h, B, C, Wt, Ct = _operands(params)
    nb, T1, N = X.shape
    M, K, T = h.shape[0], S.shape[2], T1 - 1
    dtype = W.dtype
    # time-major work arrays (reused between calls): every step is one (nb, M) x (M, M) product for the batch
    Z, ZF, GP, R, GZt = host.workspace(KIND, dtype, [(T1, nb, M), (T, nb, M), (T, nb, M), (T, nb, N), (nb, T1, M)])
    chunks = host.sweep_chunks(nb, T, M) if backward_too else 1
    ab = alpha if alpha_back is None else alpha_back    # the backward sweep's alpha (gradient cuts)
    with host.serial_blas():
        if chunks == 1:
            losses = forward(Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, ZF, R)
        else:
            losses = forward_parallel(Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, ZF, R, chunks)
        if not backward_too:
            return losses, Z, ZF
        scale = 2.0 / (nb * T * N)
        gh = np.zeros(M)
        gW = np.empty((M, M), dtype)
        gB = np.empty((N, M), dtype)
        if chunks == 1:
            backward(W, B, ab, mask, Z, ZF, R, scale, GP, GZt, gW, gh, gB)
        else:
            backward_parallel(W, B, ab, mask, Z, ZF, R, scale, GP, GZt, gW, gh, gB, chunks)
    grads = {"W": gW, "h": gh.astype(dtype), "B": gB}
    if K:
        grads["C"] = GP.reshape(-1, M).T @ host.input_rows(S)
    return losses, grads, GZt


def loss_grad(params, X, S, alpha, mask, P, control_grad, cut=None):
    """Loss and gradients of sparsely forced BPTT over a batch of windows (DESIGN §1).

    Same parameters and returns as :func:`fastrnn.kernels.plrnn.loss_grad`: (loss, grads, dL/dP float64 or None).
    """
    return host.loss_grad(_sweep, params, X, S, alpha, mask, P, control_grad, cut)


def forward_states(params, X, S, alpha, mask, P):
    """As :func:`fastrnn.kernels.plrnn.forward_states`: (loss, forced states, free states)."""
    return host.forward_states(_sweep, params, X, S, alpha, mask, P)
