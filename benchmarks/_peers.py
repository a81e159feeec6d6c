"""Peer implementations of one training step: JAX, PyTorch eager, and PyTorch's fused ``nn.LSTM`` run chunk by chunk.

Each peer computes exactly the loss of DESIGN §1 (the sparsely forced BPTT loss with z_0 = pinv(B) x_0, forcing after
the loss, L = sum_t ||x_t - B z_f,t||^2 / (batch T N)), differentiates it with its own autodiff, with pinv(B) inside the
differentiated function so that the gradient flows through the pseudo-inverse into B (fastrnn's ``control_grad=True``),
and then applies one Adam update (lr 1e-3, betas (0.9, 0.999), eps 1e-8) to every parameter. The suite checks that
every peer's loss equals fastrnn's on the same parameters and data, so timings compare equal work.

Written from the model definitions of DESIGN §1; no code is taken from elsewhere.
"""
from __future__ import annotations

import time

import numpy as np

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def have_jax():
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def have_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# ====================================================================================================== JAX
def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)   # float64 cases need it; float32 arrays stay float32
    import jax.numpy as jnp
    from jax import lax
    return jax, jnp, lax


def jax_loss_fn(kind):
    """The loss as a pure JAX function ``loss(params, X, S, alpha, mask)`` written with ``lax.scan`` over time.

    X (batch, T+1, N), S (batch, T+1, K), alpha (batch, T+1), mask (M,). The state is carried through the scan; the
    loss of step t uses the free state, forcing is applied after it.
    """
    jax, jnp, lax = _jax()
    sig = jax.nn.sigmoid

    def step(p, z, s):
        if kind == "PLRNN":
            M = p["A"].shape[0]
            W = p["W"] * (1.0 - jnp.eye(M, dtype=p["W"].dtype))       # the diagonal is never trained
            out = p["A"] * z + jnp.maximum(z, 0.0) @ W.T + p["h"]
            return out + s @ p["C"].T if "C" in p else out
        if kind == "TanhRNN":
            pre = z @ p["W"].T + p["h"]
            return jnp.tanh(pre + s @ p["C"].T if "C" in p else pre)
        if kind == "ShPLRNN":                                        # the plain variant (the benchmark's)
            out = p["A"] * z + jnp.maximum(z @ p["W2"].T + p["h2"], 0.0) @ p["W1"].T + p["h1"]
            return out + s @ p["C"].T if "C" in p else out
        if kind == "GRU":
            M = z.shape[-1]
            gh = z @ p["W"].T
            gi = p["b"] + (s @ p["U"].T if "U" in p else 0.0)
            r = sig(gi[..., :M] + gh[..., :M])
            u = sig(gi[..., M:2 * M] + gh[..., M:2 * M])
            n = jnp.tanh(gi[..., 2 * M:] + r * gh[..., 2 * M:])
            return (1.0 - u) * n + u * z
        if kind == "LSTM":
            h, c = z
            M = h.shape[-1]
            g = h @ p["W"].T + p["b"] + (s @ p["U"].T if "U" in p else 0.0)
            i, f, gg, o = sig(g[..., :M]), sig(g[..., M:2 * M]), jnp.tanh(g[..., 2 * M:3 * M]), sig(g[..., 3 * M:])
            c = f * c + i * gg
            return (o * jnp.tanh(c), c)
        raise ValueError(f"unknown model kind {kind!r}")

    def readout(z):
        return z[0] if kind == "LSTM" else z

    def force(zf, w, zt):
        if kind == "LSTM":
            h, c = zf
            return ((1.0 - w) * h + w * zt, (1.0 - w) * c)
        return (1.0 - w) * zf + w * zt

    def loss(p, X, S, alpha, mask):
        nb, T1, N = X.shape
        P = jnp.linalg.pinv(p["B"])                       # inside the traced function: d/dB flows through pinv
        Zt = X @ P.T                                      # (batch, T+1, M) control signal
        z0 = Zt[:, 0]
        state = (z0, jnp.zeros_like(z0)) if kind == "LSTM" else z0
        xs = (jnp.swapaxes(X[:, 1:], 0, 1), jnp.swapaxes(S[:, 1:], 0, 1), alpha[:, 1:].T,
              jnp.swapaxes(Zt[:, 1:], 0, 1))

        def body(z, inp):
            x, s, a, zt = inp
            zf = step(p, z, s)
            r = x - readout(zf) @ p["B"].T
            w = a[:, None] * mask[None, :]
            return force(zf, w, zt), jnp.sum(r * r)

        _, ls = lax.scan(body, state, xs)
        return jnp.sum(ls) / (nb * (T1 - 1) * N)

    return loss


