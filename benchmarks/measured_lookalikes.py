"""Why does sparse forcing gain nothing over clipping on the paper's measured series? (issue 14, item 2)

Look-alikes of the two empirical series of Mikhaeil et al. (2022), built from simulated chaotic signals:

* ``temp``: Lorenz x (dt 0.01), low-passed (Butterworth order 4, cutoff 0.01 of Nyquist, filtfilt), z-scored,
  delay-embedded into 5 columns of lag 500 -> 6000 rows (lag span 2000 rows);
* ``temp_lag50`` (group ``lag``): the same low-passed Lorenz x embedded with 5 columns of lag 50 (span 200 rows);
* ``lorenz`` (group ``lorenz``, the control): the Lorenz state (x, y, z), dt 0.01, 6000 rows, no embedding;
* ``eeg``: Roessler x (dt 0.05) + 1.5 % Gaussian noise, z-scored, 10 columns of lag 25 -> 9259 rows (lag span 225).

Every comparison trains the LSTM (M = 30, Adam 1e-3, batch 32) on the first 80 % of rows, with sparse forcing at
tau (default 50: "published-like", 1-2 forcing points in a window of 100) or with the clipping baseline (no forcing,
gradient-norm clip 1), and scores a free run of 10^5 steps from the first row:

* ``legacy``: fastrnn.metrics.state_space_divergence(data, gen, convention="legacy") - with N >= 5 this is the
  paper's GMM estimate, which uses only the FIRST 5000 generated steps and the first 5000 rows (KL(gen || data));
* ``legacy_late``: the same on the LAST 5000 generated steps (the model's long-run attractor);
* ``default``: the default convention (strided GMM over all 10^5 steps, KL(data || gen));
* collapse diagnostics of the last 20 000 steps: ``std_ratio`` (generated std / data std, mean over columns; ~0 is
  a fixed point) and ``peak_cv`` (coefficient of variation of the local-maximum heights of column 0; ~0 is a cycle);
* ``sel_*``: the same scores for the parameters chosen during training by a validation measure (default D_stsp of
  a 5000-step free run against the held-out last 20 % of rows, checked every ``check_every`` epochs).

Reference scores calibrate the measures: a constant at the data mean, a constant at row 0, and an independent
realisation of the same look-alike (a perfect model).

Usage::

    python benchmarks/measured_lookalikes.py --quick            # a smoke run (~1 min)
    python benchmarks/measured_lookalikes.py --groups base,h3,h1tau,h2,h1len,lag,lorenz --out out/lookalikes.jsonl
    python benchmarks/measured_lookalikes.py --table out/lookalikes.jsonl   # the Markdown tables
    python benchmarks/measured_lookalikes.py --scale-check                  # legacy D_stsp vs the data's units

Every run appends one JSON line to ``--out``; runs already in the file are skipped (so an interrupted sweep resumes).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
from scipy.signal import butter, filtfilt

import fastrnn
from fastrnn import metrics, systems

N_ROWS = {"temp": 6000, "eeg": 9259, "temp_lag50": 6000, "lorenz": 6000}


def make_data(name, seed=0, n_rows=None):
    """The look-alike series ``name`` (rows, columns), z-scored per column; ``seed`` picks the realisation."""
    n_rows = N_ROWS[name] if n_rows is None else n_rows
    if name in ("temp", "temp_lag50"):   # temp_lag50: the same signal, embedded with lag 50 (span 200 rows)
        cols, lag, pad = 5, (500 if name == "temp" else 50), 3000
        x = systems.lorenz(n_rows + (cols - 1) * lag + 2 * pad, dt=0.01, rng=seed)[:, 0]
        b, a = butter(4, 0.01)
        y = filtfilt(b, a, x)[pad:-pad]
    elif name == "eeg":
        cols, lag = 10, 25
        x = systems.rossler(n_rows + (cols - 1) * lag, dt=0.05, rng=seed)[:, 0]
        rng = np.random.default_rng(1000 + seed)
        y = x + 0.015 * x.std() * rng.standard_normal(x.shape)
    elif name == "lorenz":               # the control: the full Lorenz state (x, y, z), dt 0.01, no embedding
        x = systems.lorenz(n_rows, dt=0.01, rng=seed)
        return (x - x.mean(0)) / x.std(0)
    else:
        raise ValueError(name)
    y = (y - y.mean()) / y.std()
    E = fastrnn.delay_embed(y, cols, lag)
    return (E - E.mean(0)) / E.std(0)


def data_facts(E):
    C = np.corrcoef(E.T)
    return {"rows": int(E.shape[0]), "cols": int(E.shape[1]), "cond_corr": float(np.linalg.cond(C)),
            "eig_corr": [round(float(v), 4) for v in np.linalg.eigvalsh(C)]}


def collapse_stats(gen, data):
    tail = gen[-20000:]
    std_ratio = float(np.mean(tail.std(0) / data.std(0)))
    c = tail[:, 0]
    peaks = c[1:-1][(c[1:-1] > c[:-2]) & (c[1:-1] >= c[2:])]
    peak_cv = float(peaks.std() / (abs(peaks.mean()) + 1e-12)) if peaks.size >= 3 else 0.0
    kind = "fixed point" if std_ratio < 0.02 else ("cycle" if peak_cv < 0.01 else "irregular")
    return {"std_ratio": std_ratio, "peak_cv": peak_cv, "n_peaks": int(peaks.size), "kind": kind}


def scores(gen, data, n_legacy=5000):
    out = {}
    if gen is None or not np.all(np.isfinite(gen)) or np.abs(gen).max() > 1e3 * max(1.0, np.abs(data).max()):
        return {"diverged": True}
    out["diverged"] = False
    out["legacy"] = float(metrics.state_space_divergence(data, gen, convention="legacy", rng=0))
    out["legacy_late"] = float(metrics.state_space_divergence(data, gen[-n_legacy:], convention="legacy", rng=0))
    out["default"] = float(metrics.state_space_divergence(data, gen, rng=0))
    if gen.shape[0] >= 20000:
        out.update(collapse_stats(gen, data))
    return out


def free_run(model, x0, n):
    try:
        with np.errstate(all="ignore"):
            X, _ = model.generate(n, x0=x0)
        return np.asarray(X, dtype=np.float64)
    except Exception:  # OrbitDivergedError or overflow: diverged
        return None


def references(name, E, n_gen):
    """Scores of trivial generators: constant at the mean, constant at row 0, an independent realisation."""
    other = make_data(name, seed=99, n_rows=max(E.shape[0], min(n_gen, 20000)))
    return {"const_mean": scores(np.zeros((n_gen, E.shape[1])), E),
            "const_row0": scores(np.repeat(E[:1], n_gen, 0), E),
            "independent_realisation": scores(other, E)}


def scale_check(scales=(1, 3, 10)):
    """Legacy D_stsp of a perfect model (realisation 99) and of constants, with the data multiplied by c: the legacy
    convention neither standardises nor adapts its kernel variance (0.1), so its verdict depends on the units."""
    print("| data | scale c | independent realisation | constant at row 0 | constant at mean |\n|---|---|---|---|---|")
    for name in ("temp", "eeg", "temp_lag50"):
        E, O = make_data(name), make_data(name, seed=99)
        for c in scales:
            d = [metrics.state_space_divergence(c * E, c * g, convention="legacy", rng=0)
                 for g in (O, np.repeat(E[:1], 5000, 0), np.zeros((5000, E.shape[1])))]
            print(f"| {name} | {c} | " + " | ".join(_fmt(float(v)) for v in d) + " |")


def run_one(cfg, E, quick=False):
    """Train one LSTM as ``cfg`` says and score it (dict)."""
    n_train = int(0.8 * E.shape[0])
    train, val = E[:n_train], E[n_train:]
    model = fastrnn.LSTM(30, E.shape[1], rng=cfg["seed"])
    kw = dict(seq_len=cfg["T"], batch_size=32, batches_per_epoch=50, n_epochs=cfg["epochs"], lr=1e-3,
              rng=cfg["seed"], progress=False)
    if cfg["method"] == "clip":
        kw.update(tau=math.inf, clip=1.0)
    else:
        kw.update(tau=cfg["tau"], ridge=cfg.get("ridge", 0.0))
    best = {"score": math.inf, "epoch": None, "params": None}
    val_n = 2000 if quick else 5000
    every = cfg.get("check_every", 5)

    def select(epoch, history, m):
        if (epoch + 1) % every and epoch + 1 != cfg["epochs"]:
            return False
        g = free_run(m, train[0], val_n + 500)
        s = math.inf if g is None or not np.all(np.isfinite(g)) else \
            float(metrics.state_space_divergence(val, g[500:], rng=0))
        if s < best["score"]:
            best.update(score=s, epoch=epoch + 1, params={k: v.copy() for k, v in m.params.items()})
        return False

    t0 = time.perf_counter()
    err = None
    try:
        hist = fastrnn.fit(model, train, callback=select, **kw)
        loss = hist.loss[-1]
    except fastrnn.TrainingDivergedError as exc:
        err, loss = str(exc).splitlines()[0], None
    secs = time.perf_counter() - t0
    n_gen = cfg["n_gen"]
    res = {**cfg, "train_seconds": round(secs, 1), "final_loss": loss, "error": err}
    res["final"] = scores(free_run(model, E[0], n_gen), E)
    P = model.control_matrix(cfg.get("ridge", 0.0))
    res["cond_B"] = float(np.linalg.cond(model.params["B"].astype(np.float64)))
    res["norm_P"] = float(np.linalg.norm(P, 2))
    if best["params"] is not None:
        model.set_params(**best["params"])
        res["sel_epoch"], res["sel_val"] = best["epoch"], best["score"]
        res["selected"] = scores(free_run(model, E[0], n_gen), E)
    return res


def configs(groups, seeds, base_epochs, n_gen):
    """The comparisons: list of cfg dicts (key identifies a run)."""
    out = []

    def add(group, data, method, **kw):
        for s in seeds:
            c = {"group": group, "data": data, "method": method, "seed": s, "T": 100, "tau": 50,
                 "epochs": base_epochs, "n_gen": n_gen}
            c.update(kw)
            c["key"] = "|".join(f"{k}={c[k]}" for k in sorted(c) if k != "group")
            out.append(c)

    for group in ("base", "h3", "h1tau", "h2", "h1len", "lag", "lorenz", "h3x", "lorenz_h3"):   # run order
        if group not in groups:
            continue
        for data in {"lag": ("temp_lag50",), "lorenz": ("lorenz",), "h3x": ("eeg",),
                      "lorenz_h3": ("lorenz",)}.get(group, ("temp", "eeg")):
            if group in ("base", "lag", "lorenz"):  # the published-like setting: T = 100, tau = 50
                add(group, data, "force")
                add(group, data, "clip")
            elif group == "h1tau":        # more forcing points per window of 100
                add(group, data, "force", tau=10)
            elif group == "h1len":        # windows of 300 (3x the samples per update; same number of updates)
                add(group, data, "force", T=300)
                add(group, data, "clip", T=300)
            elif group == "h2":           # ridge control matrix (B^T B + 0.1 I)^-1 B^T instead of pinv(B)
                add(group, data, "force", ridge=0.1)
            elif group == "h3x":          # 6x the updates (eeg only)
                add(group, data, "force", epochs=6 * base_epochs)
                add(group, data, "clip", epochs=6 * base_epochs)
            elif group in ("h3", "lorenz_h3"):   # 3x the updates
                add(group, data, "force", epochs=3 * base_epochs)
                add(group, data, "clip", epochs=3 * base_epochs)
    return out


def _fmt(v, d=2):
    return "div" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))


def table(path):
    rows = [json.loads(line) for line in open(path)]
    refs = [r for r in rows if r.get("group") == "reference"]
    runs = [r for r in rows if r.get("group") != "reference"]
    print("## Reference scores (trivial generators, 10^5 steps)\n")
    print("| data | facts | generator | legacy | legacy_late | default |\n|---|---|---|---|---|---|")
    for r in refs:
        for g, s in r["scores"].items():
            print(f"| {r['data']} | cond(corr) {r['facts']['cond_corr']:.1f} | {g} | {_fmt(s.get('legacy'))} | "
                  f"{_fmt(s.get('legacy_late'))} | {_fmt(s.get('default'))} |")
    print()

    def val(r, which, k):
        s = r.get(which) or {}
        return None if s.get("diverged", True) else s.get(k)

    groups = {}
    for r in runs:
        label = (r["group"], r["data"], r["method"], r["T"], r["tau"] if r["method"] == "force" else "-",
                 r.get("ridge", 0.0), r["epochs"])
        groups.setdefault(label, []).append(r)
    print("## Runs (LSTM, M = 30; medians over seeds, then every seed's value in brackets)\n")
    print("| group | data | method | T | tau | ridge | epochs | legacy (final) | legacy_late | default | "
          "legacy (selected) | sel. epoch | kinds (final) | std_ratio | cond B |")
    print("|" + "---|" * 15)
    for label, rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])

        def col(which, k, d=2):
            vs = [val(r, which, k) for r in rs]
            fin = [v for v in vs if v is not None]
            med = _fmt(float(np.median(fin)), d) if len(fin) > len(vs) / 2 else "div"
            return f"{med} [{', '.join(_fmt(v, d) for v in vs)}]"

        kinds = ", ".join((r.get("final") or {}).get("kind", "div") for r in rs)
        sel = ", ".join(str(r.get("sel_epoch")) for r in rs)
        condb = ", ".join(f"{r['cond_B']:.0f}" for r in rs)
        g, data, method, T, tau, ridge, ep = label
        print(f"| {g} | {data} | {method} | {T} | {tau} | {ridge:g} | {ep} | {col('final', 'legacy')} | "
              f"{col('final', 'legacy_late')} | {col('final', 'default')} | {col('selected', 'legacy')} | {sel} | "
              f"{kinds} | {col('final', 'std_ratio')} | {condb} |")
    seeds = sorted({r["seed"] for r in runs})
    print(f"\nseeds: {seeds}; train seconds: {sum(r['train_seconds'] for r in runs):.0f} in all")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny budget, one seed, 20 000 free steps (smoke test)")
    p.add_argument("--groups", default="base,h3,h1tau,h2,h1len,lag,lorenz")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--epochs", type=int, default=20, help="base budget in epochs of 50 updates")
    p.add_argument("--n-gen", type=int, default=100_000)
    p.add_argument("--out", default="out/lookalikes.jsonl")
    p.add_argument("--table", metavar="JSONL", help="print the Markdown tables of a results file and exit")
    p.add_argument("--scale-check", action="store_true", help="print the legacy measure's dependence on units, exit")
    a = p.parse_args(argv)
    if a.table:
        table(a.table)
        return
    if a.scale_check:
        scale_check()
        return
    seeds = [int(s) for s in a.seeds.split(",")]
    if a.quick:
        seeds, a.epochs, a.n_gen = seeds[:1], 2, 20_000
        if a.out == "out/lookalikes.jsonl":
            a.out = "out/lookalikes_quick.jsonl"
    groups = set(a.groups.split(","))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    done = set()
    if os.path.exists(a.out):
        done = {json.loads(line).get("key") for line in open(a.out)}
    names = ("temp", "eeg") + (("temp_lag50",) if "lag" in groups else ()) + (
        ("lorenz",) if groups & {"lorenz", "lorenz_h3"} else ())
    data = {name: make_data(name) for name in names}
    with open(a.out, "a") as fh:
        for name, E in data.items():
            key = f"reference|{name}|n_gen={a.n_gen}"
            if key not in done:
                rec = {"group": "reference", "key": key, "data": name, "facts": data_facts(E),
                       "scores": references(name, E, a.n_gen)}
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                print(name, rec["facts"], {k: v.get("legacy") for k, v in rec["scores"].items()}, flush=True)
        for cfg in configs(groups, seeds, a.epochs, a.n_gen):
            if cfg["key"] in done:
                continue
            res = run_one(cfg, data[cfg["data"]], quick=a.quick)
            fh.write(json.dumps(res) + "\n")
            fh.flush()
            f, s = res["final"], res.get("selected", {})
            print(f"{cfg['group']:6s} {cfg['data']:4s} {cfg['method']:5s} T={cfg['T']} tau={cfg['tau']} "
                  f"ep={cfg['epochs']} seed={cfg['seed']}: legacy {f.get('legacy')} late {f.get('legacy_late')} "
                  f"default {f.get('default')} {f.get('kind')} | sel ep {res.get('sel_epoch')} legacy "
                  f"{s.get('legacy')} ({res['train_seconds']} s)", flush=True)
    table(a.out)


if __name__ == "__main__":
    sys.exit(main())
