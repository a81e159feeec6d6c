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


STEPS = {"PLRNN": (plrnn_step, plrnn_vjp, plrnn_jacobian), "TanhRNN": (tanh_step, tanh_vjp, tanh_jacobian)}


def params64(model):
    return {k: np.array(v, dtype=np.float64) for k, v in model.params.items()}


# ---------------------------------------------------------------- sparsely forced BPTT, one window at a time
def _windows(X, alpha, inputs, M, unit_mask):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        X = X[None]
    nb, T1, _ = X.shape
    a = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (nb, T1))
    S = np.zeros((nb, T1, 0)) if inputs is None else np.asarray(inputs, dtype=np.float64).reshape(nb, T1, -1)
    m = np.ones(M) if unit_mask is None else np.asarray(unit_mask, dtype=np.float64)
    return X, a, S, m


def loss(model, X, alpha, inputs=None, ridge=0.0, unit_mask=None):
    """L = sum_t ||x_t - B z_f,t||^2 / (batch T N), forcing after the loss."""
    p = params64(model)
    step = STEPS[model.kind][0]
    X, a, S, m = _windows(X, alpha, inputs, model.n_latent, unit_mask)
    nb, T1, N = X.shape
    P = control(p["B"], ridge)
    total = 0.0
    for b in range(nb):
        z = P @ X[b, 0]
        for t in range(1, T1):
            zf = step(p, z, S[b, t])
            total += np.sum((X[b, t] - p["B"] @ zf) ** 2)
            w = a[b, t] * m
            z = (1 - w) * zf + w * (P @ X[b, t])
    return total / (nb * (T1 - 1) * N)


def loss_and_grad(model, X, alpha, inputs=None, ridge=0.0, control_grad=True, unit_mask=None):
    """Loop BPTT: forward storing every state, backward one step at a time with rank-one updates."""
    p = params64(model)
    step, vjp, _ = STEPS[model.kind]
    X, a, S, m = _windows(X, alpha, inputs, model.n_latent, unit_mask)
    nb, T1, N = X.shape
    c = 1.0 / (nb * (T1 - 1) * N)
    B = p["B"]
    P = control(B, ridge)
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    gP = np.zeros_like(P)
    total = 0.0
    for b in range(nb):
        zs, zfs = [P @ X[b, 0]], [None]
        for t in range(1, T1):
            zf = step(p, zs[-1], S[b, t])
            total += np.sum((X[b, t] - B @ zf) ** 2)
            w = a[b, t] * m
            zs.append((1 - w) * zf + w * (P @ X[b, t]))
            zfs.append(zf)
        gz = np.zeros(model.n_latent)
        for t in range(T1 - 1, 0, -1):
            w = a[b, t] * m
            r = X[b, t] - B @ zfs[t]
            grads["B"] += -2 * c * np.outer(r, zfs[t])
            gP += np.outer(w * gz, X[b, t])
            gf = (1 - w) * gz - 2 * c * (B.T @ r)
            gz, d = vjp(p, zs[t - 1], S[b, t], gf)
            for k, v in d.items():
                grads[k] += v
        gP += np.outer(gz, X[b, 0])
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
    step = STEPS[model.kind][0]
    Z = [np.asarray(z0, dtype=np.float64)]
    for t in range(1, n_steps):
        s = None if inputs is None else inputs[t]
        Z.append(step(p, Z[-1], s))
    Z = np.array(Z)
    return Z @ p["B"].T, Z


def jacobians(model, z0, n_steps, inputs=None):
    p = params64(model)
    step, _, jac = STEPS[model.kind]
    z = np.asarray(z0, dtype=np.float64)
    Js, Zs = [], [z]
    for k in range(n_steps):
        s = None if inputs is None else inputs[k]
        Js.append(jac(p, z, s))
        z = step(p, z, s)
        Zs.append(z)
    return np.array(Js), np.array(Zs)
