"""Model selection during training: keep the checkpoint whose free runs best match the *training* series, or a
validation part held out from it.

Used by runs with ``spec["select"]`` (:func:`fastrnn.experiments.execute_run`): ``True`` scores against the training
series, a fraction f in (0, 1) holds out the last f of the training part as validation data (not trained on) and
scores against it; the test data stay unseen either way.
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..io import atomic_write
from ..model_selection import free_run_divergence

__all__ = ["Selection", "selection_score"]


def selection_score(model, x0, n_steps, inputs, ref, transient):
    """D_stsp between ``ref`` and the model's free run of ``n_steps`` from ``x0`` after ``transient`` steps (inf if
    the run diverges): :func:`fastrnn.model_selection.free_run_divergence`."""
    return free_run_divergence(model, x0, n_steps, inputs, ref, transient)


class Selection:
    """Model selection by the worst free run from many starts over the training series.

    At each checkpoint the model runs freely from ``n_starts`` observations spread evenly over the *training*
    series, each run as long as the test set (at most half the series), and is scored by the worst D_stsp of those
    runs (after ``transient`` steps) against the last stretch of the training series of that length (with inputs,
    each run against its own stretch); shorter runs (3000 steps) made D_stsp too noisy to rank checkpoints by. A
    trained RNN can have several attractors, e.g. the reconstructed chaotic one next to a small limit cycle that only
    some initial states reach (the demo's seed-0 LSTM once had a fixed point drawing about a quarter of all starts,
    which eight starts all missed), so the worst case over many starts is what rules such a model out. The
    parameters with the lowest score so far are kept; they are stored atomically at ``path``, so that a resumed run
    selects exactly as an uninterrupted one.

    Parameters
    ----------
    path : str
        File of the best parameters so far (read back on resume).
    x_train, s_train : ndarray
        Training series (T, N) and inputs (T, K) or None.
    n_ref : int
        Length of each free run (the test set's length), capped at half the series.
    transient : int
        Steps discarded from each free run.
    n_starts : int
        Number of free runs.
    reference : ndarray (T_val, N), optional
        A validation part held out from training (autonomous data only): the runs, still started from observations
        spread over the training series, are then each ``max(n_ref, len(reference))`` steps long (after
        ``transient``) and scored against ``reference`` instead of the training series' last stretch.
    """

    def __init__(self, path, x_train, s_train, n_ref, transient, n_starts=16, reference=None):
        T = x_train.shape[0]
        if reference is not None:
            if s_train is not None:
                raise ValueError("a validation reference is for autonomous data; with inputs select over the "
                                 "training series (select=True)")
            self.transient = transient
            L = max(n_ref, reference.shape[0]) + transient
            starts = sorted({int(i) for i in np.linspace(0, T - 1, n_starts)})
            self.runs = [(x_train[i], None, reference) for i in starts]
        else:
            L = min(max(n_ref, 4 * transient), T // 2)
            self.transient = min(transient, L // 3)
            starts = sorted({int(i) for i in np.linspace(0, T - L, n_starts)})
            ref = x_train[-L:]
            self.runs = [(x_train[i], None if s_train is None else s_train[i:i + L],
                          ref if s_train is None else x_train[i + self.transient:i + L]) for i in starts]
        self.length = L
        self.path = path
        self.best, self.epoch, self.params = math.inf, None, None
        if os.path.exists(path):
            with np.load(path, allow_pickle=False) as f:
                self.best, self.epoch = float(f["__score"]), int(f["__epoch"])
                self.params = {k: f[k] for k in f.files if not k.startswith("__")}

    def score(self, model):
        """The worst D_stsp over the free runs (inf if any diverges)."""
        return max(selection_score(model, x0, self.length, s, ref, self.transient) for x0, s, ref in self.runs)

    def __call__(self, epoch, model):
        """Score the model after ``epoch`` (0-based) and keep its parameters if they are the best so far."""
        score = self.score(model)
        if score < self.best:
            self.best, self.epoch = score, epoch + 1
            self.params = {k: v.copy() for k, v in model.params.items()}
            atomic_write(self.path, lambda fh: np.savez(fh, __score=self.best, __epoch=self.epoch, **self.params))
