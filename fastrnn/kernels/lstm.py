"""LSTM kernels (DESIGN §1).

State (h, c) of length 2M, stored as one vector ``z = concat(h, c)``; gates a = W h + U s + b in block order
i, f, g, o (each of length M)::

    i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
    c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')

Observations read out through h only (x = B h). Forcing acts on h like on z in the other models and shrinks c:
h_t = (1 - α_t m) h_f + α_t m z~_t, c_t = (1 - α_t m) c_f; every window starts at h_0 = z~_0, c_0 = 0.

``step`` (one window, used by generation and the Jacobians) writes the activations it computes into its scratch
vector ``buf`` of length 5M: (i, f, g, o, tanh(c')). The training kernels advance all windows in lockstep in
time-major arrays and keep the gate activations and tanh(c_f) of every step, so the backward sweep evaluates no
transcendental function and one (nb, 4M) x (4M, M) product per step.
"""
import numpy as np
from numba import njit

from ._common import (FASTMATH, add_column_sums, forcing_weights, gate_products, gate_rproducts, loss_adjoint,
                      observation_grad, residuals, sigmoid, split_adjoint, tanh)


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
            buf[j] = sigmoid(acc)
        else:
            buf[j] = tanh(acc)
    for m in range(M):
        c = buf[M + m] * z[M + m] + buf[m] * buf[2 * M + m]
        tc = tanh(c)
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


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def forward(Wtb, b, Ut, B, X, S, alpha, mask, Zt, H, C, HF, G, TC, R):
    """Forced forward pass, all windows in lockstep: the (nb, M) x (M, 4M) product of a step covers the whole batch.

    Wtb (nblk, M, 4M / nblk) = the column blocks of W^T (nblk = 1 or 4, see :func:`_common.gate_blocks`) and
    Ut = U^T (K, 4M), C-contiguous. Outputs, time-major: H, C (T+1, nb, M) forced states, HF (T, nb, M) free h,
    G (4, T, nb, M) gate activations i, f, g, o (gate-major, so that every elementwise loop runs over a step's nb M
    contiguous values), TC (T, nb, M) tanh of the free cell state, R (T, nb, N) residuals x_t - B h_f,t.
    Returns the per-window loss sums (float64).
    """
    T1, nb, M = H.shape
    n = nb * M
    K = Ut.shape[0]
    tmp = np.empty((nb, 4 * M), dtype=H.dtype)
    w = np.empty((nb, M), dtype=H.dtype)
    one = np.full(1, 1.0, dtype=H.dtype)[0]                  # constants in the working precision (float32 stays
    half = np.full(1, 0.5, dtype=H.dtype)[0]                 # float32 and picks the vectorisable tanh)
    # gate k = c0 + c1 tanh(c1 (a + b_k)): sigmoid(a) = 1/2 + tanh(a/2)/2 for i, f, o (c0 = c1 = 1/2), tanh for g
    c1b = np.empty((4, n), dtype=H.dtype)                   # c1 b_k tiled over the windows
    for k in range(4):
        c1 = 1.0 if k == 2 else 0.5
        for r in range(nb):
            for m in range(M):
                c1b[k, r * M + m] = c1 * b[k * M + m]
    for r in range(nb):
        for m in range(M):
            H[0, r, m] = Zt[r, 0, m]
            C[0, r, m] = 0.0
    for t in range(1, T1):
        gate_products(H[t - 1], Wtb, G, t - 1, tmp)         # W h for all windows at once
        for k in range(4):
            gk = G[k, t - 1]
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
        gi = G[0, t - 1].reshape(n)
        gff = G[1, t - 1].reshape(n)
        gg = G[2, t - 1].reshape(n)
        go = G[3, t - 1].reshape(n)
        cp = C[t - 1].reshape(n)
        cn = C[t].reshape(n)
        tc = TC[t - 1].reshape(n)
        hf = HF[t - 1].reshape(n)
        hn = H[t].reshape(n)
        for q in range(n):
            cn[q] = gff[q] * cp[q] + gi[q] * gg[q]          # free cell state c_f
        for q in range(n):
            tc[q] = tanh(cn[q])
        for q in range(n):
            hf[q] = go[q] * tc[q]
        hn[:] = hf
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
