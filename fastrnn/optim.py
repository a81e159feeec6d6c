"""Adam at the NumPy level (Kingma & Ba, 2015, Algorithm 1) and Rectified Adam (Liu et al., 2020), updating
parameter arrays in place."""
from __future__ import annotations

import numpy as np
from numba import njit

from . import validation


@njit(cache=True, nogil=True, error_model="numpy")
def _adam_update(p, g, m, v, b1, b2, a1, a2, c1, c2, lr, eps):
    """One Adam update of flat arrays, in their own precision and in the order of :meth:`Adam.step`'s NumPy form
    (the scalars come cast to the arrays' dtype)."""
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + a1 * gi
        vi = v[i] * b2 + a2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] -= lr * (mi / c1) / (np.sqrt(vi / c2) + eps)


class Adam:
    """Adam with bias correction.

    For each parameter p with gradient g, at step t = 1, 2, ...::

        m = beta1 m + (1 - beta1) g
        v = beta2 v + (1 - beta2) g^2
        p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    Parameters
    ----------
    params : dict of str -> ndarray
        The live arrays to update in place (e.g. ``model.params``).
    lr : float
        Step size (default 1e-3, as in the paper).
    betas : (float, float)
        Decay rates of the first and second moment estimates.
    eps : float
        Added to the denominator for numerical stability.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        if not isinstance(params, dict) or not params:
            raise TypeError("params must be a non-empty dict of name -> ndarray, e.g. model.params")
        self.params = params
        self.lr = validation.check_float(lr, "lr", minimum=0.0, strict_min=True)
        b1, b2 = betas
        self.beta1 = validation.check_float(b1, "betas[0]", minimum=0.0, maximum=1.0)
        self.beta2 = validation.check_float(b2, "betas[1]", minimum=0.0, maximum=1.0)
        if self.beta1 >= 1.0 or self.beta2 >= 1.0:
            raise ValueError(f"betas must be < 1, got {betas}")
        self.eps = validation.check_float(eps, "eps", minimum=0.0)
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads):
        """Apply one update with ``grads`` (dict keyed like ``params``)."""
        missing = set(self.params) - set(grads)
        if missing:
            raise ValueError(f"grads lacks {sorted(missing)}; pass a gradient for every parameter")
        self.t += 1
        c1 = 1.0 - self.beta1 ** self.t
        c2 = 1.0 - self.beta2 ** self.t
        for k, p in self.params.items():
            g = grads[k]
            m, v = self.m[k], self.v[k]
            if (isinstance(g, np.ndarray) and g.dtype == p.dtype and g.shape == p.shape and p.flags.c_contiguous
                    and g.flags.c_contiguous and p.dtype.kind == "f"):
                # fused loop: a step of NumPy calls per array cost more than the update itself for small models
                d = p.dtype.type
                _adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), d(self.beta1),
                             d(self.beta2), d(1.0 - self.beta1), d(1.0 - self.beta2), d(c1), d(c2), d(self.lr),
                             d(self.eps))
                continue
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * (g * g)
            p -= (self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)).astype(p.dtype, copy=False)

    def state_dict(self):
        """Arrays and counters needed to resume exactly (for checkpoints)."""
        out = {"t": np.array(self.t)}
        for k in self.params:
            out[f"m.{k}"] = self.m[k]
            out[f"v.{k}"] = self.v[k]
        return out

    def load_state_dict(self, state):
        self.t = int(state["t"])
        for k in self.params:
            self.m[k][...] = state[f"m.{k}"]
            self.v[k][...] = state[f"v.{k}"]


class RAdam(Adam):
    """Rectified Adam (Liu et al., ICLR 2020): Adam whose adaptive step is switched on only once the variance of its
    second-moment estimate is tractable, and scaled by the rectification r_t until then.

    With rho_inf = 2 / (1 - beta2) - 1 and rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t), at step t::

        m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,  m^ = m / (1 - beta1^t)
        rho_t > 4:  r_t = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
                    p -= lr r_t m^ / (sqrt(v / (1 - beta2^t)) + eps)
        otherwise:  p -= lr m^                                       (SGD with momentum, the first few steps)

    Parameters, state and checkpoints as :class:`Adam` (the generalised-teacher-forcing paper, Hess et al. 2023,
    trains with it).
    """

    def step(self, grads):
        """Apply one update with ``grads`` (dict keyed like ``params``)."""
        missing = set(self.params) - set(grads)
        if missing:
            raise ValueError(f"grads lacks {sorted(missing)}; pass a gradient for every parameter")
        self.t += 1
        b1, b2, t = self.beta1, self.beta2, self.t
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho = rho_inf - 2.0 * t * b2 ** t / c2
        rect = None
        if rho > 4.0:
            rect = np.sqrt((rho - 4.0) * (rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
        for k, p in self.params.items():
            g = np.asarray(grads[k])
            m, v = self.m[k], self.v[k]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            if rect is None:
                p -= (self.lr * m / c1).astype(p.dtype, copy=False)
            else:
                p -= (self.lr * rect * (m / c1) / (np.sqrt(v / c2) + self.eps)).astype(p.dtype, copy=False)
