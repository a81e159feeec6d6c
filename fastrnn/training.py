"""Sparsely forced BPTT: loss and gradients over a batch of windows, and the training loop (DESIGN §1, Training)."""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from . import forcing
from . import validation as checks
from . import checkpoint as _ckpt
from . import model_selection
from .models import RNNModel
from .optim import Adam


class TrainingDivergedError(FloatingPointError):
    """The loss or its gradient became non-finite during :func:`fit`; the model keeps its last finite parameters."""


def divergence_advice(*, lr, tau=None, alpha=None, schedule=None, clip=None, clip_value=None, truncate=None):
    """The remedies for a diverged run that it does not already use, as one sentence (:class:`TrainingDivergedError`).

    Parameters are those of :func:`fit`. A smaller step size is always suggested; more forcing unless the run is
    already teacher-forced (tau = 1) or is the truncated-BPTT baseline; gradient-norm clipping at 1 unless the run
    clips at 1 or tighter; a shorter truncation interval for truncated BPTT with an interval above 1.
    """
    out = [f"a smaller lr (now {lr:g})"]
    if schedule is not None or alpha is not None:
        out.append("more forcing (a smaller tau or a larger alpha)")
    elif tau is not None and math.isinf(tau):
        if truncate is None:
            out.append("sparse forcing (a finite tau, e.g. the predictability time in steps)")
    elif tau is not None and tau > 1:
        out.append(f"a smaller tau (more forcing; now {int(tau)})")
    if clip is None:
        out.append("gradient-norm clipping (clip=1.0)" if clip_value is None else
                   "gradient-norm clipping (clip=1.0) besides the value clipping")
    elif clip > 1.0:
        out.append(f"tighter clipping (clip=1.0; now {clip:g})")
    if truncate is not None and truncate > 1:
        out.append(f"a shorter truncation interval (now {int(truncate)})")
    return "Try " + (", ".join(out[:-1]) + " or " + out[-1] if len(out) > 1 else out[0])


@dataclass
class Batch:
    """A prepared batch for :func:`batch_loss_and_grad`: windows, inputs, unit mask and gradient cuts, already in the
    model's dtype, C-contiguous and checked (what :func:`fit` builds once per batch)."""
    X: np.ndarray       # (nb, T+1, N), model dtype
    S: np.ndarray       # (nb, T+1, K)
    mask: np.ndarray    # (M,)
    cut: np.ndarray = None   # (nb, T+1) gradient cuts of truncated BPTT, or None


def _check_model(model):
    if not isinstance(model, RNNModel):
        raise TypeError(f"model must be a fastrnn model (PLRNN, TanhRNN, ...), got {type(model).__name__}")


def _check_windows(model, X, inputs):
    X = checks.as_float_array(X, "X", model.dtype, ndim=(2, 3))
    if X.ndim == 2:
        X = X[None]
    nb, T1, N = X.shape
    if N != model.n_obs:
        raise ValueError(f"X has {N} observed dimensions (last axis) but the model has n_obs={model.n_obs}; X must be "
                         f"(batch, T+1, N) or (T+1, N)")
    if T1 < 2:
        raise ValueError(f"X windows have T+1 = {T1} samples; they need T >= 1 (at least 2 samples per window)")
    if nb < 1:
        raise ValueError("X holds no windows (batch size 0)")
    K = model.n_inputs
    if K == 0:
        if inputs is not None and np.size(inputs) > 0:
            raise ValueError(f"inputs were given but the model has n_inputs=0; build it with n_inputs="
                             f"{np.shape(inputs)[-1]} or drop inputs")
        S = np.zeros((nb, T1, 0), dtype=model.dtype)
    else:
        if inputs is None:
            raise ValueError(f"the model has n_inputs={K}: pass inputs of shape ({nb}, {T1}, {K}) aligned with X")
        S = checks.as_float_array(inputs, "inputs", model.dtype, ndim=(2, 3))
        if S.ndim == 2:
            S = S[None]
        if S.shape != (nb, T1, K):
            raise ValueError(f"inputs must have shape {(nb, T1, K)} to match X {X.shape} and n_inputs={K}, got "
                             f"{S.shape}")
    return X, S


