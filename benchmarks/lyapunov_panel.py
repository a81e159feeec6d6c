"""Validation panel of lambda_max from data (issue 13): every system of ``fastrnn.systems.SYSTEMS`` that has a
reference spectrum (``fastrnn.systems.lyapunov_spectrum``), observed through its first coordinate, in five
variants: noise-free, 2 % and 5 % observation noise, low-pass filtered (2 % noise, zero-phase Butterworth of order
4 at 0.2 of the Nyquist frequency), and subsampled (noise-free, every 2nd sample).

Each row: system, variant, lambda estimate (per time unit; per iteration for maps), its interval, the reference,
the relative error, whether the interval contains the reference, seconds per estimate, and the warnings (or the
error) that came with it.  New systems join automatically.  Nothing here is tuned per system.

Run: ``python benchmarks/lyapunov_panel.py [--n 20000] [--seed 0] [--method rosenstein] [--out docs/lyapunov_panel.md]``
(``--variants "noise 0.5%,noise 1%"``: other noise levels; ``--systems``: a subset.)
(``--method transverse``: the defaults with ``max_lyapunov(..., transverse=True)``.)

Old-vs-new comparison (the estimator of another checkout, e.g. the one before the rewrite, on the *same* series):
``--save-series DIR`` writes every series of the panel (``x``, ``dt``, ``reference``) to ``DIR``;
``PYTHONPATH=OLD_TREE:SITE python -S benchmarks/lyapunov_panel.py --from-series DIR --json old.json`` (``SITE``:
the environment's site-packages; ``-S`` keeps an editable install of the current tree from shadowing OLD_TREE) runs that tree's
``max_lyapunov(x, dt=dt)`` on them (it needs only ``max_lyapunov`` and ``.lambda_max``); ``--baseline old.json``
adds the old estimate and error as columns and counts.
"""
from __future__ import annotations

import argparse
import re
import inspect
import json
import os
import time
import warnings

import numpy as np

from fastrnn import timeseries as ts

VARIANTS = ("noise 0%", "noise 2%", "noise 5%", "low-pass (2% noise)", "subsampled x2")


def reference(name, n_ref_steps):
    """Largest reference exponent (per time unit / per iteration), or None if the system has none."""
    from fastrnn import systems

    try:
        return float(systems.lyapunov_spectrum(name, n_ref_steps, rng=12345)[0])
    except (ValueError, TypeError, KeyError):
        return None


def series(name, n, seed, noise, step=1):
    from fastrnn import systems

    gen, dt, has_inputs = systems.SYSTEMS[name]
    kw = {"rng": seed, "noise": noise}
    params = inspect.signature(gen).parameters
    if "dt" in params and name not in systems.MAPS:
        kw["dt"] = dt
    x = gen(n * step, **kw)
    if has_inputs:
        x = x[0]
    return np.asarray(x)[::step, 0], dt * step


def lowpass(x):
    from scipy.signal import butter, filtfilt

    b, a = butter(4, 0.2)
    return filtfilt(b, a, x)


def variant_series(name, variant, n, seed):
    """The observed series ``x`` and its sampling interval ``dt`` of one panel row."""
    if re.fullmatch(r"noise \d+(\.\d+)?%", variant):     # "noise 0%", "noise 2%", ... any level (--variants)
        noise = float(variant[6:-1]) / 100
    else:
        noise = {"low-pass (2% noise)": 0.02, "subsampled x2": 0.0}[variant]
    x, dt = series(name, n, seed, noise, step=2 if variant == "subsampled x2" else 1)
    if variant.startswith("low-pass"):
        x = lowpass(x)
    return x, dt


def _file(directory, name, variant):
    return os.path.join(directory, f"{name}__{re.sub(r'[^a-z0-9]+', '_', variant)}.npz")


def run_one(name, variant, n, seed, method, x=None, dt=None):
    if x is None:
        x, dt = variant_series(name, variant, n, seed)
    kwargs = ({} if method == "default" else {"transverse": True} if method == "transverse"
              else {"method": method})
    if method == "kantz":
        kwargs["radius"] = "auto"
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            e = ts.max_lyapunov(x, dt=dt, **kwargs)
            out = {"lam": e.lambda_max, "low": getattr(e, "lambda_low", np.nan),
                   "high": getattr(e, "lambda_high", np.nan), "warnings": list(getattr(e, "warnings", [])),
                   "error": None, "dim": e.dim, "n_curves": len(getattr(e, "curves", ())),
                   "n_agree": len(getattr(e, "consensus", ())), "method": e.method}
        except ValueError as exc:
            out = {"lam": None, "error": f"{type(exc).__name__}: {str(exc)[:90]}", "warnings": []}
    out["seconds"] = time.perf_counter() - t0
    lw = getattr(ts, "LyapunovWarning", ())
    out["other_warnings"] = [str(w.message) for w in caught if not (lw and issubclass(w.category, lw))]
    return out


def from_series(directory, out_json, method):
    """Run the importable ``max_lyapunov`` on every saved series of ``directory``; write the rows as JSON."""
    rows = {}
    for f in sorted(os.listdir(directory)):
        if not f.endswith(".npz"):
            continue
        d = np.load(os.path.join(directory, f))
        r = run_one(str(d["name"]), str(d["variant"]), 0, 0, method, x=d["x"], dt=float(d["dt"]))
        rows[f"{d['name']}|{d['variant']}"] = {"lam": r["lam"], "error": r["error"], "seconds": r["seconds"]}
        print(f, r["lam"], r["error"], f"{r['seconds']:.1f}s", flush=True)
    with open(out_json, "w") as fh:
        json.dump(rows, fh, indent=1)


