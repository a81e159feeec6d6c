"""Shallow PLRNN, z' = A ⊙ z + W1 phi(W2 z + h2) + h1 + C s (Hess et al., ICML 2023): the model's one definition.

phi(u + h2) = relu(u + h2) for the plain model and relu(u + h2) - relu(u) for the clipped one (``clipped=True``),
whose orbits stay bounded when max |A_i| < 1: phi is bounded by |h2| elementwise, so |z'| <= max|A| |z| + const.

:func:`step_rows` is the step for a block of rows. The training sweep (:func:`forward`) calls it for the windows of a
batch, the free run (:func:`run`) and the Jacobians (:func:`jacobians`) for a single row, so training, generation,
Jacobians and Lyapunov spectra evaluate the same floating-point operations. The host glue at the end
(:func:`free_run`, :func:`loss_grad`, :func:`forward_states`) takes the parameters by name
(:attr:`fastrnn.ShPLRNN.params`) and the variant as ``clipped``; :data:`PLAIN` and :data:`CLIPPED` bind it, with
the interface of a kernel module (``KIND``, ``PARAMS``, ``free_run``, ``loss_grad``, ``forward_states``),
for the model class. :mod:`fastrnn.kernels.cuda.shplrnn` is the GPU twin of :func:`loss_grad`.
"""
import numpy as np
from numba import njit, prange

from ..config import FASTMATH
from . import host
from ._common import add_column_sums, add_inputs, dot_rows, force_rows, loss_adjoint, observation_grad, residuals

#: Model kind and parameter names (C only with inputs).
KIND = "ShPLRNN"
PARAMS = ("A", "W1", "W2", "h1", "h2", "B", "C")


@njit(cache=True, nogil=True, error_model="numpy")
def step_rows(A, W1t, W2t, h1, h2, Ct, S, b0, t, zp, U, Q, zf, clipped):
    """Free step of the rows zp (R, M): zf[r] = A ⊙ zp[r] + W1 phi(W2 zp[r] + h2) + h1 + C s, s = S[b0 + r, t].

    W1t = W1^T (H, M), W2t = W2^T (M, H), Ct = C^T (K, M); U (R, H) receives u = W2 zp (without h2), Q (R, H)
    phi = relu(u + h2) (minus relu(u) if ``clipped``). Two products for all rows: (R, M) x (M, H), (R, H) x (H, M).
    No fastmath here, as in :func:`fastrnn.kernels.plrnn.step_rows` (cached and fresh compilations must agree).
    """
    R, M = zp.shape
    H = h2.shape[0]
    zero = np.zeros(1, dtype=U.dtype)[0]                     # relu in the state's dtype (x < 0 passes NaN on)
    dot_rows(zp, W2t, U)                                     # u = W2 z for all these rows at once
    for r in range(R):
        if clipped:
            for k in range(H):
                u = U[r, k]
                v = u + h2[k]
                Q[r, k] = (zero if v < zero else v) - (zero if u < zero else u)
        else:
            for k in range(H):
                v = U[r, k] + h2[k]
                Q[r, k] = zero if v < zero else v
    dot_rows(Q, W1t, zf)                                     # W1 phi for all these rows at once
    add_inputs(S, b0, t, Ct, zf)
    for r in range(R):
        for i in range(M):
            zf[r, i] += A[i] * zp[r, i] + h1[i]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def jacobian(A, W1, W2, h2, u, D, J, clipped):
    """J = diag(A) + W1 diag(d) W2 with d = 1[u + h2 > 0] (minus 1[u > 0] if ``clipped``), u = W2 z; D (M, H)
    scratch."""
    M, H = W1.shape
    for k in range(H):
        d = 1.0 if u[k] + h2[k] > 0.0 else 0.0
        if clipped and u[k] > 0.0:
            d -= 1.0
        for i in range(M):
            D[i, k] = W1[i, k] * d
    dot_rows(D, W2, J)
    for i in range(M):
        J[i, i] += A[i]