class JaxStep:
    """``jit`` of value_and_grad of :func:`jax_loss_fn` followed by an Adam update, all in one compiled function."""

    name = "jax"

    def __init__(self, kind, params, X, S, alpha, mask, dtype, lr=1e-3):
        jax, jnp, _ = _jax()
        self.jax = jax
        dt = np.dtype(dtype)
        self.params = {k: jnp.asarray(np.asarray(v, dtype=dt)) for k, v in params.items()}
        self.m = {k: jnp.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: jnp.zeros_like(v) for k, v in self.params.items()}
        self.t = 0
        self.data = tuple(jnp.asarray(np.asarray(a, dtype=dt)) for a in (X, S, alpha, mask))
        loss = jax_loss_fn(kind)
        self.loss_fn = jax.jit(loss)
        vg = jax.value_and_grad(loss)

        def train_step(p, m, v, t, X, S, alpha, mask):
            val, g = vg(p, X, S, alpha, mask)
            c1 = 1.0 - BETA1 ** t
            c2 = 1.0 - BETA2 ** t
            m = jax.tree_util.tree_map(lambda a, b: BETA1 * a + (1.0 - BETA1) * b, m, g)
            v = jax.tree_util.tree_map(lambda a, b: BETA2 * a + (1.0 - BETA2) * b * b, v, g)
            p = jax.tree_util.tree_map(
                lambda q, a, b: q - (lr * (a / c1) / (jnp.sqrt(b / c2) + EPS)).astype(q.dtype), p, m, v)
            return val, p, m, v

        self._step = jax.jit(train_step)
        self._vg = jax.jit(vg)

    def loss(self):
        return float(self.loss_fn(self.params, *self.data))

    def loss_and_grad(self):
        val, g = self._vg(self.params, *self.data)
        return float(val), {k: np.asarray(v) for k, v in g.items()}

    def __call__(self):
        self.t += 1
        val, self.params, self.m, self.v = self._step(self.params, self.m, self.v, float(self.t), *self.data)
        return val.block_until_ready()

    def compile(self):
        """Compile (first call) and return its seconds; parameters are left unchanged."""
        t0 = time.perf_counter()
        lowered = self._step.lower(self.params, self.m, self.v, 1.0, *self.data)
        self._compiled = lowered.compile()
        self._step = self._compiled
        return time.perf_counter() - t0


# ====================================================================================================== PyTorch
def _torch():
    import torch
    return torch


