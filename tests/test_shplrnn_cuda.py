"""The ShPLRNN's GPU twin (fastrnn.kernels.cuda.shplrnn) under Numba's CUDA simulator, against the CPU kernels, as
tests/test_cuda.py does for the other models: both variants, every forcing pattern, inputs, ridge and frozen
control, float32, another launch geometry, gradient cuts and fit on the device.

Runs only with NUMBA_ENABLE_CUDASIM=1 set before numba is imported, in its own pytest process::

    NUMBA_ENABLE_CUDASIM=1 .venv/bin/python -m pytest -q tests/test_shplrnn_cuda.py
"""
import os
import sys

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("the CUDA tests run under the simulator only: NUMBA_ENABLE_CUDASIM=1 python -m pytest "
                "tests/test_shplrnn_cuda.py", allow_module_level=True)

import numba  # noqa: E402

if not numba.config.ENABLE_CUDASIM:
    pytest.skip("numba was imported before NUMBA_ENABLE_CUDASIM=1 took effect; run this file in its own process",
                allow_module_level=True)

import fastrnn as fr  # noqa: E402
from fastrnn import forcing  # noqa: E402
from fastrnn.kernels import cuda as kcuda  # noqa: E402

from test_cuda import M, N, K, T, alpha_patterns, assert_same, data  # noqa: E402
from test_shplrnn import make_shplrnn  # noqa: E402

sys.setswitchinterval(1e-4)

H = 5
VARIANTS = [False, True]


CASES = ([(p, True) for p in alpha_patterns()]                   # every pattern with inputs,
         + [("tau1", False), ("fractional", False)])            # and two without (the simulator is slow)


@pytest.mark.parametrize("pattern,with_inputs", CASES)
@pytest.mark.parametrize("clipped", VARIANTS)
def test_loss_and_grad_matches_cpu(clipped, pattern, with_inputs):
    model = make_shplrnn(M, N, K if with_inputs else 0, H, clipped, seed=1)
    X, S = data(with_inputs)
    alpha, mask = alpha_patterns()[pattern]
    kw = dict(inputs=S, unit_mask=mask)
    res_cpu = fr.loss_and_grad(model, X, alpha, **kw)
    res_gpu = fr.loss_and_grad(model, X, alpha, device="cuda", **kw)
    assert_same(res_gpu, res_cpu, what=f"clipped={clipped} {pattern} inputs={with_inputs}")
    if pattern != "none":
        assert abs(res_cpu[0] - fr.loss_and_grad(model, X, forcing.none(T), inputs=S)[0]) > 1e-6


@pytest.mark.parametrize("ridge,control_grad", [(0.3, True), (0.0, False), (0.3, False)])
@pytest.mark.parametrize("clipped", VARIANTS)
def test_ridge_and_frozen_control(clipped, ridge, control_grad):
    model = make_shplrnn(M, N, K, H, clipped, seed=4)
    X, S = data(True, seed=5)
    alpha = forcing.interval(T, 3)
    kw = dict(inputs=S, ridge=ridge, control_grad=control_grad)
    assert_same(fr.loss_and_grad(model, X, alpha, device="cuda", **kw), fr.loss_and_grad(model, X, alpha, **kw),
                what=f"clipped={clipped} ridge={ridge} control_grad={control_grad}")


@pytest.mark.parametrize("clipped", VARIANTS)
def test_float32(clipped):
    model = make_shplrnn(M, N, K, H, clipped, seed=6).astype(np.float32)
    X, S = data(True, seed=7)
    alpha = forcing.interval(T, 4)
    res_gpu = fr.loss_and_grad(model, X, alpha, inputs=S, device="cuda")
    res_cpu = fr.loss_and_grad(model, X, alpha, inputs=S)
    assert all(g.dtype == np.float32 for g in res_gpu[1].values())
    assert_same(res_gpu, res_cpu, rtol=2e-5, atol=2e-6, what=f"clipped={clipped} float32")


@pytest.mark.parametrize("clipped", VARIANTS)
def test_truncated_bptt(clipped):
    model = make_shplrnn(M, N, K, H, clipped, seed=2)
    X, S = data(True, seed=3)
    kw = dict(inputs=S, truncate=3)
    assert_same(fr.loss_and_grad(model, X, forcing.none(T), device="cuda", **kw),
                fr.loss_and_grad(model, X, forcing.none(T), **kw), what=f"clipped={clipped} truncate")


