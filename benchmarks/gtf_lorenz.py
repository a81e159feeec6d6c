"""The noisy Lorenz-63 benchmark of generalised teacher forcing (Hess et al. 2023), on one CPU core.

shPLRNN (M = 3, identity observation, H hidden units) + adaptive GTF (``forcing.AdaptiveAlpha``, the paper's
defaults alpha0 = 1, gamma = 0.999, k = 5) against the PLRNN (M latent units, learned B) with sparse forcing at
tau = ln 2 / (lambda_max dt) estimated from the noisy training data, with the same budget (epochs x 50 batches of 16
windows of 200 steps, Adam at lr 1e-3), several seeds; and, to tell the model's share from the forcing's, the same
shPLRNN with sparse forcing at that tau ("shPLRNN+SF"), and optionally shPLRNN + adaptive GTF with their optimiser
("shPLRNN+aGTF+RAdam": RAdam, the step size decaying exponentially from 1e-3 to 1e-6 over training). Each model runs freely from the first test observation for
the length of the clean test series, scored with ``metrics`` ``convention="gtf"`` (D_stsp, D_H). Reports the median
and the range over seeds, seconds per run, the alpha trace and the cost of the alpha updates against a step.

    NUMBA_NUM_THREADS=1 python benchmarks/gtf_lorenz.py --seeds 5 --epochs 60 --out out/gtf_lorenz.json
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import fastrnn as fr
from fastrnn import forcing, metrics
from fastrnn.systems import gtf_benchmark
from fastrnn.timeseries import suggest_tau


#: fastrnn's sparse-forcing models, as arms "NAME+SF" (M = --latent, learned B)
SF_MODELS = ("PLRNN", "TanhRNN", "LSTM", "GRU")


class TimedAdaptiveAlpha(forcing.AdaptiveAlpha):
    """AdaptiveAlpha that adds up the seconds of its updates (kappa and alpha)."""

    seconds = 0.0
    n_updates = 0

    def observe(self, model, X, S=None, P=None):
        t0 = time.perf_counter()
        out = super().observe(model, X, S, P)
        self.seconds += time.perf_counter() - t0
        self.n_updates += 1
        return out


def score(model, test, n_gen):
    """D_stsp and D_H (convention "gtf") of a free run from test[0] of n_gen steps; inf for a diverged orbit."""
    try:
        X, _ = model.generate(n_gen, x0=test[0])
    except fr.OrbitDivergedError:
        return float("inf"), float("inf"), True
    true = test[:n_gen]
    return (float(metrics.state_space_divergence(true, X, convention="gtf")),
            float(metrics.power_spectrum_distance(true, X, convention="gtf")), False)


def run_one(kind, seed, data, args, tau):
    budget = dict(seq_len=data.training["seq_len"], batch_size=data.training["batch_size"],
                  batches_per_epoch=data.training["batches_per_epoch"], n_epochs=args.epochs, lr=1e-3,
                  progress=False, rng=seed)
    out = {"model": kind, "seed": seed}
    if kind == "shPLRNN+aGTF+RAdam":                 # their optimiser: RAdam, lr decaying exponentially 1e-3 -> 1e-6
        model = fr.ShPLRNN(3, 3, n_hidden=args.hidden, clipped=args.clipped, dtype=np.float32, rng=seed,
                           observation="identity")
        opt = fr.RAdam(model.params, lr=1e-3)

        def decay(epoch, history, _model):
            opt.lr = 1e-3 * 1e-3 ** ((epoch + 1) / max(args.epochs - 1, 1))
            return False

        sched = TimedAdaptiveAlpha()
        t0 = time.perf_counter()
        hist = fr.fit(model, data.train, schedule=sched, optimizer=opt, callback=decay, **budget)
        out["alpha_trace"] = [hist.alpha[0], hist.alpha[len(hist.alpha) // 2], hist.alpha[-1]]
        out["update_seconds"] = sched.seconds
        out["n_updates"] = sched.n_updates
    elif kind == "shPLRNN+aGTF":
        model = fr.ShPLRNN(3, 3, n_hidden=args.hidden, clipped=args.clipped, dtype=np.float32, rng=seed,
                           observation="identity")
        sched = TimedAdaptiveAlpha()
        t0 = time.perf_counter()
        hist = fr.fit(model, data.train, schedule=sched, **budget)
        out["alpha_trace"] = [hist.alpha[0], hist.alpha[len(hist.alpha) // 2], hist.alpha[-1]]
        out["update_seconds"] = sched.seconds
        out["n_updates"] = sched.n_updates
    else:
        name = kind.rsplit("+", 1)[0]
        if not kind.endswith("+SF") or name not in SF_MODELS + ("shPLRNN",):
            raise ValueError(f"unknown arm {kind!r}")
        if name == "shPLRNN":
            model = fr.ShPLRNN(3, 3, n_hidden=args.hidden, clipped=args.clipped, dtype=np.float32, rng=seed,
                               observation="identity")
        else:
            model = getattr(fr, name)(args.latent, 3, dtype=np.float32, rng=seed)
        t0 = time.perf_counter()
        hist = fr.fit(model, data.train, tau=tau, **budget)
    out["seconds"] = time.perf_counter() - t0
    out["n_steps"] = args.epochs * data.training["batches_per_epoch"]
    out["n_params"] = model.n_params - int(sum(m.sum() for m in model.frozen_entries.values()))
    out["loss"] = [hist.loss[0], hist.loss[-1]]
    out["D_stsp"], out["D_H"], out["diverged"] = score(model.astype(np.float64), data.test, args.n_gen)
    return out


def summary(rows):
    out = {}
    for kind in sorted({r["model"] for r in rows}):
        rs = [r for r in rows if r["model"] == kind]
        d = np.array([r["D_stsp"] for r in rs])
        h = np.array([r["D_H"] for r in rs])
        s = np.array([r["seconds"] for r in rs])
        out[kind] = {"n": len(rs), "D_stsp_median": float(np.median(d)), "D_stsp_range": [float(d.min()),
                                                                                         float(d.max())],
                     "D_H_median": float(np.median(h)), "D_H_range": [float(h.min()), float(h.max())],
                     "seconds_median": float(np.median(s)), "diverged": int(sum(r["diverged"] for r in rs))}
        if "update_seconds" in rs[0]:
            per_update = np.sum([r["update_seconds"] for r in rs]) / np.sum([r["n_updates"] for r in rs])
            per_step = np.sum(s) / np.sum([r["n_steps"] for r in rs])
            out[kind]["update_ms"] = 1e3 * per_update
            out[kind]["step_ms"] = 1e3 * per_step
            out[kind]["update_cost_per_step"] = per_update / 5 / per_step   # one update every k = 5 steps
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (default %(default)s)")
    p.add_argument("--first-seed", type=int, default=0, help="seeds run from this one on (default %(default)s)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--hidden", type=int, default=64, help="shPLRNN hidden units H (default %(default)s)")
    p.add_argument("--clipped", action="store_true", help="the clipped shPLRNN")
    p.add_argument("--latent", type=int, default=20, help="latent units M of the sparse-forcing models (default %(default)s)")
    p.add_argument("--n-train", type=int, default=100000)
    p.add_argument("--n-test", type=int, default=100000)
    p.add_argument("--n-gen", type=int, default=100000, help="free-run length scored (default %(default)s)")
    p.add_argument("--arms", default="shPLRNN+aGTF,PLRNN+SF,shPLRNN+SF",
                   help="comma-separated arms (default %(default)s): shPLRNN+aGTF, shPLRNN+aGTF+RAdam, shPLRNN+SF "
                        "and PLRNN+SF, TanhRNN+SF, LSTM+SF, GRU+SF")
    p.add_argument("--tau", type=int, default=None,
                   help="sparse-forcing interval in steps (default: suggest_tau of the first 20000 noisy samples)")
    p.add_argument("--out", default="out/gtf_lorenz.json")
    args = p.parse_args(argv)
    data = gtf_benchmark("lorenz63", args.n_train, args.n_test, rng=0)
    t0 = time.perf_counter()
    sug = suggest_tau(data.train[:20000], dt=data.dt)
    print(f"tau from the noisy training data: {sug.tau} steps (lambda_max {sug.lambda_max:.3f} per time unit, "
          f"{time.perf_counter() - t0:.1f} s)", flush=True)
    tau = sug.tau if args.tau is None else args.tau
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for kind in args.arms.split(","):
            r = run_one(kind, seed, data, args, tau)
            rows.append(r)
            print(json.dumps(r), flush=True)
    res = {"settings": {**vars(args), "tau": tau, "tau_suggested": sug.tau, "lambda_max": sug.lambda_max,
                        **data.training},
           "runs": rows, "summary": summary(rows)}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(json.dumps(res["summary"], indent=1))


if __name__ == "__main__":
    main()
