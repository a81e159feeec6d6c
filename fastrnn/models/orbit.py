"""Free orbits that leave the finite numbers: the one divergence test of a model's states and its error.

Used by :meth:`fastrnn.models.RNNModel.generate` and by :mod:`fastrnn.lyapunov` (spectra need a bounded orbit).
"""
from __future__ import annotations

import numpy as np

__all__ = ["MAX_NORM", "OrbitDivergedError", "check_orbit", "first_diverged_row"]

#: default bound on |z_i| beyond which a free orbit counts as diverged (states of trained models are of order one)
MAX_NORM = 1e8


class OrbitDivergedError(FloatingPointError):
    """The freely running orbit left the finite numbers or grew beyond ``max_norm``.

    Attributes
    ----------
    step : int
        The first step whose state is bad (0: the initial state).
    """

    def __init__(self, message, step=None):
        super().__init__(message)
        self.step = step


def first_diverged_row(Z, max_norm=MAX_NORM):
    """Index of the first row of ``Z`` with a non-finite entry or one beyond ``max_norm`` in absolute value, or None."""
    bad = ~(np.abs(Z) <= max_norm)  # NaN compares False
    rows = bad.reshape(bad.shape[0], -1).any(axis=1)
    return int(np.argmax(rows)) if rows.any() else None


def check_orbit(Z, first_step=0, max_norm=MAX_NORM):
    """Raise :class:`OrbitDivergedError`, naming the step, if a state of ``Z`` (rows: steps ``first_step``,
    ``first_step + 1``, ...) is non-finite or exceeds ``max_norm``."""
    row = first_diverged_row(Z, max_norm)
    if row is None:
        return
    step = first_step + row
    with np.errstate(all="ignore"):
        what = ("is not finite" if not np.all(np.isfinite(Z[row]))
                else f"has max |z_i| = {np.abs(Z[row]).max():.3g} > max_norm={max_norm:g}")
    raise OrbitDivergedError(
        f"the free-running orbit diverged: the state after {step} steps {what}. The model has no bounded "
        f"attractor from this initial state; try another z0/x0 or check the parameters (raise max_norm if such "
        f"large states are legitimate)", step=step)
