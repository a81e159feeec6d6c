"""GRU kernels (DESIGN §1), PyTorch's gate order with one bias per block.

Blocks r, u, n of W (3M, M), U (3M, K), b (3M,)::

    r = σ(W_r z + U_r s + b_r),  u = σ(W_u z + U_u s + b_u)
    q = W_n z,                   n = tanh(U_n s + b_n + r ⊙ q)
    z' = (1 - u) ⊙ n + u ⊙ z

``step`` writes (r, u, n, q) into its scratch vector ``buf`` of length 4M; the forward pass keeps it per step for the
backward sweep.
"""
import numpy as np
from numba import njit, prange

from ._common import FASTMATH, adjoint_free_state, force, observe, rmatvec


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


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
            buf[j] = _sigmoid(acc + wz)
        else:
            m = j - 2 * M
            buf[3 * M + m] = wz
            buf[j] = np.tanh(acc + buf[m] * wz)    # r_m is buf[m], already computed
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


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def forward(W, U, b, B, X, S, alpha, mask, Zt, Z, ZF, G, R):
    """Forced forward pass.

    Stores Z (nb, T+1, M) forced states, ZF (nb, T, M) free states, G (nb, T, 4M) activations (r, u, n, q) of each
    step and R (nb, T, N) residuals. Returns per-window loss sums.
    """
    nb, T1, _ = X.shape
    losses = np.zeros(nb)
    for b_ in prange(nb):
        Z[b_, 0] = Zt[b_, 0]
        acc = 0.0
        for t in range(1, T1):
            step(W, U, b, Z[b_, t - 1], S[b_, t], ZF[b_, t - 1], G[b_, t - 1])
            acc += observe(B, ZF[b_, t - 1], X[b_, t], R[b_, t - 1])
            force(ZF[b_, t - 1], Zt[b_, t], alpha[b_, t], mask, Z[b_, t])
        losses[b_] = acc
    return losses


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def backward(W, B, alpha, mask, Z, G, R, scale, GA, GZt):
    """Reverse sweep of the state adjoint.

    GA[b, t-1] (4M) = (dL/da_r, dL/da_u, dL/dq, dL/da_n) of step t, with a_r, a_u, a_n the pre-activations and
    q = W_n z: its first 3M entries multiply z in the W gradient, entries (0:2M, 3M:4M) give the U and b gradients.
    GZt[b, t] = dL/dz~_t.
    """
    nb, T1, M = Z.shape
    for b_ in prange(nb):
        gz = np.zeros(M, dtype=GA.dtype)
        gf = np.empty(M, dtype=GA.dtype)
        for t in range(T1 - 1, 0, -1):
            adjoint_free_state(B, R[b_, t - 1], scale, gz, alpha[b_, t], mask, gf, GZt[b_, t])
            ga = GA[b_, t - 1]
            act = G[b_, t - 1]
            zp = Z[b_, t - 1]
            for m in range(M):
                g = gf[m]
                r = act[m]
                u = act[M + m]
                n = act[2 * M + m]
                q = act[3 * M + m]
                gan = g * (1.0 - u) * (1.0 - n * n)
                ga[m] = gan * q * r * (1.0 - r)
                ga[M + m] = g * (zp[m] - n) * u * (1.0 - u)
                ga[2 * M + m] = gan * r
                ga[3 * M + m] = gan
            rmatvec(W, ga[:3 * M], gz)
            for m in range(M):
                gz[m] += gf[m] * act[M + m]
        GZt[b_, 0] = gz
