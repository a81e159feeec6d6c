"""LSTM kernels (DESIGN §1).

State (h, c) of length 2M, stored as one vector ``z = concat(h, c)``; gates a = W h + U s + b in block order
i, f, g, o (each of length M)::

    i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
    c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')

Observations read out through h only (x = B h). Forcing acts on h like on z in the other models and shrinks c:
h_t = (1 - α_t m) h_f + α_t m z~_t, c_t = (1 - α_t m) c_f; every window starts at h_0 = z~_0, c_0 = 0.

``step`` writes the activations it computes into its scratch vector ``buf`` of length 5M: (i, f, g, o, tanh(c')).
The forward pass keeps these per step, so the backward sweep evaluates no exponential and no matrix product other
than W^T times the gate adjoint.
"""
import numpy as np
from numba import njit, prange

from ._common import FASTMATH, adjoint_free_state, force, observe, rmatvec


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@njit(cache=True, fastmath=FASTMATH, inline="always")
def step(W, U, b, z, s, out, buf):
    """out = F(z, s) for z = (h, c); buf (5M,) receives (i, f, g, o, tanh(c'))."""
    M = W.shape[1]
    K = U.shape[1]
    for j in range(4 * M):
        acc = b[j]
        for k in range(M):
            acc += W[j, k] * z[k]
        for k in range(K):
            acc += U[j, k] * s[k]
        if j < 2 * M or j >= 3 * M:
            buf[j] = _sigmoid(acc)
        else:
            buf[j] = np.tanh(acc)
    for m in range(M):
        c = buf[M + m] * z[M + m] + buf[m] * buf[2 * M + m]
        tc = np.tanh(c)
        buf[4 * M + m] = tc
        out[M + m] = c
        out[m] = buf[3 * M + m] * tc


@njit(cache=True, fastmath=FASTMATH, inline="always")
def jacobian(W, z, buf, J):
    """J = dF/dz (2M, 2M) at z = (h, c), given the activations ``buf`` that ``step`` computed there.

    Blocks: dc'/dh = diag(c σ'(a_f)) W_f + diag(g σ'(a_i)) W_i + diag(i tanh'(a_g)) W_g, dc'/dc = diag(f),
    dh'/dh = diag(tanh(c') σ'(a_o)) W_o + diag(o tanh'(c')) dc'/dh, dh'/dc = diag(o tanh'(c') f).
    """
    M = W.shape[1]
    for m in range(M):
        i = buf[m]
        f = buf[M + m]
        g = buf[2 * M + m]
        o = buf[3 * M + m]
        tc = buf[4 * M + m]
        di = g * i * (1.0 - i)
        df = z[M + m] * f * (1.0 - f)
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


@njit(cache=True, nogil=True)
def run(W, U, b, z0, S, Zout):
    buf = np.empty(5 * W.shape[1], dtype=Zout.dtype)
    Zout[0] = z0
    for k in range(S.shape[0]):
        step(W, U, b, Zout[k], S[k], Zout[k + 1], buf)


@njit(cache=True, nogil=True)
def jacobians(W, U, b, z0, S, J, Zout):
    buf = np.empty(5 * W.shape[1], dtype=Zout.dtype)
    Zout[0] = z0
    for k in range(S.shape[0]):
        step(W, U, b, Zout[k], S[k], Zout[k + 1], buf)
        jacobian(W, Zout[k], buf, J[k])


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def forward(W, U, b, B, X, S, alpha, mask, Zt, Z, ZF, G, R):
    """Forced forward pass.

    Stores Z (nb, T+1, 2M) forced states (h, c), ZF (nb, T, 2M) free states, G (nb, T, 5M) activations
    (i, f, g, o, tanh(c_f)) of each step and R (nb, T, N) residuals x_t - B h_f,t. Returns per-window loss sums.
    """
    nb, T1, _ = X.shape
    M = W.shape[1]
    losses = np.zeros(nb)
    for b_ in prange(nb):
        Z[b_, 0, :M] = Zt[b_, 0]
        Z[b_, 0, M:] = 0.0
        acc = 0.0
        for t in range(1, T1):
            zf = ZF[b_, t - 1]
            z = Z[b_, t]
            step(W, U, b, Z[b_, t - 1], S[b_, t], zf, G[b_, t - 1])
            acc += observe(B, zf[:M], X[b_, t], R[b_, t - 1])
            a = alpha[b_, t]
            force(zf[:M], Zt[b_, t], a, mask, z[:M])
            for m in range(M):
                z[M + m] = (1.0 - a * mask[m]) * zf[M + m]
        losses[b_] = acc
    return losses


@njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
def backward(W, B, alpha, mask, Z, G, R, scale, GP, GZt):
    """Reverse sweep of the state adjoint (dL/dh, dL/dc).

    GP[b, t-1] (4M) = dL/d(gate pre-activations a_i, a_f, a_g, a_o of step t); GZt[b, t] = dL/dz~_t.
    """
    nb, T1, M2 = Z.shape
    M = M2 // 2
    for b_ in prange(nb):
        gz = np.zeros(M2, dtype=GP.dtype)
        gf = np.empty(M2, dtype=GP.dtype)
        for t in range(T1 - 1, 0, -1):
            a = alpha[b_, t]
            adjoint_free_state(B, R[b_, t - 1], scale, gz[:M], a, mask, gf[:M], GZt[b_, t])
            gp = GP[b_, t - 1]
            act = G[b_, t - 1]
            zp = Z[b_, t - 1]
            for m in range(M):
                gh = gf[m]
                i = act[m]
                f = act[M + m]
                g = act[2 * M + m]
                o = act[3 * M + m]
                tc = act[4 * M + m]
                gc = (1.0 - a * mask[m]) * gz[M + m] + gh * o * (1.0 - tc * tc)
                gp[m] = gc * g * i * (1.0 - i)
                gp[M + m] = gc * zp[M + m] * f * (1.0 - f)
                gp[2 * M + m] = gc * i * (1.0 - g * g)
                gp[3 * M + m] = gh * tc * o * (1.0 - o)
                gz[M + m] = gc * f
            rmatvec(W, gp, gf[:M])
            gz[:M] = gf[:M]
        GZt[b_, 0] = gz[:M]
