"""LSTM (DESIGN §1): the model's one definition.

State (h, c) of length 2M, stored as one vector ``z = concat(h, c)``; gates a = W h + U s + b in block order
i, f, g, o (each of length M)::

    i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
    c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')

Observations read out through h only (x = B h). Forcing acts on h like on z in the other models and shrinks c:
h_t = (1 - α_t m) h_f + α_t m z~_t, c_t = (1 - α_t m) c_f; every window starts at h_0 = z~_0, c_0 = 0.

:func:`step_rows` is the step for a block of rows, built on the vectorisable float32 tanh and sigmoid of
:mod:`._common` (libm in float64). The training sweep (:func:`forward`) calls it for all windows of a batch in
lockstep, the free run (:func:`run`) and the Jacobians (:func:`jacobians`) for a single row, so every path evaluates
the same floating-point operations. It keeps the gate activations and tanh(c_f) of every step, so the backward sweep
evaluates no transcendental function and one (nb, 4M) x (4M, M) product per step. The host glue at the end takes
the parameters by name; :mod:`fastrnn.kernels.cuda.lstm` is the GPU twin of :func:`loss_grad`.
"""
import numpy as np
from numba import njit

from ..config import FASTMATH
from . import host
from ._common import (add_column_sums, bias_tiles, forcing_weights, gate_products, gate_rproducts, loss_adjoint,
                      observation_grad, residuals, split_adjoint, tanh)

#: Model kind and parameter names (U only with inputs).
KIND = "LSTM"
PARAMS = ("W", "U", "b", "B")
N_GATES = 4


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def step_rows(Wtb, c1b, Ut, S, t, hp, cp, G, g, tmp, cn, tc, hf, half):
    """Free step of the rows (hp, cp) (R, M), row r driven by s = S[r, t].

    Wtb: column blocks of W^T (:func:`.host.gate_layouts`); c1b (4, R M): :func:`._common.bias_tiles`; Ut = U^T
    (K, 4M); tmp (R, 4M) scratch; half = 0.5 in the working precision. Writes the gate activations i, f, g, o into
    G[:, g] (G (4, ., R, M)), the free cell state into cn, tanh(cn) into tc and h_f = o tanh(cn) into hf.
    """
    nb, M = hp.shape
    n = nb * M
    K = Ut.shape[0]
    gate_products(hp, Wtb, G, g, tmp)                       # W h for all rows at once
    # gate k = c0 + c1 tanh(c1 (a + b_k)): sigmoid(a) = 1/2 + tanh(a/2)/2 for i, f, o (c0 = c1 = 1/2), tanh for g
    for k in range(4):
        gk = G[k, g]
        for r in range(nb):
            for j in range(K):
                sj = S[r, t, j]
                for m in range(M):
                    gk[r, m] += sj * Ut[j, k * M + m]
        gf = gk.reshape(n)
        bk = c1b[k]
        if k == 2:
            for q in range(n):
                gf[q] = tanh(gf[q] + bk[q])
        else:
            for q in range(n):
                gf[q] = half + half * tanh(half * gf[q] + bk[q])
    gi = G[0, g].reshape(n)
    gff = G[1, g].reshape(n)
    gg = G[2, g].reshape(n)
    go = G[3, g].reshape(n)
    cpf = cp.reshape(n)
    cnf = cn.reshape(n)
    tcf = tc.reshape(n)
    hff = hf.reshape(n)
    for q in range(n):
        cnf[q] = gff[q] * cpf[q] + gi[q] * gg[q]            # free cell state c_f
    for q in range(n):
        tcf[q] = tanh(cnf[q])
    for q in range(n):
        hff[q] = go[q] * tcf[q]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def jacobian(W, c, i_, f_, g_, o_, tc_, J):
    """J = dF/dz (2M, 2M) at z = (h, c), given the activations i, f, g, o and tanh(c') of the step from there.

    Blocks: dc'/dh = diag(c σ'(a_f)) W_f + diag(g σ'(a_i)) W_i + diag(i tanh'(a_g)) W_g, dc'/dc = diag(f),
    dh'/dh = diag(tanh(c') σ'(a_o)) W_o + diag(o tanh'(c')) dc'/dh, dh'/dc = diag(o tanh'(c') f).
    """
    M = W.shape[1]
    for m in range(M):
        i = i_[m]
        f = f_[m]
        g = g_[m]
        o = o_[m]
        tc = tc_[m]
        di = g * i * (1.0 - i)
        df = c[m] * f * (1.0 - f)
        dg = i * (1.0 - g * g)
        do = tc * o * (1.0 - o)
        e = o * (1.0 - tc * tc)
        for k in range(M):
            dc = di * W[m, k] + df * W[M + m, k] + dg * W[2 * M + m, k]
            J[M + m, k] = dc
            J[m, k] = do * W[3 * M + m, k] + e * dc
            J[M + m, M + k] = 0.0
            J[m, M + k] = 0.0
        J[M + m, M + m] = f
        J[m, M + m] = e * f


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def run(W, Wtb, b, Ut, S, H, C, J):
    """Free run of one row: H, C (n+1, 1, M) hold (h_0, c_0) in row 0 on entry, row k+1 = F(row k, S[0, k]);
    S (1, n, K). With J of shape (n, 2M, 2M) also J[k] = dF/dz at row k (pass J of shape (0, 0, 0) for none)."""
    M = H.shape[2]
    half = np.full(1, 0.5, dtype=H.dtype)[0]
    c1b = bias_tiles(b, 1, 4)
    G = np.empty((4, 1, 1, M), dtype=H.dtype)
    TC = np.empty((1, 1, M), dtype=H.dtype)
    tmp = np.empty((1, 4 * M), dtype=H.dtype)
    for k in range(H.shape[0] - 1):
        step_rows(Wtb, c1b, Ut, S, k, H[k], C[k], G, 0, tmp, C[k + 1], TC[0], H[k + 1], half)
        if J.shape[0] > 0:
            jacobian(W, C[k, 0], G[0, 0, 0], G[1, 0, 0], G[2, 0, 0], G[3, 0, 0], TC[0, 0], J[k])


