"""Slow, obvious NumPy loop references for every kernel (DESIGN §4: the twin each kernel is tested against).

Written straight from DESIGN §1, one time step and one window at a time, with no shared code with fastrnn's kernels.
"""
import numpy as np


def relu(x):
    return np.maximum(x, 0.0)


def control(B, ridge):
    B = np.asarray(B, dtype=np.float64)
    if ridge == 0.0:
        return np.linalg.pinv(B)
    return np.linalg.inv(B.T @ B + ridge * np.eye(B.shape[1])) @ B.T


# ---------------------------------------------------------------- model steps and their vector-Jacobian products
def plrnn_step(p, z, s):
    out = p["A"] * z + p["W"] @ relu(z) + p["h"]
    if "C" in p:
        out = out + p["C"] @ s
    return out


def plrnn_vjp(p, z, s, g):
    """Given g = dL/dz_next, return dL/dz and the parameter gradient contributions of one step."""
    d = {"A": g * z, "W": np.outer(g, relu(z)), "h": g.copy()}
    np.fill_diagonal(d["W"], 0.0)
    if "C" in p:
        d["C"] = np.outer(g, s)
    gz = p["A"] * g + (z > 0) * (p["W"].T @ g)
    return gz, d


def plrnn_jacobian(p, z, s):
    return np.diag(p["A"]) + p["W"] * (z > 0)[None, :]


def tanh_step(p, z, s):
    pre = p["W"] @ z + p["h"]
    if "C" in p:
        pre = pre + p["C"] @ s
    return np.tanh(pre)


def tanh_vjp(p, z, s, g):
    zn = tanh_step(p, z, s)
    gp = g * (1.0 - zn ** 2)
    d = {"W": np.outer(gp, z), "h": gp.copy()}
    if "C" in p:
        d["C"] = np.outer(gp, s)
    return p["W"].T @ gp, d


def tanh_jacobian(p, z, s):
    zn = tanh_step(p, z, s)
    return (1.0 - zn ** 2)[:, None] * p["W"]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _drive(p, s):
    """b + U s (U only when the model has inputs)."""
    return p["b"] + p["U"] @ s if "U" in p else p["b"]


def _lstm_parts(p, z, s):
    M = p["W"].shape[1]
    h, c = z[:M], z[M:]
    a = p["W"] @ h + _drive(p, s)
    i, f, g, o = sigmoid(a[:M]), sigmoid(a[M:2 * M]), np.tanh(a[2 * M:3 * M]), sigmoid(a[3 * M:])
    cn = f * c + i * g
    return M, h, c, i, f, g, o, cn, np.tanh(cn)


def lstm_step(p, z, s):
    """z = (h, c) of length 2M; gates i, f, g, o; returns (h', c')."""
    _, _, _, _, _, _, o, cn, tc = _lstm_parts(p, z, s)
    return np.concatenate([o * tc, cn])


def lstm_vjp(p, z, s, g):
    M, h, c, i, f, gg, o, cn, tc = _lstm_parts(p, z, s)
    gh, gc = g[:M], g[M:]
    gc = gc + gh * o * (1.0 - tc ** 2)           # through h' = o tanh(c')
    ga = np.concatenate([gc * gg * i * (1 - i), gc * c * f * (1 - f), gc * i * (1 - gg ** 2), gh * tc * o * (1 - o)])
    d = {"W": np.outer(ga, h), "b": ga.copy()}
    if "U" in p:
        d["U"] = np.outer(ga, s)
    return np.concatenate([p["W"].T @ ga, gc * f]), d


def lstm_jacobian(p, z, s):
    M, h, c, i, f, g, o, cn, tc = _lstm_parts(p, z, s)
    W = p["W"]
    Wi, Wf, Wg, Wo = W[:M], W[M:2 * M], W[2 * M:3 * M], W[3 * M:]
    dc_dh = (g * i * (1 - i))[:, None] * Wi + (c * f * (1 - f))[:, None] * Wf + (i * (1 - g ** 2))[:, None] * Wg
    e = o * (1 - tc ** 2)
    dh_dh = (tc * o * (1 - o))[:, None] * Wo + e[:, None] * dc_dh
    return np.block([[dh_dh, np.diag(e * f)], [dc_dh, np.diag(f)]])