def forcing_mask(model, unit_mask):
    """The validated unit mask (M,) in the model's dtype, 1 where forcing acts: ``unit_mask``, or by default every
    unit (the learned observation) or the first N (``observation="identity"``, :meth:`RNNModel.forced_units`; a
    given mask must then stay within them)."""
    M = model.n_latent
    allowed = model.forced_units()
    if unit_mask is None:
        return np.ones(M, dtype=model.dtype) if allowed is None else allowed.astype(model.dtype)
    m = np.asarray(unit_mask)
    if m.shape != (M,):
        raise ValueError(f"unit_mask must have shape ({M},) (one flag per latent unit), got {m.shape}")
    if m.dtype != bool and not np.all((m == 0) | (m == 1)):
        raise ValueError("unit_mask must be boolean (or 0/1): True where forcing acts on the latent unit")
    if allowed is not None and np.any((m != 0) & ~allowed):
        raise ValueError(f"with observation='identity' forcing acts on the observed units 0 .. {model.n_obs - 1} "
                         f"only (the others have no data); unit_mask selects units {np.flatnonzero(m != 0)}")
    return np.ascontiguousarray(m, dtype=model.dtype)


_check_mask = forcing_mask


def _check_initial_state(initial_state):
    """True for a zero initial state (windowing baseline), False for the control signal z_0 = z~_0."""
    if initial_state not in ("control", "zero"):
        raise ValueError(f"initial_state must be 'control' (z_0 = pinv(B) x_0) or 'zero' (windowing baseline), got "
                         f"{initial_state!r}")
    return initial_state == "zero"


def _check_truncate(model, truncate, unit_mask):
    """None, or the cut interval in steps of truncated BPTT (validated against the model and the unit mask)."""
    if truncate is None:
        return None
    truncate = checks.check_int(truncate, "truncate", minimum=1)
    if unit_mask is not None and not np.all(np.asarray(unit_mask) != 0):
        raise ValueError("truncate= cuts the gradient of the whole state; drop unit_mask (it selects forced units)")
    if model.forced_units() is not None and not model.forced_units().all():
        raise ValueError("truncate= cuts the gradient of the whole state, but observation='identity' forces only "
                         "the first N of the M units; use the learned observation or n_latent = n_obs")
    return truncate


def _cuts(truncate, T, nb, dtype):
    return None if truncate is None else np.ascontiguousarray(
        np.broadcast_to(forcing.truncation(T, truncate), (nb, T + 1)), dtype=dtype)


