"""Recurrent models: parameters, initialisation, free running, Jacobians, save/load (DESIGN §1-2).

Every model has M latent units, N observations and K >= 0 external inputs, reads out through x = B z, and names the
kernel module (:mod:`fastrnn.kernels`) that defines its step; training, generation and Jacobians all use it.

Modules: :mod:`.base` (the base class :class:`RNNModel`, :func:`load`), one module per model (:mod:`.plrnn`,
:mod:`.tanhrnn`, :mod:`.lstm`, :mod:`.gru`, :mod:`.shplrnn`) and :mod:`.registry` (:data:`MODELS`, :func:`model_kind`,
:func:`model_class`).
"""
from .base import RNNModel, load
from .gru import GRU
from .lstm import LSTM
from .orbit import OrbitDivergedError, check_orbit
from .plrnn import PLRNN
from .registry import MODELS, model_class, model_kind
from .shplrnn import ShPLRNN
from .tanhrnn import TanhRNN

__all__ = ["GRU", "LSTM", "MODELS", "OrbitDivergedError", "PLRNN", "RNNModel", "ShPLRNN", "TanhRNN", "check_orbit",
           "load", "model_class", "model_kind"]