@njit(cache=True, nogil=True)
def jacobian_rows(W, Wtb, b, Ut, S, Z, J):
    """J[r] = dF/dz at the states Z[r] = (h, c) (R, 2M) with inputs S (R, 1, K): one step of :func:`run` per row."""
    M = W.shape[1]
    H = np.empty((2, 1, M), dtype=Z.dtype)
    C = np.empty((2, 1, M), dtype=Z.dtype)
    for r in range(Z.shape[0]):
        H[0, 0] = Z[r, :M]
        C[0, 0] = Z[r, M:]
        run(W, Wtb, b, Ut, S[r:r + 1], H, C, J[r:r + 1])


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def forward(Wtb, b, Ut, B, X, S, alpha, mask, Zt, H, C, HF, G, TC, R):
    """Forced forward pass, all windows in lockstep: the (nb, M) x (M, 4M) product of a step covers the whole batch.

    Wtb (nblk, M, 4M / nblk) = the column blocks of W^T (nblk = 1 or 4, see :func:`.host.gate_blocks`) and
    Ut = U^T (K, 4M), C-contiguous. Outputs, time-major: H, C (T+1, nb, M) forced states, HF (T, nb, M) free h,
    G (4, T, nb, M) gate activations i, f, g, o (gate-major, so that every elementwise loop runs over a step's nb M
    contiguous values), TC (T, nb, M) tanh of the free cell state, R (T, nb, N) residuals x_t - B h_f,t.
    Returns the per-window loss sums (float64).
    """
    T1, nb, M = H.shape
    tmp = np.empty((nb, 4 * M), dtype=H.dtype)
    w = np.empty((nb, M), dtype=H.dtype)
    one = np.full(1, 1.0, dtype=H.dtype)[0]                  # constants in the working precision (float32 stays
    half = np.full(1, 0.5, dtype=H.dtype)[0]                 # float32 and picks the vectorisable tanh)
    c1b = bias_tiles(b, nb, 4)
    for r in range(nb):
        for m in range(M):
            H[0, r, m] = Zt[r, 0, m]
            C[0, r, m] = 0.0
    for t in range(1, T1):
        step_rows(Wtb, c1b, Ut, S, t, H[t - 1], C[t - 1], G, t - 1, tmp, C[t], TC[t - 1], HF[t - 1], half)
        H[t][:] = HF[t - 1]
        if forcing_weights(alpha, mask, t, w):               # h pulled towards z~, c shrunk
            for r in range(nb):
                if alpha[r, t] != 0.0:
                    for m in range(M):
                        wm = w[r, m]
                        C[t, r, m] *= one - wm
                        H[t, r, m] = (one - wm) * HF[t - 1, r, m] + wm * Zt[r, t, m]
    return residuals(B, X, HF, R)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def backward(Wb, B, alpha, mask, H, C, HF, G, TC, R, scale, GH, GZt, gb, gB):
    """Reverse sweep over the lockstep layout of :func:`forward`, then the gradients of W, b and B.

    G (4, T, nb, M) holds the gate activations on entry and dL/d(gate pre-activations a_i, a_f, a_g, a_o) on exit;
    Wb (nblk, 4M / nblk, M) is W split into row blocks (W.reshape); GH (T, nb, M) is work space; GZt (nb, T+1, M) =
    dL/dz~_t, written only at t = 0 and at the steps where some window is forced (elsewhere it is zero); gb (float64)
    accumulates; gB = -scale R^T HF. The W gradient, G^T H[:-1] per gate block, is left to
    :func:`_common.block_weight_grads`.
    """
    T, nb, M = GH.shape
    n = nb * M
    loss_adjoint(B, R, scale, GH)                            # GH = dL/dh_f through the read-out
    gzh = np.zeros((nb, M), dtype=GH.dtype)                  # dL/dh_t (forced state)
    gzc = np.zeros(n, dtype=GH.dtype)                        # dL/dc_t, then dL/dc_f, dL/dc_{t-1}
    w = np.empty((nb, M), dtype=GH.dtype)
    one = np.full(1, 1.0, dtype=GH.dtype)[0]
    gcg = np.empty(n, dtype=GH.dtype)
    tmp = np.empty((nb, 4 * M), dtype=GH.dtype)
    part = np.empty((nb, M), dtype=GH.dtype)
    for t in range(T, 0, -1):
        gh = GH[t - 1].reshape(n)
        gi = G[0, t - 1].reshape(n)
        gf = G[1, t - 1].reshape(n)
        gg = G[2, t - 1].reshape(n)
        go = G[3, t - 1].reshape(n)
        tc = TC[t - 1].reshape(n)
        cp = C[t - 1].reshape(n)
        if split_adjoint(alpha, mask, t, gzh, GH[t - 1], GZt, w):     # gh = dL/dh_f
            wf = w.reshape(n)
            for q in range(n):
                gzc[q] *= one - wf[q]                        # dL/dc_f from c_t
        for q in range(n):
            gzc[q] += gh[q] * go[q] * (one - tc[q] * tc[q])  # + through h_f = o tanh(c_f)
        for q in range(n):
            go[q] = gh[q] * tc[q] * go[q] * (one - go[q])
        for q in range(n):
            gcg[q] = gzc[q] * gg[q]
        for q in range(n):
            gg[q] = gzc[q] * gi[q] * (one - gg[q] * gg[q])
        for q in range(n):
            gi[q] = gcg[q] * gi[q] * (one - gi[q])
        for q in range(n):
            f = gf[q]
            gf[q] = gzc[q] * cp[q] * f * (one - f)
            gzc[q] *= f                                      # dL/dc_{t-1}
        gate_rproducts(G, t - 1, Wb, gzh, tmp, part)         # W^T (gate adjoints) for all windows at once
    for r in range(nb):
        for m in range(M):
            GZt[r, 0, m] = gzh[r, m]
    for k in range(4):
        add_column_sums(G[k].reshape(T * nb, M), gb, k * M)
    observation_grad(R, HF, scale, gB)