def _counts_line(v, n, ok, cont):
    return f"| {v} | {n} | {ok} ({ok / max(n, 1):.0%}) | {cont} ({cont / max(n, 1):.0%}) |"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20000, help="samples per series (default 20000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="default", choices=("default", "rosenstein", "kantz", "transverse"),
                   help="'default': max_lyapunov's own default; 'kantz' uses radius='auto'")
    p.add_argument("--systems", default=None, help="comma-separated subset of fastrnn.systems.SYSTEMS")
    p.add_argument("--variants", default=None, help="comma-separated variants (default: the five of the panel); "
                   "'noise X%%' at any level, e.g. 'noise 0.5%%,noise 1%%'")
    p.add_argument("--out", default=None, help="write the markdown table here")
    p.add_argument("--save-series", default=None, metavar="DIR", help="write every series to DIR (npz) and stop")
    p.add_argument("--from-series", default=None, metavar="DIR",
                   help="estimate on the series saved in DIR with the importable fastrnn; write --json")
    p.add_argument("--json", default=None, help="output of --from-series")
    p.add_argument("--baseline", default=None, help="JSON of --from-series (another estimator) to compare with")
    args = p.parse_args(argv)
    if args.from_series:
        return from_series(args.from_series, args.json or "baseline.json", args.method)
    from fastrnn import systems

    names = args.systems.split(",") if args.systems else list(systems.SYSTEMS)
    base = None
    if args.baseline:
        with open(args.baseline) as fh:
            base = json.load(fh)
    # per variant: systems, within target, interval ok, old within target
    variants = [v.strip() for v in args.variants.split(",")] if args.variants else list(VARIANTS)
    rows, counts = [], {v: [0, 0, 0, 0] for v in variants}
    target = {"noise 0%": 0.10, "noise 2%": 0.20}
    old_cols = (" old lambda | old error |", "---:|---:|") if base is not None else ("", "")
    lines = [f"| system | variant | lambda | interval | reference | rel. error | contains |{old_cols[0]} s | notes |",
             f"|---|---|---:|---|---:|---:|:-:|{old_cols[1]}---:|---|"]
    for name in names:
        ref = reference(name, 200000)
        if ref is None:
            lines.append(f"| {name} | - | - | - | no reference spectrum | - | - |{' - | - |' * (base is not None)}"
                         f" - | skipped |")
            print(f"{name}: no reference spectrum, skipped", flush=True)
            continue
        for variant in variants:
            if args.save_series:
                x, dt = variant_series(name, variant, args.n, args.seed)
                os.makedirs(args.save_series, exist_ok=True)
                np.savez(_file(args.save_series, name, variant), x=x, dt=dt, reference=ref, name=name,
                         variant=variant)
                continue
            r = run_one(name, variant, args.n, args.seed, args.method)
            c = counts[variant]
            c[0] += 1
            tol = target.get(variant, 0.20)
            old = ""
            if base is not None:
                b = base.get(f"{name}|{variant}")
                if b is None or b["lam"] is None:
                    old = " - | - |" if b is None else f" - | {str(b['error'])[:30].replace('|', '/')} |"
                else:
                    oerr = b["lam"] / ref - 1
                    c[3] += abs(oerr) <= tol
                    old = f" {b['lam']:.4g} | {oerr:+.1%} |"
            if r["lam"] is None:
                line = (f"| {name} | {variant} | - | - | {ref:.4g} | - | - |{old} {r['seconds']:.1f} | "
                        f"{r['error'].replace('|', '/')} |")
            else:
                err = r["lam"] / ref - 1
                contains = r["low"] <= ref <= r["high"]
                c[1] += abs(err) <= tol
                c[2] += contains
                note = f"{len(r['warnings'])} warning(s): " + "; ".join(w[:60] for w in r["warnings"]) \
                    if r["warnings"] else f"{r['n_agree']}/{r['n_curves']} curves agree, m={r['dim']}"
                note = f"{r['method']}; {note}"
                line = (f"| {name} | {variant} | {r['lam']:.4g} | [{r['low']:.4g}, {r['high']:.4g}] | {ref:.4g} | "
                        f"{err:+.1%} | {'yes' if contains else 'no'} |{old} {r['seconds']:.1f} | "
                        f"{note.replace('|', '/')} |")
            rows.append(r)
            lines.append(line)
            print(line, flush=True)
    if args.save_series:
        return None
    head = "| variant | systems | within target (10 % noise-free, 20 % otherwise) | interval contains reference |"
    summary = ["", head + (" old estimator within target |" if base is not None else ""),
               "|---|---:|---:|---:|" + ("---:|" if base is not None else "")]
    for v, (n, ok, cont, old_ok) in counts.items():
        summary.append(_counts_line(v, n, ok, cont) + (f" {old_ok} ({old_ok / max(n, 1):.0%}) |"
                                                      if base is not None else ""))
    secs = [r["seconds"] for r in rows]
    if secs:
        summary.append(f"\nSeconds per estimate: median {np.median(secs):.1f}, max {max(secs):.1f}.")
    text = "\n".join(lines + summary)
    print("\n".join(summary))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return text


if __name__ == "__main__":
    main()