def _check_device(device):
    """None for device="cpu"; a CUDA session (fastrnn.kernels.cuda, loaded only here) for device="cuda"."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cpu":
        return None
    from .kernels import cuda as _kcuda  # optional backend; raises CudaUnavailableError saying how to fix it
    return _kcuda.session()


def batch_loss_and_grad(model, batch, alpha, ridge, control_grad, gpu=None):
    """The core of :func:`loss_and_grad` without its argument checks, for a prepared :class:`Batch` (the inner loop of
    :func:`fit`, and benchmarks that time exactly that): one forward and one backward kernel call for the whole batch.

    P = model.control_matrix(ridge) in float64; the model's kernels (or, with ``gpu`` a CUDA session and batch.X,
    batch.S device arrays, their CUDA twins) return dL/dP, and the chain rule through P into B happens here, once per
    batch. With the identity observation B is fixed: no control gradient, and dL/dB = 0.
    """
    P = model.control_matrix(ridge)
    fixed_B = model.observation == "identity"
    control_grad = control_grad and not fixed_B
    if batch.cut is None:
        loss, grads, G = model.loss_grad(batch.X, batch.S, alpha, batch.mask, P, control_grad, session=gpu)
    else:
        loss, grads, G = model.loss_grad(batch.X, batch.S, alpha, batch.mask, P, control_grad, session=gpu,
                                         cut=batch.cut)
    if control_grad:
        B64 = model.params["B"].astype(np.float64)
        grads["B"] = grads["B"] + forcing.control_grad_B(B64, P, G, ridge).astype(model.dtype)
    if fixed_B:
        grads["B"] = np.zeros_like(grads["B"])
    return loss, grads


def _check_batch(model, X, alpha, inputs, ridge, unit_mask):
    """The checked arguments of :func:`loss_and_grad` and :func:`loss`: (X, S, alpha, ridge, mask)."""
    _check_model(model)
    Xc, S = _check_windows(model, X, inputs)
    nb, T1, _ = Xc.shape
    a = forcing.check_alpha(alpha, T1 - 1, nb, model.dtype)
    return Xc, S, a, checks.check_float(ridge, "ridge", minimum=0.0), _check_mask(model, unit_mask)


def loss_and_grad(model, X, alpha, inputs=None, ridge=0.0, control_grad=True, unit_mask=None, device="cpu",
                  initial_state="control", truncate=None):
    """Loss and gradients of sparsely forced BPTT over a batch of windows (DESIGN §1).

    Parameters
    ----------
    model : PLRNN, TanhRNN, ...
    X : array (batch, T+1, N) or (T+1, N)
        Observation windows x_0 ... x_T. Converted to the model's dtype (C-contiguous copy if needed).
    alpha : array (T+1,) or (batch, T+1)
        Forcing weights in [0, 1] (see :mod:`fastrnn.forcing`); alpha_0 is unused (z_0 = z~_0 always).
    inputs : array (batch, T+1, K), optional
        External inputs aligned with X; s_t drives the step into z_t. Required iff the model has K > 0.
    ridge : float
        0 for the pseudo-inverse control P = pinv(B); > 0 for P = (B^T B + ridge I)^-1 B^T.
    control_grad : bool
        If True, the gradient flows through P into B; if False, z~ = P x is treated as data.
    unit_mask : bool array (M,), optional
        Latent units that forcing acts on (all by default; the first N with ``observation="identity"``, where a
        given mask must stay within them).
    device : {"cpu", "cuda"}
        Where the kernels run. "cuda" needs numba's CUDA target (``pip install 'fastrnn[cuda]'``) and a GPU; it
        raises ``fastrnn.kernels.cuda.CudaUnavailableError`` otherwise. Results agree with "cpu" to rounding.
    initial_state : {"control", "zero"}
        Where each window starts: "control" (default, DESIGN §1) z_0 = z~_0 = P x_0; "zero" z_0 = 0 (LSTM: h_0 =
        c_0 = 0), the windowing baseline. "zero" is exactly the procedure of DESIGN §1 run on windows whose first
        observation is replaced by 0 (x_0 enters only through z~_0, never the loss), and is implemented that way.
    truncate : int, optional
        Truncated BPTT with the gradient cut every ``truncate`` steps (the truncated-BPTT baseline). The state runs
        on by the model alone over the whole window from its start (``initial_state``) except where ``alpha``
        forces it (for the baseline: nowhere, alpha = :func:`fastrnn.forcing.none`); the loss is unchanged, but
        dL/dz_t at t = truncate, 2 truncate, ... is not passed back to z_{t-1}, so the gradient is that of the
        window's stretches of ``truncate`` steps, each started from the state the model iterated to (the paper's
        "windowing with the last forward-iterated state"). It is the gradient of the loss with the states at the
        cut steps (:func:`fastrnn.forcing.truncation`) held fixed. Cut steps must be unforced; no ``unit_mask``.

    Returns
    -------
    loss : float
        L = sum_t ||x_t - B z_f,t||^2 / (batch T N), the free-state prediction error before forcing.
    grads : dict
        dL/dparameter for every entry of ``model.params``, same shapes and dtype.
    """
    Xc, S, a, ridge, mask = _check_batch(model, X, alpha, inputs, ridge, unit_mask)
    nb, T1, _ = Xc.shape
    cut = _cuts(_check_truncate(model, truncate, unit_mask), T1 - 1, nb, model.dtype)
    if _check_initial_state(initial_state):
        Xc = Xc.copy()
        Xc[:, 0] = 0.0
    gpu = _check_device(device)
    if gpu is not None:
        Xc, S = gpu.to_device(Xc), gpu.to_device(S)
    return batch_loss_and_grad(model, Batch(Xc, S, mask, cut), a, ridge, bool(control_grad), gpu)


def loss(model, X, alpha, inputs=None, ridge=0.0, unit_mask=None):
    """The loss of :func:`loss_and_grad` alone (the forward sweep, no gradients): the free-state prediction error of
    the windows X under the forcing ``alpha``; arguments as there (CPU only).

    Returns
    -------
    float
    """
    Xc, S, a, ridge, mask = _check_batch(model, X, alpha, inputs, ridge, unit_mask)
    return float(model.kernel.forward_states(model.params, Xc, S, a, mask, model.control_matrix(ridge))[0])


# ------------------------------------------------------------------ training loop
@dataclass
class History:
    """Per-epoch training record: mean loss, mean gradient norm (before clipping) and wall-clock seconds; with an
    adaptive schedule (:class:`fastrnn.forcing.AdaptiveAlpha`) also its alpha at the end of each epoch (``alpha``,
    empty otherwise); with validation data the epochs validated after (``val_epoch``, 1-based), their scores
    (``val_score``), the epoch of the best one (``best_epoch``) and whether early stopping ended the run
    (``stopped_early``)."""

    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    alpha: list = field(default_factory=list)
    val_epoch: list = field(default_factory=list)
    val_score: list = field(default_factory=list)
    best_epoch: int = None
    stopped_early: bool = False

    def __len__(self):
        return len(self.loss)


def _as_series_list(data, name, dtype, n_cols=None):
    seq = list(data) if isinstance(data, (list, tuple)) else [data]
    if not seq:
        raise ValueError(f"{name} is empty; pass a (T, N) array or a list of them")
    out = []
    for i, x in enumerate(seq):
        label = name if len(seq) == 1 else f"{name}[{i}]"
        arr = checks.as_float_array(x, label, dtype, ndim=(1, 2))
        if arr.ndim == 1:
            arr = arr[:, None]
        if n_cols is not None and arr.shape[1] != n_cols:
            raise ValueError(f"{label} has {arr.shape[1]} columns, expected {n_cols}; data must be (T, N) with "
                             f"N = model.n_obs and inputs (T, K) with K = model.n_inputs")
        out.append(arr)
    return out


class _WindowSampler:
    """Random windows of length T+1 from one or several series (inputs aligned)."""

    def __init__(self, series, inputs, T):
        self.series, self.inputs, self.T = series, inputs, T
        counts = np.array([len(x) - T for x in series])
        if np.any(counts < 1):
            short = int(np.argmin(counts))
            raise ValueError(f"seq_len={T} needs series of at least {T + 1} samples; series {short} has "
                             f"{len(series[short])}. Lower seq_len or pass longer data")
        self.weights = counts / counts.sum()
        self.offsets = np.arange(T + 1)
        self.starts = np.concatenate([[0], np.cumsum([len(x) for x in series])[:-1]]).astype(np.int64)

    def draw_starts(self, batch, rng):
        """Start rows of ``batch`` windows in the concatenated series (the same draws from ``rng`` as ``draw``)."""
        which = rng.choice(len(self.series), size=batch, p=self.weights)
        return np.array([self.starts[i] + rng.integers(0, len(self.series[i]) - self.T) for i in which],
                        dtype=np.int64)

    def draw(self, batch, rng):
        which = rng.choice(len(self.series), size=batch, p=self.weights)
        idx = np.empty((batch, self.T + 1), dtype=np.int64)
        X = np.empty((batch, self.T + 1, self.series[0].shape[1]), dtype=self.series[0].dtype)
        S = np.empty((batch, self.T + 1, self.inputs[0].shape[1]), dtype=self.series[0].dtype)
        for b, i in enumerate(which):
            start = rng.integers(0, len(self.series[i]) - self.T)
            idx[b] = start + self.offsets
            X[b] = self.series[i][idx[b]]
            S[b] = self.inputs[i][idx[b]]
        return X, S


def _series_with_inputs(model, data, inputs, name, inputs_name):
    """(series, inputs) of fit's ``data``/``inputs`` (or ``validation``/``validation_inputs``): lists of arrays in
    the model's dtype, the inputs aligned with the series (empty (T, 0) arrays without inputs)."""
    series = _as_series_list(data, name, model.dtype, model.n_obs)
    if model.n_inputs:
        if inputs is None:
            raise ValueError(f"the model has n_inputs={model.n_inputs}: pass {inputs_name} aligned with {name}")
        ins = _as_series_list(inputs, inputs_name, model.dtype, model.n_inputs)
        if len(ins) != len(series) or any(len(s) != len(x) for s, x in zip(ins, series)):
            raise ValueError(f"{inputs_name} must be aligned with {name}: the same number of series and of samples "
                             f"in each")
        return series, ins
    if inputs is not None:
        raise ValueError(f"{inputs_name} were given but the model has n_inputs=0; build the model with n_inputs=K")
    return series, [np.zeros((len(x), 0), dtype=model.dtype) for x in series]


