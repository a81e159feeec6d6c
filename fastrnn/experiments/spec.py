"""Run specs: the JSON-able description of one training run, its defaults, its id, and the data it trains on.

A *spec* names the data (a benchmark system of :mod:`fastrnn.systems` or the label of an array), the model kind and
size, the forcing option (:func:`fastrnn.forcing.parse_forcing`) or a baseline, the seed, and the training and
evaluation budget. The run id is derived from the spec (a hash of all its fields but ``threads``), so a result file
always belongs to exactly one configuration.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import numpy as np

from .. import forcing, validation
from ..models import model_kind
from ..systems import MAPS, SYSTEMS, system_series

__all__ = ["BASELINES", "DEFAULT_SETTINGS", "SPEC_VERSION", "BaselineRegistry", "fit_arguments", "make_spec",
           "parse_baseline", "run_id", "split_series"]

#: version of the spec format (part of every spec, hence of every run id)
SPEC_VERSION = 1

# the baselines without forcing: name -> (fixed fit arguments, the fit argument set by the parameter after a colon
# or None, its default (None: the parameter is required), its type)
_BASELINE_KINDS = {
    "clipping": ({"clip": 1.0, "initial_state": "control"}, "clip", 1.0, float),
    "value_clipping": ({"initial_state": "control"}, "clip_value", 1.0, float),
    "windowing": ({"clip": 1.0, "initial_state": "zero"}, None, None, None),
    "truncated": ({"clip": 1.0, "initial_state": "control"}, "truncate", None, int),
}
_BASELINE_FORMS = "'clipping[:THRESHOLD]', 'value_clipping[:THRESHOLD]', 'windowing' or 'truncated:STEPS'"


def _baseline_parts(name):
    """(kind, parameter or None) of a baseline name; ValueError, saying the accepted forms, if malformed."""
    if not isinstance(name, str):
        raise ValueError(f"a baseline is a string ({_BASELINE_FORMS}), got {name!r}")
    kind, _, arg = name.strip().lower().partition(":")
    if kind not in _BASELINE_KINDS:
        raise ValueError(f"unknown baseline {name!r}; choose one of {_BASELINE_FORMS}")
    _, key, default, typ = _BASELINE_KINDS[kind]
    if not arg:
        if key is not None and default is None:
            raise ValueError(f"baseline {kind!r} needs its cut interval in steps after a colon, e.g. '{kind}:50'")
        return kind, None
    if key is None:
        raise ValueError(f"baseline {kind!r} takes no parameter, got {name!r}")
    try:
        value = typ(arg) if typ is float else int(arg)
    except ValueError:
        raise ValueError(f"invalid baseline {name!r}: {arg!r} is not a {'number' if typ is float else 'whole number'}"
                         f"; use {_BASELINE_FORMS}") from None
    if typ is int:
        validation.check_int(value, key, minimum=1)
    else:
        validation.check_float(value, key, minimum=0.0, strict_min=True)
    return kind, (None if value == default else value)


def parse_baseline(name) -> str:
    """The canonical name of a baseline: ``"clipping"``, ``"clipping:10"``, ``"value_clipping:100"``,
    ``"windowing"``, ``"truncated:50"`` (a parameter equal to its default is dropped: ``"clipping:1"`` is
    ``"clipping"``). See :data:`BASELINES`.

    Raises
    ------
    ValueError
        For an unknown or malformed baseline; the message lists the accepted forms.
    """
    kind, value = _baseline_parts(name)
    return kind if value is None else f"{kind}:{value:g}"


class BaselineRegistry(Mapping):
    """The baselines without forcing by name, each mapped to its extra :func:`fastrnn.fit` arguments.

    Iterating gives the kinds; a name may carry its parameter after a colon (:func:`parse_baseline`):

    ==========================  ===================================================================================
    ``"clipping[:THR]"``        gradient-norm clipping at THR (default 1: the paper's baseline)
    ``"value_clipping[:THR]"``  element-wise gradient-value clipping at THR (default 1; ``clip_value`` of ``fit``)
    ``"windowing"``             every window starts from a zero state; norm clipping at 1
    ``"truncated:STEPS"``       truncated BPTT: the model keeps its own state over the window, the gradient is cut
                                every STEPS steps (``truncate`` of ``fit``); norm clipping at 1
    ==========================  ===================================================================================
    """

    def __getitem__(self, name):
        try:
            kind, value = _baseline_parts(name)
        except ValueError as exc:
            raise KeyError(str(exc)) from None
        fixed, key, default, _ = _BASELINE_KINDS[kind]
        out = dict(fixed)
        if key is not None:
            out[key] = default if value is None else value
        return out

    def __iter__(self):
        return iter(_BASELINE_KINDS)

    def __len__(self):
        return len(_BASELINE_KINDS)


#: baselines without forcing: name -> extra :func:`fastrnn.fit` arguments (see :class:`BaselineRegistry`).
#: ``BASELINES["clipping"]`` and ``BASELINES["windowing"]`` are those of earlier versions, so their run ids stand.
BASELINES = BaselineRegistry()

#: default training and evaluation settings of a run (all can be overridden)
DEFAULT_SETTINGS = {
    "n_latent": 32,          # latent units M
    "seq_len": 200,          # window length T (steps)
    "batch_size": 16,
    "batches_per_epoch": 50,
    "n_epochs": 20,
    "lr": 1e-3,              # Adam step size at the start
    "lr_end": None,          # if set: decays geometrically to this value over training
    "clip": None,            # gradient-norm clipping for forced runs (None: none, as in the paper)
    "n_steps": 30000,        # samples generated from a system (train + test)
    "n_test": 10000,         # last samples held out for evaluation
    "data_seed": 0,          # initial condition of the system's orbit
    "data_scale": 1.0,       # factor applied to the (standardised) data, e.g. to fit bounded models' ranges
    "eval_transient": 1000,  # free-running steps discarded before the measures and the spectrum
    "eval_starts": 8,        # free runs, from observations spread over the test data, whose median D_stsp and D_H
                             # are reported (a trained RNN can have attractors that only some initial states reach)
    "n_gen": None,           # free-running steps compared with the test data (default: n_test)
    "lyapunov_steps": 10000,  # steps averaged for the model's spectrum (0: skip)
    "threads": 1,            # Numba threads per run
    "select": False,         # keep the parameters whose free runs from 16 starts best match the training data
                             # (worst D_stsp), checked at every checkpoint (10 per run), instead of the last ones
    "dtype": "float64",      # model precision; "float32" trains the tanh RNN, LSTM and GRU 2-4x faster (their float32
                             # kernels evaluate tanh and the sigmoid without a libm call)
}


def make_spec(*, data="lorenz", model="PLRNN", forcing_option=None, baseline=None, seed=0, dt=None, **settings):
    """Build a run spec (JSON-able dict) from defaults (:data:`DEFAULT_SETTINGS`) and overrides.

    Parameters
    ----------
    data : str
        A system name (:data:`fastrnn.systems.SYSTEMS`) or a label of an array passed to
        :func:`fastrnn.experiments.execute_run` / :func:`fastrnn.experiments.run_sweep`.
    model : str
        Model name (case-insensitive; see :func:`fastrnn.models.model_kind`).
    forcing_option : int, str or dict
        Forcing option (see :func:`fastrnn.forcing.parse_forcing`); ignored (set to no forcing) for a baseline.
    baseline : str, optional
        A baseline without forcing (:data:`BASELINES`): "clipping[:THR]", "value_clipping[:THR]", "windowing" or
        "truncated:STEPS"; stored in its canonical form (:func:`parse_baseline`).
    seed : int
        Seed of the model's initialisation and of the window draws.
    dt : float, optional
        Sampling interval in time units per sample (default: the system's, or 1 for an array).
    **settings
        Overrides of :data:`DEFAULT_SETTINGS`.

    Returns
    -------
    dict
    """
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(DEFAULT_SETTINGS)}")
    if baseline is not None:
        baseline = parse_baseline(baseline)
    spec = dict(DEFAULT_SETTINGS)
    spec.update(settings)
    if isinstance(data, str) and data.strip().lower() in SYSTEMS:
        data = data.strip().lower()
        if dt is None:
            dt = 1.0 if data in MAPS else SYSTEMS[data][1]
    spec.update({
        "version": SPEC_VERSION,
        "data": str(data),
        "dt": 1.0 if dt is None else validation.check_float(dt, "dt", minimum=0.0, strict_min=True),
        "model": model_kind(model),
        "forcing": forcing.parse_forcing("none" if baseline is not None else forcing_option),
        "baseline": baseline,
        "seed": validation.check_int(seed, "seed", minimum=0),
    })
    for key in ("n_latent", "seq_len", "batch_size", "batches_per_epoch", "n_epochs", "n_steps", "n_test",
                "eval_starts"):
        validation.check_int(spec[key], key, minimum=1)
    try:
        spec["dtype"] = validation.check_dtype(spec["dtype"]).name
    except TypeError as exc:
        raise ValueError(f"dtype: {exc}") from None
    validation.check_float(spec["lr"], "lr", minimum=0.0, strict_min=True)
    return spec


def run_id(spec) -> str:
    """File-name-safe id of a run: model, forcing, seed and a hash of the whole spec (``threads`` excluded: it does
    not change results)."""
    payload = {k: v for k, v in spec.items() if k != "threads"}
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
    label = spec["baseline"] or f"tau{forcing.forcing_label(spec['forcing'])}"
    label = "".join(c if c.isalnum() or c in "-." else "-" for c in label)
    return f"{spec['model']}_{label}_s{spec['seed']}_{digest}"


def fit_arguments(spec) -> dict:
    """The forcing, baseline and clipping arguments of :func:`fastrnn.fit` for a spec."""
    kwargs = dict(forcing.fit_kwargs(spec["forcing"], spec["seq_len"]))
    if spec["baseline"] is not None:
        kwargs.update(BASELINES[spec["baseline"]])
    elif spec.get("clip") is not None:
        kwargs["clip"] = spec["clip"]
    return kwargs


def split_series(spec, data=None, inputs=None):
    """The run's series split into training and test parts: (x_train, x_test, s_train, s_test).

    The series is the spec's system (``n_steps`` samples from ``data_seed``, standardised) or the given ``data``
    (and ``inputs``), scaled by ``data_scale``; the last ``n_test`` samples are the test part. The inputs are None
    for autonomous data.
    """
    if data is None:
        x, s, _ = system_series(spec["data"], spec["n_steps"], dt=spec["dt"], rng=spec["data_seed"])
    else:
        x, s = np.asarray(data, dtype=np.float64), (None if inputs is None else np.asarray(inputs, np.float64))
    scale = spec.get("data_scale", 1.0)
    if scale != 1.0:
        x = x * scale
    n_test = spec["n_test"]
    if n_test >= x.shape[0] - spec["seq_len"]:
        raise ValueError(f"n_test={n_test} leaves fewer than seq_len={spec['seq_len']} training samples of "
                         f"{x.shape[0]}; lower n_test or seq_len, or pass more data")
    split = x.shape[0] - n_test
    return x[:split], x[split:], (None if s is None else s[:split]), (None if s is None else s[split:])
