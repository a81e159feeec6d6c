"""Training checkpoints: everything :func:`fastrnn.fit` needs to resume a run exactly.

A checkpoint is one ``.npz`` file (no pickling: it is read with ``allow_pickle=False``) holding

* the model's parameters (``param.<name>``), its kind, shapes and dtype;
* Adam's state (``adam.<key>``: step count and both moment estimates) and its current step size;
* the epoch last completed and the per-epoch history (loss, gradient norm, seconds; alpha of an adaptive
  schedule; with validation the validation epochs and scores, from which the best epoch and an early stop follow,
  and the best parameters, ``best.<name>``);
* the state of an adaptive forcing schedule (:meth:`fastrnn.forcing.Schedule.state_dict`);
* the state of the random generator's bit generator (window draws and jittered schedules continue from it);
* the training configuration the run was started with (window length, batch size, batches per epoch, number of
  epochs, forcing option), checked on resume.

It is written atomically: to a temporary file in the same directory, flushed to disk, then moved over the old
checkpoint with :func:`os.replace`, so an interrupted write never leaves a truncated checkpoint behind.

Use it through ``fit(..., checkpoint=path, checkpoint_every=k)``; :func:`load_checkpoint` reads one for inspection.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from .io import atomic_write, decode_tagged, encode_tagged

_FORMAT_VERSION = 1
# configuration entries that must match for an exact resume (n_epochs may grow: training is then extended)
_MUST_MATCH = ("seq_len", "batch_size", "batches_per_epoch", "forcing", "validate_every", "patience")


@dataclass
class Checkpoint:
    """Contents of a checkpoint file (see the module docstring).

    Attributes
    ----------
    epoch : int
        Index of the last completed epoch (0-based); training resumes at ``epoch + 1``.
    kind : str
        Model kind ("PLRNN", ...).
    shape : tuple of int
        (n_latent, n_obs, n_inputs).
    dtype : str
    params : dict of str -> ndarray
    optimizer : dict
        Adam's ``state_dict()`` plus ``"lr"``.
    history : dict of str -> list
        "loss", "grad_norm", "seconds" per epoch.
    rng_state : dict
        ``Generator.bit_generator.state`` after the last completed epoch.
    config : dict
        Training configuration the run was started with.
    schedule : dict
        The forcing schedule's :meth:`~fastrnn.forcing.Schedule.state_dict` (empty for a stateless one).
    best_params : dict of str -> ndarray
        With validation: the parameters of the best validation so far (empty otherwise).
    """

    epoch: int
    kind: str
    shape: tuple
    dtype: str
    params: dict
    optimizer: dict
    history: dict
    rng_state: dict
    config: dict
    schedule: dict = None
    best_params: dict = None


def save_checkpoint(path, *, model, optimizer, epoch, history, rng, config=None, schedule=None, best_params=None):
    """Write a checkpoint atomically.

    Parameters
    ----------
    path : str or path
        Destination ``.npz`` file (its directory must exist).
    model : fastrnn model
    optimizer : fastrnn.optim.Adam
        The optimiser updating ``model.params``.
    epoch : int
        Last completed epoch (0-based).
    history : fastrnn.training.History
    rng : numpy.random.Generator
        The generator driving the run; its bit generator state is stored.
    config : dict, optional
        JSON-able training configuration, compared on resume.
    schedule : fastrnn.forcing.Schedule, optional
        The forcing schedule; its ``state_dict()`` is stored (an adaptive schedule's alpha and step count).
    best_params : dict of str -> ndarray, optional
        The parameters of the best validation so far (``fit(validation=...)``).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    meta = {
        "format": _FORMAT_VERSION,
        "epoch": int(epoch),
        "kind": model.kind,
        "shape": [model.n_latent, model.n_obs, model.n_inputs],
        "dtype": model.dtype.name,
        "lr": float(optimizer.lr),
        "rng_state": encode_tagged(rng.bit_generator.state),
        "config": config or {},
        "schedule": {} if schedule is None else schedule.state_dict(),
    }
    arrays = {"__meta__": np.array(json.dumps(meta))}
    for name, value in model.params.items():
        arrays[f"param.{name}"] = value
    for key, value in optimizer.state_dict().items():
        arrays[f"adam.{key}"] = np.asarray(value)
    arrays["history.loss"] = np.asarray(history.loss, dtype=np.float64)
    arrays["history.grad_norm"] = np.asarray(history.grad_norm, dtype=np.float64)
    arrays["history.seconds"] = np.asarray(history.seconds, dtype=np.float64)
    for key in ("alpha", "val_epoch", "val_score"):
        if getattr(history, key, None):
            arrays[f"history.{key}"] = np.asarray(getattr(history, key), dtype=np.float64)
    for name, value in (best_params or {}).items():
        arrays[f"best.{name}"] = value
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (or by ``fit(..., checkpoint=path)``).

    Raises
    ------
    ValueError
        If the file is not a fastrnn checkpoint (the message names the file).
    """
    path = os.fspath(path)
    try:
        f = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable checkpoint ({exc}); delete it to start training afresh") from exc
    with f:
        if "__meta__" not in f.files:
            raise ValueError(f"{path} is not a fastrnn checkpoint (no metadata); delete it or pass another path")
        meta = json.loads(str(f["__meta__"]))
        if meta.get("format") != _FORMAT_VERSION:
            raise ValueError(f"{path} has checkpoint format {meta.get('format')}, this fastrnn reads "
                             f"{_FORMAT_VERSION}; delete it to start afresh")
        params = {k[len("param."):]: f[k] for k in f.files if k.startswith("param.")}
        opt = {k[len("adam."):]: f[k] for k in f.files if k.startswith("adam.")}
        opt["lr"] = meta["lr"]
        history = {k: f[f"history.{k}"].tolist()
                   for k in ("loss", "grad_norm", "seconds", "alpha", "val_epoch", "val_score")
                   if f"history.{k}" in f.files}
        if "val_epoch" in history:                   # a run with validation data
            history["val_epoch"] = [int(e) for e in history["val_epoch"]]
        best = {k[len("best."):]: f[k] for k in f.files if k.startswith("best.")}
    return Checkpoint(epoch=int(meta["epoch"]), kind=meta["kind"], shape=tuple(meta["shape"]), dtype=meta["dtype"],
                      params=params, optimizer=opt, history=history, rng_state=decode_tagged(meta["rng_state"]),
                      config=meta["config"], schedule=meta.get("schedule", {}), best_params=best)


def resume(path, model, optimizer, history, rng, config=None, schedule=None, best_params=None) -> int:
    """Restore a run from the checkpoint at ``path`` in place; return the first epoch still to do.

    The model's parameters are overwritten in place (so ``optimizer``, which holds the live arrays, keeps updating
    them), Adam's state and step size are restored, ``history`` is refilled and ``rng``'s bit generator is set to
    the stored state; an adaptive forcing ``schedule`` gets its stored state back, and a ``best_params`` dict is
    filled with the stored best validated parameters (none without validation).

    Raises
    ------
    ValueError
        If the checkpoint belongs to a different model (kind, shapes, dtype), a different random generator, or a
        run with a different window length, batch size, batches per epoch or forcing option.
    """
    ck = load_checkpoint(path)
    shape = (model.n_latent, model.n_obs, model.n_inputs)
    if ck.kind != model.kind or tuple(ck.shape) != shape or ck.dtype != model.dtype.name:
        raise ValueError(f"checkpoint {path} holds a {ck.kind} {tuple(ck.shape)} {ck.dtype}, but the model is a "
                         f"{model.kind} {shape} {model.dtype.name}; pass another checkpoint path or delete it")
    if set(ck.params) != set(model.params):
        raise ValueError(f"checkpoint {path} has parameters {sorted(ck.params)}, the model {sorted(model.params)}")
    for key in _MUST_MATCH:
        if config is not None and key in ck.config and ck.config[key] != config.get(key):
            raise ValueError(f"checkpoint {path} was written by a run with {key}={ck.config[key]!r}, this call has "
                             f"{key}={config.get(key)!r}; use the same settings to resume, or another checkpoint path")
    name = type(rng.bit_generator).__name__
    if ck.rng_state.get("bit_generator") != name:
        raise ValueError(f"checkpoint {path} stores a {ck.rng_state.get('bit_generator')} random state but rng uses "
                         f"{name}; pass rng=<int seed> or a Generator of the same kind")
    model.set_params(**ck.params)
    optimizer.load_state_dict({k: v for k, v in ck.optimizer.items() if k != "lr"})
    optimizer.lr = float(ck.optimizer["lr"])
    history.loss[:] = ck.history["loss"]
    history.grad_norm[:] = ck.history["grad_norm"]
    history.seconds[:] = ck.history["seconds"]
    for key in ("alpha", "val_epoch", "val_score"):
        if hasattr(history, key):
            getattr(history, key)[:] = ck.history.get(key, [])
    if best_params is not None:
        best_params.update(ck.best_params or {})
    if schedule is not None and ck.schedule:
        schedule.load_state_dict(ck.schedule)
    rng.bit_generator.state = ck.rng_state
    return ck.epoch + 1