def _check_validation(model, data, inputs, selection, every, patience, T, alpha, ridge, unit_mask):
    """(scorer, BestEpoch) of fit's validation arguments, or (None, None) without validation data."""
    if data is None:
        if inputs is not None:
            raise ValueError("validation_inputs were given without validation data; pass validation= as well")
        return None, None
    series, ins = _series_with_inputs(model, data, inputs, "validation", "validation_inputs")
    checks.check_int(every, "validate_every", minimum=1)
    if patience is not None:
        checks.check_int(patience, "patience", minimum=1)
    a = None if alpha is None else np.asarray(alpha, dtype=model.dtype)
    if a is not None and a.ndim == 2:                 # per-window weights: one pattern for every window, or none
        if not np.all(a == a[:1]):
            if selection == "loss":
                raise ValueError("selection='loss' needs one forcing pattern for all windows; with per-window alpha "
                                 "use selection='prediction' or 'D_stsp'")
        a = a[0]

    def loss_fn(m, X, al, S, rdg, mask):
        return loss(m, X, al, inputs=S if m.n_inputs else None, ridge=rdg, unit_mask=mask)
    scorer = model_selection.make_scorer(selection, series, ins, T, alpha=a, ridge=ridge, unit_mask=unit_mask,
                                         loss_fn=loss_fn)
    return scorer, model_selection.BestEpoch(patience)


