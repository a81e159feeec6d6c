"""fastrnn: sparsely forced BPTT for recurrent networks that reconstruct chaotic dynamics.

Public API (re-exported names only): the models, :func:`loss_and_grad`, :func:`fit`, :func:`load`, and the modules
:mod:`fastrnn.forcing`, :mod:`fastrnn.optim`, :mod:`fastrnn.systems` (benchmark systems), :mod:`fastrnn.observation`
(a model's observation pipeline: preprocessing, z-score, delay embedding), :mod:`fastrnn.timeseries`
(embedding, lambda_max of data, tau from data), :mod:`fastrnn.metrics` (D_stsp, D_H), :mod:`fastrnn.lyapunov`
(spectra of trained models, C core), :mod:`fastrnn.experiments` (runs, evaluation, sweeps on Dask, the demo).

``import fastrnn`` loads no optional layer: Dask (``fastrnn[sweep]``) is imported when runs execute, matplotlib
(``fastrnn[plot]``) by :mod:`fastrnn.plotting`, numba.cuda (``fastrnn[cuda]``) by ``device="cuda"``.
"""
from . import (checkpoint, experiments, forcing, lyapunov, metrics, model_selection, observation, optim,
               preprocessing, systems, timeseries)
from .checkpoint import load_checkpoint
from .experiments import run_sweep
from .lyapunov import OrbitDivergedError, jacobian_norms, lyapunov_spectrum, qr_spectrum
from .models import GRU, LSTM, PLRNN, ShPLRNN, TanhRNN, load
from .optim import Adam, RAdam
from .timeseries import (LyapunovEstimate, TauSuggestion, delay_embed, estimate_delay, estimate_dimension,
                         max_lyapunov, predictability_time, suggest_tau)
from .training import History, TrainingDivergedError, fit, loss_and_grad

__version__ = "0.1.0"

__all__ = [
    "PLRNN", "TanhRNN", "LSTM", "GRU", "ShPLRNN", "load", "loss_and_grad", "fit", "History", "TrainingDivergedError",
    "Adam", "RAdam",
    "forcing", "optim", "systems", "timeseries", "metrics", "preprocessing", "observation", "model_selection",
    "max_lyapunov", "predictability_time", "suggest_tau", "delay_embed", "estimate_delay", "estimate_dimension",
    "LyapunovEstimate", "TauSuggestion",
    "lyapunov", "lyapunov_spectrum", "jacobian_norms", "qr_spectrum", "OrbitDivergedError",
    "checkpoint", "load_checkpoint", "experiments", "run_sweep",
]
