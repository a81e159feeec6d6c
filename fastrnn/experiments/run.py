"""One training run as a self-contained job: its files, its execution (train, select, evaluate, write) and its
result.

:func:`execute_run` trains the model of a spec, evaluates it on held-out data
(:func:`fastrnn.experiments.evaluate_model`) and writes ``runs/<run_id>.json`` and ``runs/<run_id>.npz`` (the trained
model) atomically. While training it writes a checkpoint every ~10 % of its epochs, so an interrupted run (a killed
worker) resumes with exactly the outcome of an uninterrupted one.
"""
from __future__ import annotations

import os
import socket
import sys
import time

import numpy as np

from .. import validation
from ..model_selection import hold_out
from ..io import read_json, temp_files, write_json
from ..models import model_class
from ..optim import Adam
from ..training import TrainingDivergedError, fit
from .evaluation import evaluate_model
from .selection import Selection
from .spec import fit_arguments, run_id, split_series

__all__ = ["execute_run", "keep_heap_memory", "load_result", "run_paths", "validation_part"]


def run_paths(out_dir, rid) -> dict:
    """The files of run ``rid`` in ``out_dir/runs/``: ``result`` (.json), ``model`` (.npz), ``checkpoint``,
    ``progress`` (epochs done, for progress bars), ``selection`` (best parameters so far), and ``dir``."""
    runs = os.path.join(os.fspath(out_dir), "runs")
    return {
        "dir": runs,
        "result": os.path.join(runs, rid + ".json"),
        "model": os.path.join(runs, rid + ".npz"),
        "checkpoint": os.path.join(runs, rid + ".ckpt.npz"),
        "progress": os.path.join(runs, rid + ".progress"),
        "selection": os.path.join(runs, rid + ".best.npz"),
    }


def load_result(out_dir, spec):
    """The finished result of ``spec`` in ``out_dir`` (a dict), or None if it has not finished."""
    path = run_paths(out_dir, run_id(spec))["result"]
    try:
        res = read_json(path)
    except (OSError, ValueError):
        return None
    return res if res.get("run_id") == run_id(spec) else None