@njit(cache=True, nogil=True)
def run(A, W1t, W2t, h1, h2, Ct, S, Z, U, Q, clipped):
    """Free run of one row: Z (n+1, 1, M) holds z_0 in Z[0] on entry, Z[k+1] = F(Z[k], S[0, k]); S (1, n, K);
    U, Q (1, H) scratch."""
    for k in range(Z.shape[0] - 1):
        step_rows(A, W1t, W2t, h1, h2, Ct, S, 0, k, Z[k, 0:1], U, Q, Z[k + 1, 0:1], clipped)


@njit(cache=True, nogil=True)
def jacobians(A, W1, W2, W1t, W2t, h1, h2, Ct, S, J, Z, U, Q, D, clipped):
    """:func:`run` that also stores J[k] = dF/dz at Z[k] (J (n, M, M)); D (M, H) scratch."""
    for k in range(Z.shape[0] - 1):
        step_rows(A, W1t, W2t, h1, h2, Ct, S, 0, k, Z[k, 0:1], U, Q, Z[k + 1, 0:1], clipped)
        jacobian(A, W1, W2, h2, U[0], D, J[k], clipped)     # u = W2 z_k of the step just taken


@njit(cache=True, nogil=True)
def jacobian_rows(A, W1, W2, W1t, W2t, h1, h2, Ct, S, Z, ZN, U, Q, D, J, clipped):
    """J[r] = dF/dz at the states Z[r] (R, M), with inputs S (R, 1, K): one :func:`step_rows` for all rows (into
    ZN, U, Q: (R, M), (R, H), (R, H)) gives u = W2 z as the free run computes it, then :func:`jacobian` per row."""
    step_rows(A, W1t, W2t, h1, h2, Ct, S, 0, 0, Z, U, Q, ZN, clipped)
    for r in range(Z.shape[0]):
        jacobian(A, W1, W2, h2, U[r], D, J[r], clipped)


@njit(cache=True, nogil=True, error_model="numpy")
def forward(A, W1t, W2t, h1, h2, Ct, B, X, S, alpha, mask, Zt, Z, U, Q, ZF, R, clipped):
    """Forced forward pass, all windows in lockstep: two products per step for the whole batch.

    Time-major outputs: Z (T+1, nb, M) forced states, Q (T, nb, H) = phi, ZF (T, nb, M) free states, R (T, nb, N)
    residuals x_t - B zf_t; U (T, nb, H) = W2 Z[:-1] for the clipped variant, whose backward sweep reads it, and a
    (1, nb, H) scratch for the plain one (its derivative 1[u + h2 > 0] is 1[phi > 0]: a third of the memory traffic
    less). Returns the per-window loss sums (float64).
    """
    T1, nb, M = Z.shape
    last = U.shape[0] - 1
    for b in range(nb):
        for i in range(M):
            Z[0, b, i] = Zt[b, 0, i]
    for t in range(1, T1):
        step_rows(A, W1t, W2t, h1, h2, Ct, S, 0, t, Z[t - 1], U[min(t - 1, last)], Q[t - 1], ZF[t - 1], clipped)
        force_rows(alpha, mask, Zt, 0, t, ZF[t - 1], Z[t])
    return residuals(B, X, ZF, R)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _add_tn(G, Y, out, part, first):
    """out (+)= G^T Y (C-contiguous G (R, P), Y (R, Q)): written on the ``first`` call, else added via part (P, Q)."""
    if first:
        np.dot(G.T, Y, out)
        return
    np.dot(G.T, Y, part)
    P, Qn = out.shape
    for i in range(P):
        for j in range(Qn):
            out[i, j] += part[i, j]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def backward(A, W1, W2, h2, B, alpha, mask, Z, U, Q, ZF, R, scale, GF, GU, GZt, gA, gh1, gh2, gW1, gW2, gB,
             clipped):
    """Reverse sweep over the lockstep layout of :func:`forward`, with the weight gradients taken chunk by chunk.

    Writes GF (T, nb, M) = dL/dzf_t, GZt (nb, T+1, M) = dL/dz~_t, and the gradients gA, gh1, gh2 (float64
    accumulators), gW1 = GF^T Q, gW2 = GU^T Z[:-1], gB = -scale R^T ZF. GU (Tc, nb, H) holds dL/du (u = W2 z_{t-1})
    for a chunk of Tc steps: after each chunk its two gradient products run while GU and Q are still in cache.
    """
    T, nb, M = GF.shape
    H = h2.shape[0]
    Tc = GU.shape[0]
    loss_adjoint(B, R, scale, GF)                            # GF = -scale R B (the loss terms), then the recursion
    gz = np.zeros((nb, M), dtype=GF.dtype)
    gq = np.empty((nb, H), dtype=GF.dtype)
    part1 = np.empty((M, H), dtype=GF.dtype)
    part2 = np.empty((H, M), dtype=GF.dtype)
    zero = np.zeros(1, dtype=GF.dtype)[0]
    for t1 in range(T, 0, -Tc):
        t0 = max(0, t1 - Tc)                                 # this chunk: steps t0 + 1 .. t1 (rows t0 .. t1 - 1)
        for t in range(t1, t0, -1):
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
            dot_rows(gf, W1, gq)                             # dL/dphi = W1^T gf for all windows at once
            q = Q[t - 1]
            gu = GU[t - 1 - t0]
            if clipped:
                u = U[t - 1]
                for b in range(nb):
                    for k in range(H):
                        g = gq[b, k] if u[b, k] + h2[k] > 0.0 else zero
                        gh2[k] += g
                        if u[b, k] > 0.0:
                            g -= gq[b, k]
                        gu[b, k] = g
            else:
                for b in range(nb):                          # phi > 0 exactly where u + h2 > 0
                    for k in range(H):
                        gu[b, k] = gq[b, k] if q[b, k] > zero else zero
            dot_rows(gu, W2, gz)                             # W2^T gu
            zp = Z[t - 1]
            for b in range(nb):
                for i in range(M):
                    g = gf[b, i]
                    gz[b, i] += A[i] * g
                    gA[i] += g * zp[b, i]
                    gh1[i] += g
        rows = (t1 - t0) * nb
        first = t1 == T
        if not clipped:                                      # gh2 = sum of dL/du (a separate loop vectorises)
            add_column_sums(GU[0:t1 - t0].reshape(rows, H), gh2)
        _add_tn(GF[t0:t1].reshape(rows, M), Q[t0:t1].reshape(rows, H), gW1, part1, first)
        _add_tn(GU[0:t1 - t0].reshape(rows, H), Z[t0:t1].reshape(rows, M), gW2, part2, first)
    for b in range(nb):
        for i in range(M):
            GZt[b, 0, i] = gz[b, i]
    observation_grad(R, ZF, scale, gB)


