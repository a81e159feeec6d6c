"""Training one model on a series, as ``fastrnn train`` does, and the trained model's files: the model (.npz) and a
JSON side file with what the model was trained on (data label, dt, scaling, forcing, history)."""
from __future__ import annotations

import os

from .. import forcing
from ..io import read_json, write_json
from ..models import load, model_class
from ..optim import Adam
from ..training import fit
from .run import keep_heap_memory
from .spec import BASELINES

__all__ = ["load_trained", "metadata_path", "save_trained", "train_model"]


def train_model(x, inputs=None, *, model="PLRNN", n_latent=32, forcing_option=None, baseline=None, clip=None,
                clip_value=None, observation="learned", seq_len=200, batch_size=16, batches_per_epoch=50,
                n_epochs=20, lr=1e-3, lr_end=None, dtype="float64", seed=0, progress=True, checkpoint=None,
                checkpoint_every=1, validation=None, validation_inputs=None, selection="loss", validate_every=1,
                patience=None):
    """Build a model and train it on ``x`` by sparsely forced BPTT with Adam.

    Parameters
    ----------
    x : ndarray (T, N) or list of them
        The series, or several (e.g. the finite segments of a series with gaps), trained on together.
    inputs : ndarray (T, K) or list of them, optional
    model : str
        Model name (:func:`fastrnn.models.model_kind`).
    n_latent : int
    forcing_option : int, str or dict
        Forcing option (:func:`fastrnn.forcing.parse_forcing`); ignored for a baseline.
    baseline : {None, "clipping", "windowing"}
    clip : float, optional
        Gradient-norm clipping threshold (overrides a baseline's).
    clip_value : float, optional
        Element-wise gradient clipping threshold (overrides a baseline's; see :func:`fastrnn.fit`).
    observation : {"learned", "identity"}
        The model's observation of its latent state (:class:`fastrnn.models.base.RNNModel`): a trained B, or
        x = z[:N] with forcing of the first N units (generalised teacher forcing's setting).
    seq_len, batch_size, batches_per_epoch, n_epochs, lr : training budget (see :func:`fastrnn.fit`)
    lr_end : float, optional
        Decay the step size geometrically from ``lr`` to this value over training.
    dtype : str
    seed : int
        Seed of the initialisation and the window draws.
    progress : bool
    checkpoint, checkpoint_every :
        As in :func:`fastrnn.fit` (resume exactly from the checkpoint file).
    validation, validation_inputs, selection, validate_every, patience :
        Held-out series, the selection measure and early stopping, as in :func:`fastrnn.fit` (the model ends on
        its best validated parameters).

    Returns
    -------
    model, history, option
        The trained model, its :class:`fastrnn.History` and the canonical forcing option used.
    """
    keep_heap_memory()
    option = forcing.parse_forcing("none" if baseline else forcing_option)
    first = x[0] if isinstance(x, (list, tuple)) else x
    first_s = None if inputs is None else (inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
    net = model_class(model)(n_latent, first.shape[1], 0 if first_s is None else first_s.shape[1], dtype=dtype,
                             rng=seed, observation=observation)
    opt = Adam(net.params, lr=lr)
    kwargs = forcing.fit_kwargs(option, seq_len)
    if baseline:
        kwargs.update(BASELINES[baseline])
    if clip is not None:
        kwargs["clip"] = clip
    if clip_value is not None:
        kwargs["clip_value"] = clip_value

    def decay(epoch, history, _model):
        if lr_end is not None:
            opt.lr = lr * (lr_end / lr) ** ((epoch + 1) / max(n_epochs - 1, 1))
        return False

    hist = fit(net, x, inputs=inputs, seq_len=seq_len, batch_size=batch_size, batches_per_epoch=batches_per_epoch,
               n_epochs=n_epochs, lr=lr, rng=seed, progress=progress, optimizer=opt, callback=decay,
               checkpoint=checkpoint, checkpoint_every=checkpoint_every, validation=validation,
               validation_inputs=validation_inputs, selection=selection, validate_every=validate_every,
               patience=patience, **kwargs)
    return net, hist, option


def metadata_path(model_path) -> str:
    """The JSON side file of a model file (``m.npz`` -> ``m.json``)."""
    return os.path.splitext(os.fspath(model_path))[0] + ".json"


def save_trained(model, path, meta):
    """Write ``model`` to ``path`` and ``meta`` to its side file (:func:`metadata_path`), both atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    model.save(path)
    write_json(metadata_path(path), meta)


def load_trained(path):
    """A model file and its metadata (an empty dict if it has no side file).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is not a fastrnn model file.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {path!r} not found; train one with `fastrnn train ... --out {path}`")
    try:
        model = load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path!r} is not a fastrnn model file ({str(exc).splitlines()[0]}); models are saved "
                         f"by `fastrnn train --out model.npz` or model.save(path)") from None
    meta_file = metadata_path(path)
    return model, (read_json(meta_file) if os.path.exists(meta_file) else {})