# ---------------------------------------------------------------- host glue
def _operands(params):
    """(W, U, b, B, Ut): U an empty (4M, 0) matrix without inputs, Ut = U^T C-contiguous."""
    W, b, B = params["W"], params["b"], params["B"]
    U = host.input_matrix(params, "U", W.shape[0], W.dtype)
    return W, U, b, B, np.ascontiguousarray(U.T)


def free_run(params, z0, S, with_jacobians=False):
    """Free run from ``z0`` = (h_0, c_0) (2M,) driven by S (n, K): states (n+1, 2M) in the parameters' dtype, and
    with ``with_jacobians`` also J (n, 2M, 2M), J[k] = dF/dz at state k."""
    W, U, b, _, Ut = _operands(params)
    dtype, M, n = W.dtype, W.shape[1], S.shape[0]
    H = np.empty((n + 1, 1, M), dtype)
    C = np.empty((n + 1, 1, M), dtype)
    H[0, 0] = z0[:M]
    C[0, 0] = z0[M:]
    S3 = np.ascontiguousarray(S, dtype=dtype).reshape(1, n, S.shape[1])
    J = np.empty((n, 2 * M, 2 * M) if with_jacobians else (0, 0, 0), dtype)
    run(W, host.gate_layouts(W, N_GATES)[1], b, Ut, S3, H, C, J)
    Z = np.concatenate([H[:, 0], C[:, 0]], axis=1)
    return (Z, J) if with_jacobians else Z


