"""Lyapunov spectra: fastrnn (Numba Jacobians + C QR core) against a plain NumPy loop, at M = 30 and M = 100.

Two comparisons per model kind and size, each on the same model, orbit length and initial state:

* ``end-to-end``: :func:`fastrnn.lyapunov_spectrum` against the plain NumPy loop (per step: the model's Jacobian and
  step in NumPy, then ``Q, R = np.linalg.qr(J @ Q)`` and ``sums += log|diag R|``), both over ``n_steps`` steps;
* ``qr-core``: only the QR accumulation over precomputed Jacobians, fastrnn's C core against the
  ``np.linalg.qr`` loop.

Run: ``make bench`` (or ``python -m pytest benchmarks/bench_lyapunov.py --benchmark-only
--benchmark-group-by=group``). For a quick ratio table without pytest: ``python benchmarks/bench_lyapunov.py``.
Models: PLRNN with fastrnn's initialisation and a random bias (a stable fixed point), a chaotic tanh RNN
(W ~ N(0, 2.5^2/M), lambda_1 > 0), LSTM and GRU with N(0, 4/fan-in) weights (D = 2M for the LSTM).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import lyapunov as ly

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import naive  # noqa: E402  (the NumPy model steps and Jacobians of tests/naive.py)

KINDS = tuple(k for k in ("PLRNN", "TanhRNN", "LSTM", "GRU") if hasattr(fr, k))
#: Steps per run: 10^5 for the issue's PLRNN M = 30 case, fewer where the NumPy loop is slow.
N_STEPS = {("PLRNN", 30): 100_000, 30: 10_000, 100: 1_000}


def n_steps_for(kind, M):
    return N_STEPS.get((kind, M), N_STEPS[M])


def make_model(kind, M, seed=0):
    rng = np.random.default_rng(seed)
    model = getattr(fr, kind)(M, 3, rng=seed)
    p = model.params
    if kind == "PLRNN":
        p["h"][...] = rng.normal(size=M)
    elif kind == "TanhRNN":
        p["W"][...] = rng.normal(0.0, 2.5 / np.sqrt(M), (M, M))
    else:
        for name in ("W", "b"):
            p[name][...] = rng.normal(0.0, 2.0 / np.sqrt(M), p[name].shape)
    return model


def start_state(model, seed=1):
    """A state on the attractor (after 1000 free steps), so that both implementations time the same orbit."""
    z0 = np.random.default_rng(seed).normal(size=model.state_dim) * 0.5
    return model.jacobians(z0, 1000)[1][-1].copy()


def numpy_loop(model, z0, n_steps, frame):
    """The plain NumPy loop: the model's Jacobian and step (tests/naive.py), np.linalg.qr per step."""
    p = naive.params64(model)
    step, _, jac = naive.STEPS[model.kind]
    z, Q = z0.copy(), frame.copy()
    sums = np.zeros(Q.shape[1])
    for _ in range(n_steps):
        J = jac(p, z, None)
        z = step(p, z, None)
        Q, R = np.linalg.qr(J @ Q)
        sums += np.log(np.abs(np.diag(R)))
    return sums / n_steps


def numpy_qr_only(jacs, frame):
    return naive.qr_loop_spectrum(jacs, frame)[0]


def fastrnn_full(model, z0, n_steps, frame):
    return ly.lyapunov_spectrum(model, n_steps, transient=0, z0=z0, frame0=frame)


def fastrnn_qr_only(jacs, frame):
    return ly.qr_spectrum(jacs, frame0=frame)


CASES = [(kind, M) for M in (30, 100) for kind in KINDS]


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-M{M}" for k, M in CASES])
def setup(request):
    kind, M = request.param
    model = make_model(kind, M)
    z0 = start_state(model)
    D = model.state_dim
    frame = np.linalg.qr(np.random.default_rng(2).standard_normal((D, D)))[0]
    n = n_steps_for(kind, M)
    n_qr = min(n, 10_000)
    jacs = model.jacobians(z0, n_qr)[0]
    # same answers (the NumPy loop is the reference; chaotic orbits stay together for these lengths only
    # approximately, so compare on a short run)
    short = min(n, 300)
    np.testing.assert_allclose(fastrnn_full(model, z0, short, frame), numpy_loop(model, z0, short, frame),
                               atol=1e-8)
    fastrnn_full(model, z0, 10, frame)  # compile
    return kind, M, model, z0, frame, n, jacs


@pytest.mark.parametrize("impl", ["fastrnn", "numpy-loop"])
def test_lyapunov_end_to_end(benchmark, setup, impl):
    kind, M, model, z0, frame, n, _ = setup
    benchmark.group = f"lyapunov end-to-end {kind} M={M} n={n}"
    benchmark.extra_info.update(impl=impl, kind=kind, M=M, D=model.state_dim, n_steps=n)
    fn = fastrnn_full if impl == "fastrnn" else numpy_loop
    benchmark.pedantic(fn, args=(model, z0, n, frame), rounds=3 if impl == "fastrnn" else 1, iterations=1)


@pytest.mark.parametrize("impl", ["fastrnn-C", "numpy-qr"])
def test_lyapunov_qr_core(benchmark, setup, impl):
    kind, M, model, _, frame, _, jacs = setup
    benchmark.group = f"lyapunov qr-core {kind} M={M} n={jacs.shape[0]}"
    benchmark.extra_info.update(impl=impl, kind=kind, M=M, D=model.state_dim, n_steps=jacs.shape[0])
    fn = fastrnn_qr_only if impl == "fastrnn-C" else numpy_qr_only
    benchmark.pedantic(fn, args=(jacs, frame), rounds=3 if impl == "fastrnn-C" else 1, iterations=1)


def _best(fn, *args, rounds=3):
    best = np.inf
    for _ in range(rounds):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def main(cases=CASES):
    """Print a table of per-step times and ratios (NumPy / fastrnn), both measured in this run."""
    print(f"{'case':<14}{'D':>5}{'n':>8}  {'fastrnn us/step':>16}{'numpy us/step':>15}{'ratio':>8}"
          f"  {'C core':>8}{'np.qr':>8}{'ratio':>8}")
    for kind, M in cases:
        model = make_model(kind, M)
        z0 = start_state(model)
        D = model.state_dim
        frame = np.linalg.qr(np.random.default_rng(2).standard_normal((D, D)))[0]
        n = n_steps_for(kind, M)
        fastrnn_full(model, z0, 10, frame)
        t_fr = _best(fastrnn_full, model, z0, n, frame) / n
        t_np = _best(numpy_loop, model, z0, n, frame, rounds=1) / n
        jacs = model.jacobians(z0, min(n, 10_000))[0]
        t_c = _best(fastrnn_qr_only, jacs, frame) / len(jacs)
        t_q = _best(numpy_qr_only, jacs, frame, rounds=1) / len(jacs)
        print(f"{kind + ' M=' + str(M):<14}{D:>5}{n:>8}  {t_fr * 1e6:>16.2f}{t_np * 1e6:>15.2f}{t_np / t_fr:>8.1f}"
              f"  {t_c * 1e6:>8.2f}{t_q * 1e6:>8.2f}{t_q / t_c:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
