"""The PLRNN (DESIGN §1): initialisation and the link to its kernel module :mod:`fastrnn.kernels.plrnn`."""
from __future__ import annotations

import numpy as np

from ..kernels import plrnn as _kernel
from .base import RNNModel


class PLRNN(RNNModel):
    """Piecewise-linear RNN: z_t = A * z_{t-1} + W relu(z_{t-1}) + h + C s_t, x_t = B z_t.

    Parameters
    ----------
    n_latent, n_obs, n_inputs : int
        M latent units, N observations, K >= 0 external inputs (C exists only when K > 0).
    dtype : np.float32 or np.float64
    rng : seed or Generator

    Notes
    -----
    Initialisation: A = 0.9 (slow linear memory, all units), W off-diagonal N(0, 1/M) rescaled so that the linear part
    A + W has spectral radius 0.95 with W's diagonal zero (it is never trained), h = 0, B ~ N(0, 1/M) (so pinv(B) maps
    standardised data to latent states of order one), C ~ N(0, 0.01/K). The model starts close to a stable linear
    system, in the spirit of the identity-like initialisations of Talathi & Vartak (2016) and Le et al. (2015): its
    free runs neither explode nor die out at the start of training, so loss gradients are informative.
    """

    kind = "PLRNN"
    kernel = _kernel
    input_param = "C"

    @property
    def frozen_entries(self) -> dict:
        """W's diagonal: the self-coupling is A's, so W_ii is never trained (its gradient is 0); and B with the
        identity observation (:attr:`RNNModel.frozen_entries`)."""
        return {**super().frozen_entries, "W": np.eye(self.n_latent, dtype=bool)}

    def _init_params(self, rng):
        M, N, K = self.n_latent, self.n_obs, self.n_inputs
        A = np.full(M, 0.9)
        W = rng.normal(0.0, 1.0 / np.sqrt(M), (M, M))
        np.fill_diagonal(W, 0.0)
        # shrink W geometrically until the linear part diag(A) + W has spectral radius <= 0.95
        while M > 1 and np.max(np.abs(np.linalg.eigvals(np.diag(A) + W))) > 0.95:
            W *= 0.9
        return {
            "A": A,
            "W": W,
            "h": np.zeros(M),
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
            "C": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (M, K)),
        }
