"""The one registry of fastrnn's benchmark systems by name, and their standardised series for experiments.

:data:`SYSTEMS` maps each name to a :class:`SystemInfo` (generator, default dt, whether it returns external inputs);
the default dt is read from the generator's signature, so it has one home. :func:`system_series` gives the
z-scored orbit of a system by name, as the sweep and the command line use it.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .. import validation
from ..preprocessing import zscore
from .generators import duffing, henon, logistic, lorenz, mackey_glass, rossler
from .generators_flows import chen, chua_pwl, halvorsen, lorenz96, thomas
from .generators_maps import burgers, duffing_map, henon3, ikeda, lozi, tinkerbell

__all__ = ["SystemInfo", "SYSTEMS", "MAPS", "system_series"]


class SystemInfo(NamedTuple):
    """A benchmark system: indexing and unpacking give ``(generator, dt, has_inputs)``.

    Attributes
    ----------
    generator : callable
        The generator (e.g. :func:`fastrnn.systems.lorenz`).
    dt : float
        Default time units per sample (1 for the maps).
    has_inputs : bool
        Whether the generator returns ``(x, inputs)`` (the forced Duffing oscillator's drive) instead of ``x``.
    """

    generator: Callable
    dt: float
    has_inputs: bool


def _info(generator, has_inputs=False):
    return SystemInfo(generator, generator.__kwdefaults__.get("dt", 1.0), has_inputs)


#: benchmark systems by name: (generator, default dt in time units per sample, returns inputs)
SYSTEMS = {
    "lorenz": _info(lorenz),
    "rossler": _info(rossler),
    "duffing": _info(duffing, has_inputs=True),
    "mackey_glass": _info(mackey_glass),
    "henon": _info(henon),
    "logistic": _info(logistic),
    "chen": _info(chen),
    "chua_pwl": _info(chua_pwl),
    "thomas": _info(thomas),
    "halvorsen": _info(halvorsen),
    "lorenz96": _info(lorenz96),
    "ikeda": _info(ikeda),
    "tinkerbell": _info(tinkerbell),
    "lozi": _info(lozi),
    "burgers": _info(burgers),
    "duffing_map": _info(duffing_map),
    "henon3": _info(henon3),
}
#: the systems that are maps (one sample per iteration, no dt)
MAPS = ("henon", "logistic", "ikeda", "tinkerbell", "lozi", "burgers", "duffing_map", "henon3")


def system_series(name, n_steps, *, dt=None, rng=0):
    """A standardised orbit of a benchmark system.

    Parameters
    ----------
    name : str
        One of :data:`SYSTEMS`: the flows "lorenz", "rossler", "duffing", "mackey_glass", "chen", "chua_pwl",
        "thomas", "halvorsen", "lorenz96" (default N = 5) and the maps "henon", "logistic", "ikeda", "tinkerbell",
        "lozi", "burgers", "duffing_map", "henon3"; case and surrounding blanks are ignored.
    n_steps : int
        Number of samples.
    dt : float, optional
        Time units per sample (flows and Mackey-Glass); default the system's (Lorenz 0.01). Maps have dt = 1.
    rng : seed or Generator
        Initial condition.

    Returns
    -------
    x : ndarray (n_steps, N)
        Z-scored observations.
    inputs : ndarray (n_steps, K) or None
        External inputs (Duffing's drive), z-scored (a constant input is only centred); None for autonomous systems.
    dt : float
        Time units per sample.

    Raises
    ------
    ValueError
        For an unknown name or a dt that is not a positive finite number.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; choose one of {', '.join(SYSTEMS)} or pass a data file")
    gen, dt0, has_inputs = SYSTEMS[key]
    kwargs = {"standardize": True, "rng": rng}
    if key not in MAPS:
        kwargs["dt"] = dt0 if dt is None else validation.check_float(dt, "dt", minimum=0.0, strict_min=True)
    out = gen(n_steps, **kwargs)
    if has_inputs:
        x, s = out
        sd = s.std(axis=0)
        return x, zscore(s, std=np.where(sd > 0, sd, 1.0)), kwargs.get("dt", 1.0)
    return out, None, kwargs.get("dt", 1.0)