def _gru_parts(p, z, s):
    M = p["W"].shape[1]
    W, d = p["W"], _drive(p, s)
    r = sigmoid(W[:M] @ z + d[:M])
    u = sigmoid(W[M:2 * M] @ z + d[M:2 * M])
    q = W[2 * M:] @ z
    n = np.tanh(d[2 * M:] + r * q)
    return M, r, u, q, n


def gru_step(p, z, s):
    _, r, u, q, n = _gru_parts(p, z, s)
    return (1 - u) * n + u * z


def gru_vjp(p, z, s, g):
    M, r, u, q, n = _gru_parts(p, z, s)
    W = p["W"]
    gan = g * (1 - u) * (1 - n ** 2)             # dL/d(pre-activation of n)
    gar = gan * q * r * (1 - r)
    gau = g * (z - n) * u * (1 - u)
    gq = gan * r                                 # dL/d(W_n z)
    d = {"W": np.vstack([np.outer(gar, z), np.outer(gau, z), np.outer(gq, z)]),
         "b": np.concatenate([gar, gau, gan])}
    if "U" in p:
        d["U"] = np.outer(d["b"], s)
    gz = g * u + W[:M].T @ gar + W[M:2 * M].T @ gau + W[2 * M:].T @ gq
    return gz, d


def gru_jacobian(p, z, s):
    M, r, u, q, n = _gru_parts(p, z, s)
    W = p["W"]
    dn = (1 - n ** 2)[:, None] * (r[:, None] * W[2 * M:] + (q * r * (1 - r))[:, None] * W[:M])
    du = (u * (1 - u))[:, None] * W[M:2 * M]
    return np.diag(u) + (1 - u)[:, None] * dn + (z - n)[:, None] * du


def _shplrnn_parts(p, z, clipped):
    """u = W2 z, phi = relu(u + h2) (- relu(u) if clipped), on = 1[u + h2 > 0], d = dphi/du."""
    u = p["W2"] @ z
    on = (u + p["h2"] > 0).astype(np.float64)
    phi = relu(u + p["h2"])
    d = on.copy()
    if clipped:
        phi = phi - relu(u)
        d = d - (u > 0)
    return phi, on, d


def shplrnn_step(p, z, s, clipped=False):
    phi, _, _ = _shplrnn_parts(p, z, clipped)
    out = p["A"] * z + p["W1"] @ phi + p["h1"]
    if "C" in p:
        out = out + p["C"] @ s
    return out


def shplrnn_vjp(p, z, s, g, clipped=False):
    phi, on, dd = _shplrnn_parts(p, z, clipped)
    gq = p["W1"].T @ g                               # dL/dphi
    gu = gq * dd                                     # dL/d(W2 z)
    d = {"A": g * z, "W1": np.outer(g, phi), "W2": np.outer(gu, z), "h1": g.copy(), "h2": gq * on}
    if "C" in p:
        d["C"] = np.outer(g, s)
    return p["A"] * g + p["W2"].T @ gu, d


def shplrnn_jacobian(p, z, s, clipped=False):
    _, _, dd = _shplrnn_parts(p, z, clipped)
    return np.diag(p["A"]) + p["W1"] @ (dd[:, None] * p["W2"])


def _clipped(f):
    return lambda *args: f(*args, clipped=True)


STEPS = {"PLRNN": (plrnn_step, plrnn_vjp, plrnn_jacobian), "TanhRNN": (tanh_step, tanh_vjp, tanh_jacobian),
         "LSTM": (lstm_step, lstm_vjp, lstm_jacobian), "GRU": (gru_step, gru_vjp, gru_jacobian),
         "ShPLRNN": (shplrnn_step, shplrnn_vjp, shplrnn_jacobian),
         "ShPLRNN-clipped": tuple(_clipped(f) for f in (shplrnn_step, shplrnn_vjp, shplrnn_jacobian))}


def steps(model):
    """(step, vjp, jacobian) of the model's kind (and variant: the clipped ShPLRNN has its own)."""
    return STEPS[model.kind + ("-clipped" if getattr(model, "clipped", False) else "")]


def params64(model):
    return {k: np.array(v, dtype=np.float64) for k, v in model.params.items()}


