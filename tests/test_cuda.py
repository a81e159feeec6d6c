"""GPU backend (fastrnn.kernels.cuda) under Numba's CUDA simulator, against the CPU kernels.

Runs only with NUMBA_ENABLE_CUDASIM=1 set before numba is imported, in its own pytest process (``make test`` does
this) so that the simulator does not leak into the other tests::

    NUMBA_ENABLE_CUDASIM=1 .venv/bin/python -m pytest -q tests/test_cuda.py

The simulator runs one Python thread per CUDA thread, so sizes are tiny; the launch geometry under the simulator
(2 threads per recurrent block, 4x4 product tiles, 2 row chunks; other geometries in test_other_launch_geometry)
makes every kernel take its strided loops, partial tiles and multi-chunk reductions.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("the CUDA tests run under the simulator only: NUMBA_ENABLE_CUDASIM=1 python -m pytest "
                "tests/test_cuda.py (make test runs them so)", allow_module_level=True)

import numba  # noqa: E402

if not numba.config.ENABLE_CUDASIM:
    pytest.skip("numba was imported before NUMBA_ENABLE_CUDASIM=1 took effect; run this file in its own process",
                allow_module_level=True)

import fastrnn as fr  # noqa: E402
from fastrnn import forcing, training  # noqa: E402
from fastrnn.kernels import cuda as kcuda  # noqa: E402

from conftest import make_model  # noqa: E402

# The simulator's block manager busy-waits on its threads; a short GIL switch interval makes barriers ~5x faster.
sys.setswitchinterval(1e-4)

M, N, K, T, NB = 3, 2, 1, 8, 2
_PTX_TEST = "test_kernels_compile_for_a_real_gpu"
KINDS = [k for k in ("PLRNN", "TanhRNN", "LSTM", "GRU") if hasattr(fr, k)]


def alpha_patterns():
    """The patterns of tests/test_gradients.py for T = 8 (tau = 7 forces once inside the window), plus a unit mask."""
    rng = np.random.default_rng(7)
    return {
        "none": (forcing.none(T), None),
        "tau1": (forcing.interval(T, 1), None),
        "tau7": (forcing.interval(T, 7), None),
        "fractional": (np.concatenate([[1.0], rng.uniform(0, 1, T)]), None),
        "per_sequence": (np.stack([forcing.interval(T, tau) for tau in (2, 5)]), None),
        "unit_mask": (forcing.interval(T, 3), np.array([True, False, True])),
    }


def data(with_inputs, seed=2, nb=NB, t=T, n=N, k=K):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(nb, t + 1, n))
    S = rng.normal(size=(nb, t + 1, k)) if with_inputs else None
    return X, S


def assert_same(res_gpu, res_cpu, rtol=1e-10, atol=1e-12, what=""):
    (lg, gg), (lc, gc) = res_gpu, res_cpu
    assert lg == pytest.approx(lc, rel=rtol, abs=atol), what
    assert set(gg) == set(gc)
    for name in gc:
        assert gg[name].dtype == gc[name].dtype and gg[name].shape == gc[name].shape, (what, name)
        np.testing.assert_allclose(gg[name], gc[name], rtol=rtol, atol=atol, err_msg=f"{what} d{name}")


@pytest.mark.parametrize("with_inputs", [False, True])
@pytest.mark.parametrize("pattern", list(alpha_patterns()))
@pytest.mark.parametrize("kind", KINDS)
def test_loss_and_grad_matches_cpu(kind, pattern, with_inputs):
    model = make_model(kind, M, N, K if with_inputs else 0, seed=1)
    X, S = data(with_inputs)
    alpha, mask = alpha_patterns()[pattern]
    kw = dict(inputs=S, unit_mask=mask)
    res_cpu = fr.loss_and_grad(model, X, alpha, **kw)
    res_gpu = fr.loss_and_grad(model, X, alpha, device="cuda", **kw)
    assert_same(res_gpu, res_cpu, what=f"{kind} {pattern} inputs={with_inputs}")
    # the comparison has teeth: forcing changes the loss of these parameters
    if pattern != "none":
        assert abs(res_cpu[0] - fr.loss_and_grad(model, X, forcing.none(T), inputs=S)[0]) > 1e-6


@pytest.mark.parametrize("ridge,control_grad", [(0.3, True), (0.0, False), (0.3, False)])
@pytest.mark.parametrize("kind", KINDS)
def test_ridge_and_frozen_control(kind, ridge, control_grad):
    model = make_model(kind, M, N, K, seed=4)
    X, S = data(True, seed=5)
    alpha = forcing.interval(T, 3)
    kw = dict(inputs=S, ridge=ridge, control_grad=control_grad)
    assert_same(fr.loss_and_grad(model, X, alpha, device="cuda", **kw), fr.loss_and_grad(model, X, alpha, **kw),
                what=f"{kind} ridge={ridge} control_grad={control_grad}")


@pytest.mark.parametrize("kind", KINDS)
def test_float32(kind):
    """float32 models run float32 kernels; they agree with the CPU's float32 result to float32 rounding."""
    model = make_model(kind, M, N, K, seed=6).astype(np.float32)
    X, S = data(True, seed=7)
    alpha = forcing.interval(T, 4)
    res_gpu = fr.loss_and_grad(model, X, alpha, inputs=S, device="cuda")
    res_cpu = fr.loss_and_grad(model, X, alpha, inputs=S)
    assert all(g.dtype == np.float32 for g in res_gpu[1].values())
    assert_same(res_gpu, res_cpu, rtol=2e-5, atol=2e-6, what=f"{kind} float32")


