"""Turn a pytest-benchmark JSON report of ``bench_training.py`` into a Markdown table of speed ratios.

Usage: ``python benchmarks/ratios.py out/bench.json [--stat min|median]``

Each ratio is peer time / fastrnn time for the same case, from the same run (> 1: fastrnn is faster). The issue-3
targets (float32: at M = 32, >= 3x JAX and >= 30x PyTorch eager for PLRNN, TanhRNN and GRU, >= 3x the chunked nn.LSTM
for the LSTM; at M = 256, >= 1.2x JAX for every model) and the issue-16 target (float32, the ShPLRNN at M = 16,
H = 256: >= 3x JAX) are marked with a check or a cross.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

PEERS = ("jax", "torch", "torch-nn.LSTM")
KINDS = ("PLRNN", "TanhRNN", "LSTM", "GRU", "ShPLRNN")


def targets(kind, M, dtype, batch, H=None):
    """Issue-3 and issue-16 speed targets {peer: minimum ratio} for a case (float32, batch 16 only)."""
    if dtype != "float32" or batch != 16:
        return {}
    if kind == "ShPLRNN":
        # issue 16: one shPLRNN step at M = 16, H = 256 at least 3x faster than JAX
        return {"jax": 3.0} if (M, H) == (16, 256) else {}
    if M == 32:
        # the targets at M = 32: JAX and PyTorch eager for PLRNN, TanhRNN and GRU; the fused nn.LSTM for the LSTM
        return {"torch-nn.LSTM": 3.0} if kind == "LSTM" else {"jax": 3.0, "torch": 30.0}
    if M == 256:
        return {"jax": 1.2}
    return {}


def load(path, stat="min"):
    with open(path) as fh:
        report = json.load(fh)
    rows = {}
    for b in report["benchmarks"]:
        info = b.get("extra_info", {})
        if not {"impl", "kind", "batch", "T", "M", "dtype"} <= set(info):
            continue                                    # not a training-step benchmark (e.g. bench_lyapunov.py)
        key = (info["kind"], info["batch"], info["T"], info["M"], info["dtype"], info.get("H"))
        rows.setdefault(key, {})[info["impl"]] = b["stats"][stat]
        if "compile_s" in info:
            rows[key][info["impl"] + ":compile"] = info["compile_s"]
    return report, rows


def table(rows):
    lines = ["| model | batch x T | M | dtype | fastrnn (ms) | JAX / fastrnn | PyTorch eager / fastrnn | "
             "nn.LSTM chunked / fastrnn |",
             "|---|---|---|---|---:|---:|---:|---:|"]
    order = sorted(rows, key=lambda k: (KINDS.index(k[0]) if k[0] in KINDS else 9, k[2], k[3], k[5] or 0, k[4]))
    for key in order:
        kind, batch, T, M, dtype, H = key
        r = rows[key]
        if "fastrnn" not in r:
            continue
        base = r["fastrnn"]
        want = targets(kind, M, dtype, batch, H)
        cells = []
        for peer in PEERS:
            if peer not in r:
                cells.append("–")
                continue
            ratio = r[peer] / base
            mark = ""
            if peer in want:
                mark = " ✓" if ratio >= want[peer] else f" ✗ (target {want[peer]:g})"
            cells.append(f"{ratio:.2f}{mark}")
        label = kind if H is None else f"{kind} (H = {H})"
        lines.append(f"| {label} | {batch} x {T} | {M} | {dtype} | {base * 1e3:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", help="pytest-benchmark JSON (--benchmark-json=PATH)")
    ap.add_argument("--stat", default="min", choices=["min", "median", "mean"])
    args = ap.parse_args(argv)
    if not os.path.exists(args.report):
        sys.exit(f"{args.report} not found; run `make bench` (or pytest benchmarks --benchmark-json={args.report})")
    report, rows = load(args.report, args.stat)
    mi = report.get("machine_info", {})
    cpu = mi.get("cpu", {})
    print(f"Machine: {cpu.get('brand_raw', mi.get('processor', '?'))}, {cpu.get('count', os.cpu_count())} logical "
          f"cores; statistic: {args.stat} of the rounds; ratio = peer time / fastrnn time (> 1: fastrnn faster)\n")
    print(table(rows))


if __name__ == "__main__":
    main()