def test_other_launch_geometry():
    """Blocks wider than the latent units but narrower than the hidden layer, 3x3 tiles and 3 chunks."""
    from fastrnn import training

    m, n, k, h = 3, 2, 2, 7
    for clipped in VARIANTS:
        model = make_shplrnn(m, n, k, h, clipped, seed=8)
        X, S = data(True, seed=9, nb=2, t=6, n=n, k=k)
        alpha = np.stack([forcing.interval(6, 2), np.linspace(0, 1, 7)])
        mask = np.array([1, 0, 1], dtype=bool)
        ses = kcuda.driver.Session(config=dict(warp=4, max_threads=4, tile=3, threads_1d=5, target_blocks=64,
                                               max_chunks=3))
        Xc, Sc = training._check_windows(model, X, S)
        a = forcing.check_alpha(alpha, 6, 2)
        m_ = training._check_mask(model, mask)
        batch = training.Batch(ses.to_device(Xc), ses.to_device(Sc), m_)
        res_gpu = training.batch_loss_and_grad(model, batch, a, 0.0, True, ses)
        res_cpu = fr.loss_and_grad(model, X, alpha, inputs=S, unit_mask=mask)
        assert_same(res_gpu, res_cpu, what=f"clipped={clipped} geometry")


def test_fit_on_device_matches_cpu():
    rng = np.random.default_rng(10)
    series = [rng.normal(size=(14, N)), rng.normal(size=(11, N))]
    ins = [rng.normal(size=(14, K)), rng.normal(size=(11, K))]
    results = {}
    for device in ("cpu", "cuda"):
        model = make_shplrnn(M, N, K, H, True, seed=11, scale=0.5)
        hist = fr.fit(model, series, inputs=ins, tau=2, seq_len=4, batch_size=3, batches_per_epoch=1, n_epochs=2,
                      lr=1e-2, rng=12, progress=False, device=device)
        results[device] = (model, hist)
    (mc, hc), (mg, hg) = results["cpu"], results["cuda"]
    np.testing.assert_allclose(hg.loss, hc.loss, rtol=1e-10)
    start = make_shplrnn(M, N, K, H, True, seed=11, scale=0.5)
    for name, p in mc.params.items():
        assert not np.allclose(p, start.params[name]), f"{name} was not trained"
        np.testing.assert_allclose(mg.params[name], p, rtol=1e-9, atol=1e-12, err_msg=name)


_PTX_CHILD = """
# Compile both variants' kernels, float32 and float64, to PTX for sm_90 with the argument types the driver passes
# (numba's real CUDA pipeline, which the simulator skips). Needs libnvvm, not a GPU.
import inspect
from numba import cuda, types
from numba.cuda.cudadrv import nvvm
try:
    nvvm.NVVM()
except Exception as exc:
    print("NO-NVVM", exc)
    raise SystemExit(0)
from numba.cuda import dispatcher
dispatcher.get_current_device = lambda: type("Device", (), {"compute_capability": (9, 0)})()
from fastrnn.kernels.cuda import shplrnn
ONE_D, TWO_D = {"A", "h1", "h2", "mask"}, {"W1", "W2", "W1T", "W2T", "CT", "B", "PT", "alpha"}
THREE_D = {"X", "S", "Z", "U", "Q", "ZF", "R", "GF", "GU", "GH", "GZt"}
n = 0
for npdt, dt in (("<f4", types.float32), ("<f8", types.float64)):
    for clipped in (False, True):
        for k in shplrnn.kernels(npdt, clipped):
            sig = []
            for name in inspect.signature(k.py_func).parameters:
                if name == "losses":
                    sig.append(types.Array(types.float64, 1, "C"))
                elif name == "scale":
                    sig.append(dt)
                else:
                    nd = 1 if name in ONE_D else 3 if name in THREE_D else 2 if name in TWO_D else None
                    assert nd is not None, f"unknown kernel argument {name}"
                    sig.append(types.Array(dt, nd, "C"))
            ptx, _ = cuda.compile_ptx(k.py_func, tuple(sig), cc=(9, 0))
            assert ".entry" in ptx and ".local" not in ptx, k.py_func.__qualname__   # no spills to local memory
            n += 1
print("COMPILED", n)
"""


def test_kernels_compile_for_a_real_gpu():
    """Both variants' kernels, float32 and float64, compile for sm_90 through numba's real CUDA pipeline without
    spilling to local memory (skipped where libnvvm is not installed)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", _PTX_CHILD], env=env, capture_output=True, text=True, timeout=300)
    if "NO-NVVM" in out.stdout:
        pytest.skip(f"libnvvm (CUDA toolkit) not found, cannot compile PTX here: {out.stdout.strip()}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "COMPILED 8" in out.stdout, out.stdout + out.stderr
