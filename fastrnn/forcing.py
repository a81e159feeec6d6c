"""Forcing: the control signal z~ = P x and its gradient into B, forcing weights alpha, alpha schedules, and the
grammar of forcing options.

Forcing weights are arrays alpha of shape (T+1,) (one pattern for every window) or (batch, T+1) (one per window) with
values in [0, 1]. alpha_0 is never used: every window starts on its control signal, z_0 = z~_0 (DESIGN §1).

A *forcing option* names a forcing pattern in a JSON-able form, as run specs and the command line use it
(:func:`parse_forcing`, :func:`forcing_label`, :func:`fit_kwargs`):

=====================  ========================================================================================
``"25"``               sparse forcing with interval tau = 25 steps
``"none"``             no forcing after the window start
``"annealed:77"``      tau grows geometrically from 1 to 77 steps over training (``"annealed:5:77"`` from 5)
``"jittered:77:10"``   tau drawn uniformly from 77 +- 10 steps for every window
``"warmup:77:0.25"``   tau grows from 1 to 77 steps over the first 25 % of the epochs, then stays at 77
``"alpha:0.2"``        generalised teacher forcing with constant alpha = 0.2 (``"alpha:1:0"``: annealed 1 -> 0);
                       ``"gtf:0.2"`` is the same
``"agtf"``             adaptive generalised teacher forcing (:class:`AdaptiveAlpha`; ``"agtf:0.999:5"``: gamma and
                       the interval k in optimiser steps)
=====================  ========================================================================================
"""
from __future__ import annotations

import math

import numpy as np

from . import validation
from .kernels.norms import spectral_norms


# ------------------------------------------------------------------ alpha builders
def interval(T, tau):
    """Classic sparse forcing: alpha_t = 1 where t % tau == 0, else 0; shape (T+1,).

    Parameters
    ----------
    T : int
        Window length in steps (the window holds T+1 observations x_0 ... x_T).
    tau : int or math.inf
        Forcing interval in steps (>= 1). tau = 1 is teacher forcing; tau > T (or ``math.inf``) forces only at t = 0.
    """
    T = validation.check_int(T, "T", minimum=1)
    a = np.zeros(T + 1)
    if tau is None or (isinstance(tau, float) and math.isinf(tau) and tau > 0):
        a[0] = 1.0
        return a
    tau = validation.check_int(tau, "tau", minimum=1)
    a[::tau] = 1.0
    return a


def none(T):
    """No forcing after the initial state (alpha = 0 for t >= 1); shape (T+1,)."""
    return interval(T, math.inf)


def constant(T, alpha):
    """Generalised teacher forcing with a constant weight ``alpha`` in [0, 1] at every step; shape (T+1,)."""
    T = validation.check_int(T, "T", minimum=1)
    alpha = validation.check_float(alpha, "alpha", minimum=0.0, maximum=1.0)
    a = np.full(T + 1, alpha)
    a[0] = 1.0
    return a


def jittered(T, tau, delta, batch, rng=None):
    """Sparse forcing with a random interval per window, uniform in [tau - delta, tau + delta]; shape (batch, T+1)."""
    tau = validation.check_int(tau, "tau", minimum=1)
    delta = validation.check_int(delta, "delta", minimum=0)
    if delta >= tau:
        raise ValueError(f"delta must be < tau so intervals stay >= 1, got delta={delta}, tau={tau}")
    rng = validation.check_rng(rng)
    taus = rng.integers(tau - delta, tau + delta + 1, size=validation.check_int(batch, "batch", minimum=1))
    return np.stack([interval(T, int(t)) for t in taus])


def truncation(T, tau):
    """Gradient cuts of truncated BPTT every ``tau`` steps: 1 at t = tau, 2 tau, ... <= T, else 0; shape (T+1,).

    At a cut step t the adjoint dL/dz_t is not passed back to z_{t-1}: the window is backpropagated in stretches of
    tau steps, each starting from the state the model itself iterated to (see :func:`fastrnn.loss_and_grad`,
    ``truncate``). t = 0 is never a cut (the window's start).

    Parameters
    ----------
    T : int
        Window length in steps.
    tau : int
        Cut interval in steps (>= 1); tau >= T cuts nothing inside the window (full BPTT).
    """
    T = validation.check_int(T, "T", minimum=1)
    tau = validation.check_int(tau, "tau", minimum=1)
    c = np.zeros(T + 1)
    c[tau::tau] = 1.0
    return c


