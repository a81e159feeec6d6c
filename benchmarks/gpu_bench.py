"""Training-step throughput of the GPU backend (``device="cuda"``) against the CPU kernels and JAX on the same GPU.

Usage::

    python benchmarks/gpu_bench.py                       # every model, M in {32, 256}, batch 1024/4096/16384
    python benchmarks/gpu_bench.py --kinds PLRNN --latent 32 --batches 4096 --out out/gpu_bench.json

One *training step* is what one iteration of :func:`fastrnn.fit` does for a batch already drawn (see
``benchmarks/_cases.py``): control signal, forced forward pass, BPTT, chain rule through pinv(B), one Adam update.
For the GPU the windows are resident on the device (as in ``fit(device="cuda")``, which uploads the series once);
parameters and Adam stay on the host, so each step includes uploading the parameters and downloading the gradients.
The JAX peer (``benchmarks/_peers.py``) jit-compiles value_and_grad and Adam into one function on the same GPU.

Every timing is the median wall-clock time of ``--repeats`` steps after one untimed warm-up step (which compiles).
Before timing, the GPU's loss on the initial parameters is checked against the CPU's.
Throughput is reported in windows per second (batch / step time); speedups are ratios of step times from the same
run. The issue-7 target is marked: >= 20x the CPU kernels at batch 4096, M = 32.

Without a CUDA GPU (or without numba's CUDA target) the script exits with status 2 and says why. Under the CUDA
simulator it refuses to time (the numbers would be meaningless) unless ``--allow-simulator`` is given, which runs the
same code path on tiny sizes as a smoke test.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _cases import Case, FastrnnStep, LR, available_kinds, initial_params, make_data, make_model  # noqa: E402
from _cases import alpha as case_alpha  # noqa: E402

from fastrnn import forcing  # noqa: E402
from fastrnn.optim import Adam  # noqa: E402
from fastrnn.training import Batch, batch_loss_and_grad  # noqa: E402

TARGET = dict(kind=None, M=32, batch=4096, speedup=20.0)


class GpuStep:
    """One fastrnn training step with the CUDA kernels on a batch resident on the device."""

    def __init__(self, case, session):
        self.model = make_model(case)
        self.session = session
        X = make_data(case)
        nb, T1, _ = X.shape
        S = np.zeros((nb, T1, 0), dtype=self.model.dtype)
        mask = np.ones(self.model.n_latent, dtype=self.model.dtype)
        self.batch = Batch(session.to_device(X), session.to_device(S), mask)
        self.alpha = forcing.check_alpha(case_alpha(case), case.T, nb, self.model.dtype)
        self.opt = Adam(self.model.params, lr=LR)

    def loss_and_grad(self):
        return batch_loss_and_grad(self.model, self.batch, self.alpha, 0.0, True, self.session)

    def __call__(self):
        loss, grads = self.loss_and_grad()
        self.opt.step(grads)
        return loss


def time_steps(step, repeats):
    """Median seconds per call after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def jax_gpu_status():
    """(usable, reason): JAX installed with a GPU backend?"""
    try:
        import jax
    except ImportError:
        return False, "JAX is not installed (pip install 'jax[cuda12]' to compare)"
    try:
        devices = jax.devices("gpu")
    except RuntimeError as exc:
        return False, f"JAX has no GPU backend ({exc}); install jax[cuda12] to compare"
    return bool(devices), f"JAX on {devices[0]}" if devices else "JAX found no GPU"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", nargs="+", default=None, help="model kinds (default: all available)")
    ap.add_argument("--latent", nargs="+", type=int, default=[32, 256], help="latent sizes M")
    ap.add_argument("--batches", nargs="+", type=int, default=[1024, 4096, 16384], help="windows per batch")
    ap.add_argument("--seq-len", type=int, default=100, help="window length T in steps")
    ap.add_argument("--tau", type=int, default=25, help="forcing interval in steps")
    ap.add_argument("--obs", type=int, default=3, help="observed dimensions N")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=5, help="timed steps per implementation and case")
    ap.add_argument("--cpu-max-batch", type=int, default=16384, help="skip the CPU baseline above this batch")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU baseline")
    ap.add_argument("--no-jax", action="store_true", help="skip the JAX peer")
    ap.add_argument("--out", default=None, help="write the results as JSON to this path")
    ap.add_argument("--allow-simulator", action="store_true",
                    help="run under NUMBA_ENABLE_CUDASIM=1 (a smoke test of this script; timings meaningless)")
    args = ap.parse_args(argv)

    from fastrnn.kernels import cuda as kcuda
    try:
        kcuda.require()
    except kcuda.CudaUnavailableError as exc:
        print(f"gpu_bench: no GPU to benchmark on, nothing was timed.\n{exc}", file=sys.stderr)
        return 2
    session = kcuda.session()
    if session.simulator and not args.allow_simulator:
        print("gpu_bench: NUMBA_ENABLE_CUDASIM=1 is set, so the 'GPU' is Numba's CUDA simulator and timings would be "
              "meaningless; unset it on a GPU machine, or pass --allow-simulator for a smoke test", file=sys.stderr)
        return 2
    from numba import cuda
    device_name = "CUDA simulator" if session.simulator else cuda.get_current_device().name
    if isinstance(device_name, bytes):
        device_name = device_name.decode()
    use_jax, jax_reason = (False, "skipped (--no-jax)") if args.no_jax else jax_gpu_status()
    if use_jax:
        from _peers import JaxStep
    kinds = args.kinds or list(available_kinds())
    print(f"device: {device_name}; CPU threads: {os.cpu_count()}; {jax_reason}; dtype {args.dtype}; "
          f"T = {args.seq_len}, tau = {args.tau}, N = {args.obs}; median of {args.repeats} steps")

    rows = []
    header = ("| model | M | batch | CPU ms/step | GPU ms/step | JAX ms/step | GPU windows/s | GPU / CPU | GPU / JAX |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(header, flush=True)
    for kind in kinds:
        for M in args.latent:
            for nb in args.batches:
                case = Case(kind, M, args.dtype, batch=nb, T=args.seq_len, tau=args.tau, N=args.obs)
                gpu = GpuStep(case, session)
                row = dict(kind=kind, M=M, batch=nb, T=args.seq_len, tau=args.tau, N=args.obs, dtype=args.dtype,
                           device=device_name)
                cpu = None
                if not args.no_cpu and nb <= args.cpu_max_batch:
                    cpu = FastrnnStep(case)
                    l_cpu, l_gpu = cpu.loss_and_grad()[0], gpu.loss_and_grad()[0]
                    tol = 1e-4 if args.dtype == "float32" else 1e-9
                    if not abs(l_gpu - l_cpu) <= tol * abs(l_cpu):
                        raise SystemExit(f"{case.id}: GPU loss {l_gpu!r} != CPU loss {l_cpu!r}")
                    row["cpu_s"] = time_steps(cpu, args.repeats)
                row["gpu_s"] = time_steps(gpu, args.repeats)
                if use_jax:
                    X = make_data(case)
                    S = np.zeros(X.shape[:2] + (0,))
                    a = np.broadcast_to(case_alpha(case), (nb, case.T + 1))
                    jstep = JaxStep(kind, initial_params(case), X, S, a, np.ones(M), args.dtype)
                    jstep.compile()
                    row["jax_s"] = time_steps(jstep, args.repeats)
                rows.append(row)
                print(_format(row), flush=True)
                del gpu, cpu
    _verdict(rows)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(dict(device=device_name, rows=rows), fh, indent=1)
    return 0


def _ms(s):
    return "–" if s is None else f"{1e3 * s:.2f}"


def _ratio(a, b):
    return "–" if a is None or b is None else f"{a / b:.1f}x"


def _format(r):
    cpu, gpu, jx = r.get("cpu_s"), r["gpu_s"], r.get("jax_s")
    return (f"| {r['kind']} | {r['M']} | {r['batch']} | {_ms(cpu)} | {_ms(gpu)} | {_ms(jx)} | "
            f"{r['batch'] / gpu:,.0f} | {_ratio(cpu, gpu)} | {_ratio(jx, gpu)} |")


def _verdict(rows):
    for r in rows:
        if r["M"] == TARGET["M"] and r["batch"] == TARGET["batch"] and "cpu_s" in r:
            s = r["cpu_s"] / r["gpu_s"]
            mark = "met" if s >= TARGET["speedup"] else "NOT met"
            print(f"target (>= {TARGET['speedup']:.0f}x CPU at batch {TARGET['batch']}, M = {TARGET['M']}): "
                  f"{r['kind']} {s:.1f}x, {mark}")


if __name__ == "__main__":
    sys.exit(main())
