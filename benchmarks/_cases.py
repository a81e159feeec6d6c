"""Benchmark cases and the fastrnn training step they time (shared by the suite, the peers and tests/test_peers.py).

One *training step* is what one iteration of :func:`fastrnn.fit` does for a batch that has already been drawn: the
control signal z~ = pinv(B) x, the forced forward pass, BPTT, the chain rule through pinv(B) into B, and one Adam
update of every parameter. Data validation, which ``fit`` does once per run, is not part of it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

import fastrnn
from fastrnn import forcing, models
from fastrnn.optim import Adam
from fastrnn.training import Batch, batch_loss_and_grad

#: Model kinds the suite covers, in table order; those fastrnn does not provide (yet) are skipped.
KINDS = ("PLRNN", "TanhRNN", "LSTM", "GRU", "ShPLRNN")     # the ShPLRNN: plain, n_hidden = 8 M (its default)
LATENT_SIZES = (16, 32, 64, 256)
DTYPES = ("float32", "float64")
N_OBS = 3
TAU = 30
LR = 1e-3


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    M: int
    dtype: str
    batch: int = 16
    T: int = 200
    tau: int = TAU
    N: int = N_OBS
    H: int | None = None        # the ShPLRNN's n_hidden; None: the model's default (8 M)

    @property
    def n_hidden(self):
        """The ShPLRNN's hidden width (H, or the model's default 8 M); None for the other models."""
        if self.kind != "ShPLRNN":
            return None
        return 8 * self.M if self.H is None else self.H

    @property
    def group(self) -> str:
        h = "" if self.H is None else f" H={self.H}"
        return f"{self.kind} M={self.M}{h} batch={self.batch} T={self.T} {self.dtype}"

    @property
    def id(self) -> str:
        h = "" if self.H is None else f"-H{self.H}"
        return f"{self.kind}-M{self.M}{h}-b{self.batch}-T{self.T}-{self.dtype}"


def available_kinds():
    """Model kinds that this fastrnn build provides."""
    return tuple(k for k in KINDS if k in models.MODELS)


def standard_cases():
    """The grid of issue 3: every model, M in {16, 32, 64, 256}, batch 16, T = 200, tau = 30, float32 and float64."""
    return [Case(k, M, d) for k in KINDS for M in LATENT_SIZES for d in DTYPES]


def long_cases():
    """The long-sequence case: batch 1, T = 10 000, M = 32."""
    return [Case(k, 32, d, batch=1, T=10_000) for k in KINDS for d in DTYPES]


def shplrnn_cases():
    """Issue 16's speed case: the plain ShPLRNN at M = 16, H = 256, batch 16, T = 200 (float32 is the target)."""
    return [Case("ShPLRNN", 16, d, H=256) for d in DTYPES]


def make_data(case: Case, seed=0):
    """Smooth, standardised 3-d windows (batch, T+1, N): sums of incommensurate sinusoids plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(case.T + 1)[None, :, None] * 0.05
    phase = rng.uniform(0, 2 * np.pi, (case.batch, 1, case.N))
    freq = np.array([1.0, np.sqrt(2.0), np.pi / 2])[: case.N][None, None, :]
    X = np.sin(freq * t + phase) + 0.5 * np.sin(2.3 * freq * t + 2 * phase)
    X += 0.05 * rng.standard_normal(X.shape)
    X = (X - X.mean(axis=(0, 1))) / X.std(axis=(0, 1))
    return np.ascontiguousarray(X, dtype=case.dtype)


def make_model(case: Case, seed=0):
    kw = {} if case.H is None else {"n_hidden": case.H}
    return models.MODELS[case.kind](case.M, case.N, 0, dtype=case.dtype, rng=seed, **kw)


def alpha(case: Case):
    return forcing.interval(case.T, case.tau)


class FastrnnStep:
    """One training step of fastrnn on a fixed batch (the body of ``fit``'s inner loop)."""

    def __init__(self, case: Case, model=None, X=None):
        self.model = make_model(case) if model is None else model
        X = make_data(case) if X is None else X
        nb, T1, _ = X.shape
        S = np.zeros((nb, T1, 0), dtype=self.model.dtype)
        mask = np.ones(self.model.n_latent, dtype=self.model.dtype)
        self.batch = Batch(np.ascontiguousarray(X, dtype=self.model.dtype), S, mask)
        self.alpha = forcing.check_alpha(alpha(case), case.T, nb, self.model.dtype)
        self.opt = Adam(self.model.params, lr=LR)

    def loss_and_grad(self):
        return batch_loss_and_grad(self.model, self.batch, self.alpha, 0.0, True)

    def __call__(self):
        loss, grads = self.loss_and_grad()
        self.opt.step(grads)
        return loss


def initial_params(case: Case, seed=0):
    """Float64 copies of a fastrnn model's initial parameters (what every peer starts from)."""
    return {k: np.array(v, dtype=np.float64) for k, v in make_model(case, seed).params.items()}


__all__ = ["Case", "KINDS", "FastrnnStep", "available_kinds", "standard_cases", "long_cases", "shplrnn_cases",
           "make_data", "make_model", "alpha", "initial_params", "fastrnn"]