def _global_norm(grads):
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_gradients(grads, norm=None, clip=None, clip_value=None):
    """Clip the gradients ``grads`` (dict of arrays) in place, as :func:`fit` does before each optimiser step.

    ``clip_value``: every entry to [-clip_value, clip_value] (value clipping); then ``clip``: the global norm to at
    most ``clip`` (norm clipping; ``norm``, the norm of the unclipped gradients, is recomputed after value
    clipping). None skips either. Returns ``grads``.
    """
    if clip_value is not None:
        for g in grads.values():
            np.clip(g, -clip_value, clip_value, out=g)
        norm = None
    if clip is not None:
        norm = _global_norm(grads) if norm is None else norm
        if norm > clip:
            for g in grads.values():
                g *= clip / norm
    return grads


def fit(model, data, *, tau=None, alpha=None, schedule=None, seq_len, batch_size=16, batches_per_epoch=50,
        n_epochs=100, lr=1e-3, clip=None, clip_value=None, inputs=None, ridge=0.0, control_grad=True, unit_mask=None,
        rng=None, progress=True, callback=None, optimizer=None, device="cpu", initial_state="control",
        truncate=None, checkpoint=None, checkpoint_every=1, validation=None, validation_inputs=None,
        selection="loss", validate_every=1, patience=None, restore_best=True):
    """Train ``model`` in place by sparsely forced BPTT with Adam.

    Parameters
    ----------
    model : PLRNN, TanhRNN, ...
    data : array (T, N) or list of arrays
        One or several observed series (time along axis 0).
    tau : int or math.inf, optional
        Forcing interval in steps (classic sparse forcing). ``math.inf`` forces only at the window start.
    alpha : array (seq_len+1,) or (batch_size, seq_len+1), optional
        Fixed forcing weights instead of tau.
    schedule : fastrnn.forcing.Schedule, optional
        A schedule (annealed or jittered tau, annealed alpha, adaptive alpha) instead of tau/alpha. Exactly one of
        tau, alpha and schedule must be given. An adaptive schedule (:class:`fastrnn.forcing.AdaptiveAlpha`) is shown
        the batch before the steps it adapts at, is changed in place, records its alpha per epoch in the history,
        and its state is kept in checkpoints.
    seq_len : int
        Window length T in steps (windows hold T+1 samples).
    batch_size, batches_per_epoch, n_epochs : int
    lr : float
        Adam step size (paper setting 1e-3).
    clip : float, optional
        Clip the global gradient norm to this value (the paper uses 1 only for its baseline without forcing).
    clip_value : float, optional
        Clip every entry of every parameter's gradient to [-clip_value, clip_value] (element-wise value clipping,
        the paper's second clipping baseline). With ``clip`` too, the entries are clipped first and the norm of the
        result is then clipped. The recorded gradient norm is the one before any clipping.
    inputs : array (T, K) or list, optional
        External inputs aligned with ``data``.
    ridge, control_grad, unit_mask
        As in :func:`loss_and_grad`.
    rng : seed or Generator
        Drives window sampling and jittered schedules.
    progress : bool
        Show a tqdm progress bar with epoch, loss and time left.
    callback : callable, optional
        ``callback(epoch, history, model)`` after each epoch; returning True stops training.
    optimizer : Adam, optional
        Continue with an existing optimiser (its state is kept); by default a new Adam(model.params, lr).
    device : {"cpu", "cuda"}
        Where the kernels run. With "cuda" the series are uploaded to the GPU once and each batch's windows are cut
        out there; the parameters and Adam stay on the host. Same window draws from ``rng`` as on the CPU.
    initial_state : {"control", "zero"}
        As in :func:`loss_and_grad`: "zero" starts every window from a zero state (the windowing baseline; CPU only).
    truncate : int, optional
        Truncated BPTT, the gradient cut every ``truncate`` steps, as in :func:`loss_and_grad` (the truncated-BPTT
        baseline, with ``tau=math.inf``: the model keeps its own state over each whole window).
    checkpoint : str or path, optional
        Checkpoint file (see :mod:`fastrnn.checkpoint`). If it exists, training resumes from it: the parameters,
        Adam's state and step size, the history, the epoch and the state of ``rng`` are restored, so that the run
        ends with exactly the parameters of an uninterrupted run with the same arguments and seed. It is
        (re)written atomically every ``checkpoint_every`` epochs and after the last one.
    checkpoint_every : int
        Epochs between checkpoint writes (default 1).
    validation : array (T, N) or list of arrays, optional
        Held-out series (never trained on) to score the model on every ``validate_every`` epochs and after the
        last (:mod:`fastrnn.model_selection`); the scores go to ``History.val_score``.
    validation_inputs : array (T, K) or list, optional
        External inputs aligned with ``validation`` (required iff the model has inputs).
    selection : {"loss", "prediction", "D_stsp"} or callable
        The validation measure, lower is better: the training loss on fixed validation windows at the run's forcing
        ("loss", the default; needs ``tau`` or ``alpha``), the free-running prediction error over those windows
        ("prediction"), the state space divergence of free runs as long as the validation series ("D_stsp"), or
        ``score(model) -> float``.
    validate_every : int
        Epochs between validations (default 1).
    patience : int, optional
        Early stopping: end training after this many validations in a row without a new best score
        (``History.stopped_early``). None (default): train all epochs.
    restore_best : bool
        With ``validation``: end on the parameters of the best validation (``History.best_epoch``), also after a
        divergence, instead of the last ones (default True).

    Returns
    -------
    History
        Per-epoch mean loss, mean gradient norm and seconds; with ``validation`` also the validation scores and the
        best epoch.

    Raises
    ------
    TrainingDivergedError
        If a loss or gradient becomes non-finite; the model is then reset to the last parameters whose loss was
        finite (those before the last update), or with ``validation`` and ``restore_best`` to the best validated
        ones. The message names the remedies the run does not already use (:func:`divergence_advice`).
    """
    _check_model(model)
    given = [name for name, v in (("tau", tau), ("alpha", alpha), ("schedule", schedule)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"pass exactly one of tau=, alpha= or schedule= (got {given or 'none'}); for no forcing "
                         f"use tau=math.inf")
    T = checks.check_int(seq_len, "seq_len", minimum=1)
    batch_size = checks.check_int(batch_size, "batch_size", minimum=1)
    batches_per_epoch = checks.check_int(batches_per_epoch, "batches_per_epoch", minimum=1)
    n_epochs = checks.check_int(n_epochs, "n_epochs", minimum=1)
    ridge = checks.check_float(ridge, "ridge", minimum=0.0)
    if clip is not None:
        clip = checks.check_float(clip, "clip", minimum=0.0, strict_min=True)
    if clip_value is not None:
        clip_value = checks.check_float(clip_value, "clip_value", minimum=0.0, strict_min=True)
    if schedule is not None and not isinstance(schedule, forcing.Schedule):
        raise TypeError("schedule must be a fastrnn.forcing.Schedule (AnnealedTau, JitteredTau, AnnealedAlpha, "
                        "AdaptiveAlpha)")
    adaptive = schedule is not None and schedule.adaptive
    rng = checks.check_rng(rng)
    series, ins = _series_with_inputs(model, data, inputs, "data", "inputs")
    sampler = _WindowSampler(series, ins, T)
    mask = _check_mask(model, unit_mask)
    truncate = _check_truncate(model, truncate, unit_mask)
    cut = _cuts(truncate, T, batch_size, model.dtype)
    gpu = _check_device(device)
    zero_start = _check_initial_state(initial_state)
    if zero_start and gpu is not None:
        raise ValueError("initial_state='zero' (windowing) runs on device='cpu' only; use device='cpu'")
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        checkpoint_every = checks.check_int(checkpoint_every, "checkpoint_every", minimum=1)
    on_device = gpu.upload_series(series, ins) if gpu is not None else None
    fixed_alpha = None
    if tau is not None:
        fixed_alpha = forcing.check_alpha(forcing.interval(T, tau), T, batch_size, model.dtype)
    elif alpha is not None:
        fixed_alpha = forcing.check_alpha(alpha, T, batch_size, model.dtype)
    opt = optimizer if optimizer is not None else Adam(model.params, lr=lr)
    scorer, record = _check_validation(model, validation, validation_inputs, selection, validate_every, patience, T,
                                       fixed_alpha, ridge, unit_mask)

    history = History()
    ckpt_config = {"seq_len": T, "batch_size": batch_size, "batches_per_epoch": batches_per_epoch,
                   "n_epochs": n_epochs, "forcing": given[0]}
    ckpt_config.update({k: v for k, v in (("truncate", truncate), ("clip_value", clip_value)) if v is not None})
    if scorer is not None:
        ckpt_config.update(validate_every=validate_every, patience=patience)
    start = 0
    if checkpoint is not None and os.path.exists(checkpoint):
        best = {}
        start = _ckpt.resume(checkpoint, model, opt, history, rng, ckpt_config, schedule=schedule, best_params=best)
        if record is not None:
            record.replay(history.val_epoch, history.val_score)
            record.best_params = best or None
            history.best_epoch, history.stopped_early = record.best_epoch, record.should_stop()
            if history.stopped_early:
                start = n_epochs                     # the run had ended early: nothing left to train
    last_finite = None
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n_epochs, initial=min(start, n_epochs), desc=f"{model.kind}", unit="epoch")
    try:
        for epoch in range(start, n_epochs):
            t0 = time.perf_counter()
            losses, norms = [], []
            for bidx in range(batches_per_epoch):
                if gpu is not None:
                    X, S = gpu.gather(on_device, sampler.draw_starts(batch_size, rng), T)
                else:
                    X, S = sampler.draw(batch_size, rng)
                    if zero_start:
                        X[:, 0] = 0.0
                if fixed_alpha is not None:
                    a = fixed_alpha
                else:
                    if adaptive and schedule.due():
                        host = (X, S) if gpu is None else (X.copy_to_host(),
                                                           S.copy_to_host() if model.n_inputs else None)
                        schedule.observe(model, *host, model.control_matrix(ridge))
                    a = forcing.check_alpha(schedule.alpha(epoch, n_epochs, T, batch_size, rng), T, batch_size,
                                            model.dtype)
                loss, grads = batch_loss_and_grad(model, Batch(X, S, mask, cut), a, ridge, control_grad, gpu)
                norm = _global_norm(grads)
                if not (math.isfinite(loss) and math.isfinite(norm)):
                    restored = "the last parameters with a finite loss"
                    if record is not None and restore_best and record.best_params is not None:
                        model.set_params(**record.best_params)
                        history.best_epoch = record.best_epoch
                        restored = f"the best validated parameters (after epoch {record.best_epoch})"
                    elif last_finite is not None:
                        model.set_params(**last_finite)
                    advice = divergence_advice(lr=getattr(opt, "lr", lr), tau=tau, alpha=alpha, schedule=schedule,
                                               clip=clip, clip_value=clip_value, truncate=truncate)
                    raise TrainingDivergedError(
                        f"{'loss' if not math.isfinite(loss) else 'gradient'} became non-finite at epoch {epoch}, "
                        f"batch {bidx}; the model was reset to {restored}. {advice}")
                last_finite = {k: v.copy() for k, v in model.params.items()}  # these gave a finite loss
                clip_gradients(grads, norm, clip, clip_value)
                opt.step(grads)
                losses.append(loss)
                norms.append(norm)
            history.loss.append(float(np.mean(losses)))
            history.grad_norm.append(float(np.mean(norms)))
            history.seconds.append(time.perf_counter() - t0)
            if adaptive:
                history.alpha.append(float(schedule.value))
            if scorer is not None and ((epoch + 1) % validate_every == 0 or epoch + 1 == n_epochs):
                score = float(scorer(model))
                record.update(epoch + 1, score, model)
                history.val_epoch.append(epoch + 1)
                history.val_score.append(score)
                history.best_epoch = record.best_epoch
                history.stopped_early = record.should_stop()
            if bar is not None:
                post = {"loss": f"{history.loss[-1]:.4g}"}
                if history.val_score:
                    post["val"] = f"{history.val_score[-1]:.4g}"
                bar.set_postfix(**post)
                bar.update(1)
            stop = callback is not None and callback(epoch, history, model)
            stop = stop or history.stopped_early
            # after the callback, which may change the optimiser (e.g. its step size) for the next epoch
            # also at an early stop, so that a rerun does not train on
            if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == n_epochs
                                           or history.stopped_early):
                _ckpt.save_checkpoint(checkpoint, model=model, optimizer=opt, epoch=epoch, history=history, rng=rng,
                                      config=ckpt_config, schedule=schedule,
                                      best_params=None if record is None else record.best_params)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    if record is not None and restore_best and record.best_params is not None:
        model.set_params(**record.best_params)
    return history
