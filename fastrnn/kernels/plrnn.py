"""PLRNN, z' = A ⊙ z + W relu(z) + h + C s (DESIGN §1): the model's one definition.

:func:`step_rows` is the step for a block of rows. The training sweep (:func:`forward`) calls it for the windows of a
batch, the free run (:func:`run`) and the Jacobians (:func:`jacobians`) for a single row, so training, generation,
Jacobians and Lyapunov spectra evaluate the same floating-point operations. The host glue at the end
(:func:`free_run`, :func:`free_jacobians`, :func:`loss_grad`, :func:`forward_states`) takes the parameters by name
(:attr:`fastrnn.PLRNN.params`); :mod:`fastrnn.kernels.cuda.plrnn` is the GPU twin of :func:`loss_grad`.
"""
import numpy as np
from numba import njit, prange

from ..config import FASTMATH
from . import host
from ._common import add_inputs, dot_rows, force_rows, gemm_tn, loss_adjoint, observation_grad, residuals

#: Model kind and parameter names (C only with inputs).
KIND = "PLRNN"
PARAMS = ("A", "W", "h", "B", "C")


@njit(cache=True, nogil=True, error_model="numpy")
def step_rows(A, Wt, h, Ct, S, b0, t, zp, rz, zf):
    """Free step of the rows zp (R, M): zf[r] = A ⊙ zp[r] + W relu(zp[r]) + h + C s with s = S[b0 + r, t].

    Wt = W^T (M, M), Ct = C^T (K, M); rz (R, M) receives relu(zp). One (R, M) x (M, M) product for all rows.

    Compiled without fastmath (the product in :func:`dot_rows` keeps its own): with the fastmath flags here, the
    kernels loaded from Numba's on-disk cache computed different last bits from the same kernels compiled in the
    process (M = 50, float32 and float64), so a rerun or a resumed run trained a different model;
    ``tests/test_reproducibility.py`` checks it.
    """
    R, M = zp.shape
    for r in range(R):
        for i in range(M):
            rz[r, i] = max(zp[r, i], 0.0)
    dot_rows(rz, Wt, zf)                                     # relu(z) W^T for all these rows at once
    add_inputs(S, b0, t, Ct, zf)
    for r in range(R):
        for i in range(M):
            zf[r, i] += A[i] * zp[r, i] + h[i]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def jacobian(A, W, z, J):
    """J = diag(A) + W diag(relu'(z))."""
    M = A.shape[0]
    for i in range(M):
        for j in range(M):
            J[i, j] = W[i, j] if z[j] > 0.0 else 0.0
        J[i, i] += A[i]


@njit(cache=True, nogil=True)
def run(A, Wt, h, Ct, S, Z, RZ):
    """Free run of one row: Z (n+1, 1, M) holds z_0 in Z[0] on entry, Z[k+1] = F(Z[k], S[0, k]); S (1, n, K),
    RZ (1, 1, M) scratch."""
    for k in range(Z.shape[0] - 1):
        step_rows(A, Wt, h, Ct, S, 0, k, Z[k, 0:1], RZ[0, 0:1], Z[k + 1, 0:1])


@njit(cache=True, nogil=True)
def jacobians(A, W, Wt, h, Ct, S, J, Z, RZ):
    """:func:`run` that also stores J[k] = dF/dz at Z[k] (J (n, M, M))."""
    for k in range(Z.shape[0] - 1):
        jacobian(A, W, Z[k, 0], J[k])
        step_rows(A, Wt, h, Ct, S, 0, k, Z[k, 0:1], RZ[0, 0:1], Z[k + 1, 0:1])


@njit(cache=True, nogil=True)
def jacobian_rows(A, W, Z, J):
    """J[r] = dF/dz at the states Z[r] (R, M), by :func:`jacobian` (the PLRNN's Jacobian does not depend on s)."""
    for r in range(Z.shape[0]):
        jacobian(A, W, Z[r], J[r])


@njit(cache=True, nogil=True, error_model="numpy")
def _forward_rows(A, Wt, h, Ct, S, alpha, mask, Zt, Z, RZ, ZF, b0, b1):
    """The state recursion of windows b0 .. b1-1, in lockstep: one :func:`step_rows` per step, then the forcing.

    No fastmath here (nor in :func:`forward` and :func:`step_rows`): these only call the kernels that compute, and
    with the flags on the callers the kernels loaded from Numba's cache computed other last bits than the same
    kernels compiled in the process (``tests/test_reproducibility.py``).
    """
    T1, _, M = Z.shape
    for b in range(b0, b1):
        for i in range(M):
            Z[0, b, i] = Zt[b, 0, i]
    for t in range(1, T1):
        step_rows(A, Wt, h, Ct, S, b0, t, Z[t - 1, b0:b1], RZ[t - 1, b0:b1], ZF[t - 1, b0:b1])
        force_rows(alpha, mask, Zt, b0, t, ZF[t - 1, b0:b1], Z[t, b0:b1])


@njit(cache=True, nogil=True, error_model="numpy")
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