def torch_loss(kind, p, X, S, alpha, mask):
    """The loss in eager PyTorch: a Python loop over time, one batched step per iteration."""
    torch = _torch()
    nb, T1, N = X.shape
    B = p["B"]
    P = torch.linalg.pinv(B)
    Zt = X @ P.T
    z = Zt[:, 0]
    c = torch.zeros_like(z) if kind == "LSTM" else None
    if kind == "PLRNN":
        M = p["A"].shape[0]
        W = p["W"] * (1.0 - torch.eye(M, dtype=X.dtype))
    total = X.new_zeros(())
    for t in range(1, T1):
        s = S[:, t]
        if kind == "PLRNN":
            zf = p["A"] * z + torch.relu(z) @ W.T + p["h"]
            if "C" in p:
                zf = zf + s @ p["C"].T
        elif kind == "TanhRNN":
            pre = z @ p["W"].T + p["h"]
            if "C" in p:
                pre = pre + s @ p["C"].T
            zf = torch.tanh(pre)
        elif kind == "ShPLRNN":                                      # the plain variant (the benchmark's)
            zf = p["A"] * z + torch.relu(z @ p["W2"].T + p["h2"]) @ p["W1"].T + p["h1"]
            if "C" in p:
                zf = zf + s @ p["C"].T
        elif kind == "GRU":
            M = z.shape[-1]
            gh = z @ p["W"].T
            gi = p["b"] + s @ p["U"].T if "U" in p else p["b"]
            r = torch.sigmoid(gi[..., :M] + gh[:, :M])
            u = torch.sigmoid(gi[..., M:2 * M] + gh[:, M:2 * M])
            n = torch.tanh(gi[..., 2 * M:] + r * gh[:, 2 * M:])
            zf = (1.0 - u) * n + u * z
        elif kind == "LSTM":
            M = z.shape[-1]
            g = z @ p["W"].T + p["b"]
            if "U" in p:
                g = g + s @ p["U"].T
            i, f = torch.sigmoid(g[:, :M]), torch.sigmoid(g[:, M:2 * M])
            gg, o = torch.tanh(g[:, 2 * M:3 * M]), torch.sigmoid(g[:, 3 * M:])
            c = f * c + i * gg
            zf = o * torch.tanh(c)
        else:
            raise ValueError(f"unknown model kind {kind!r}")
        r = X[:, t] - zf @ B.T
        total = total + (r * r).sum()
        w = alpha[:, t, None] * mask[None, :]
        z = (1.0 - w) * zf + w * Zt[:, t]
        if kind == "LSTM":
            c = (1.0 - w) * c
    return total / (nb * (T1 - 1) * N)


class _TorchBase:
    def _setup(self, params, X, S, alpha, mask, dtype, lr):
        torch = _torch()
        self.torch = torch
        self.tdtype = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}[np.dtype(dtype)]
        self.data = tuple(torch.as_tensor(np.array(a, dtype=np.dtype(dtype))) for a in (X, S, alpha, mask))
        return torch

    def loss_and_grad(self):
        for q in self.trainable:
            q.grad = None
        val = self._loss()
        val.backward()
        return float(val.detach()), self._grads()

    def loss(self):
        with self.torch.no_grad():
            return float(self._loss())

    def __call__(self):
        self.opt.zero_grad(set_to_none=True)
        val = self._loss()
        val.backward()
        self.opt.step()
        return val


class TorchEagerStep(_TorchBase):
    """PyTorch eager: the same loop as :func:`torch_loss`, ``backward()`` and ``torch.optim.Adam``."""

    name = "torch"

    def __init__(self, kind, params, X, S, alpha, mask, dtype, lr=1e-3):
        torch = self._setup(params, X, S, alpha, mask, dtype, lr)
        self.kind = kind
        self.params = {k: torch.tensor(np.asarray(v), dtype=self.tdtype, requires_grad=True) for k, v in params.items()}
        self.trainable = list(self.params.values())
        self.opt = torch.optim.Adam(self.trainable, lr=lr, betas=(BETA1, BETA2), eps=EPS)

    def _loss(self):
        return torch_loss(self.kind, self.params, *self.data)

    def _grads(self):
        return {k: v.grad.numpy().copy() for k, v in self.params.items()}


