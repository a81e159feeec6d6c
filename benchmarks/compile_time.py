"""Compile and start-up time of one training step, measured in fresh processes (reported apart from the suite).

Usage: ``python benchmarks/compile_time.py [--kinds PLRNN,TanhRNN,LSTM,GRU] [--M 32] [--dtype float32]``

For each model kind it runs three fresh Python processes and one in-process measurement:

cold
    ``import fastrnn`` plus the first training step with an empty Numba cache (a temporary ``NUMBA_CACHE_DIR``):
    what a first run after installation pays.
warm
    the same in a new process once the on-disk cache exists: what every later run pays before training starts.
cached call
    a training step in a process that has already run one (what the suite times).
JAX first call
    tracing and XLA compilation of the jitted step (value_and_grad plus Adam), in a process that has imported jax,
    when jax is installed. Its cached calls are the suite's JAX timings.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import fastrnn
t1 = time.perf_counter()
sys.path.insert(0, {here!r})
import _cases as C
case = C.Case({kind!r}, {M}, {dtype!r})
step = C.FastrnnStep(case)
t2 = time.perf_counter()
step()
t3 = time.perf_counter()
best = float("inf")
for _ in range(20):
    a = time.perf_counter(); step(); best = min(best, time.perf_counter() - a)
out = {{"import_s": t1 - t0, "first_step_s": t3 - t2, "cached_step_s": best}}
if {with_jax}:
    import numpy as np
    import _peers as P
    X = C.make_data(case)
    peer = P.make_peer("jax", case.kind, C.initial_params(case), X, np.zeros(X.shape[:2] + (0,)),
                       np.broadcast_to(C.alpha(case), X.shape[:2]), np.ones(case.M), case.dtype)
    out["jax_compile_s"] = peer.compile()
    peer()
    jb = float("inf")
    for _ in range(20):
        a = time.perf_counter(); peer(); jb = min(jb, time.perf_counter() - a)
    out["jax_cached_step_s"] = jb
print("RESULT" + json.dumps(out))
"""


def run_child(kind, M, dtype, cache_dir, with_jax=False):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    code = _CHILD.format(here=HERE, kind=kind, M=M, dtype=dtype, with_jax=with_jax)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[len("RESULT"):])
    raise RuntimeError(f"child process failed for {kind}:\n{proc.stderr[-3000:]}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default="PLRNN,TanhRNN,LSTM,GRU")
    ap.add_argument("--M", type=int, default=32)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args(argv)
    sys.path.insert(0, HERE)
    import _cases as C
    import _peers as P

    kinds = [k for k in args.kinds.split(",") if k in C.available_kinds()]
    with_jax = P.have_jax()
    print(f"{os.cpu_count()} cores; M = {args.M}, batch 16, T = 200, {args.dtype}; seconds\n")
    print("| model | import fastrnn | first step, cold cache | first step, warm cache | import + first step, warm "
          "| cached step | JAX compile | JAX cached step |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="fastrnn-numba-cache-") as cache:
            cold = run_child(kind, args.M, args.dtype, cache)
            warm = run_child(kind, args.M, args.dtype, cache, with_jax=with_jax)
        jc = f"{warm['jax_compile_s']:.2f}" if with_jax else "–"
        jr = f"{warm['jax_cached_step_s'] * 1e3:.2f} ms" if with_jax else "–"
        print(f"| {kind} | {warm['import_s']:.2f} | {cold['first_step_s']:.2f} | {warm['first_step_s']:.3f} | "
              f"{warm['import_s'] + warm['first_step_s']:.2f} | {warm['cached_step_s'] * 1e3:.2f} ms | {jc} | {jr} |")


if __name__ == "__main__":
    main()