# ---------------------------------------------------------------- sparsely forced BPTT, one window at a time
def _lift(model, z):
    """State from a latent vector (the LSTM's (h, c) = (z, 0)); the identity for the other models."""
    return np.concatenate([z, np.zeros(model.state_dim - model.n_latent)])


def _state_weights(model, w):
    """Forcing weights (M,) on the state: the LSTM's c shrinks with the same (1 - w) as h."""
    return np.tile(w, model.state_dim // model.n_latent)


def _windows(X, alpha, inputs, M, unit_mask):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        X = X[None]
    nb, T1, _ = X.shape
    a = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (nb, T1))
    S = np.zeros((nb, T1, 0)) if inputs is None else np.asarray(inputs, dtype=np.float64).reshape(nb, T1, -1)
    m = np.ones(M) if unit_mask is None else np.asarray(unit_mask, dtype=np.float64)
    return X, a, S, m


def loss(model, X, alpha, inputs=None, ridge=0.0, unit_mask=None, control_signal=None, cut=None, frozen=None):
    """L = sum_t ||x_t - B z_f,t||^2 / (batch T N), forcing after the loss.

    ``control_signal`` (batch, T+1, M): a fixed z~ instead of P x (what control_grad=False differentiates).
    ``cut`` (T+1,) and ``frozen`` (batch, T+1, D): at the steps t >= 1 where cut is 1 the state continues from the
    given full state frozen[b, t] instead of its own (the loss that truncated BPTT differentiates, with frozen the
    states of the free run at the current parameters).
    """
    p = params64(model)
    step = steps(model)[0]
    M = model.n_latent
    X, a, S, m = _windows(X, alpha, inputs, M, unit_mask)
    nb, T1, N = X.shape
    Zt = X @ control(p["B"], ridge).T if control_signal is None else np.asarray(control_signal, dtype=np.float64)
    total = 0.0
    for b in range(nb):
        z = _lift(model, Zt[b, 0])
        for t in range(1, T1):
            zf = step(p, z, S[b, t])
            total += np.sum((X[b, t] - p["B"] @ zf[:M]) ** 2)
            w = _state_weights(model, a[b, t] * m)
            z = (1 - w) * zf + w * _lift(model, Zt[b, t])
            if cut is not None and cut[t]:
                z = np.asarray(frozen[b, t], dtype=np.float64)
    return total / (nb * (T1 - 1) * N)


def states(model, X, alpha, inputs=None, ridge=0.0):
    """The full forced states z_0 .. z_T of every window (batch, T+1, D), as :func:`loss` iterates them."""
    p = params64(model)
    step = STEPS[model.kind][0]
    M = model.n_latent
    X, a, S, m = _windows(X, alpha, inputs, M, None)
    nb, T1, N = X.shape
    Zt = X @ control(p["B"], ridge).T
    out = np.zeros((nb, T1, model.state_dim))
    for b in range(nb):
        z = _lift(model, Zt[b, 0])
        out[b, 0] = z
        for t in range(1, T1):
            w = _state_weights(model, a[b, t] * m)
            z = (1 - w) * step(p, z, S[b, t]) + w * _lift(model, Zt[b, t])
            out[b, t] = z
    return out


