"""GRU (DESIGN §1), PyTorch's gate order with one bias per block: the model's one definition.

Blocks r, u, n of W (3M, M), U (3M, K), b (3M,)::

    r = σ(W_r z + U_r s + b_r),  u = σ(W_u z + U_u s + b_u)
    q = W_n z,                   n = tanh(U_n s + b_n + r ⊙ q)
    z' = (1 - u) ⊙ n + u ⊙ z

:func:`step_rows` is the step for a block of rows, built on the vectorisable float32 tanh and sigmoid of
:mod:`._common` (libm in float64). The training sweep (:func:`forward`) calls it for all windows of a batch in
lockstep, the free run (:func:`run`) and the Jacobians for a single row, so every path evaluates the same
floating-point operations. It keeps (r, u, n) and q of every step for the backward sweep, which then evaluates no
transcendental function and one (nb, 3M) x (3M, M) product per step. The host glue at the end takes the parameters
by name; :mod:`fastrnn.kernels.cuda.gru` is the GPU twin of :func:`loss_grad`.
"""
import numpy as np
from numba import njit

from ..config import FASTMATH
from . import host
from ._common import (add_column_sums, bias_tiles, forcing_weights, gate_products, gate_rproducts, loss_adjoint,
                      observation_grad, residuals, split_adjoint, tanh)

#: Model kind and parameter names (U only with inputs).
KIND = "GRU"
PARAMS = ("W", "U", "b", "B")
N_GATES = 3


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def step_rows(Wtb, bt, Ut, S, t, zp, G, Q, g, tmp, cn, zf, one, half):
    """Free step of the rows zp (R, M), row r driven by s = S[r, t].

    Wtb: column blocks of W^T (:func:`.host.gate_layouts`); bt (3, R M): :func:`._common.bias_tiles`; Ut = U^T
    (K, 3M); tmp (R, 3M) scratch; cn (R M,) receives b_n + U_n s (with K = 0 pass bt[2] itself); one, half in the
    working precision. Writes r, u, n into G[:, g] (G (3, ., R, M)), q = W_n z into Q[g] and the free state into zf.
    """
    nb, M = zp.shape
    n = nb * M
    K = Ut.shape[0]
    gate_products(zp, Wtb, G, g, tmp)                       # (W_r z, W_u z, W_n z) for all rows at once
    # r, u = sigmoid(a) = 1/2 + tanh(a/2)/2 with a = W z + U s + b; n = tanh(b_n + U_n s + r q)
    if K > 0:
        cn[:] = bt[2]
        for k in range(3):
            gk = G[k, g] if k < 2 else cn.reshape(nb, M)
            for r in range(nb):
                for j in range(K):
                    sj = S[r, t, j]
                    for m in range(M):
                        gk[r, m] += sj * Ut[j, k * M + m]
    for k in range(2):
        gf = G[k, g].reshape(n)
        bk = bt[k]
        for p in range(n):
            gf[p] = half + half * tanh(half * gf[p] + bk[p])
    gr = G[0, g].reshape(n)
    gu = G[1, g].reshape(n)
    gn = G[2, g].reshape(n)
    q = Q[g].reshape(n)
    for p in range(n):
        qv = gn[p]
        q[p] = qv
        gn[p] = tanh(cn[p] + gr[p] * qv)
    zpf = zp.reshape(n)
    zff = zf.reshape(n)
    for p in range(n):
        zff[p] = (one - gu[p]) * gn[p] + gu[p] * zpf[p]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def jacobian(W, z, r_, u_, n_, q_, J):
    """J = dF/dz at z, given the activations r, u, n and q = W_n z of the step from there.

    J = diag(u) + diag((1-u)(1-n^2) q r(1-r)) W_r + diag((z-n) u(1-u)) W_u + diag((1-u)(1-n^2) r) W_n.
    """
    M = W.shape[1]
    for m in range(M):
        r = r_[m]
        u = u_[m]
        n = n_[m]
        q = q_[m]
        dn = (1.0 - u) * (1.0 - n * n)
        cr = dn * q * r * (1.0 - r)
        cu = (z[m] - n) * u * (1.0 - u)
        cn = dn * r
        for k in range(M):
            J[m, k] = cr * W[m, k] + cu * W[M + m, k] + cn * W[2 * M + m, k]
        J[m, m] += u


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def run(W, Wtb, b, Ut, S, Z, J):
    """Free run of one row: Z (n+1, 1, M) holds z_0 in Z[0] on entry, Z[k+1] = F(Z[k], S[0, k]); S (1, n, K). With
    J of shape (n, M, M) also J[k] = dF/dz at Z[k] (pass J of shape (0, 0, 0) for none)."""
    M = Z.shape[2]
    one = np.full(1, 1.0, dtype=Z.dtype)[0]
    half = np.full(1, 0.5, dtype=Z.dtype)[0]
    bt = bias_tiles(b, 1, 3)
    cn = bt[2]
    if Ut.shape[0] > 0:
        cn = np.empty(M, dtype=Z.dtype)
    G = np.empty((3, 1, 1, M), dtype=Z.dtype)
    Q = np.empty((1, 1, M), dtype=Z.dtype)
    tmp = np.empty((1, 3 * M), dtype=Z.dtype)
    for k in range(Z.shape[0] - 1):
        step_rows(Wtb, bt, Ut, S, k, Z[k], G, Q, 0, tmp, cn, Z[k + 1], one, half)
        if J.shape[0] > 0:
            jacobian(W, Z[k, 0], G[0, 0, 0], G[1, 0, 0], G[2, 0, 0], Q[0, 0], J[k])


