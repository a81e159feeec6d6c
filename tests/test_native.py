"""The C core (csrc/) through fastrnn._native: QR accumulation against the NumPy loop, exact cases, error paths,
re-entrancy, the portable code path, and the build/loading machinery."""
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading

import numpy as np
import pytest

from fastrnn import _native

import naive

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def random_frame(D, k, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((D, k)))[0]


def gaussian_jacobians(n, D, seed, gain=1.1):
    """Random Gaussian matrices: a hard case (heavy-tailed condition numbers, spread log|R_ii| ~ 1 per step)."""
    return np.random.default_rng(seed).standard_normal((n, D, D)) * (gain / np.sqrt(D))


def accumulate(J, frame, chunks=1, max_interval=32, tri=False):
    Q = np.array(frame)
    sums = np.zeros(Q.shape[1])
    T = np.eye(Q.shape[1]) if tri else None
    n, scale = 0, 0.0
    for piece in np.array_split(J, chunks):
        n, scale = _native.qr_accumulate(np.ascontiguousarray(piece), Q, sums, n, tri=T, tri_log_scale=scale,
                                         max_interval=max_interval)
    return sums, n, Q, T, scale


def test_library_is_the_package_copy_with_the_expected_interface():
    assert os.path.basename(_native.library_path) == _native.library_filename()
    assert _native.lib.fastrnn_core_abi() == _native.ABI_VERSION == 1
    assert _native.lib.fastrnn_core_simd() in (0, 1)
    # the header's constant is the one the loader expects
    with open(os.path.join(ROOT, "csrc", "fastrnn_core.h")) as fh:
        assert f"#define FASTRNN_CORE_ABI {_native.ABI_VERSION}\n" in fh.read()


@pytest.mark.parametrize("D,k", [(1, 1), (2, 2), (3, 3), (7, 3), (30, 30), (33, 17)])
@pytest.mark.parametrize("max_interval", [1, 32])
def test_agrees_with_numpy_qr_loop(D, k, max_interval):
    J = gaussian_jacobians(600, D, seed=D + k)
    frame = random_frame(D, k, seed=1)
    ref, Qref = naive.qr_loop_spectrum(J, frame)
    sums, n, Q, _, _ = accumulate(J, frame, chunks=3, max_interval=max_interval)
    assert n == 600
    np.testing.assert_allclose(sums / n, ref, rtol=0, atol=1e-11)
    # same frame up to the signs of its columns, and orthonormal to rounding
    np.testing.assert_allclose(np.abs(Q), np.abs(Qref), atol=1e-9)
    np.testing.assert_allclose(Q.T @ Q, np.eye(k), atol=1e-13)


def test_chunking_does_not_change_the_result():
    J = gaussian_jacobians(1000, 12, seed=3)
    frame = random_frame(12, 12, seed=2)
    one = accumulate(J, frame, chunks=1)[0]
    for chunks in (2, 7, 1000):
        np.testing.assert_allclose(accumulate(J, frame, chunks=chunks)[0] / 1000, one / 1000, rtol=0, atol=1e-11)


def test_diagonal_map_gives_log_abs_entries():
    a = np.array([0.5, -1.7, 0.9, 1e-3, -0.2])
    J = np.broadcast_to(np.diag(a), (400, 5, 5)).copy()
    # the coordinate frame is invariant: every R_ii is a_i (a_i^m for a block of m steps), exact to rounding
    sums, n, Q, *_ = accumulate(J, np.eye(5))
    np.testing.assert_allclose(sums / n, np.log(np.abs(a)), rtol=0, atol=1e-13)
    # a random frame first aligns with the axes (ordered by |a_i|); after that the per-step terms are exact
    Q = random_frame(5, 5, seed=4)
    _native.qr_accumulate(J, Q, np.zeros(5), 0)
    sums, n, *_ = accumulate(J, Q)
    np.testing.assert_allclose(sums / n, np.sort(np.log(np.abs(a)))[::-1], rtol=0, atol=1e-12)


def test_sum_is_mean_log_abs_det():
    J = gaussian_jacobians(2000, 6, seed=5)
    sums, n, *_ = accumulate(J, random_frame(6, 6, seed=6))
    assert abs(sums.sum() / n - np.mean(np.linalg.slogdet(J)[1])) < 1e-12


def test_extreme_scales_neither_overflow_nor_underflow():
    # |growth| of e^{+-230} per step: blocks of several steps would leave the float64 range, the core adapts
    J = np.concatenate([np.broadcast_to(np.diag([1e100, 1e-100]), (50, 2, 2)),
                        np.broadcast_to(np.diag([1e-150, 1e-160]), (50, 2, 2))])
    sums, n, *_ = accumulate(np.ascontiguousarray(J), np.eye(2))
    expect = np.array([50 * np.log(1e100) + 50 * np.log(1e-150), 50 * np.log(1e-100) + 50 * np.log(1e-160)])
    np.testing.assert_allclose(sums, expect, rtol=1e-13)


