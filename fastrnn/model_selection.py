"""Validation during training: the selection measures of ``fit(validation=...)`` and the record of the best epoch.

:func:`fastrnn.fit` scores the model on held-out series every ``validate_every`` epochs, keeps the parameters with
the lowest score, stops early after ``patience`` validations without a new best and, with ``restore_best``, ends on
the best parameters (as Keras' ``EarlyStopping(restore_best_weights=True)``). The measures, lower is better:

``"loss"``
    The training loss (DESIGN §1: free-state prediction error of sparsely forced windows) on fixed windows of the
    validation series, at the run's fixed forcing (``tau`` or ``alpha``). Cheap; only defined for a fixed forcing.
``"prediction"``
    Short free runs from z~_0 = P x_0 on fixed windows of the validation series (no forcing after the start): the
    mean squared prediction error over :data:`PREDICTION_STEPS` steps (at most ``seq_len``), the PE(20) of Hess et
    al. (2023). Independent of the forcing, so it also serves forcing schedules; short, because over horizons far
    beyond the predictability time a model that decays to the mean scores better than one that stays on the
    attractor.
``"D_stsp"``
    :func:`fastrnn.metrics.state_space_divergence` (default convention) between each validation series and the
    model's free run of the same length from its first observation (inf if the run diverges or leaves the data,
    :func:`fastrnn.metrics.diverged`); the largest over series. It judges the attractor, not short-term
    prediction, and costs a free run per validation.
a callable
    ``score(model) -> float``.
"""
from __future__ import annotations

import math

import numpy as np

from . import forcing, metrics
from .models.orbit import OrbitDivergedError

#: the selection measures by name
SELECTIONS = ("loss", "prediction", "D_stsp")
#: most windows scored by "loss" and "prediction" (spread evenly over the validation series)
MAX_WINDOWS = 64
#: horizon of the "prediction" measure, in steps
PREDICTION_STEPS = 20


def validation_windows(series, inputs, seq_len, max_windows=MAX_WINDOWS):
    """Fixed, non-overlapping windows of ``seq_len + 1`` samples from the validation series: (X (n, T+1, N),
    S (n, T+1, K)), at most ``max_windows`` of them, spread evenly.

    Raises
    ------
    ValueError
        If no series holds one window.
    """
    starts = [(i, s) for i, x in enumerate(series) for s in range(0, len(x) - seq_len, seq_len + 1)]
    if not starts:
        longest = max(len(x) for x in series)
        raise ValueError(f"validation series hold {longest} samples at most, fewer than one window of seq_len + 1 = "
                         f"{seq_len + 1}; pass longer validation data or lower seq_len")
    if len(starts) > max_windows:
        starts = [starts[int(k)] for k in np.linspace(0, len(starts) - 1, max_windows)]
    X = np.stack([series[i][s:s + seq_len + 1] for i, s in starts])
    S = np.stack([inputs[i][s:s + seq_len + 1] for i, s in starts])
    return X, S


def free_run_divergence(model, x0, n_steps, inputs, ref, transient=0):
    """D_stsp (:func:`fastrnn.metrics.state_space_divergence`, default convention) between ``ref`` and the model's
    free run of ``n_steps`` from the observation ``x0``, after ``transient`` steps; inf if the run diverges or leaves
    the data (:func:`fastrnn.metrics.diverged`)."""
    try:
        with np.errstate(all="ignore"):
            X, _ = model.generate(n_steps, x0=x0, inputs=inputs)
    except (OrbitDivergedError, ValueError, FloatingPointError):
        return math.inf
    X = np.asarray(X, dtype=np.float64)
    if metrics.diverged(X, ref):
        return math.inf
    return float(metrics.state_space_divergence(ref, X[transient:]))