# ---------------------------------------------------------------- host glue
#: Bytes of dL/du per gradient chunk of :func:`backward` (it and the chunk of phi stay in the core's L2 cache).
_CHUNK_BYTES = 128 * 1024


def _operands(params):
    """(A, W1, W2, h1, h2, B, C, W1t, W2t, Ct): C an empty (M, 0) matrix without inputs, transposes C-contiguous."""
    A, W1, W2, h1, h2, B = (params[k] for k in ("A", "W1", "W2", "h1", "h2", "B"))
    C = host.input_matrix(params, "C", A.shape[0], W1.dtype)
    return (A, W1, W2, h1, h2, B, C, np.ascontiguousarray(W1.T), np.ascontiguousarray(W2.T),
            np.ascontiguousarray(C.T))


def free_run(params, z0, S, with_jacobians=False, clipped=False):
    """Free run from ``z0`` (M,) driven by S (n, K): states (n+1, M) in the parameters' dtype, and with
    ``with_jacobians`` also J (n, M, M), J[k] = dF/dz at state k."""
    A, W1, W2, h1, h2, _, _, W1t, W2t, Ct = _operands(params)
    dtype, M, H, n = W1.dtype, A.shape[0], h2.shape[0], S.shape[0]
    Z = np.empty((n + 1, 1, M), dtype)
    Z[0, 0] = z0
    S3 = np.ascontiguousarray(S, dtype=dtype).reshape(1, n, S.shape[1])
    U = np.empty((1, H), dtype)
    Q = np.empty((1, H), dtype)
    clipped = bool(clipped)
    if not with_jacobians:
        run(A, W1t, W2t, h1, h2, Ct, S3, Z, U, Q, clipped)
        return Z[:, 0]
    J = np.empty((n, M, M), dtype)
    jacobians(A, W1, W2, W1t, W2t, h1, h2, Ct, S3, J, Z, U, Q, np.empty((M, H), dtype), clipped)
    return Z[:, 0], J