@pytest.mark.parametrize("kind", KINDS)
def test_other_launch_geometry(kind):
    """Blocks wider than the model (idle threads), 3x3 tiles and 3 chunks give the same numbers as the CPU."""
    m, n, k = 5, 3, 2
    model = make_model(kind, m, n, k, seed=8)
    X, S = data(True, seed=9, nb=2, t=7, n=n, k=k)
    alpha = np.stack([forcing.interval(7, 2), np.linspace(0, 1, 8)])
    mask = np.array([1, 1, 0, 1, 0], dtype=bool)
    ses = kcuda.driver.Session(config=dict(warp=4, max_threads=8, tile=3, threads_1d=5, target_blocks=64,
                                           max_chunks=3))
    Xc, Sc = training._check_windows(model, X, S)
    a = forcing.check_alpha(alpha, 7, 2)
    m_ = training._check_mask(model, mask)
    batch = training.Batch(ses.to_device(Xc), ses.to_device(Sc), m_)
    res_gpu = training.batch_loss_and_grad(model, batch, a, 0.0, True, ses)
    res_cpu = fr.loss_and_grad(model, X, alpha, inputs=S, unit_mask=mask)
    assert_same(res_gpu, res_cpu, what=f"{kind} geometry")


def test_product_kernels_against_numpy():
    """The race-free reductions: A^T f(B) and column sums over (window, time) rows with time/column offsets."""
    ses = kcuda.driver.Session()
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 6, 5))
    B = rng.normal(size=(3, 7, 4))
    dA, dB = ses.to_device(A), ses.to_device(B)
    got = ses.product(dA, 0, 1, 3, dB, 1, 1, 2, 6, relu_b=True, factor=-0.5)
    want = -0.5 * A[:, :, 1:4].reshape(-1, 3).T @ np.maximum(B[:, 1:, 1:3], 0).reshape(-1, 2)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(ses.column_sums(dA, 0, 2, 3, 6), A[:, :, 2:].sum(axis=(0, 1)), rtol=1e-13)
    np.testing.assert_allclose(ses.column_sums(dA, 0, 0, 4, 6, B=dB, b_t0=1, b_c0=0),
                               (A[:, :, :4] * B[:, 1:, :4]).sum(axis=(0, 1)), rtol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_bptt_matches_cpu(kind):
    """Gradient cuts (truncated BPTT) on the device: the CPU's loss and gradients, dL/dP without the cut steps."""
    model = make_model(kind, M, N, K, seed=8)
    X, S = data(True, seed=9)
    alpha = forcing.none(T)
    alpha[2] = 0.5                          # forcing between the cuts (at 3 and 6) as well
    res_cpu = fr.loss_and_grad(model, X, alpha, inputs=S, truncate=3)
    assert_same(fr.loss_and_grad(model, X, alpha, inputs=S, device="cuda", truncate=3), res_cpu,
                what=f"{kind} truncated")
    full = fr.loss_and_grad(model, X, alpha, inputs=S)[1]
    assert max(np.abs(full[n] - res_cpu[1][n]).max() for n in full) > 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_fit_on_device_matches_cpu(kind):
    """fit(device="cuda") draws the same windows (series uploaded once, windows cut on the device) and takes the
    same Adam steps as on the CPU."""
    rng = np.random.default_rng(10)
    series = [rng.normal(size=(14, N)), rng.normal(size=(11, N))]
    ins = [rng.normal(size=(14, K)), rng.normal(size=(11, K))]
    results = {}
    for device in ("cpu", "cuda"):
        model = make_model(kind, M, N, K, seed=11, scale=0.5)
        hist = fr.fit(model, series, inputs=ins, tau=2, seq_len=4, batch_size=3, batches_per_epoch=2, n_epochs=2,
                      lr=1e-2, rng=12, progress=False, device=device)
        results[device] = (model, hist)
    (mc, hc), (mg, hg) = results["cpu"], results["cuda"]
    np.testing.assert_allclose(hg.loss, hc.loss, rtol=1e-10)
    np.testing.assert_allclose(hg.grad_norm, hc.grad_norm, rtol=1e-10)
    start = make_model(kind, M, N, K, seed=11, scale=0.5)
    for name, p in mc.params.items():
        assert not np.allclose(p, start.params[name]), f"{name} was not trained"
        np.testing.assert_allclose(mg.params[name], p, rtol=1e-9, atol=1e-12, err_msg=name)


def test_bad_device_value():
    model = make_model("PLRNN", M, N, 0, seed=1)
    X, _ = data(False)
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        fr.loss_and_grad(model, X, forcing.interval(T, 2), device="gpu")
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        fr.fit(model, X[0], tau=2, seq_len=4, n_epochs=1, progress=False, device="tpu")


_CHILD = textwrap.dedent("""
    import importlib.abc, sys
    if sys.argv[1] == "block":
        class _NoNumbaCuda(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "numba.cuda" or name.startswith("numba.cuda."):
                    raise ImportError("No module named 'numba.cuda' (blocked by the test)")
                return None
        sys.meta_path.insert(0, _NoNumbaCuda())
    import numpy as np
    import fastrnn as fr
    assert "fastrnn.kernels.cuda" not in sys.modules, "import fastrnn must not load the CUDA backend"
    from fastrnn.kernels.cuda import CudaUnavailableError, is_available
    if sys.argv[1] != "block" and is_available():
        print("GPU-PRESENT")
        raise SystemExit(0)
    model = fr.PLRNN(3, 2, rng=0)
    X = np.random.default_rng(0).normal(size=(2, 6, 2))
    model2 = model.copy()
    loss_cpu, _ = fr.loss_and_grad(model2, X, fr.forcing.interval(5, 2))   # the CPU path still works
    for call in (lambda: fr.loss_and_grad(model, X, fr.forcing.interval(5, 2), device="cuda"),
                 lambda: fr.fit(model, X[0], tau=2, seq_len=4, n_epochs=1, progress=False, device="cuda")):
        try:
            call()
        except CudaUnavailableError as exc:
            assert isinstance(exc, RuntimeError)
            print("MESSAGE:", exc)
        else:
            raise SystemExit("device='cuda' did not raise")
""")


@pytest.mark.parametrize("scenario", ["block", "nogpu"])
def test_clear_error_without_cuda(scenario):
    """Without numba's CUDA target, or without a GPU, fastrnn imports and works on the CPU, and device="cuda" raises
    CudaUnavailableError saying how to fix it. Run in a child process without the simulator."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", _CHILD, scenario], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    if "GPU-PRESENT" in out.stdout:
        pytest.skip("this machine has a usable CUDA GPU, so device='cuda' does not fail")
    messages = [line for line in out.stdout.splitlines() if line.startswith("MESSAGE:")]
    assert len(messages) == 2, out.stdout + out.stderr
    for msg in messages:
        assert "device='cpu'" in msg
        if scenario == "block":
            assert "pip install 'fastrnn[cuda]'" in msg and "could not be imported" in msg
        else:
            assert "no usable CUDA GPU" in msg and "NUMBA_ENABLE_CUDASIM=1" in msg


_PTX_CHILD = textwrap.dedent("""
    # Compile every kernel of fastrnn.kernels.cuda to PTX for sm_90 (H100) with the argument types the driver passes:
    # numba's real CUDA pipeline (typing, lowering, NVVM), which the simulator skips. Needs libnvvm, not a GPU.
    import inspect, sys
    from numba import cuda, types
    from numba.cuda.cudadrv import nvvm
    try:
        nvvm.NVVM()
    except Exception as exc:
        print("NO-NVVM", exc)
        raise SystemExit(0)
    from numba.cuda import dispatcher
    # numba compiles the device functions a kernel calls for the current device's compute capability: without a GPU
    # there is none, so supply sm_90's, the target of the kernels below
    dispatcher.get_current_device = lambda: type("Device", (), {"compute_capability": (9, 0)})()
    from fastrnn.kernels.cuda import _linalg, gru, lstm, plrnn, tanhrnn
    ONE_D, THREE_D = {"A", "h", "bias", "mask"}, {"X", "S", "Z", "ZF", "R", "G", "GF", "GP", "GA", "GZt"}
    TWO_D = {"W", "WT", "CT", "UT", "B", "PT", "alpha"}
    n = 0
    for npdt, dt in (("<f4", types.float32), ("<f8", types.float64)):
        arr = lambda nd: types.Array(dt, nd, "C")
        i64 = types.int64
        fixed = [
            (_linalg.gemm_tn(npdt, 16), (arr(3), i64, i64, arr(3), i64, i64, i64, i64, i64, i64, i64, i64, arr(2))),
            (_linalg.coldot(npdt), (arr(3), i64, i64, arr(3), i64, i64, i64, i64, i64, i64, i64, arr(2))),
            (_linalg.reduce_chunks(npdt), (arr(2), i64, dt, arr(1))),
            (_linalg.gather(npdt), (arr(2), types.Array(types.int64, 1, "C"), arr(3))),
        ]
        for mod in (plrnn, tanhrnn, lstm, gru):
            for k in mod.kernels(npdt):
                sig = []
                for name in inspect.signature(k.py_func).parameters:
                    if name == "losses":
                        sig.append(types.Array(types.float64, 1, "C"))
                    elif name == "scale":
                        sig.append(dt)
                    else:
                        nd = 1 if name in ONE_D else 3 if name in THREE_D else 2 if name in TWO_D else None
                        assert nd is not None, f"unknown kernel argument {name} of {mod.__name__}"
                        sig.append(arr(nd))
                fixed.append((k, tuple(sig)))
        for k, sig in fixed:
            ptx, _ = cuda.compile_ptx(k.py_func, sig, cc=(9, 0))
            assert ".entry" in ptx and ".local" not in ptx, k.py_func.__qualname__   # no spills to local memory
            n += 1
    print("COMPILED", n)
""")


@pytest.fixture(scope="module", autouse=True)
def _ptx_compile_in_background(request):
    """Start the PTX compilation (tens of seconds, another core) while the simulator tests run."""
    if not any(item.name == _PTX_TEST for item in request.session.items):
        yield None
        return
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.Popen([sys.executable, "-c", _PTX_CHILD], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    request.module._ptx_proc = proc
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_kernels_compile_for_a_real_gpu():
    """Every kernel, in float32 and float64, compiles for sm_90 through numba's real CUDA pipeline with the argument
    types the driver passes, without spilling to local memory (skipped where libnvvm is not installed)."""
    proc = globals().get("_ptx_proc")
    assert proc is not None
    out, err = proc.communicate(timeout=300)
    if "NO-NVVM" in out:
        pytest.skip(f"libnvvm (CUDA toolkit) not found, cannot compile PTX here: {out.strip()}")
    assert proc.returncode == 0, out + err
    assert "COMPILED 24" in out, out + err


def test_identity_observation_and_adaptive_forcing_on_device_match_cpu():
    """observation="identity" (P = [I 0]^T, forcing on the first N units, B fixed) and forcing.AdaptiveAlpha (the
    windows copied to the host for kappa) give the same training on the device as on the CPU."""
    rng = np.random.default_rng(13)
    series = rng.normal(size=(20, N))
    results = {}
    for device in ("cpu", "cuda"):
        ref = make_model("PLRNN", M, N, 0, seed=14, scale=0.5)
        model = fr.PLRNN(M, N, rng=0, observation="identity")
        model.set_params(**{k: v for k, v in ref.params.items() if k != "B"})
        sched = forcing.AdaptiveAlpha(every=1, gamma=0.5)
        hist = fr.fit(model, series, schedule=sched, seq_len=4, batch_size=3, batches_per_epoch=2, n_epochs=2,
                      lr=1e-2, rng=15, progress=False, device=device)
        results[device] = (model, hist)
    (mc, hc), (mg, hg) = results["cpu"], results["cuda"]
    np.testing.assert_allclose(hg.loss, hc.loss, rtol=1e-10)
    np.testing.assert_allclose(hg.alpha, hc.alpha, rtol=1e-10)
    assert len(hc.alpha) == 2 and hc.alpha[0] < 1.0
    np.testing.assert_array_equal(mg.params["B"], np.eye(N, M))
    for name, p in mc.params.items():
        np.testing.assert_allclose(mg.params[name], p, rtol=1e-9, atol=1e-12, err_msg=name)