def state_jacobians(params, Z, S):
    """Jacobians J (R, 2M, 2M) of the free step at the states Z = (h, c) (R, 2M) with inputs S (R, K), in the
    parameters' dtype."""
    W, _, b, _, Ut = _operands(params)
    return host.gate_state_jacobians(jacobian_rows, W, b, Ut, Z, S, N_GATES)


def _sweep(params, X, S, alpha, mask, Zt, backward_too, alpha_back=None):
    W, U, b, B, Ut = _operands(params)
    nb, T1, N = X.shape
    M, K, T = W.shape[1], S.shape[2], T1 - 1
    dtype = W.dtype
    # time-major work arrays (reused between calls): every step is one (nb, M) x (M, 4M) product for the batch
    H, C, HF, G, TC, R, GH, GZt = host.workspace(KIND, dtype, [(T1, nb, M), (T1, nb, M), (T, nb, M), (4, T, nb, M),
                                                               (T, nb, M), (T, nb, N), (T, nb, M), (nb, T1, M)])
    Wb, Wtb = host.gate_layouts(W, N_GATES)
    ab = alpha if alpha_back is None else alpha_back    # the backward sweep's alpha (gradient cuts)
    with host.serial_blas():
        losses = forward(Wtb, b, Ut, B, X, S, alpha, mask, Zt, H, C, HF, G, TC, R)
        if not backward_too:
            return losses, np.concatenate([H, C], axis=2), HF
        scale = 2.0 / (nb * T * N)
        gb = np.zeros(N_GATES * M)
        gW = np.empty_like(W)
        gB = np.empty((N, M), dtype)
        backward(Wb, B, ab, mask, H, C, HF, G, TC, R, scale, GH, GZt, gb, gB)
    host.block_weight_grads(G.reshape(4, T * nb, M), H[:T].reshape(T * nb, M), gW)
    grads = {"W": gW, "b": gb.astype(dtype), "B": gB}
    if K:
        S2 = host.input_rows(S)
        grads["U"] = np.concatenate([G[j].reshape(-1, M).T @ S2 for j in range(4)])
    return losses, grads, GZt


def loss_grad(params, X, S, alpha, mask, P, control_grad, cut=None):
    """Loss and gradients of sparsely forced BPTT over a batch of windows (DESIGN §1).

    Same parameters and returns as :func:`fastrnn.kernels.plrnn.loss_grad`: (loss, grads, dL/dP float64 or None).
    """
    return host.loss_grad(_sweep, params, X, S, alpha, mask, P, control_grad, cut)


def forward_states(params, X, S, alpha, mask, P):
    """As :func:`fastrnn.kernels.plrnn.forward_states`: (loss, forced states, free states); the forced states are
    (h, c), (nb, T+1, 2M), the free ones h_f, (nb, T, M)."""
    return host.forward_states(_sweep, params, X, S, alpha, mask, P)
