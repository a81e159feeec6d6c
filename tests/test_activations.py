"""The float32 tanh and sigmoid that the training kernels use (``fastrnn.kernels._common``): a vectorisable rational
evaluated in float32, checked against float64 libm on a dense grid that covers every binade the kernels see."""
import numpy as np
import pytest
from numba import njit

from fastrnn.kernels import _common


@njit
def _apply_tanh(x, out):
    for i in range(x.size):
        out[i] = _common.tanh(x[i])


@njit
def _apply_sigmoid(x, out):
    for i in range(x.size):
        out[i] = _common.sigmoid(x[i])


def _grid():
    """Uniform points on [-12, 12] and log-spaced ones from 1e-30 to 12, both signs, as float32."""
    mag = np.geomspace(1e-30, 12.0, 1_000_001)
    return np.unique(np.concatenate([np.linspace(-12.0, 12.0, 2_000_001), mag, -mag]).astype(np.float32))


def _run(fn, x):
    out = np.empty_like(x)
    fn(x, out)
    assert out.dtype == np.float32
    return out


def test_float32_tanh_is_within_its_stated_ulp_bound():
    x = _grid()
    got = _run(_apply_tanh, x).astype(np.float64)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(got - exact) / ulp
    assert err.max() <= _common.TANH32_MAX_ULP
    assert err.mean() < 0.6                                  # typical error well under one ulp
    assert np.array_equal(got, -_run(_apply_tanh, -x))       # odd
    assert np.all(np.abs(got) <= 1.0)                        # float32 rounding alone would exceed 1 near |x| = 9


def test_float32_sigmoid_is_within_its_stated_absolute_bound():
    x = _grid()
    got = _run(_apply_sigmoid, x).astype(np.float64)
    exact = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    assert np.abs(got - exact).max() <= _common.SIGMOID32_MAX_ABS
    assert np.all((got >= 0.0) & (got <= 1.0))


@pytest.mark.parametrize("fn", [_apply_tanh, _apply_sigmoid])
def test_float32_activations_saturate_and_pass_nan(fn):
    x = np.array([np.inf, -np.inf, 1e30, -1e30, np.nan], dtype=np.float32)
    got = _run(fn, x)
    lo = -1.0 if fn is _apply_tanh else 0.0
    tol = 2.0 ** -24 if fn is _apply_tanh else _common.SIGMOID32_MAX_ABS   # tanh saturates at 1 - 2^-24
    np.testing.assert_allclose(got[:4], [1.0, lo, 1.0, lo], rtol=0, atol=tol)
    assert np.isnan(got[4])