def test_singular_jacobian_gives_minus_inf_not_nan():
    J = np.zeros((5, 3, 3))
    J[:, 0, 0] = 2.0  # rank one
    sums, n, Q, *_ = accumulate(J, np.eye(3))
    assert sums[0] == pytest.approx(5 * np.log(2.0))
    assert np.all(np.isneginf(sums[1:]))
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-15)


def test_nonfinite_jacobian_raises_and_keeps_the_state_before_it():
    J = gaussian_jacobians(100, 4, seed=7)
    J[37, 2, 1] = np.nan
    frame = random_frame(4, 4, seed=8)
    Q = frame.copy()
    sums = np.zeros(4)
    with pytest.raises(ValueError, match=r"jac\[37\] contains NaN or inf"):
        _native.qr_accumulate(J, Q, sums, 0)
    ref, Qref = naive.qr_loop_spectrum(J[:37], frame)
    np.testing.assert_allclose(sums / 37, ref, atol=1e-12)
    np.testing.assert_allclose(np.abs(Q), np.abs(Qref), atol=1e-10)
    J[37, 2, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        _native.qr_accumulate(J, frame.copy(), np.zeros(4), 0)


def test_overflow_is_an_error():
    J = np.full((3, 4, 4), 1e308)
    with pytest.raises(FloatingPointError, match="overflow"):
        _native.qr_accumulate(J, np.eye(4), np.zeros(4), 0)


def test_triangular_product_gives_log_norms_of_jacobian_products():
    J = gaussian_jacobians(3000, 5, seed=9, gain=1.6)
    lags = [1, 2, 10, 100, 1000, 3000]
    ref = naive.jacobian_product_log_norms(J, lags)
    Q, sums, T, scale, n, out = np.eye(5), np.zeros(5), np.eye(5), 0.0, 0, []
    start = 0
    for L in lags:
        n, scale = _native.qr_accumulate(J[start:L], Q, sums, n, tri=T, tri_log_scale=scale)
        start = L
        out.append(scale + np.log(np.linalg.norm(T, 2)))
        assert np.max(np.abs(T)) == pytest.approx(1.0)
        assert np.allclose(np.tril(T, -1), 0.0)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9)
    assert ref[-1] > 500  # e^500: far outside float64 without the log scale


def test_argument_validation():
    J = gaussian_jacobians(3, 4, seed=0)
    with pytest.raises(TypeError, match="float64"):
        _native.qr_accumulate(J.astype(np.float32), np.eye(4), np.zeros(4), 0)
    with pytest.raises(TypeError, match="C-contiguous"):
        _native.qr_accumulate(J, np.asfortranarray(random_frame(4, 4, 0)), np.zeros(4), 0)
    with pytest.raises(ValueError, match="frame must have shape"):
        _native.qr_accumulate(J, np.eye(3), np.zeros(3), 0)
    with pytest.raises(ValueError, match="log_sums must have shape"):
        _native.qr_accumulate(J, np.eye(4), np.zeros(3), 0)
    with pytest.raises(ValueError, match=r"shape \(n, D, D\)"):
        _native.qr_accumulate(J[:, :, :3], np.eye(4), np.zeros(4), 0)
    with pytest.raises(ValueError, match="max_interval"):
        _native.qr_accumulate(J, np.eye(4), np.zeros(4), 0, max_interval=0)
    # zero steps: a no-op
    Q, s = np.eye(4), np.zeros(4)
    assert _native.qr_accumulate(J[:0], Q, s, 5) == (5, 0.0)
    assert np.array_equal(Q, np.eye(4)) and not s.any()


