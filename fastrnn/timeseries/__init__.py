r"""From a measured time series to the forcing interval: delay embedding, embedding parameters, the largest
Lyapunov exponent from data, and the predictability time.

Conventions
-----------
*Shapes.* A series is ``(T,)`` (scalar) or ``(T, D)`` (time, features), sampled every ``dt`` time units.

*Units.* Lags, Theiler windows, divergence-curve steps and fit ranges are counted in **samples (steps)**.
Lyapunov exponents are reported both **per step** (``per_step``) and **per time unit**
(``lambda_max = per_step / dt``); for maps, use ``dt = 1`` and the two coincide.  Predictability times are in
time units; :func:`suggest_tau` converts them to steps.

*Delay vectors.* :func:`delay_embed` maps a series with ``D`` columns to vectors

.. math:: y_t = (x_t,\; x_{t+\ell},\; \dots,\; x_{t+(m-1)\ell}) \in \mathbb{R}^{mD},

``m = dim`` delays of lag ``ell = lag``; for ``D > 1`` every column is delayed jointly (block ``k`` of ``D``
columns holds ``x_{t+k ell}``).  ``dim = 1`` is the measured state itself.

*Multivariate series.* :func:`max_lyapunov`, :func:`suggest_tau`, :func:`cao`, :func:`false_nearest_neighbors`
and :func:`estimate_dimension` treat a ``(T, D)`` series as **one joint state**: every column is z-scored, and
delay vectors stack all columns (so with ``dim = 1`` the exponent is that of the measured ``D``-dimensional state;
if it is a full state, Cao's method returns 1).  They never average per-column estimates.  :func:`estimate_delay`
is the exception: it computes one delay per column and returns the smallest.

*Randomness.* Neighbour queries are exact; the one random step, the block bootstrap of the interval of
:func:`max_lyapunov` (:mod:`~fastrnn.timeseries.resampling`), draws with a fixed seed, so every result is
deterministic.

Modules
-------
:mod:`~fastrnn.timeseries.embedding` (delay vectors, autocorrelation, mutual information, mean period, delay),
:mod:`~fastrnn.timeseries.dimension` (Cao, false nearest neighbours, dimension),
:mod:`~fastrnn.timeseries.neighbours` (exact neighbour search outside the Theiler window),
:mod:`~fastrnn.timeseries.divergence` (the divergence curve), :mod:`~fastrnn.timeseries.scaling` (line fit and
choice of the scaling region), :mod:`~fastrnn.timeseries.curves` (the curves of several dimensions and radii),
:mod:`~fastrnn.timeseries.quality` (per-curve fits, their consensus, :class:`NoScalingRegionError`,
:class:`LyapunovWarning`), :mod:`~fastrnn.timeseries.resampling` (block bootstrap of a curve over its reference
points), :mod:`~fastrnn.timeseries.exponent` (:func:`max_lyapunov`),
:mod:`~fastrnn.timeseries.figure` (:func:`plot_divergence`),
:mod:`~fastrnn.timeseries.tau` (predictability time and forcing interval).  Everything public is importable from
``fastrnn.timeseries``.

References
----------
Fraser & Swinney (1986), Phys. Rev. A 33, 1134 (mutual information delay).  Kennel, Brown & Abarbanel (1992),
Phys. Rev. A 45, 3403 (false nearest neighbours).  Cao (1997), Physica D 110, 43.  Rosenstein, Collins & De Luca
(1993), Physica D 65, 117.  Kantz (1994), Phys. Lett. A 185, 77.  Theiler (1986), Phys. Rev. A 34, 2427.
Künsch (1989), Ann. Statist. 17, 1217 (block bootstrap).  Efron & Tibshirani (1993), An Introduction to the
Bootstrap, ch. 13 (percentile intervals).
"""
from __future__ import annotations

from .dimension import cao, estimate_dimension, false_nearest_neighbors
from .divergence import noise_level
from .embedding import autocorrelation, delay_embed, estimate_delay, mean_period, mutual_information
from .exponent import LyapunovEstimate, finely_sampled, map_like, max_lyapunov, plot_divergence
from .quality import CurveFit, LyapunovWarning, NoScalingRegionError
from .tau import TauSuggestion, predictability_time, suggest_tau

__all__ = [
    "delay_embed",
    "autocorrelation",
    "mutual_information",
    "mean_period",
    "estimate_delay",
    "cao",
    "false_nearest_neighbors",
    "estimate_dimension",
    "LyapunovEstimate",
    "CurveFit",
    "LyapunovWarning",
    "NoScalingRegionError",
    "max_lyapunov",
    "finely_sampled",
    "map_like",
    "noise_level",
    "predictability_time",
    "TauSuggestion",
    "suggest_tau",
    "plot_divergence",
]