def keep_heap_memory():
    """Ask glibc's malloc to serve large blocks from the heap and keep freed memory (Linux only; a no-op elsewhere).

    Training allocates the forward and backward arrays of every batch afresh (megabytes each); with glibc's default
    (and Dask's MALLOC_TRIM_THRESHOLD_=65536) every such block is a fresh mmap whose pages fault in again, which
    costs up to a third of a training run's time as system time. Keeping them in the heap removes that cost.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 512 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


def validation_part(spec, x_train, s_train):
    """(x_fit, s_fit, reference) of a run's model selection: with ``spec["select"]`` a fraction f in (0, 1), the
    last f of the training part is held out as the selection's reference (autonomous data; each part keeps at least a
    window); with ``True`` the whole training part trains and is the reference (None)."""
    sel = spec.get("select")
    if sel is True or s_train is not None:
        return x_train, s_train, None
    fraction = validation.check_float(sel, "select", minimum=0.0, strict_min=True)
    x_fit, x_val, _, _ = hold_out(x_train, None, fraction, min_length=spec["seq_len"] + 1)
    return x_fit, None, x_val


def execute_run(spec, out_dir, data=None, inputs=None):
    """Train and evaluate one run; write its result and model atomically; return the result dict.

    If the result file already exists the run is not repeated (its result is returned). While training, the run
    writes a checkpoint every ~10 % of its epochs; if it is interrupted (e.g. its worker is killed), executing it
    again resumes from there with exactly the same outcome.

    Parameters
    ----------
    spec : dict
        From :func:`fastrnn.experiments.make_spec`.
    out_dir : str or path
        Sweep directory; files go to ``out_dir/runs/`` (:func:`run_paths`).
    data, inputs : ndarray, optional
        The series (T, N) (and inputs (T, K)) when ``spec["data"]`` is not a system name. The last
        ``spec["n_test"]`` samples are held out for evaluation.

    Returns
    -------
    dict
        ``run_id``, ``spec``, ``train`` (per-epoch loss, seconds, an ``error`` if training diverged),
        ``metrics`` (see :func:`fastrnn.experiments.evaluate_model`), ``host``, ``seconds``.
    """
    rid = run_id(spec)
    paths = run_paths(out_dir, rid)
    os.makedirs(paths["dir"], exist_ok=True)
    done = load_result(out_dir, spec)
    if done is not None:
        # a worker killed between writing the result and cleaning up leaves the checkpoint behind
        _remove_leftovers(paths)
        return done
    t0 = time.perf_counter()
    keep_heap_memory()
    threads = spec.get("threads")
    if threads:
        import numba
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    x_train, x_test, s_train, s_test = split_series(spec, data, inputs)
    K = 0 if s_train is None else s_train.shape[1]
    model = model_class(spec["model"])(spec["n_latent"], x_train.shape[1], K, dtype=spec.get("dtype", "float64"),
                                       rng=spec["seed"])
    opt = Adam(model.params, lr=spec["lr"])
    n_epochs = spec["n_epochs"]
    lr0, lr_end = spec["lr"], spec.get("lr_end")
    every = max(1, n_epochs // 10)
    select, n_validation = None, 0
    if spec.get("select"):
        x_train, s_train, reference = validation_part(spec, x_train, s_train)
        n_validation = 0 if reference is None else int(reference.shape[0])
        select = Selection(paths["selection"], x_train, s_train, spec["n_test"], spec["eval_transient"],
                           reference=reference)

    def on_epoch(epoch, history, live_model):
        if select is not None and ((epoch + 1) % every == 0 or epoch + 1 == n_epochs):
            select(epoch, live_model)
        if lr_end is not None:
            opt.lr = lr0 * (lr_end / lr0) ** ((epoch + 1) / max(n_epochs - 1, 1))
        try:
            with open(paths["progress"], "w") as fh:
                fh.write(f"{epoch + 1} {n_epochs}\n")
        except OSError:
            pass
        return False

    train = {}
    try:
        hist = fit(model, x_train, inputs=s_train, seq_len=spec["seq_len"], batch_size=spec["batch_size"],
                   batches_per_epoch=spec["batches_per_epoch"], n_epochs=n_epochs, lr=lr0, rng=spec["seed"],
                   progress=False, optimizer=opt, callback=on_epoch, checkpoint=paths["checkpoint"],
                   checkpoint_every=every, **fit_arguments(spec))
    except TrainingDivergedError as exc:
        train["error"] = str(exc)
        hist = None
    if hist is not None:
        train.update(loss=hist.loss, grad_norm=hist.grad_norm, seconds=float(np.sum(hist.seconds)))
        if hist.alpha:                                   # an adaptive forcing schedule's alpha per epoch
            train["alpha"] = hist.alpha
    if select is not None and select.params is not None:
        model.set_params(**select.params)
        train.update(selected_epoch=select.epoch, selection_D_stsp=select.best)
    if n_validation:
        train["n_validation"] = n_validation
    result = {
        "run_id": rid,
        "spec": spec,
        "train": train,
        "metrics": evaluate_model(model, x_test, dt=spec["dt"], inputs=s_test, transient=spec["eval_transient"],
                                  n_gen=spec["n_gen"], lyapunov_steps=spec["lyapunov_steps"], rng=spec["seed"],
                                  n_starts=spec["eval_starts"]),
        "host": f"{socket.gethostname()}:{os.getpid()}",
        "seconds": time.perf_counter() - t0,
    }
    model.save(paths["model"])
    write_json(paths["result"], result)
    _remove_leftovers(paths)
    return result


def _remove_leftovers(paths):
    """Remove a finished run's checkpoint, progress and selection files, and temp files orphaned by a worker killed
    in the middle of an atomic write."""
    orphans = [p for key in ("result", "model", "checkpoint", "selection") for p in temp_files(paths[key])]
    for p in (paths["checkpoint"], paths["progress"], paths["selection"], *orphans):
        try:
            os.unlink(p)
        except OSError:
            pass