def test_reentrant_from_threads():
    """No global state: concurrent calls (cffi releases the GIL) give the sequential results."""
    jobs = [(gaussian_jacobians(1500, 20, seed=s), random_frame(20, 20, seed=s)) for s in range(4)]
    expect = [accumulate(J, f, chunks=5)[0] for J, f in jobs]
    got = [None] * len(jobs)

    def work(i):
        J, f = jobs[i]
        got[i] = accumulate(J, f, chunks=5)[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e, g in zip(expect, got):
        np.testing.assert_array_equal(g, e)  # deterministic: bit for bit


def test_callable_from_numba():
    """The cffi function works in nopython mode when passed in as an argument (how cached @njit code uses it)."""
    from numba import njit

    ffi = _native.ffi

    @njit
    def run(f, J, Q, sums, count, T, log_scale):
        return f(J.shape[0], J.shape[1], Q.shape[1], ffi.from_buffer(J), ffi.from_buffer(Q), ffi.from_buffer(sums),
                 ffi.from_buffer(count), ffi.from_buffer(T), ffi.from_buffer(log_scale), 32)

    J = gaussian_jacobians(300, 6, seed=13)
    frame = random_frame(6, 6, seed=14)
    Q, sums, count, T, log_scale = frame.copy(), np.zeros(6), np.zeros(1, np.int64), np.eye(6), np.zeros(1)
    assert run(_native.lib.fastrnn_qr_accumulate, J, Q, sums, count, T, log_scale) == 0
    ref, n, Qref, Tref, scale_ref = accumulate(J, frame, tri=True)
    assert count[0] == n == 300
    np.testing.assert_array_equal(sums, ref)
    np.testing.assert_array_equal(Q, Qref)
    np.testing.assert_array_equal(T, Tref)
    assert log_scale[0] == scale_ref


def _compiler():
    return shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


@pytest.mark.skipif(_compiler() is None, reason="no C compiler on PATH")
@pytest.mark.parametrize("flags", [["-DFASTRNN_NO_DISPATCH"], ["-DFASTRNN_NO_DISPATCH", "-DFASTRNN_NO_VECTOR"]],
                         ids=["generic-vector", "plain-C"])
def test_portable_code_paths_match(tmp_path, flags):
    """The generic instantiation (no AVX2 dispatch) and the plain-C loops (what compilers without GCC vector
    extensions build) give the same exponents as the library in use."""
    out = tmp_path / "libgeneric.so"
    subprocess.run([_compiler(), "-O2", "-std=gnu99", "-shared", "-fPIC", *flags, "-o", str(out),
                    os.path.join(ROOT, "csrc", "fastrnn_core.c"), "-lm"], check=True)
    lib = _native.ffi.dlopen(str(out))
    assert lib.fastrnn_core_simd() == 0
    p = _native._ptr
    for D, k in ((13, 13), (30, 30), (9, 5)):
        J = gaussian_jacobians(500, D, seed=11)
        frame = random_frame(D, k, seed=12)
        Q, sums, T = frame.copy(), np.zeros(k), np.eye(k)
        count, scale = _native.ffi.new("int64_t *", 0), _native.ffi.new("double *", 0.0)
        assert lib.fastrnn_qr_accumulate(500, D, k, p(J), p(Q), p(sums), count, p(T), scale, 32) == 0
        assert count[0] == 500
        ref, _, Qref, Tref, scale_ref = accumulate(J, frame, tri=True)
        # same algorithm, other rounding (no FMA): equal to the block-rounding level of these Gaussian matrices
        np.testing.assert_allclose(sums / 500, ref / 500, rtol=0, atol=1e-10)
        np.testing.assert_allclose(np.abs(Q), np.abs(Qref), atol=1e-8)
        assert scale[0] + np.log(np.linalg.norm(T, 2)) == pytest.approx(scale_ref + np.log(np.linalg.norm(Tref, 2)),
                                                                        rel=1e-10)


def _run(code, env):
    # -S: no site hooks, so the editable install's import redirect cannot hide the isolated copy under test
    return subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=os.path.dirname(env["PYTHONPATH"].split(os.pathsep)[0]))


def _isolated_package(root):
    """A copy of the loader as package 'fastrnn' (empty __init__) under ``root``, and an environment that imports
    it (plus numpy and cffi from this interpreter's site-packages)."""
    pkg = root / "fastrnn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    shutil.copy(os.path.join(ROOT, "fastrnn", "_native.py"), pkg / "_native.py")
    paths = sysconfig.get_paths()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), paths["purelib"], paths["platlib"]]))
    env.pop("FASTRNN_CORE_LIBRARY", None)
    return pkg, env


def test_missing_library_error_names_the_rebuild_command(tmp_path):
    _, env = _isolated_package(tmp_path)
    r = _run("import fastrnn._native", env)
    installed = os.path.join(sysconfig.get_paths()["platlib"], "fastrnn", _native.library_filename())
    if os.path.exists(installed):  # pragma: no cover - only with a non-editable install in this interpreter
        pytest.skip("a fastrnn C core is installed in site-packages of this interpreter")
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "not found" in r.stderr and "make native" in r.stderr


@pytest.mark.skipif(shutil.which("cmake") is None or _compiler() is None, reason="needs cmake and a C compiler")
def test_rebuild_after_a_change_in_csrc_is_picked_up(tmp_path):
    """`make native`'s CMake build copies the library into the source package; a stale build is refused."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(os.path.join(ROOT, "CMakeLists.txt"), src / "CMakeLists.txt")
    shutil.copytree(os.path.join(ROOT, "csrc"), src / "csrc")
    pkg, env = _isolated_package(src)
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(src), "-B", str(build), "-DFASTRNN_COPY_TO_SOURCE=ON",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    probe = "import fastrnn._native as n; print(n.library_path); print(n.lib.fastrnn_core_abi())"
    r = _run(probe, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(pkg / _native.library_filename()), "1"]
    # change the C source: bump the interface version, rebuild with the same command
    header = src / "csrc" / "fastrnn_core.h"
    header.write_text(header.read_text().replace("#define FASTRNN_CORE_ABI 1", "#define FASTRNN_CORE_ABI 99"))
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    r = _run(probe, env)
    assert r.returncode != 0
    assert "interface version 99" in r.stderr and "make native" in r.stderr