def loss_and_grad(model, X, alpha, inputs=None, ridge=0.0, control_grad=True, unit_mask=None, cut=None):
    """Loop BPTT: forward storing every state, backward one step at a time with rank-one updates.

    ``cut`` (T+1,): truncated BPTT, dL/dz_t is dropped (not passed back to z_{t-1}) at the steps t >= 1 where it is 1.
    """
    p = params64(model)
    step, vjp, _ = steps(model)
    X, a, S, m = _windows(X, alpha, inputs, model.n_latent, unit_mask)
    nb, T1, N = X.shape
    c = 1.0 / (nb * (T1 - 1) * N)
    B = p["B"]
    P = control(B, ridge)
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    gP = np.zeros_like(P)
    total = 0.0
    M = model.n_latent
    for b in range(nb):
        zs, zfs = [_lift(model, P @ X[b, 0])], [None]
        for t in range(1, T1):
            zf = step(p, zs[-1], S[b, t])
            total += np.sum((X[b, t] - B @ zf[:M]) ** 2)
            w = _state_weights(model, a[b, t] * m)
            zs.append((1 - w) * zf + w * _lift(model, P @ X[b, t]))
            zfs.append(zf)
        gz = np.zeros(model.state_dim)
        for t in range(T1 - 1, 0, -1):
            if cut is not None and cut[t]:
                gz = np.zeros_like(gz)                  # truncation: nothing from after t reaches z_{t-1}
            w = _state_weights(model, a[b, t] * m)
            r = X[b, t] - B @ zfs[t][:M]
            grads["B"] += -2 * c * np.outer(r, zfs[t][:M])
            gP += np.outer((w * gz)[:M], X[b, t])
            gf = (1 - w) * gz
            gf[:M] -= 2 * c * (B.T @ r)
            gz, d = vjp(p, zs[t - 1], S[b, t], gf)
            for k, v in d.items():
                grads[k] += v
        gP += np.outer(gz[:M], X[b, 0])
    if control_grad:
        if ridge == 0.0:
            Ii, Im = np.eye(N), np.eye(model.n_latent)
            # L depends on B through P; dL = <gP, dP> with dP from Golub & Pereyra (1973)
            grads["B"] += -P.T @ gP @ P.T + (Ii - B @ P) @ gP.T @ P @ P.T + P.T @ P @ gP.T @ (Im - P @ B)
        else:
            Qi = np.linalg.inv(B.T @ B + ridge * np.eye(model.n_latent))
            grads["B"] += (np.eye(N) - B @ P) @ gP.T @ Qi - B @ Qi @ gP @ P.T
    return total * c, grads


def generate(model, n_steps, z0, inputs=None):
    p = params64(model)
    step = steps(model)[0]
    z0 = np.asarray(z0, dtype=np.float64)
    Z = [_lift(model, z0) if z0.shape == (model.n_latent,) else z0]
    for t in range(1, n_steps):
        s = None if inputs is None else inputs[t]
        Z.append(step(p, Z[-1], s))
    Z = np.array(Z)[:, :model.n_latent]          # the LSTM reads out through h
    return Z @ p["B"].T, Z


def jacobians(model, z0, n_steps, inputs=None):
    p = params64(model)
    step, _, jac = steps(model)
    z = np.asarray(z0, dtype=np.float64)
    Js, Zs = [], [z]
    for k in range(n_steps):
        s = None if inputs is None else inputs[k]
        Js.append(jac(p, z, s))
        z = step(p, z, s)
        Zs.append(z)
    return np.array(Js), np.array(Zs)


# ---------------------------------------------------------------- Lyapunov spectra: NumPy QR loop (issue 4)
# Benettin's method with one np.linalg.qr per step, written independently of csrc/ and fastrnn.lyapunov.
def qr_loop_spectrum(jacs, frame, skip=0):
    """Exponents (k,) per step and the final frame: J_t Q = Q' R, lambda_i = mean over t >= skip of log|R_t[i, i]|
    (the first ``skip`` Jacobians only turn the frame)."""
    Q = np.array(frame, dtype=np.float64)
    sums = np.zeros(Q.shape[1])
    for t, J in enumerate(jacs):
        Q, R = np.linalg.qr(J @ Q)
        if t >= skip:
            sums += np.log(np.abs(np.diag(R)))
    return sums / (len(jacs) - skip), Q


def jacobians_along(model, states, inputs=None):
    """NumPy Jacobians (len(states), D, D) of the model's step at the given states; inputs[t] drives step t."""
    p = params64(model)
    jac = steps(model)[2]
    return np.array([jac(p, z, None if inputs is None else inputs[t]) for t, z in enumerate(states)])


def jacobian_product_log_norms(jacs, lags):
    """log ||J_(L-1) ... J_0||_2 by explicit products, renormalised every step (scale kept as a log)."""
    P = np.eye(jacs.shape[1])
    log_scale, out, want = 0.0, {}, set(int(L) for L in lags)
    for L, J in enumerate(jacs, start=1):
        P = J @ P
        s = np.abs(P).max()
        P /= s
        log_scale += np.log(s)
        if L in want:
            out[L] = log_scale + np.log(np.linalg.norm(P, 2))
    return np.array([out[int(L)] for L in lags])