class TorchLSTMChunkedStep(_TorchBase):
    """PyTorch's fused ``nn.LSTM`` run chunk by chunk between forcing times, with forcing applied between chunks.

    Forcing times are the steps t (1 <= t < T) with alpha_t > 0, which must be shared by the whole batch (a (T+1,)
    pattern). Between them nothing interrupts the recurrence, so each stretch is one ``nn.LSTM`` call from the forced
    (h, c). ``nn.LSTM`` always has an input projection; with no external inputs (K = 0) it gets a one-column zero input
    whose weights are frozen, and its second bias ``bias_hh`` is frozen at zero (b = ``bias_ih``).
    """

    name = "torch-nn.LSTM"

    def __init__(self, params, X, S, alpha, mask, dtype, lr=1e-3):
        torch = self._setup(params, X, S, alpha, mask, dtype, lr)
        M = params["W"].shape[1]
        K = S.shape[-1]
        a = np.asarray(alpha)
        if a.ndim == 2 and not np.all(a == a[:1]):
            raise ValueError("the chunked nn.LSTM peer needs one forcing pattern shared by the batch")
        a1 = a.reshape(-1, a.shape[-1])[0]
        T = a1.shape[0] - 1
        self.cuts = [t for t in range(1, T) if a1[t] > 0] + [T]
        self.lstm = torch.nn.LSTM(max(K, 1), M, batch_first=True).to(self.tdtype)
        with torch.no_grad():
            self.lstm.weight_hh_l0.copy_(torch.as_tensor(np.asarray(params["W"])))
            self.lstm.bias_ih_l0.copy_(torch.as_tensor(np.asarray(params["b"])))
            self.lstm.bias_hh_l0.zero_()
            if K:
                self.lstm.weight_ih_l0.copy_(torch.as_tensor(np.asarray(params["U"])))
            else:
                self.lstm.weight_ih_l0.zero_()
        self.lstm.bias_hh_l0.requires_grad_(False)
        self.lstm.weight_ih_l0.requires_grad_(K > 0)
        self.B = torch.tensor(np.asarray(params["B"]), dtype=self.tdtype, requires_grad=True)
        self.named = {"W": self.lstm.weight_hh_l0, "b": self.lstm.bias_ih_l0, "B": self.B}
        if K:
            self.named["U"] = self.lstm.weight_ih_l0
        self.trainable = list(self.named.values())
        X, S, _, _ = self.data
        self.S_in = S if K else X.new_zeros(X.shape[:2] + (1,))
        self.opt = torch.optim.Adam(self.trainable, lr=lr, betas=(BETA1, BETA2), eps=EPS)

    def _loss(self):
        torch = self.torch
        X, _, alpha, mask = self.data
        nb, T1, N = X.shape
        P = torch.linalg.pinv(self.B)
        Zt = X @ P.T
        h = Zt[:, 0]
        c = torch.zeros_like(h)
        t0 = 0
        total = X.new_zeros(())
        for t1 in self.cuts:
            out, (hn, cn) = self.lstm(self.S_in[:, t0 + 1:t1 + 1], (h[None], c[None]))
            r = X[:, t0 + 1:t1 + 1] - out @ self.B.T
            total = total + (r * r).sum()
            w = alpha[:, t1, None] * mask[None, :]
            h = (1.0 - w) * hn[0] + w * Zt[:, t1]
            c = (1.0 - w) * cn[0]
            t0 = t1
        return total / (nb * (T1 - 1) * N)

    def _grads(self):
        return {k: v.grad.numpy().copy() for k, v in self.named.items()}


def make_peer(name, kind, params, X, S, alpha, mask, dtype):
    """Build a peer step by name: 'jax', 'torch' or 'torch-nn.LSTM' (LSTM only)."""
    if name == "jax":
        return JaxStep(kind, params, X, S, alpha, mask, dtype)
    if name == "torch":
        return TorchEagerStep(kind, params, X, S, alpha, mask, dtype)
    if name == "torch-nn.LSTM":
        if kind != "LSTM":
            raise ValueError("the fused nn.LSTM peer exists only for the LSTM")
        return TorchLSTMChunkedStep(params, X, S, alpha, mask, dtype)
    raise ValueError(f"unknown peer {name!r}")


def peers_for(kind):
    """Peer names that apply to a model kind and are installed."""
    out = []
    if have_jax():
        out.append("jax")
    if have_torch():
        out.append("torch")
        if kind == "LSTM":
            out.append("torch-nn.LSTM")
    return out
