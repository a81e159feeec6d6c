"""fastrnn: sparsely forced BPTT for recurrent networks that reconstruct chaotic dynamics.

Public API (re-exported names only): the models, :func:`loss_and_grad`, :func:`fit`, :func:`load`, and the modules
:mod:`fastrnn.forcing`, :mod:`fastrnn.optim`,
:mod:`fastrnn.systems`.
"""
from . import forcing, optim, systems
from .models import GRU, LSTM, PLRNN, TanhRNN, load
from .optim import Adam
from .training import History, TrainingDivergedError, fit, loss_and_grad

__version__ = "0.1.0"

__all__ = [
    "PLRNN", "TanhRNN", "LSTM", "GRU", "load", "loss_and_grad", "fit", "History", "TrainingDivergedError", "Adam",
    "forcing", "optim", "systems",
]
