"""The shallow PLRNN (Hess et al., ICML 2023), plain and clipped: initialisation and the link to its kernel module
:mod:`fastrnn.kernels.shplrnn`."""
from __future__ import annotations

import numpy as np

from .. import validation
from ..kernels import shplrnn as _kernel
from .base import RNNModel


class ShPLRNN(RNNModel):
    """Shallow PLRNN: z_t = A * z_{t-1} + W1 relu(W2 z_{t-1} + h2) + h1 + C s_t, x_t = B z_t.

    The clipped variant (``clipped=True``) replaces relu(W2 z + h2) by relu(W2 z + h2) - relu(W2 z), which is bounded
    by |h2| elementwise: with max |A_i| < 1 every orbit stays bounded, whatever the other parameters.

    Parameters
    ----------
    n_latent, n_obs, n_inputs : int
        M latent units, N observations, K >= 0 external inputs (C exists only when K > 0).
    n_hidden : int, optional
        H, units of the hidden relu layer (>= 1); default 8 M (so that ``fastrnn train --model ShPLRNN``, which sets
        only M, gets a hidden layer wide enough for the piecewise-linear map to bend where it must).
    clipped : bool, default False
        The clipped variant.
    dtype : np.float32 or np.float64
    rng : seed or Generator
    observation : {"learned", "identity"}
        As for every model (:class:`fastrnn.models.RNNModel`): "identity" fixes B = [I 0] and forces the first N
        units only.

    Notes
    -----
    Parameters: A (M,), W1 (M, H), W2 (H, M), h1 (M,), h2 (H,), B (N, M) and C (M, K), all trained.

    Initialisation: A ~ U(0.5, 0.9) (a stable, slowly decaying linear part, as the PLRNN's A = 0.9), W2 ~ N(0, 1/M)
    (pre-activations W2 z of order one for latent states of order one), h2 ~ U(-1, 1) (the relu kinks spread over
    the range of the pre-activations, so that different units switch in different parts of the state space),
    W1 ~ N(0, 1/H) rescaled so that max |A_i| + ||W1||_2 ||W2||_2 = 0.99, h1 = 0, B ~ N(0, 1/M) (pinv(B) maps
    standardised data to states of order one), C ~ N(0, 0.01/K). relu is 1-Lipschitz, so that bound makes the
    initial map a contraction (Lipschitz constant 0.99) for both variants: free runs neither explode nor die out at
    the start of training (they settle on a fixed point away from 0, set by h2), and the gradients are informative.
    A plain Gaussian W1 of the same variance is not safe: at M = 16, H = 128 such a model diverged in free runs.
    """

    kind = "ShPLRNN"
    input_param = "C"

    def __init__(self, n_latent, n_obs, n_inputs=0, *, n_hidden=None, clipped=False, dtype=np.float64, rng=None,
                 observation="learned"):
        M = validation.check_int(n_latent, "n_latent", minimum=1)
        self.n_hidden = 8 * M if n_hidden is None else validation.check_int(n_hidden, "n_hidden", minimum=1)
        if not isinstance(clipped, (bool, np.bool_)):
            raise TypeError(f"clipped must be True or False, got {clipped!r}")
        self.clipped = bool(clipped)
        self.kernel = _kernel.CLIPPED if self.clipped else _kernel.PLAIN
        super().__init__(n_latent, n_obs, n_inputs, dtype=dtype, rng=rng, observation=observation)

    def _init_params(self, rng):
        M, N, K, H = self.n_latent, self.n_obs, self.n_inputs, self.n_hidden
        A = rng.uniform(0.5, 0.9, M)
        W2 = rng.normal(0.0, 1.0 / np.sqrt(M), (H, M))
        h2 = rng.uniform(-1.0, 1.0, H)
        W1 = rng.normal(0.0, 1.0 / np.sqrt(H), (M, H))
        gain = np.linalg.norm(W1, 2) * np.linalg.norm(W2, 2)
        if gain > 0:
            W1 *= (0.99 - A.max()) / gain              # Lipschitz constant of the initial map: 0.99
        return {
            "A": A,
            "W1": W1,
            "W2": W2,
            "h1": np.zeros(M),
            "h2": h2,
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
            "C": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (M, K)),
        }

    @property
    def hyperparams(self) -> dict:
        """The constructor's keyword arguments beyond the sizes: ``{"n_hidden": H, "clipped": bool}`` and the
        base class's (``observation``), saved with the model."""
        return {**super().hyperparams, "n_hidden": self.n_hidden, "clipped": self.clipped}

    def loss_grad(self, X, S, alpha, mask, P, control_grad=True, session=None, cut=None):
        """:meth:`RNNModel.loss_grad` of this variant (the CUDA twin is told ``clipped``); gradient cuts ``cut``
        (truncated BPTT) are honoured on the CPU and the GPU alike."""
        kw = {} if cut is None else {"cut": cut}
        if session is not None:
            return session.loss_grad(self.kind, self.params, X, S, alpha, mask, P, control_grad,
                                     clipped=self.clipped, **kw)
        return self.kernel.loss_grad(self.params, X, S, alpha, mask, P, control_grad, **kw)

    def __repr__(self):
        return (f"{self.kind}(n_latent={self.n_latent}, n_obs={self.n_obs}, n_inputs={self.n_inputs}, "
                f"n_hidden={self.n_hidden}, clipped={self.clipped}, dtype={self.dtype.name})")
