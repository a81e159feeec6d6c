"""The tanh RNN (DESIGN §1): initialisation and the link to its kernel module :mod:`fastrnn.kernels.tanhrnn`."""
from __future__ import annotations

import numpy as np

from ..kernels import tanhrnn as _kernel
from .base import RNNModel, spectral_scale


class TanhRNN(RNNModel):
    """Elman RNN with tanh: z_t = tanh(W z_{t-1} + h + C s_t), x_t = B z_t.

    Parameters
    ----------
    n_latent, n_obs, n_inputs : int
        M latent units, N observations, K >= 0 external inputs (C exists only when K > 0).
    dtype : np.float32 or np.float64
        float32 evaluates tanh as a vectorisable rational within 6 ulp (:mod:`fastrnn.kernels._common`), in
        training, generation and Jacobians alike.
    rng : seed or Generator

    Notes
    -----
    Initialisation: W ~ N(0, 1/M) rescaled to spectral radius 0.9 (edge-of-stability reservoirs train best on
    dynamical data and avoid saturated units at the start), h = 0, B ~ N(0, 1/M), C ~ N(0, 0.01/K).
    """

    kind = "TanhRNN"
    kernel = _kernel
    input_param = "C"

    def _init_params(self, rng):
        M, N, K = self.n_latent, self.n_obs, self.n_inputs
        W = spectral_scale(rng.normal(0.0, 1.0 / np.sqrt(M), (M, M)), 0.9)
        return {
            "W": W,
            "h": np.zeros(M),
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
            "C": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (M, K)),
        }