def state_jacobians(params, Z, S, clipped=False):
    """Jacobians J (R, M, M) of the free step at the states Z (R, M) with inputs S (R, K), in the parameters'
    dtype."""
    A, W1, W2, h1, h2, _, _, W1t, W2t, Ct = _operands(params)
    dtype, M, H, R = W1.dtype, A.shape[0], h2.shape[0], Z.shape[0]
    Zc = np.ascontiguousarray(Z, dtype=dtype)
    S3 = np.ascontiguousarray(S, dtype=dtype).reshape(R, 1, S.shape[1])
    J = np.empty((R, M, M), dtype)
    jacobian_rows(A, W1, W2, W1t, W2t, h1, h2, Ct, S3, Zc, np.empty((R, M), dtype), np.empty((R, H), dtype),
                  np.empty((R, H), dtype), np.empty((M, H), dtype), J, bool(clipped))
    return J


@njit(cache=True, nogil=True, error_model="numpy")
def _sweep_group(c, A, W1, W2, W1t, W2t, h1, h2, Ct, B, X, S, alpha, alpha_back, mask, Zt, Z, U, Q, ZF, R, GF, GU,
                 scale, GZt, gA, gh1, gh2, gW1, gW2, gB, losses, clipped):
    """:func:`forward` and :func:`backward` of the group ``c`` of consecutive windows: the work arrays and gradients
    carry a leading group axis (Z (n_groups, T+1, per, M), gA (n_groups, M), ...) and ``scale`` is the whole
    batch's, so the caller sums the groups' gradients as they are."""
    per = Z.shape[2]
    b0 = c * per
    b1 = b0 + per
    losses[b0:b1] = forward(A, W1t, W2t, h1, h2, Ct, B, X[b0:b1], S[b0:b1], alpha[b0:b1], mask, Zt[b0:b1], Z[c],
                            U[c], Q[c], ZF[c], R[c], clipped)
    backward(A, W1, W2, h2, B, alpha_back[b0:b1], mask, Z[c], U[c], Q[c], ZF[c], R[c], scale, GF[c], GU[c],
             GZt[b0:b1], gA[c], gh1[c], gh2[c], gW1[c], gW2[c], gB[c], clipped)


@njit(cache=True, nogil=True, error_model="numpy")
def sweep_groups(n_groups, *args):
    """:func:`_sweep_group` for groups 0 .. n_groups-1, one after the other (the other arguments as there)."""
    for c in range(n_groups):
        _sweep_group(c, *args)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def sweep_groups_parallel(n_groups, *args):
    """:func:`sweep_groups` with the groups on separate threads: the same operations, so the same result bit for
    bit."""
    for c in prange(n_groups):
        _sweep_group(c, *args)


