"""Validation panel of lambda_max from data (issue 13): every system of ``fastrnn.systems.SYSTEMS`` that has a
reference spectrum (``fastrnn.systems.lyapunov_spectrum``), observed through its first coordinate, in five
variants: noise-free, 2 % and 5 % observation noise, low-pass filtered (2 % noise, zero-phase Butterworth of order
4 at 0.2 of the Nyquist frequency), and subsampled (noise-free, every 2nd sample).

Each row: system, variant, lambda estimate (per time unit; per iteration for maps), its interval, the reference,
the relative error, whether the interval contains the reference, seconds per estimate, and the warnings (or the
error) that came with it.  New systems join automatically.  Nothing here is tuned per system.

Run: ``python benchmarks/lyapunov_panel.py [--n 20000] [--seed 0] [--method rosenstein] [--out docs/lyapunov_panel.md]``
"""
from __future__ import annotations

import argparse
import inspect
import time
import warnings

import numpy as np

from fastrnn import systems
from fastrnn import timeseries as ts

VARIANTS = ("noise 0%", "noise 2%", "noise 5%", "low-pass (2% noise)", "subsampled x2")


def reference(name, n_ref_steps):
    """Largest reference exponent (per time unit / per iteration), or None if the system has none."""
    try:
        return float(systems.lyapunov_spectrum(name, n_ref_steps, rng=12345)[0])
    except (ValueError, TypeError, KeyError):
        return None


def series(name, n, seed, noise, step=1):
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


def run_one(name, variant, n, seed, method):
    noise = {"noise 0%": 0.0, "noise 2%": 0.02, "noise 5%": 0.05, "low-pass (2% noise)": 0.02,
             "subsampled x2": 0.0}[variant]
    x, dt = series(name, n, seed, noise, step=2 if variant == "subsampled x2" else 1)
    if variant.startswith("low-pass"):
        x = lowpass(x)
    kwargs = {"method": method}
    if method == "kantz":
        kwargs["radius"] = "auto"
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            e = ts.max_lyapunov(x, dt=dt, **kwargs)
            out = {"lam": e.lambda_max, "low": e.lambda_low, "high": e.lambda_high, "warnings": e.warnings,
                   "error": None, "dim": e.dim, "n_curves": len(e.curves), "n_agree": len(e.consensus)}
        except ValueError as exc:
            out = {"lam": None, "error": f"{type(exc).__name__}: {str(exc)[:90]}", "warnings": []}
    out["seconds"] = time.perf_counter() - t0
    out["other_warnings"] = [str(w.message) for w in caught if not issubclass(w.category, ts.LyapunovWarning)]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20000, help="samples per series (default 20000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="rosenstein", choices=("rosenstein", "kantz"))
    p.add_argument("--systems", default=None, help="comma-separated subset of fastrnn.systems.SYSTEMS")
    p.add_argument("--out", default=None, help="write the markdown table here")
    args = p.parse_args(argv)
    names = args.systems.split(",") if args.systems else list(systems.SYSTEMS)
    rows, counts = [], {v: [0, 0, 0] for v in VARIANTS}  # per variant: systems, within target, interval ok
    target = {"noise 0%": 0.10, "noise 2%": 0.20}
    lines = ["| system | variant | lambda | interval | reference | rel. error | contains | s | notes |",
             "|---|---|---:|---|---:|---:|:-:|---:|---|"]
    for name in names:
        ref = reference(name, 200000)
        if ref is None:
            lines.append(f"| {name} | - | - | - | no reference spectrum | - | - | - | skipped |")
            print(f"{name}: no reference spectrum, skipped", flush=True)
            continue
        for variant in VARIANTS:
            r = run_one(name, variant, args.n, args.seed, args.method)
            c = counts[variant]
            c[0] += 1
            if r["lam"] is None:
                line = (f"| {name} | {variant} | - | - | {ref:.4g} | - | - | {r['seconds']:.1f} | "
                        f"{r['error'].replace('|', '/')} |")
            else:
                err = r["lam"] / ref - 1
                contains = r["low"] <= ref <= r["high"]
                c[1] += abs(err) <= target.get(variant, 0.20)
                c[2] += contains
                note = f"{len(r['warnings'])} warning(s): " + "; ".join(w[:60] for w in r["warnings"]) \
                    if r["warnings"] else f"{r['n_agree']}/{r['n_curves']} curves agree, m={r['dim']}"
                line = (f"| {name} | {variant} | {r['lam']:.4g} | [{r['low']:.4g}, {r['high']:.4g}] | {ref:.4g} | "
                        f"{err:+.1%} | {'yes' if contains else 'no'} | {r['seconds']:.1f} | "
                        f"{note.replace('|', '/')} |")
            lines.append(line)
            print(line, flush=True)
    summary = ["", "| variant | systems | within target (10 % noise-free, 20 % otherwise) | interval contains "
               "reference |", "|---|---:|---:|---:|"]
    for v, (n, ok, cont) in counts.items():
        summary.append(f"| {v} | {n} | {ok} ({ok / max(n, 1):.0%}) | {cont} ({cont / max(n, 1):.0%}) |")
    text = "\n".join(lines + summary)
    print("\n".join(summary))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return text


if __name__ == "__main__":
    main()