def check_alpha(alpha, T, batch, dtype=np.float64):
    """Validate forcing weights and broadcast them to a C-contiguous (batch, T+1) array of ``dtype``."""
    a = validation.as_float_array(alpha, "alpha", np.float64, ndim=(1, 2))
    if a.shape[-1] != T + 1:
        raise ValueError(f"alpha must have T+1 = {T + 1} entries along its last axis (one per observation of the "
                         f"window, alpha_0 included), got shape {a.shape}; build it with fastrnn.forcing.interval(T, tau)")
    if a.ndim == 2 and a.shape[0] != batch:
        raise ValueError(f"alpha of shape {a.shape} has {a.shape[0]} rows but the batch has {batch} windows; pass one "
                         f"row per window or a single (T+1,) pattern")
    if a.min() < 0.0 or a.max() > 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got values in [{a.min():g}, {a.max():g}]; clip it with "
                         f"np.clip(alpha, 0, 1)")
    return np.ascontiguousarray(np.broadcast_to(a, (batch, T + 1)), dtype=dtype)


# ------------------------------------------------------------------ schedules
class Schedule:
    """Base class of forcing schedules: ``alpha(epoch, n_epochs, T, batch, rng)`` returns (T+1,) or (batch, T+1).

    An *adaptive* schedule (``adaptive = True``, :class:`AdaptiveAlpha`) also reads the model: before a batch for
    which :meth:`due` is True, :func:`fastrnn.fit` calls ``observe(model, X, S, P)`` with the batch's windows, inputs
    and control matrix; it records :attr:`value` per epoch in the history (``History.alpha``) and keeps
    :meth:`state_dict` in its checkpoints.
    """

    adaptive = False

    def alpha(self, epoch, n_epochs, T, batch, rng):  # pragma: no cover - interface
        raise TypeError(f"{type(self).__name__} does not define alpha(); subclass Schedule and implement it")

    def due(self):
        """Whether the next batch is to be shown to :meth:`observe` first (never, unless the schedule adapts)."""
        return False

    def state_dict(self):
        """The schedule's changing state, JSON-able (none unless it adapts)."""
        return {}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` (checkpoints)."""

    @staticmethod
    def _progress(epoch, n_epochs):
        return 1.0 if n_epochs <= 1 else epoch / (n_epochs - 1)


class AnnealedTau(Schedule):
    """Interval forcing whose tau grows geometrically from ``start`` to ``end`` over training (1 -> tau by default)."""

    def __init__(self, end, start=1):
        self.start = validation.check_int(start, "start", minimum=1)
        self.end = validation.check_int(end, "end", minimum=1)

    def tau(self, epoch, n_epochs):
        p = self._progress(epoch, n_epochs)
        return max(1, int(round(self.start * (self.end / self.start) ** p)))

    def alpha(self, epoch, n_epochs, T, batch, rng):
        return interval(T, self.tau(epoch, n_epochs))


class JitteredTau(Schedule):
    """Interval forcing with tau drawn uniformly from [tau - delta, tau + delta] for each window of each batch."""

    def __init__(self, tau, delta):
        self.tau, self.delta = tau, delta
        jittered(2, tau, delta, 1)  # validates

    def alpha(self, epoch, n_epochs, T, batch, rng):
        return jittered(T, self.tau, self.delta, batch, rng)


class AnnealedAlpha(Schedule):
    """Generalised teacher forcing with alpha moving linearly from ``start`` to ``end`` over training."""

    def __init__(self, start=1.0, end=0.0):
        self.start = validation.check_float(start, "start", minimum=0.0, maximum=1.0)
        self.end = validation.check_float(end, "end", minimum=0.0, maximum=1.0)

    def value(self, epoch, n_epochs):
        p = self._progress(epoch, n_epochs)
        return self.start + (self.end - self.start) * p

    def alpha(self, epoch, n_epochs, T, batch, rng):
        return constant(T, self.value(epoch, n_epochs))


class WarmupTau(Schedule):
    """Sparse forcing at ``tau`` after a warm-up: tau grows geometrically from 1 to ``tau`` over the first
    ``fraction`` of the epochs (as :class:`AnnealedTau` does over all of them), then stays at tau.

    Parameters
    ----------
    tau : int
        Final forcing interval in steps.
    fraction : float
        Share of the epochs spent warming up, in [0, 1).
    """

    def __init__(self, tau, fraction=0.25):
        self.tau = validation.check_int(tau, "tau", minimum=1)
        self.fraction = validation.check_float(fraction, "fraction", minimum=0.0, maximum=1.0)
        if self.fraction >= 1.0:
            raise ValueError(f"fraction must be < 1 so that training ends at tau, got {fraction}")

    def tau_at(self, epoch, n_epochs):
        """Forcing interval (steps) used in ``epoch`` (0-based) of ``n_epochs``."""
        n_warm = int(round(self.fraction * n_epochs))
        if epoch >= n_warm or n_warm <= 1:
            return self.tau
        return max(1, int(round(self.tau ** (epoch / (n_warm - 1)))))

    def alpha(self, epoch, n_epochs, T, batch, rng):
        return interval(T, self.tau_at(epoch, n_epochs))


class AdaptiveAlpha(Schedule):
    """Adaptive generalised teacher forcing (Hess, Monfared, Brenner & Durstewitz, ICML 2023): one alpha at every
    step, z_t = (1 - alpha) z_f + alpha z~_t, adapted to how fast the model's Jacobian products grow.

    Every ``every`` optimiser steps (the first one included), along the data-inferred states z^_t = P x_t of the
    current batch (at ``n_steps`` evenly spaced steps t of each window), kappa = the maximum over the windows of

    * ``estimate="geometric"`` (default): the geometric mean of the spectral norms ||J(z^_t)||_2 over the steps, or
    * ``estimate="mean"``: the spectral norm of the mean Jacobian over the steps,

    an estimate of the per-step growth of the window's Jacobian product; then alpha^ = max(0, 1 - 1/kappa) and
    alpha <- alpha^ if alpha^ > alpha, else alpha <- gamma alpha + (1 - gamma) alpha^ (:meth:`update`). Between
    updates alpha stays constant. The Jacobians are the model's own (:meth:`fastrnn.models.RNNModel.step_jacobians`;
    the LSTM's at (h, c) = (z^, 0)); with ``observation="identity"`` and M > N the unobserved units of z^ = (x, 0)
    are 0, as the data say nothing about them.

    Parameters
    ----------
    alpha0 : float
        Initial alpha in [0, 1] (default 1, teacher forcing).
    gamma : float
        Decay factor in [0, 1] towards a smaller alpha^ (default 0.999).
    every : int
        Optimiser steps between updates, k (default 5).
    estimate : {"geometric", "mean"}
    n_steps : int
        Steps per window at which the Jacobians are taken (default 16; all when the windows are shorter). The
        update then costs one Jacobian per window and step taken, and their spectral norms.
    tol, max_iter : float, int
        Relative tolerance and iteration cap of the spectral norms (power iteration from below,
        :func:`fastrnn.kernels.norms.spectral_norms`; defaults 1e-3 and 15). Single norms of Jacobians with close
        top singular values come out a few per cent low, kappa (a mean over steps) within 1 % of the exact value on
        random PLRNN (M = 20), LSTM (M = 32) and shPLRNN (M = 16) models, at a fraction of an SVD's cost.

    Notes
    -----
    Cost of one update (16 windows x 16 steps) against one training step (batch 16, T = 200, float32, random
    initial models, measured on 2 shared cores), per step at k = 5: shPLRNN M = 3, H = 64: 0.5 ms against 2.4 ms
    (4.5 %); shPLRNN M = 16, H = 256: 2.6 ms against 4.2 ms (12.5 %); PLRNN M = 20: 1.7 ms against 1.75 ms (20 %);
    the LSTM (M = 32, state dimension 64): 11 ms against 3.1 ms (74 %): raise ``every`` or lower ``n_steps`` there.

    Attributes
    ----------
    value : float
        The current alpha.
    steps : int
        Optimiser steps taken (batches given alpha).
    kappa : float or None
        The last kappa.
    """

    adaptive = True
    ESTIMATES = ("geometric", "mean")

    def __init__(self, alpha0=1.0, gamma=0.999, every=5, estimate="geometric", n_steps=16, tol=1e-3, max_iter=15):
        self.alpha0 = validation.check_float(alpha0, "alpha0", minimum=0.0, maximum=1.0)
        self.gamma = validation.check_float(gamma, "gamma", minimum=0.0, maximum=1.0)
        self.every = validation.check_int(every, "every", minimum=1)
        if estimate not in self.ESTIMATES:
            raise ValueError(f"estimate must be one of {', '.join(map(repr, self.ESTIMATES))}, got {estimate!r}")
        self.estimate = estimate
        self.n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
        self.tol = validation.check_float(tol, "tol", minimum=0.0, strict_min=True)
        self.max_iter = validation.check_int(max_iter, "max_iter", minimum=3)
        self.value, self.steps, self.kappa = self.alpha0, 0, None

    def alpha(self, epoch, n_epochs, T, batch, rng):
        self.steps += 1
        return constant(T, self.value)

    def due(self):
        return self.steps % self.every == 0

    def update(self, kappa):
        """One update of alpha from kappa (see the class docstring); returns the new alpha."""
        kappa = float(kappa)
        target = max(0.0, 1.0 - 1.0 / kappa) if kappa > 0 else 0.0
        self.kappa = kappa
        self.value = target if target > self.value else self.gamma * self.value + (1.0 - self.gamma) * target
        return self.value

    def estimate_kappa(self, model, X, S=None, P=None):
        """kappa of the windows X (nb, T+1, N) (inputs S (nb, T+1, K)) for ``model``, with the control matrix P
        (default ``model.control_matrix()``)."""
        X = np.asarray(X, dtype=np.float64)
        X = X[None] if X.ndim == 2 else X
        nb, T1, _ = X.shape
        P = model.control_matrix() if P is None else np.asarray(P, dtype=np.float64)
        t = np.unique(np.linspace(0, T1 - 2, min(self.n_steps, T1 - 1)).round().astype(np.int64))
        states = model.state_from_latent((X[:, t] @ P.T).reshape(-1, P.shape[0]))
        inputs = None
        if model.n_inputs:
            inputs = np.asarray(S, dtype=np.float64)[:, t + 1].reshape(-1, model.n_inputs)
        J = model.step_jacobians(states, inputs)
        J = J.reshape(nb, t.size, J.shape[-2], J.shape[-1])
        if self.estimate == "mean":
            return float(spectral_norms(J.mean(axis=1), self.tol, self.max_iter).max())
        logs = np.log(np.maximum(spectral_norms(J, self.tol, self.max_iter), np.finfo(np.float64).tiny))
        return float(np.exp(logs.mean(axis=1)).max())

    def observe(self, model, X, S=None, P=None):
        """kappa of the batch X (:meth:`estimate_kappa`), then :meth:`update`; returns the new alpha."""
        return self.update(self.estimate_kappa(model, X, S, P))

    def state_dict(self):
        return {"value": self.value, "steps": self.steps, "kappa": self.kappa}

    def load_state_dict(self, state):
        self.value = float(state["value"])
        self.steps = int(state["steps"])
        self.kappa = None if state.get("kappa") is None else float(state["kappa"])


# ------------------------------------------------------------------ control signal
def control_matrix(B, ridge=0.0):
    """P with z~ = P x: pinv(B) for ridge = 0, (B^T B + ridge I)^-1 B^T otherwise; float64 (M, N).

    Raises ValueError for a rank-deficient B with ridge = 0 (the pseudo-inverse is then discontinuous in B and has no
    gradient).
    """
    B = np.asarray(B, dtype=np.float64)
    if ridge == 0.0:
        U, s, Vt = np.linalg.svd(B, full_matrices=False)      # one SVD for the rank test and the inverse
        tol = max(B.shape) * np.finfo(np.float64).eps * s[0] if s.size and s[0] > 0 else 0.0
        rank = int(np.sum(s > tol))
        if rank < min(B.shape):
            raise ValueError(f"B is rank-deficient (rank {rank} < min(N, M) = {min(B.shape)}), so pinv(B) has no "
                             f"gradient; pass ridge > 0 (e.g. ridge=1e-6) to use the ridge inverse instead")
        return Vt.T @ (U.T / s[:, None])                       # V diag(1/s) U^T = pinv(B) at full rank
    Q = B.T @ B + ridge * np.eye(B.shape[1])
    return np.linalg.solve(Q, B.T)


def control_grad_B(B, P, G, ridge=0.0):
    """Chain rule through P: given G = dL/dP (M, N), return dL/dB (N, M) (float64).

    ridge = 0 uses dP = -P dB P + P P^T dB^T (I - B P) + (I - P B) dB^T P^T P (Golub & Pereyra 1973);
    ridge > 0 differentiates P = Q^-1 B^T with Q = B^T B + ridge I.
    """
    B = np.asarray(B, dtype=np.float64)
    N, M = B.shape
    if ridge == 0.0:
        # at full rank (control_matrix checks it) B P = I for N <= M and P B = I for N >= M: the projector onto the
        # complement is then exactly zero and its term is left out
        out = -P.T @ G @ P.T
        if N > M:
            out += (np.eye(N) - B @ P) @ G.T @ P @ P.T
        if M > N:
            out += P.T @ P @ G.T @ (np.eye(M) - P @ B)
        return out
    Q = B.T @ B + ridge * np.eye(M)
    GtQi = np.linalg.solve(Q, G).T          # G^T Q^-1 (Q symmetric)
    return GtQi - B @ (P @ GtQi) - B @ np.linalg.solve(Q, G @ P.T)


# ------------------------------------------------------------------ forcing options (the grammar)
def parse_forcing(value) -> dict:
    """Canonical forcing option from an int, ``math.inf``, a dict or a string (see the module docstring).

    Parameters
    ----------
    value : int, float, str or dict
        An interval in steps (int, or a whole float; ``math.inf`` for no forcing), a string of the grammar in the
        module docstring, or a canonical dict (returned normalised).

    Returns
    -------
    dict
        ``{"kind": "tau", "tau": int}``, ``{"kind": "none"}``, ``{"kind": "annealed", "start": int, "end": int}``,
        ``{"kind": "jittered", "tau": int, "delta": int}``, ``{"kind": "warmup", "tau": int, "fraction": float}``,
        ``{"kind": "alpha", "alpha": float}``, ``{"kind": "annealed_alpha", "start": float, "end": float}`` or
        ``{"kind": "agtf", "gamma": float, "every": int}``; every ``tau``, ``start``/``end`` of a tau schedule and
        ``delta`` in steps, ``every`` in optimiser steps.

    Raises
    ------
    ValueError
        For a malformed option; the message lists the accepted forms.
    """
    if isinstance(value, dict):
        return parse_forcing(forcing_label(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return {"kind": "tau", "tau": validation.check_int(int(value), "tau", minimum=1)}
    if isinstance(value, float):
        if math.isinf(value) and value > 0:
            return {"kind": "none"}
        if value.is_integer():
            return parse_forcing(int(value))
        raise ValueError(f"tau must be a whole number of steps, got {value}")
    if not isinstance(value, str):
        raise TypeError(f"forcing must be an int (tau), 'none' or a schedule string, got {value!r}")
    text = value.strip().lower()
    parts = text.split(":")
    try:
        if text in ("none", "inf", "free"):
            return {"kind": "none"}
        if parts[0] == "agtf" and len(parts) <= 3:
            sched = AdaptiveAlpha(gamma=float(parts[1]) if len(parts) > 1 else 0.999,
                                  every=int(parts[2]) if len(parts) > 2 else 5)
            return {"kind": "agtf", "gamma": sched.gamma, "every": sched.every}
        if len(parts) == 1:
            return parse_forcing(int(text))
        if parts[0] == "tau" and len(parts) == 2:
            return parse_forcing(parts[1])
        if parts[0] in ("annealed", "anneal") and len(parts) in (2, 3):
            start, end = (1, int(parts[1])) if len(parts) == 2 else (int(parts[1]), int(parts[2]))
            AnnealedTau(end=end, start=start)  # validates
            return {"kind": "annealed", "start": start, "end": end}
        if parts[0] == "warmup" and len(parts) in (2, 3):
            sched = WarmupTau(int(parts[1]), float(parts[2]) if len(parts) == 3 else 0.25)
            return {"kind": "warmup", "tau": sched.tau, "fraction": sched.fraction}
        if parts[0] in ("jittered", "jitter") and len(parts) == 3:
            tau, delta = int(parts[1]), int(parts[2])
            JitteredTau(tau, delta)
            return {"kind": "jittered", "tau": tau, "delta": delta}
        if parts[0] == "gtf" and len(parts) == 2:
            return parse_forcing(f"alpha:{parts[1]}")
        if parts[0] == "alpha" and len(parts) in (2, 3):
            if len(parts) == 2:
                a = validation.check_float(float(parts[1]), "alpha", minimum=0.0, maximum=1.0)
                return {"kind": "alpha", "alpha": a}
            sched = AnnealedAlpha(float(parts[1]), float(parts[2]))
            return {"kind": "annealed_alpha", "start": sched.start, "end": sched.end}
    except ValueError as exc:
        raise ValueError(f"invalid forcing {value!r}: {exc}") from None
    raise ValueError(f"invalid forcing {value!r}; use an interval like 25, 'none', 'annealed:77', "
                     f"'jittered:77:10', 'alpha:0.2' (or 'gtf:0.2'), 'alpha:1:0' or 'agtf' ('agtf:GAMMA:K')")


def forcing_label(option) -> str:
    """Short text form of a canonical forcing option (the inverse of :func:`parse_forcing`)."""
    kind = option["kind"]
    if kind == "tau":
        return str(int(option["tau"]))
    if kind == "none":
        return "none"
    if kind == "annealed":
        return f"annealed:{int(option['start'])}:{int(option['end'])}"
    if kind == "jittered":
        return f"jittered:{int(option['tau'])}:{int(option['delta'])}"
    if kind == "warmup":
        return f"warmup:{int(option['tau'])}:{float(option['fraction']):g}"
    if kind == "alpha":
        return f"alpha:{float(option['alpha']):g}"
    if kind == "annealed_alpha":
        return f"alpha:{float(option['start']):g}:{float(option['end']):g}"
    if kind == "agtf":
        if float(option["gamma"]) == 0.999 and int(option["every"]) == 5:
            return "agtf"
        return f"agtf:{float(option['gamma']):g}:{int(option['every'])}"
    raise ValueError(f"unknown forcing kind {kind!r}")


def interval_steps(option) -> float:
    """The forcing interval in steps that a run with this option is plotted and sorted at: tau, the final tau of a
    schedule, or ``math.inf`` (no forcing, alpha forcing)."""
    kind = option["kind"]
    if kind in ("tau", "jittered", "warmup"):
        return float(option["tau"])
    if kind == "annealed":
        return float(option["end"])
    return math.inf


def fit_kwargs(option, seq_len) -> dict:
    """The forcing arguments of :func:`fastrnn.fit` (``tau``, ``alpha`` or ``schedule``) for a canonical option and
    windows of ``seq_len`` steps."""
    kind = option["kind"]
    if kind == "tau":
        return {"tau": int(option["tau"])}
    if kind == "none":
        return {"tau": math.inf}
    if kind == "annealed":
        return {"schedule": AnnealedTau(end=int(option["end"]), start=int(option["start"]))}
    if kind == "jittered":
        return {"schedule": JitteredTau(int(option["tau"]), int(option["delta"]))}
    if kind == "warmup":
        return {"schedule": WarmupTau(int(option["tau"]), float(option["fraction"]))}
    if kind == "alpha":
        return {"alpha": constant(seq_len, float(option["alpha"]))}
    if kind == "annealed_alpha":
        return {"schedule": AnnealedAlpha(float(option["start"]), float(option["end"]))}
    if kind == "agtf":
        return {"schedule": AdaptiveAlpha(gamma=float(option["gamma"]), every=int(option["every"]))}
    raise ValueError(f"unknown forcing kind {kind!r}")