def _sweep(params, X, S, alpha, mask, Zt, backward_too, clipped, alpha_back=None):
    A, W1, W2, h1, h2, B, C, W1t, W2t, Ct = _operands(params)
    nb, T1, N = X.shape
    M, H, K, T = A.shape[0], h2.shape[0], S.shape[2], T1 - 1
    dtype = W1.dtype
    clipped = bool(clipped)
    # large sweeps: equal groups of windows, on separate threads when cores are idle (host.window_groups)
    nc = host.window_groups(nb, nb * T * M * H, M * H) if backward_too else 1
    per = nb // nc
    # time-major work arrays per group (reused between calls)
    # U is kept only for the clipped variant's backward sweep; dL/du is held for a chunk of Tc steps (_CHUNK_BYTES)
    TU = T if clipped else 1
    Tc = max(1, min(T, _CHUNK_BYTES // (per * H * np.dtype(dtype).itemsize)))
    Z, U, Q, ZF, GF, GU, R, GZt = host.workspace(
        KIND, dtype, [(nc, T1, per, M), (nc, TU, per, H), (nc, T, per, H), (nc, T, per, M), (nc, T, per, M),
                      (nc, Tc, per, H), (nc, T, per, N), (nb, T1, M)])
    scale = 2.0 / (nb * T * N)
    ab = alpha if alpha_back is None else alpha_back   # the backward sweep's alpha (gradient cuts)
    gA, gh1, gh2 = np.zeros((nc, M)), np.zeros((nc, M)), np.zeros((nc, H))
    gW1, gW2, gB = np.empty((nc, M, H), dtype), np.empty((nc, H, M), dtype), np.empty((nc, N, M), dtype)
    with host.serial_blas():
        if nc > 1:
            losses = np.empty(nb)
            groups = sweep_groups_parallel if host.concurrent(nc) else sweep_groups
            groups(nc, A, W1, W2, W1t, W2t, h1, h2, Ct, B, X, S, alpha, ab, mask, Zt, Z, U, Q, ZF, R, GF, GU, scale, GZt,
                   gA, gh1, gh2, gW1, gW2, gB, losses, clipped)
        else:
            losses = forward(A, W1t, W2t, h1, h2, Ct, B, X, S, alpha, mask, Zt, Z[0], U[0], Q[0], ZF[0], R[0],
                             clipped)
            if not backward_too:
                return losses, Z[0], ZF[0]
            backward(A, W1, W2, h2, B, ab, mask, Z[0], U[0], Q[0], ZF[0], R[0], scale, GF[0], GU[0], GZt, gA[0],
                     gh1[0], gh2[0], gW1[0], gW2[0], gB[0], clipped)
    grads = {"A": gA.sum(0).astype(dtype), "W1": host.sum_groups(gW1), "W2": host.sum_groups(gW2),
             "h1": gh1.sum(0).astype(dtype), "h2": gh2.sum(0).astype(dtype), "B": host.sum_groups(gB)}
    if K:
        grads["C"] = host.sum_groups(np.stack([GF[c].reshape(-1, M).T @ host.input_rows(S[c * per:(c + 1) * per])
                                               for c in range(nc)]))
    return losses, grads, GZt


def loss_grad(params, X, S, alpha, mask, P, control_grad, clipped=False, cut=None):
    """Loss and gradients of sparsely forced BPTT over a batch of windows (DESIGN §1).

    Parameters
    ----------
    params : dict of str -> ndarray
        The model's parameters (:attr:`fastrnn.ShPLRNN.params`), one dtype (float32 or float64).
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
    clipped : bool
        The clipped variant, phi = relu(W2 z + h2) - relu(W2 z).
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
    def sweep(*args, **kw):
        return _sweep(*args, clipped, **kw)
    return host.loss_grad(sweep, params, X, S, alpha, mask, P, control_grad, cut)


def forward_states(params, X, S, alpha, mask, P, clipped=False):
    """The forced forward pass of :func:`loss_grad` alone: (loss, Z (nb, T+1, M) forced states, ZF (nb, T, M) free
    states z_f,1 .. z_f,T), window-major copies."""
    def sweep(*args):
        return _sweep(*args, clipped)
    return host.forward_states(sweep, params, X, S, alpha, mask, P)


class Variant:
    """One variant (plain or clipped) of the shallow PLRNN with the interface of a kernel module: ``KIND``,
    ``PARAMS``, ``clipped``, and ``free_run``, ``state_jacobians``, ``loss_grad``, ``forward_states`` with the
    variant bound."""

    KIND = KIND
    PARAMS = PARAMS

    def __init__(self, clipped):
        self.clipped = bool(clipped)

    def free_run(self, params, z0, S, with_jacobians=False):
        """:func:`free_run` of this variant."""
        return free_run(params, z0, S, with_jacobians, self.clipped)

    def state_jacobians(self, params, Z, S):
        """:func:`state_jacobians` of this variant."""
        return state_jacobians(params, Z, S, self.clipped)

    def loss_grad(self, params, X, S, alpha, mask, P, control_grad, cut=None):
        """:func:`loss_grad` of this variant."""
        return loss_grad(params, X, S, alpha, mask, P, control_grad, self.clipped, cut)

    def forward_states(self, params, X, S, alpha, mask, P):
        """:func:`forward_states` of this variant."""
        return forward_states(params, X, S, alpha, mask, P, self.clipped)

    def __repr__(self):
        return f"fastrnn.kernels.shplrnn.{'CLIPPED' if self.clipped else 'PLAIN'}"


#: The plain and the clipped shallow PLRNN, as the model class names them.
PLAIN = Variant(False)
CLIPPED = Variant(True)
