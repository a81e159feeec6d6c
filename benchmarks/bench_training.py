"""One training step (loss, gradients, Adam) of every model: fastrnn against JAX and PyTorch, grouped by model and size.

Cases (issue 3): M in {16, 32, 64, 256}, N = 3, batch 16, T = 200, tau = 30, float32 and float64; and a long sequence
(batch 1, T = 10 000, M = 32). Peers run in the same session when installed (``pip install -e '.[peers]'``); before
any peer is timed the suite checks that it computes the same loss as fastrnn on the same parameters and data (relative
1e-10 in float64, 1e-4 in float32), so the ratios compare equal work. Compile time is excluded: every implementation is
called before timing (fastrnn's kernels load from Numba's on-disk cache; JAX's step is compiled ahead of time and its
compile seconds are stored in the benchmark's ``extra_info``).

Run: ``make bench`` (or ``python -m pytest benchmarks --benchmark-only --benchmark-group-by=group``), then
``python benchmarks/ratios.py out/bench.json`` for the table of ratios.
"""
import time

import numpy as np
import pytest

import _cases as C
import _peers as P

IMPLS = ("fastrnn", "jax", "torch", "torch-nn.LSTM")
_ref_loss = {}


def _reference_loss(case):
    if case not in _ref_loss:
        _ref_loss[case] = float(C.FastrnnStep(case).loss_and_grad()[0])
    return _ref_loss[case]


def _make(case, impl):
    if case.kind not in C.available_kinds():
        pytest.skip(f"fastrnn has no {case.kind} model in this build")
    if impl == "fastrnn":
        return C.FastrnnStep(case), {}
    if impl == "torch-nn.LSTM" and case.kind != "LSTM":
        pytest.skip("the fused nn.LSTM peer exists only for the LSTM")
    if impl not in P.peers_for(case.kind):
        pytest.skip(f"peer {impl} is not installed (pip install -e '.[peers]')")
    X = C.make_data(case)
    S = np.zeros(X.shape[:2] + (0,))
    alpha = np.broadcast_to(C.alpha(case), X.shape[:2])
    peer = P.make_peer(impl, case.kind, C.initial_params(case), X, S, alpha, np.ones(case.M), case.dtype)
    ref = _reference_loss(case)
    got = peer.loss()
    rtol = 1e-10 if case.dtype == "float64" else 1e-4
    assert abs(got - ref) <= rtol * abs(ref), (
        f"{impl} computes a different loss than fastrnn for {case.id}: {got!r} vs {ref!r}; the timings would not "
        f"compare equal work")
    info = {"loss_rel_diff": abs(got - ref) / abs(ref)}
    if hasattr(peer, "compile"):
        info["compile_s"] = peer.compile()
    return peer, info


def _run(benchmark, case, impl, rounds=None):
    step, info = _make(case, impl)
    t0 = time.perf_counter()
    step()                               # first call: loads cached kernels / runs compiled code once
    info["first_call_s"] = time.perf_counter() - t0
    step()
    benchmark.group = case.group
    benchmark.extra_info.update(info, impl=impl, kind=case.kind, M=case.M, dtype=case.dtype, batch=case.batch, T=case.T)
    if case.n_hidden is not None:
        benchmark.extra_info["H"] = case.n_hidden
    if rounds is None:
        benchmark(step)
    else:
        benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", C.standard_cases(), ids=lambda c: c.id)
def test_train_step(benchmark, case, impl):
    _run(benchmark, case, impl)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", C.long_cases(), ids=lambda c: c.id)
def test_train_step_long(benchmark, case, impl):
    _run(benchmark, case, impl, rounds=3)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", C.shplrnn_cases(), ids=lambda c: c.id)
def test_train_step_shplrnn(benchmark, case, impl):
    """Issue 16: the ShPLRNN at M = 16, H = 256 (n_hidden set explicitly; the standard grid uses H = 8 M)."""
    _run(benchmark, case, impl)
