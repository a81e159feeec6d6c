"""The Dask layer: where runs execute. An existing ``distributed.Client``, the address of a running scheduler, or
(by default) a local cluster started for the call and closed after it.

Dask is an optional dependency (the ``sweep`` extra: ``pip install 'fastrnn[sweep]'``); it is imported only when runs
are executed, never by ``import fastrnn``.
"""
from __future__ import annotations

import logging
import os
import socket
import time

import numpy as np

from .run import execute_run, load_result, run_paths
from .spec import run_id

__all__ = ["DaskMissingError", "open_client", "require_distributed", "run_specs"]

#: measured cost of one update relative to the PLRNN's at the same size (orders runs longest first)
_UPDATE_COST = {"LSTM": 5.5, "GRU": 5.5, "TanhRNN": 0.8}


class DaskMissingError(ImportError):
    """Dask's ``distributed`` package, needed to execute runs, is not installed."""


def require_distributed():
    """Import and return ``distributed``, or raise :class:`DaskMissingError` saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise DaskMissingError(
            f"running sweeps and the demo needs Dask's distributed scheduler, which is not installed ({exc}); "
            f"install it with `pip install 'fastrnn[sweep]'` (or `pip install 'dask[distributed]'`)") from None
    return distributed


def open_client(scheduler=None, n_workers=None, quiet=True):
    """A Dask client and the cluster this call started (None unless it started one).

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        An existing client (used as it is, left open), the address of a running scheduler ("tcp://host:port";
        checked first, so that a wrong address fails in seconds), or None: a local cluster of ``n_workers``
        single-threaded processes on 127.0.0.1.
    n_workers : int, optional
        Workers of a local cluster (default: one per CPU).
    quiet : bool
        Silence the local cluster's logs below ERROR.

    Returns
    -------
    client, cluster
        Close the cluster (when not None) and a client this call created after use; :func:`run_specs` does.
    """
    distributed = require_distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler, None
    if scheduler is not None:
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise ValueError(f"scheduler must be a distributed.Client or an address like 'tcp://127.0.0.1:8786', "
                             f"got {scheduler!r}")
        hint = "start one with `dask scheduler` or leave out the scheduler to use a local cluster"
        proto, _, where = scheduler.partition("://")
        if proto == "tcp":                      # fail fast (Client would retry until its timeout)
            host, _, port = where.rpartition(":")
            try:
                socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
            except (OSError, ValueError) as exc:
                raise OSError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); {hint}") from None
        try:
            return distributed.Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError) as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); {hint}") from None
    n_workers = n_workers or max(1, os.cpu_count() or 1)
    cluster = distributed.LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=logging.ERROR if quiet else logging.WARNING)
    return distributed.Client(cluster), cluster


def _progress_epochs(path):
    try:
        with open(path) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _error_line(exc):
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def _cost(spec):
    """Estimated training work of a run (relative units)."""
    weight = _UPDATE_COST.get(spec["model"], 1.0)
    return (weight * spec["n_latent"] ** 2 * spec["seq_len"] * spec["batch_size"] * spec["batches_per_epoch"]
            * spec["n_epochs"])


def run_specs(specs, out_dir, *, data=None, inputs=None, scheduler=None, n_workers=None, progress=True,
              desc="runs"):
    """Execute run specs on Dask, skipping finished ones.

    Parameters
    ----------
    specs : list of dict
        Run specs (:func:`fastrnn.experiments.make_spec`).
    out_dir : str or path
        Output directory (``runs/`` below it).
    data, inputs : ndarray, optional
        The series (and inputs) of specs whose data is not a system; sent to every worker once.
    scheduler : None, str or distributed.Client
        Where to run (:func:`open_client`): a local cluster of ``n_workers`` processes by default (closed
        afterwards); an address or a client is used and left running.
    n_workers : int, optional
    progress : bool
        A progress bar in % of the estimated training work (epochs weighted by their cost).
    desc : str
        Label of the progress bar.

    Returns
    -------
    results, skipped, executed, failed
        Results in the order of ``specs`` (None for failed runs), the number of runs found finished, the number
        executed, and (run id, error line) of the runs that raised.

    Notes
    -----
    Runs are submitted longest first, each under a key derived from its run id; a run whose worker dies is computed
    again by the scheduler and resumes from its checkpoint.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(os.path.join(out_dir, "runs"), exist_ok=True)
    results = [load_result(out_dir, s) for s in specs]
    todo = [i for i, r in enumerate(results) if r is None]
    skipped = len(specs) - len(todo)
    failed = []
    if not todo:
        return results, skipped, 0, failed
    distributed = require_distributed()
    own_client = not isinstance(scheduler, distributed.Client)
    client, cluster = open_client(scheduler, n_workers, quiet=not progress)
    bar = None
    try:
        data_arg = inputs_arg = None
        if data is not None:
            [data_arg] = client.scatter([np.asarray(data, dtype=np.float64)], broadcast=True)
            if inputs is not None:
                [inputs_arg] = client.scatter([np.asarray(inputs, dtype=np.float64)], broadcast=True)
        todo.sort(key=lambda i: _cost(specs[i]), reverse=True)
        futures = {}
        for i in todo:
            rid = run_id(specs[i])
            futures[client.submit(execute_run, specs[i], out_dir, data_arg, inputs_arg, key=f"fastrnn-run-{rid}",
                                  pure=False)] = i
        costs = {i: _cost(specs[i]) for i in todo}
        total_cost = sum(costs.values())
        prog_files = {i: run_paths(out_dir, run_id(specs[i]))["progress"] for i in todo}
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=100.0, desc=desc, unit="%", bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                       "[{elapsed}<{remaining}{postfix}]")
        ac = distributed.as_completed(list(futures))
        n_done = 0
        finished_cost = 0.0
        seen, finished = {}, set()
        while not ac.is_empty():
            done = ac.next_batch(block=False)
            if not done:
                time.sleep(0.25)
            for fut in done:
                i = futures[fut]
                if fut.status == "finished":
                    results[i] = fut.result()
                elif fut.status in ("error", "cancelled"):
                    failed.append((run_id(specs[i]), _error_line(fut.exception()) if fut.status == "error"
                                   else "cancelled"))
                else:   # "lost": its worker died after finishing; the scheduler computes it again
                    ac.add(fut)
                    continue
                n_done += 1
                finished.add(i)
                finished_cost += costs[i]
            if bar is not None:
                for i in todo:
                    if i not in finished:
                        seen[i] = max(seen.get(i, 0), _progress_epochs(prog_files[i]))
                work = finished_cost + sum(costs[i] * min(1.0, v / specs[i]["n_epochs"]) for i, v in seen.items()
                                           if i not in finished)
                n = round(min(100.0, 100.0 * work / total_cost), 1)
                if n != bar.n or done:
                    bar.n = n
                    bar.set_postfix(runs=f"{n_done}/{len(futures)}")
                    bar.refresh()
    finally:
        if bar is not None:
            bar.close()
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    return results, skipped, len(todo), failed