@njit(cache=True, nogil=True)
def jacobian_rows(W, Wtb, b, Ut, S, Z, J):
    """J[r] = dF/dz at the states Z[r] (R, M) with inputs S (R, 1, K): one step of :func:`run` per row."""
    Zr = np.empty((2, 1, Z.shape[1]), dtype=Z.dtype)
    for r in range(Z.shape[0]):
        Zr[0, 0] = Z[r]
        run(W, Wtb, b, Ut, S[r:r + 1], Zr, J[r:r + 1])


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def forward(Wtb, b, Ut, B, X, S, alpha, mask, Zt, Z, ZF, G, Q, R):
    """Forced forward pass, all windows in lockstep: the (nb, M) x (M, 3M) product of a step covers the whole batch.

    Wtb (nblk, M, 3M / nblk) = the column blocks of W^T (nblk = 1 or 3, see :func:`.host.gate_blocks`) and
    Ut = U^T (K, 3M), C-contiguous. Outputs, time-major: Z (T+1, nb, M) forced states, ZF (T, nb, M) free states,
    G (3, T, nb, M) activations r, u, n of each step (gate-major, so that every elementwise loop runs over a step's
    nb M contiguous values), Q (T, nb, M) = W_n z of each step, R (T, nb, N) residuals. Returns the per-window loss
    sums (float64).
    """
    T1, nb, M = Z.shape
    n = nb * M
    K = Ut.shape[0]
    tmp = np.empty((nb, 3 * M), dtype=Z.dtype)
    w = np.empty((nb, M), dtype=Z.dtype)
    one = np.full(1, 1.0, dtype=Z.dtype)[0]                  # constants in the working precision (float32 stays
    half = np.full(1, 0.5, dtype=Z.dtype)[0]                 # float32 and picks the vectorisable tanh)
    bt = bias_tiles(b, nb, 3)                                # b/2 (r, u) and b_n, tiled over the windows
    for r in range(nb):
        for m in range(M):
            Z[0, r, m] = Zt[r, 0, m]
    cn = bt[2]                                               # b_n (+ U_n s_t with inputs)
    if K > 0:
        cn = np.empty(n, dtype=Z.dtype)
    for t in range(1, T1):
        step_rows(Wtb, bt, Ut, S, t, Z[t - 1], G, Q, t - 1, tmp, cn, ZF[t - 1], one, half)
        Z[t][:] = ZF[t - 1]
        if forcing_weights(alpha, mask, t, w):
            for r in range(nb):
                if alpha[r, t] != 0.0:
                    for m in range(M):
                        wm = w[r, m]
                        Z[t, r, m] = (one - wm) * ZF[t - 1, r, m] + wm * Zt[r, t, m]
    return residuals(B, X, ZF, R)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def backward(Wb, B, alpha, mask, Z, ZF, G, Q, R, scale, GF, GZt, gb, gB):
    """Reverse sweep over the lockstep layout of :func:`forward`, then the gradients of W, b and B.

    On exit G (3, T, nb, M) holds (dL/da_r, dL/da_u, dL/dq) with a_r, a_u the gate pre-activations and q = W_n z (the
    entries that multiply z in the W gradient) and Q (T, nb, M) holds dL/da_n, a_n = U_n s + b_n + r ⊙ q.
    Wb (nblk, 3M / nblk, M) is W split into row blocks (W.reshape); GF (T, nb, M) is work space; GZt (nb, T+1, M) =
    dL/dz~_t, written only at t = 0 and at the steps where some window is forced (elsewhere it is zero); gb (float64)
    accumulates; gB = -scale R^T ZF. The W gradient, G^T Z[:-1] per gate block, is left to
    :func:`_common.block_weight_grads`.
    """
    T, nb, M = GF.shape
    n = nb * M
    loss_adjoint(B, R, scale, GF)                            # GF = dL/dz_f through the read-out
    gz = np.zeros((nb, M), dtype=GF.dtype)                   # dL/dz_t (forced state)
    gzf = gz.reshape(n)
    w = np.empty((nb, M), dtype=GF.dtype)
    one = np.full(1, 1.0, dtype=GF.dtype)[0]
    gan = np.empty(n, dtype=GF.dtype)
    direct = np.empty(n, dtype=GF.dtype)
    tmp = np.empty((nb, 3 * M), dtype=GF.dtype)
    part = np.empty((nb, M), dtype=GF.dtype)
    for t in range(T, 0, -1):
        gf = GF[t - 1].reshape(n)
        gr = G[0, t - 1].reshape(n)
        gu = G[1, t - 1].reshape(n)
        gn = G[2, t - 1].reshape(n)
        q = Q[t - 1].reshape(n)
        zp = Z[t - 1].reshape(n)
        split_adjoint(alpha, mask, t, gz, GF[t - 1], GZt, w)    # gf = dL/dz_f
        for p in range(n):
            gan[p] = gf[p] * (one - gu[p]) * (one - gn[p] * gn[p])
        for p in range(n):
            direct[p] = gf[p] * gu[p]                        # through z_f = ... + u z_{t-1}
        for p in range(n):
            gu[p] = gf[p] * (zp[p] - gn[p]) * gu[p] * (one - gu[p])
        for p in range(n):
            gn[p] = gan[p] * gr[p]                           # dL/dq
        for p in range(n):
            gr[p] = gan[p] * q[p] * gr[p] * (one - gr[p])
        q[:] = gan                                           # dL/da_n
        gate_rproducts(G, t - 1, Wb, gz, tmp, part)          # W^T (r, u, q adjoints) for all windows at once
        for p in range(n):
            gzf[p] += direct[p]
    for r in range(nb):
        for m in range(M):
            GZt[r, 0, m] = gz[r, m]
    add_column_sums(G[0].reshape(T * nb, M), gb, 0)        # db = sums of dL/da_r, dL/da_u, dL/da_n
    add_column_sums(G[1].reshape(T * nb, M), gb, M)
    add_column_sums(Q.reshape(T * nb, M), gb, 2 * M)
    observation_grad(R, ZF, scale, gB)


