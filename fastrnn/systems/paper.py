"""The systems of the sparse-forcing paper (Mikhaeil, Monfared & Durstewitz 2022) with its parameters, sampling
intervals, observed columns and scaling, as named settings: :data:`PAPER_SYSTEMS` and :func:`paper_series`; and the
benchmark settings of the generalised-teacher-forcing paper (Hess et al. 2023; noisy training series, clean test
series, training defaults): :data:`GTF_BENCHMARKS` and :func:`gtf_benchmark`.

The orbits come from the generators of :mod:`fastrnn.systems` with the paper's parameters; only the choice of
columns and the scaling are added here.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import validation
from ..preprocessing import zscore
from .generators import duffing, lorenz, mackey_glass, rossler

__all__ = ["GTF_BENCHMARKS", "GTF_TRAINING", "GTFBenchmark", "PAPER_SYSTEMS", "PaperSeries", "PaperSystem",
           "gtf_benchmark", "paper_series"]


class PaperSystem(NamedTuple):
    """One of the paper's data sets.

    Attributes
    ----------
    generator : callable
        The :mod:`fastrnn.systems` generator of the orbit.
    params : dict
        Its keyword arguments (the system's parameters and ``dt``, time units per sample).
    columns : tuple of int
        The observed columns of the generator's state (the Duffing drive, where observed, is appended after them).
    drive : {None, "observed", "input"}
        For the forced Duffing oscillator: the drive as an extra observed column (as the paper did) or as an
        external input (as a forced system should be modelled); None for autonomous systems.
    scaling : {"global", "columns"}
        "global": one z-score over all entries of the observed array jointly (one mean, one standard deviation);
        "columns": each column z-scored on its own.
    description : str
        The setting in words, with its source.
    """

    generator: object
    params: dict
    columns: tuple
    drive: object
    scaling: str
    description: str


_LORENZ = {"sigma": 10.0, "rho": 38.0, "beta": 8.0 / 3.0, "dt": 0.01}
_DUFFING = {"delta": 0.1, "alpha": -1.0, "beta": 1.0, "gamma": 0.35, "omega": 1.4, "dt": 0.1773}

#: The paper's data sets by name. Each gives 10^5 samples by default (:func:`paper_series`).
PAPER_SYSTEMS = {
    "lorenz": PaperSystem(
        lorenz, _LORENZ, (0, 1, 2), None, "global",
        "Lorenz (1963) with sigma = 10, rho = 38 (sic: the paper's value, not the usual 28), beta = 8/3, dt = 0.01 "
        "time units per sample, observed in (x, y, z), scaled by one z-score over all entries (the published data "
        "file's scaling)"),
    "lorenz2d": PaperSystem(
        lorenz, _LORENZ, (1, 2), None, "global",
        "the paper's Lorenz series (sigma = 10, rho = 38, beta = 8/3, dt = 0.01) observed in (y, z) only; one "
        "z-score over all entries of the (y, z) array"),
    "rossler": PaperSystem(
        rossler, {"a": 0.15, "b": 0.2, "c": 10.0, "dt": 0.1}, (0, 1, 2), None, "columns",
        "Rossler (1976) with a = 0.15, b = 0.2, c = 10, dt = 0.1 (Rosenstein, Collins & De Luca 1993, Table 1: "
        "lambda_max = 0.090 per time unit), each column z-scored"),
    "duffing": PaperSystem(
        duffing, _DUFFING, (0, 1), "observed", "columns",
        "double-well Duffing oscillator x'' + 0.1 x' - x + x^3 = 0.35 cos(1.4 t), dt = 0.1773, observed in "
        "(x, x', drive) with the drive 0.35 cos(1.4 t) as a third observed column (as the paper did); each column "
        "z-scored"),
    "duffing_input": PaperSystem(
        duffing, _DUFFING, (0, 1), "input", "columns",
        "the paper's Duffing oscillator (x'' + 0.1 x' - x + x^3 = 0.35 cos(1.4 t), dt = 0.1773) observed in "
        "(x, x') with the drive as an external input (as a forced system should be modelled); columns and the "
        "drive each z-scored"),
    "mackey_glass": PaperSystem(
        mackey_glass, {"beta": 0.2, "gamma": 0.1, "n": 10.0, "tau": 17.0, "dt": 1.0}, (0,), None, "columns",
        "Mackey-Glass (1977) with the classic chaotic parameters beta = 0.2, gamma = 0.1, n = 10, delay 17, "
        "dt = 1 (fastrnn's defaults; the issue does not restate the paper's), z-scored"),
}


class PaperSeries(NamedTuple):
    """A paper data set: the scaled observations, the inputs, the sampling interval and how they were scaled.

    Attributes
    ----------
    x : ndarray (n_steps, N)
        The observations, scaled.
    inputs : ndarray (n_steps, K) or None
        External inputs (the Duffing drive with ``drive="input"``), z-scored; None otherwise.
    dt : float
        Time units per sample.
    scaling : dict
        ``{"kind": "global" | "columns", "mean": ..., "std": ...}``: x = (raw - mean) / std with a scalar
        mean and std ("global") or one per column; plus ``"input_mean"``, ``"input_std"`` with inputs.
    description : str
        :attr:`PaperSystem.description`.
    """

    x: np.ndarray
    inputs: object
    dt: float
    scaling: dict
    description: str


def paper_series(name, n_steps=100000, *, rng=0):
    """The series of one of the paper's data sets (:data:`PAPER_SYSTEMS`).

    Parameters
    ----------
    name : str
        "lorenz", "lorenz2d", "rossler", "duffing" (drive observed), "duffing_input" (drive as input) or
        "mackey_glass"; case and surrounding blanks are ignored.
    n_steps : int
        Number of samples (the paper: 10^5).
    rng : seed or Generator
        Initial condition of the orbit (drawn at random around the attractor, then a transient is discarded; see
        :mod:`fastrnn.systems`).

    Returns
    -------
    PaperSeries
        ``(x, inputs, dt, scaling, description)``.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in PAPER_SYSTEMS:
        raise ValueError(f"unknown paper system {name!r}; choose one of {', '.join(PAPER_SYSTEMS)}")
    n_steps = validation.check_int(n_steps, "n_steps", minimum=2)
    setting = PAPER_SYSTEMS[key]
    out = setting.generator(n_steps, rng=rng, **setting.params)
    raw, drive = out if setting.drive is not None else (out, None)
    raw = raw[:, list(setting.columns)]
    if setting.drive == "observed":
        raw = np.concatenate([raw, drive], axis=1)
    if setting.scaling == "global":
        x, mean, std = zscore(raw, mean=raw.mean(), std=raw.std(), return_stats=True)
        scaling = {"kind": "global", "mean": float(mean), "std": float(std)}
    else:
        x, mean, std = zscore(raw, return_stats=True)
        scaling = {"kind": "columns", "mean": mean.tolist(), "std": std.tolist()}
    inputs = None
    if setting.drive == "input":
        inputs, imean, istd = zscore(drive, return_stats=True)
        scaling.update(input_mean=imean.tolist(), input_std=istd.tolist())
    return PaperSeries(x, inputs, float(setting.params["dt"]), scaling, setting.description)


# ------------------------------------------------------------------ the generalised-teacher-forcing benchmark
class GTFBenchmark(NamedTuple):
    """A benchmark setting of Hess et al. (ICML 2023, generalised teacher forcing): a noisy training series, a clean
    test series, both standardised with the training statistics, and the paper's training defaults.

    Attributes
    ----------
    train : ndarray (n_train, N)
        The training series, with Gaussian observation noise, z-scored per column with its own statistics.
    test : ndarray (n_test, N)
        The clean test series (the orbit's continuation), z-scored with the training statistics.
    dt : float
        Time units per sample.
    scaling : dict
        ``{"kind": "columns", "mean": [...], "std": [...]}``: series = (raw - mean) / std with the training
        statistics.
    training : dict
        The paper's training defaults as :func:`fastrnn.fit` arguments: ``batch_size``, ``seq_len`` (window length
        in steps), ``batches_per_epoch``.
    description : str
    """

    train: np.ndarray
    test: np.ndarray
    dt: float
    scaling: dict
    training: dict
    description: str


#: The settings of :func:`gtf_benchmark` by name: generator, its parameters and the observation noise (a share of
#: each clean training column's standard deviation).
GTF_BENCHMARKS = {
    "lorenz63": (lorenz, {"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0, "dt": 0.01}, 0.05,
                 "Lorenz-63 with sigma = 10, rho = 28, beta = 8/3, dt = 0.01 time units per sample, observed in "
                 "(x, y, z); training series with 5 % Gaussian observation noise (std 0.05 of each clean column's), "
                 "clean test series continuing the same orbit; both z-scored per column with the training "
                 "statistics (Hess et al. 2023)"),
}
#: Their training defaults: batches of 16 windows of 200 steps, 50 batches per epoch.
GTF_TRAINING = {"batch_size": 16, "seq_len": 200, "batches_per_epoch": 50}


def gtf_benchmark(name="lorenz63", n_train=100000, n_test=100000, *, noise=None, rng=0):
    """The series of a generalised-teacher-forcing benchmark setting (:data:`GTF_BENCHMARKS`).

    One orbit of ``n_train + n_test`` samples is drawn (a transient discarded, see :mod:`fastrnn.systems`): the
    first ``n_train`` samples get Gaussian observation noise of ``noise`` times each column's standard deviation
    and are the training series, the rest (clean) is the test series; both are z-scored with the noisy training
    series' per-column mean and standard deviation.

    Parameters
    ----------
    name : str
        "lorenz63".
    n_train, n_test : int
        Samples of the training and the test series (the paper: 10^5 each).
    noise : float, optional
        Observation noise relative to each column's standard deviation (default: the setting's, 0.05).
    rng : seed or Generator
        Initial condition of the orbit and the noise.

    Returns
    -------
    GTFBenchmark
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in GTF_BENCHMARKS:
        raise ValueError(f"unknown GTF benchmark {name!r}; choose one of {', '.join(GTF_BENCHMARKS)}")
    n_train = validation.check_int(n_train, "n_train", minimum=2)
    n_test = validation.check_int(n_test, "n_test", minimum=2)
    generator, params, default_noise, description = GTF_BENCHMARKS[key]
    noise = default_noise if noise is None else validation.check_float(noise, "noise", minimum=0.0)
    rng = validation.check_rng(rng)
    raw = generator(n_train + n_test, rng=rng, **params)
    train = raw[:n_train] + rng.standard_normal((n_train, raw.shape[1])) * (noise * raw[:n_train].std(axis=0))
    x_train, mean, std = zscore(train, return_stats=True)
    x_test = zscore(raw[n_train:], mean=mean, std=std)
    return GTFBenchmark(x_train, x_test, float(params["dt"]), {"kind": "columns", "mean": mean.tolist(),
                                                               "std": std.tolist()},
                        dict(GTF_TRAINING), description)
