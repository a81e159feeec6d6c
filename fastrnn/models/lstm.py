"""The LSTM (DESIGN §1): initialisation, the (h, c) state and the link to its kernel module
:mod:`fastrnn.kernels.lstm`."""
from __future__ import annotations

import numpy as np

from ..kernels import lstm as _kernel
from .base import RNNModel, gated_recurrent_init


class LSTM(RNNModel):
    """Long short-term memory network (Hochreiter & Schmidhuber 1997, with forget gate), read out through h.

    State (h, c), gates a = W h + U s_t + b in block order i, f, g, o::

        c_t = σ(a_f) ⊙ c_{t-1} + σ(a_i) ⊙ tanh(a_g),   h_t = σ(a_o) ⊙ tanh(c_t),   x_t = B h_t

    Parameters
    ----------
    n_latent, n_obs, n_inputs : int
        M hidden units (the state has 2M entries, h and c), N observations, K >= 0 external inputs (U exists only
        when K > 0).
    dtype : np.float32 or np.float64
    rng : seed or Generator

    Notes
    -----
    Parameters: W (4M, M), U (4M, K), b (4M,), B (N, M), blocks in the order i, f, g, o.

    Forcing acts on h as on z in the other models and shrinks the cell state, c_t = (1 - α_t m) c_f,t; a window starts
    at h_0 = z~_0, c_0 = 0. :attr:`state_dim` is 2M: ``z0`` of :meth:`generate` and the states and Jacobians of the
    Lyapunov code are the concatenation (h, c), and the Jacobians are (2M, 2M). :meth:`generate` returns h.

    Initialisation: every gate block of W ~ N(0, 1/M), the candidate block g rescaled to spectral radius 0.9 (as
    the TanhRNN), forget-gate bias 1 and the other biases 0 (Gers et al. 2000; Jozefowicz et al. 2015: the cell
    keeps about 73 % of its content per step at the start, so gradients reach back over many steps), U ~ N(0, 0.01/K),
    B ~ N(0, 1/M). The free run is bounded for any parameters: |h| < 1 and |c_t| <= max(|c_0|, 1 / (1 - f_max)) with
    f_max < 1 the largest forget gate along the orbit.
    """

    kind = "LSTM"
    kernel = _kernel
    input_param = "U"

    @property
    def state_dim(self) -> int:
        """2M: the state is (h, c)."""
        return 2 * self.n_latent

    def _init_params(self, rng):
        M, N, K = self.n_latent, self.n_obs, self.n_inputs
        b = np.zeros(4 * M)
        b[M:2 * M] = 1.0
        return {
            "W": gated_recurrent_init(rng, M, 4, candidate=2),
            "U": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (4 * M, K)),
            "b": b,
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
        }

    def state_from_latent(self, z):
        """(h, c) = (z, 0) (z (M,) or rows (..., M))."""
        return np.concatenate([z, np.zeros_like(z)], axis=-1)

    def readout_state(self, states):
        """h, the first M entries of each state."""
        return states[..., :self.n_latent]