# ---------------------------------------------------------------- host glue
def _operands(params):
    """(W, U, b, B, Ut): U an empty (3M, 0) matrix without inputs, Ut = U^T C-contiguous."""
    W, b, B = params["W"], params["b"], params["B"]
    U = host.input_matrix(params, "U", W.shape[0], W.dtype)
    return W, U, b, B, np.ascontiguousarray(U.T)


def free_run(params, z0, S, with_jacobians=False):
    """Free run from ``z0`` (M,) driven by S (n, K): states (n+1, M) in the parameters' dtype, and with
    ``with_jacobians`` also J (n, M, M), J[k] = dF/dz at state k."""
    W, U, b, _, Ut = _operands(params)
    dtype, M, n = W.dtype, W.shape[1], S.shape[0]
    Z = np.empty((n + 1, 1, M), dtype)
    Z[0, 0] = z0
    S3 = np.ascontiguousarray(S, dtype=dtype).reshape(1, n, S.shape[1])
    J = np.empty((n, M, M) if with_jacobians else (0, 0, 0), dtype)
    run(W, host.gate_layouts(W, N_GATES)[1], b, Ut, S3, Z, J)
    return (Z[:, 0], J) if with_jacobians else Z[:, 0]


def state_jacobians(params, Z, S):
    """Jacobians J (R, M, M) of the free step at the states Z (R, M) with inputs S (R, K), in the parameters'
    dtype."""
    W, _, b, _, Ut = _operands(params)
    return host.gate_state_jacobians(jacobian_rows, W, b, Ut, Z, S, N_GATES)