def make_scorer(selection, series, inputs, seq_len, alpha=None, ridge=0.0, unit_mask=None, loss_fn=None):
    """The score function ``score(model) -> float`` of a selection measure (see the module docstring).

    Parameters
    ----------
    selection : {"loss", "prediction", "D_stsp"} or callable
    series, inputs : list of ndarray
        Validation series (T_i, N) and their inputs (T_i, K), in the model's dtype.
    seq_len : int
        Window length of "loss" and "prediction".
    alpha : ndarray (T+1,), optional
        The run's fixed forcing weights ("loss" needs them).
    ridge, unit_mask
        As in :func:`fastrnn.loss_and_grad`.
    loss_fn : callable
        ``loss_fn(model, X, alpha, S, ridge, unit_mask) -> float``: the training loss
        (:func:`fastrnn.training.loss`), passed in so that this module does not import :mod:`fastrnn.training`.

    Raises
    ------
    ValueError
        For an unknown measure, or "loss" without a fixed forcing.
    """
    if callable(selection):
        return selection
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; use one of {', '.join(SELECTIONS)} or a callable "
                         f"score(model) -> float")
    if selection == "D_stsp":
        def score(model):
            return max(free_run_divergence(model, x[0], len(x), s if s.shape[1] else None, x)
                       for x, s in zip(series, inputs))
        return score
    if selection == "loss" and alpha is None:
        raise ValueError("selection='loss' scores the run's forcing and needs a fixed one (tau= or alpha=); with a "
                         "forcing schedule use selection='prediction' or 'D_stsp'")
    T = seq_len if selection == "loss" else min(seq_len, PREDICTION_STEPS)
    X, S = validation_windows(series, inputs, T)
    a = alpha if selection == "loss" else forcing.interval(T, math.inf)

    def score(model):
        with np.errstate(all="ignore"):
            value = float(loss_fn(model, X, a, S, ridge, unit_mask))
        return value if math.isfinite(value) else math.inf
    return score


def held_out_length(n, fraction):
    """Samples :func:`hold_out` takes from a series of ``n`` samples: ``fraction`` of them, rounded."""
    return int(round(fraction * n))


def hold_out(series, inputs=None, fraction=0.2, min_length=2):
    """Split off the last ``fraction`` of each series as validation data (time order kept: the validation part
    follows the training part, as in forecasting practice; never shuffled).

    Parameters
    ----------
    series : ndarray (T, N) or list of them
        One series or several (the segments of a series with gaps).
    inputs : ndarray (T, K) or list of them, optional
        Inputs aligned with ``series``, split alike.
    fraction : float
        Share of each series held out, in (0, 1).
    min_length : int
        Fewest samples each part must keep (e.g. ``seq_len + 1``); a series too short to split stays whole in the
        training part.

    Returns
    -------
    train, validation, train_inputs, validation_inputs
        Arrays for a single series, lists for several (inputs None without inputs).

    Raises
    ------
    ValueError
        For a fraction outside (0, 1), or when no series is long enough to split.
    """
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation fraction must lie in (0, 1), got {fraction}")
    single = not isinstance(series, (list, tuple))
    xs = [series] if single else list(series)
    ss = [None] * len(xs) if inputs is None else ([inputs] if single else list(inputs))
    tr, va, str_, sva = [], [], [], []
    for x, s in zip(xs, ss):
        n_val = held_out_length(len(x), fraction)
        if n_val >= min_length and len(x) - n_val >= min_length:
            tr.append(x[:-n_val])
            va.append(x[-n_val:])
            str_.append(None if s is None else s[:-n_val])
            sva.append(None if s is None else s[-n_val:])
        else:
            tr.append(x)
            str_.append(s)
    if not va:
        longest = max(len(x) for x in xs)
        raise ValueError(f"no series is long enough to hold out {fraction:g} of it with {min_length} samples in "
                         f"each part (longest: {longest} samples); lower seq_len or the validation fraction")
    if single:
        return tr[0], va[0], str_[0], sva[0]
    return tr, va, (None if inputs is None else str_), (None if inputs is None else sva)


class BestEpoch:
    """The validation record of a run: scores, the best one and its parameters, and the early-stopping rule.

    Parameters
    ----------
    patience : int or None
        Stop after this many validations in a row without a new best (strictly lower score); None: never.
    """

    def __init__(self, patience=None):
        self.patience = patience
        self.best_score = math.inf
        self.best_epoch = None
        self.best_params = None
        self.since_best = 0

    def update(self, epoch, score, model=None):
        """Record ``score`` after ``epoch`` (1-based); keep the model's parameters if it is a new best."""
        if score < self.best_score:
            self.best_score, self.best_epoch, self.since_best = score, epoch, 0
            if model is not None:
                self.best_params = {k: v.copy() for k, v in model.params.items()}
        else:
            self.since_best += 1

    def should_stop(self):
        """Whether the patience is used up."""
        return self.patience is not None and self.since_best >= self.patience

    def replay(self, epochs, scores):
        """Restore the record's counters from a history (on resume; the parameters come from the checkpoint)."""
        for e, s in zip(epochs, scores):
            self.update(e, s)


__all__ = ["SELECTIONS", "MAX_WINDOWS", "PREDICTION_STEPS", "BestEpoch", "free_run_divergence", "held_out_length",
           "hold_out", "make_scorer", "validation_windows"]
