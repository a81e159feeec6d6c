"""The GRU (DESIGN §1): initialisation and the link to its kernel module :mod:`fastrnn.kernels.gru`."""
from __future__ import annotations

import numpy as np

from ..kernels import gru as _kernel
from .base import RNNModel, gated_recurrent_init


class GRU(RNNModel):
    """Gated recurrent unit (Cho et al. 2014) in PyTorch's convention, one bias per block.

    Blocks r, u, n of W, U and b::

        r = σ(W_r z + U_r s + b_r),  u = σ(W_u z + U_u s + b_u),  n = tanh(U_n s + b_n + r ⊙ (W_n z))
        z_t = (1 - u) ⊙ n + u ⊙ z_{t-1},  x_t = B z_t

    Parameters
    ----------
    n_latent, n_obs, n_inputs : int
        M latent units, N observations, K >= 0 external inputs (U exists only when K > 0).
    dtype : np.float32 or np.float64
    rng : seed or Generator

    Notes
    -----
    Parameters: W (3M, M), U (3M, K), b (3M,), B (N, M), blocks in the order r, u, n.

    Initialisation: every block of W ~ N(0, 1/M), the candidate block n rescaled to spectral radius 0.9 (as the
    TanhRNN), update-gate bias 1 and the other biases 0 (the GRU's counterpart of the LSTM's forget-gate bias 1: a
    unit keeps about 73 % of its state per step at the start), U ~ N(0, 0.01/K), B ~ N(0, 1/M). The free run is
    bounded for any parameters: z_t is a convex combination of z_{t-1} and n in (-1, 1), so
    |z_t| <= max(|z_0|, 1) entrywise.
    """

    kind = "GRU"
    kernel = _kernel
    input_param = "U"

    def _init_params(self, rng):
        M, N, K = self.n_latent, self.n_obs, self.n_inputs
        b = np.zeros(3 * M)
        b[M:2 * M] = 1.0
        return {
            "W": gated_recurrent_init(rng, M, 3, candidate=2),
            "U": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (3 * M, K)),
            "b": b,
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
        }
