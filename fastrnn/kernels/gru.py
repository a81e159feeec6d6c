"""GRU kernels (DESIGN §1), PyTorch's gate order with one bias per block.

Blocks r, u, n of W (3M, M), U (3M, K), b (3M,)::

    r = σ(W_r z + U_r s + b_r),  u = σ(W_u z + U_u s + b_u)
    q = W_n z,                   n = tanh(U_n s + b_n + r ⊙ q)
    z' = (1 - u) ⊙ n + u ⊙ z

``step`` (one window, used by generation and the Jacobians) writes (r, u, n, q) into its scratch vector ``buf`` of
length 4M. The training kernels advance all windows in lockstep in time-major arrays and keep (r, u, n) and q of every
step for the backward sweep, which then evaluates no transcendental function and one (nb, 3M) x (3M, M) product per
step.
"""
import numpy as np
from numba import njit

from ._common import (FASTMATH, add_column_sums, forcing_weights, gate_products, gate_rproducts, loss_adjoint,
                      observation_grad, residuals, sigmoid, split_adjoint, tanh)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def step(W, U, b, z, s, out, buf):
    """out = F(z, s); buf (4M,) receives (r, u, n, q)."""
    M = W.shape[1]
    K = U.shape[1]
    for j in range(3 * M):
        wz = 0.0
        for k in range(M):
            wz += W[j, k] * z[k]
        acc = b[j]
        for k in range(K):
            acc += U[j, k] * s[k]
        if j < 2 * M:
            buf[j] = sigmoid(acc + wz)
        else:
            m = j - 2 * M
            buf[3 * M + m] = wz
            buf[j] = tanh(acc + buf[m] * wz)    # r_m is buf[m], already computed
    for m in range(M):
        u = buf[M + m]
        out[m] = (1.0 - u) * buf[2 * M + m] + u * z[m]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def jacobian(W, z, buf, J):
    """J = dF/dz at z, given the activations ``buf`` that ``step`` computed there.

    J = diag(u) + diag((1-u)(1-n^2) q r(1-r)) W_r + diag((z-n) u(1-u)) W_u + diag((1-u)(1-n^2) r) W_n.
    """
    M = W.shape[1]
    for m in range(M):
        r = buf[m]
        u = buf[M + m]
        n = buf[2 * M + m]
        q = buf[3 * M + m]
        dn = (1.0 - u) * (1.0 - n * n)
        cr = dn * q * r * (1.0 - r)
        cu = (z[m] - n) * u * (1.0 - u)
        cn = dn * r
        for k in range(M):
            J[m, k] = cr * W[m, k] + cu * W[M + m, k] + cn * W[2 * M + m, k]
        J[m, m] += u


@njit(cache=True, nogil=True)
def run(W, U, b, z0, S, Zout):
    buf = np.empty(4 * W.shape[1], dtype=Zout.dtype)
    Zout[0] = z0
    for k in range(S.shape[0]):
        step(W, U, b, Zout[k], S[k], Zout[k + 1], buf)


@njit(cache=True, nogil=True)
def jacobians(W, U, b, z0, S, J, Zout):
    buf = np.empty(4 * W.shape[1], dtype=Zout.dtype)
    Zout[0] = z0
    for k in range(S.shape[0]):
        step(W, U, b, Zout[k], S[k], Zout[k + 1], buf)
        jacobian(W, Zout[k], buf, J[k])


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def forward(Wtb, b, Ut, B, X, S, alpha, mask, Zt, Z, ZF, G, Q, R):
    """Forced forward pass, all windows in lockstep: the (nb, M) x (M, 3M) product of a step covers the whole batch.

    Wtb (nblk, M, 3M / nblk) = the column blocks of W^T (nblk = 1 or 3, see :func:`_common.gate_blocks`) and
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
    # r, u = sigmoid(a) = 1/2 + tanh(a/2)/2 with a = W z + U s + b; n = tanh(b_n + U_n s + r q)
    bt = np.empty((3, n), dtype=Z.dtype)                     # b/2 (r, u) and b_n, tiled over the windows
    for k in range(3):
        c1 = 1.0 if k == 2 else 0.5
        for r in range(nb):
            for m in range(M):
                bt[k, r * M + m] = c1 * b[k * M + m]
    for r in range(nb):
        for m in range(M):
            Z[0, r, m] = Zt[r, 0, m]
    cn = bt[2]                                               # b_n (+ U_n s_t with inputs)
    if K > 0:
        cn = np.empty(n, dtype=Z.dtype)
    for t in range(1, T1):
        gate_products(Z[t - 1], Wtb, G, t - 1, tmp)         # (W_r z, W_u z, W_n z) for all windows at once
        if K > 0:
            cn[:] = bt[2]
            for k in range(3):
                gk = G[k, t - 1] if k < 2 else cn.reshape(nb, M)
                for r in range(nb):
                    for j in range(K):
                        sj = S[r, t, j]
                        for m in range(M):
                            gk[r, m] += sj * Ut[j, k * M + m]
        for k in range(2):
            gf = G[k, t - 1].reshape(n)
            bk = bt[k]
            for p in range(n):
                gf[p] = half + half * tanh(half * gf[p] + bk[p])
        gr = G[0, t - 1].reshape(n)
        gu = G[1, t - 1].reshape(n)
        gn = G[2, t - 1].reshape(n)
        q = Q[t - 1].reshape(n)
        for p in range(n):
            qv = gn[p]
            q[p] = qv
            gn[p] = tanh(cn[p] + gr[p] * qv)
        zp = Z[t - 1].reshape(n)
        zf = ZF[t - 1].reshape(n)
        zt = Z[t].reshape(n)
        for p in range(n):
            v = (one - gu[p]) * gn[p] + gu[p] * zp[p]
            zf[p] = v
            zt[p] = v
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