# ---------------------------------------------------------------- host glue
def _operands(params):
    """(A, W, h, B, C, Wt, Ct): C an empty (M, 0) matrix without inputs, Wt = W^T and Ct = C^T C-contiguous."""
    A, W, h, B = params["A"], params["W"], params["h"], params["B"]
    C = host.input_matrix(params, "C", A.shape[0], W.dtype)
    return A, W, h, B, C, np.ascontiguousarray(W.T), np.ascontiguousarray(C.T)


def free_run(params, z0, S, with_jacobians=False):
    """Free run from ``z0`` (M,) driven by S (n, K): states (n+1, M) in the parameters' dtype, and with
    ``with_jacobians`` also J (n, M, M), J[k] = dF/dz at state k."""
    A, W, h, _, _, Wt, Ct = _operands(params)
    dtype, M, n = W.dtype, A.shape[0], S.shape[0]
    Z = np.empty((n + 1, 1, M), dtype)
    Z[0, 0] = z0
    S3 = np.ascontiguousarray(S, dtype=dtype).reshape(1, n, S.shape[1])
    RZ = np.empty((1, 1, M), dtype)
    if not with_jacobians:
        run(A, Wt, h, Ct, S3, Z, RZ)
        return Z[:, 0]
    J = np.empty((n, M, M), dtype)
    jacobians(A, W, Wt, h, Ct, S3, J, Z, RZ)
    return Z[:, 0], J


def state_jacobians(params, Z, S):
    """Jacobians J (R, M, M) of the free step at the states Z (R, M) (inputs S (R, K) unused: they do not enter
    the Jacobian), in the parameters' dtype."""
    A, W = params["A"], params["W"]
    J = np.empty((Z.shape[0], A.shape[0], A.shape[0]), W.dtype)
    jacobian_rows(A, W, np.ascontiguousarray(Z, dtype=W.dtype), J)
    return J


def _sweep(params, X, S, alpha, mask, Zt, backward_too, alpha_back=None):
    A, W, h, B, C, Wt, Ct = _operands(params)
    nb, T1, N = X.shape
    M, K, T = A.shape[0], S.shape[2], T1 - 1
    dtype = W.dtype
    # time-major work arrays (reused between calls): every step is one (nb, M) x (M, M) product for the batch
    Z, RZ, ZF, GF, R, GZt = host.workspace(KIND, dtype, [(T1, nb, M), (T, nb, M), (T, nb, M), (T, nb, M),
                                                         (T, nb, N), (nb, T1, M)])
    chunks = host.sweep_chunks(nb, T, M) if backward_too else 1
    ab = alpha if alpha_back is None else alpha_back    # the backward sweep's alpha (gradient cuts)
    with host.serial_blas():
        if chunks == 1:
            losses = forward(A, Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, RZ, ZF, R)
        else:
            losses = forward_parallel(A, Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, RZ, ZF, R, chunks)
        if not backward_too:
            return losses, Z, ZF
        scale = 2.0 / (nb * T * N)
        gA = np.zeros(M)
        gh = np.zeros(M)
        gW = np.empty((M, M), dtype)
        gB = np.empty((N, M), dtype)
        if chunks == 1:
            backward(A, W, B, ab, mask, Z, RZ, ZF, R, scale, GF, GZt, gA, gW, gh, gB)
        else:
            backward_parallel(A, W, B, ab, mask, Z, RZ, ZF, R, scale, GF, GZt, gA, gW, gh, gB, chunks)
    grads = {"A": gA.astype(dtype), "W": gW, "h": gh.astype(dtype), "B": gB}
    if K:
        grads["C"] = GF.reshape(-1, M).T @ host.input_rows(S)
    return losses, grads, GZt


def loss_grad(params, X, S, alpha, mask, P, control_grad, cut=None):
    """Loss and gradients of sparsely forced BPTT over a batch of windows (DESIGN §1).

    Parameters
    ----------
    params : dict of str -> ndarray
        The model's parameters (:attr:`fastrnn.PLRNN.params`), one dtype (float32 or float64).
    X : ndarray (nb, T+1, N)
        Observation windows in the parameters' dtype, C-contiguous.
    S : ndarray (nb, T+1, K)
        Inputs aligned with X (K may be 0).
    alpha : ndarray (nb, T+1)
        Forcing weights; ``mask`` (M,) the unit mask; both in the parameters' dtype.
    P : ndarray (M, N)
        Control matrix (z~ = P x), float64; cast to the parameters' dtype for the control signal.
    control_grad : bool
        Also return dL/dP.
    cut : ndarray (nb, T+1), optional
        Gradient cuts (truncated BPTT): where 1, dL/dz_t is not passed back to z_{t-1}; cut steps must be unforced
        and ``mask`` all ones (:func:`fastrnn.kernels.host.backward_alpha`).

    Returns
    -------
    loss : float
    grads : dict of str -> ndarray
        dL/dparameter for every entry of ``params`` (the control path through P excluded).
    G : ndarray (M, N) float64 or None
        dL/dP, or None if ``control_grad`` is False.
    """
    return host.loss_grad(_sweep, params, X, S, alpha, mask, P, control_grad, cut)


def forward_states(params, X, S, alpha, mask, P):
    """The forced forward pass of :func:`loss_grad` alone: (loss, Z (nb, T+1, M) forced states, ZF (nb, T, M) free
    states z_f,1 .. z_f,T), window-major copies."""
    return host.forward_states(_sweep, params, X, S, alpha, mask, P)