def _sweep(params, X, S, alpha, mask, Zt, backward_too, alpha_back=None):
    W, U, b, B, Ut = _operands(params)
    nb, T1, N = X.shape
    M, K, T = W.shape[1], S.shape[2], T1 - 1
    dtype = W.dtype
    # time-major work arrays (reused between calls): every step is one (nb, M) x (M, 3M) product for the batch
    Z, ZF, G, Q, R, GF, GZt = host.workspace(KIND, dtype, [(T1, nb, M), (T, nb, M), (3, T, nb, M), (T, nb, M),
                                                           (T, nb, N), (T, nb, M), (nb, T1, M)])
    Wb, Wtb = host.gate_layouts(W, N_GATES)
    ab = alpha if alpha_back is None else alpha_back    # the backward sweep's alpha (gradient cuts)
    with host.serial_blas():
        losses = forward(Wtb, b, Ut, B, X, S, alpha, mask, Zt, Z, ZF, G, Q, R)
        if not backward_too:
            return losses, Z, ZF
        scale = 2.0 / (nb * T * N)
        gb = np.zeros(N_GATES * M)
        gW = np.empty_like(W)
        gB = np.empty((N, M), dtype)
        backward(Wb, B, ab, mask, Z, ZF, G, Q, R, scale, GF, GZt, gb, gB)
    host.block_weight_grads(G.reshape(3, T * nb, M), Z[:T].reshape(T * nb, M), gW)
    grads = {"W": gW, "b": gb.astype(dtype), "B": gB}
    if K:
        S2 = host.input_rows(S)
        grads["U"] = np.concatenate([G[0].reshape(-1, M).T @ S2, G[1].reshape(-1, M).T @ S2,
                                     Q.reshape(-1, M).T @ S2])
    return losses, grads, GZt


def loss_grad(params, X, S, alpha, mask, P, control_grad, cut=None):
    """Loss and gradients of sparsely forced BPTT over a batch of windows (DESIGN §1).

    Same parameters and returns as :func:`fastrnn.kernels.plrnn.loss_grad`: (loss, grads, dL/dP float64 or None).
    """
    return host.loss_grad(_sweep, params, X, S, alpha, mask, P, control_grad, cut)


def forward_states(params, X, S, alpha, mask, P):
    """As :func:`fastrnn.kernels.plrnn.forward_states`: (loss, forced states, free states)."""
    return host.forward_states(_sweep, params, X, S, alpha, mask, P)
