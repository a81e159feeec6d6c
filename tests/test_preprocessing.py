"""Detrending, cycle removal and nonlinear noise reduction (fastrnn.preprocessing, issue 13)."""
import warnings

import numpy as np
import pytest

from fastrnn import systems
from fastrnn.preprocessing import (PreprocessingWarning, denoise, detrend, noise_level, noise_reduction_projective,
                                   noise_reduction_simple, remove_cycle, zscore)

T = 10_000
NOISE = 0.05  # observation-noise std relative to the signal's


def rms(a):
    return float(np.sqrt(np.mean(np.square(a))))


# ---------------------------------------------------------------- zscore unchanged

def test_zscore_unchanged():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 3))
    np.testing.assert_array_equal(zscore(x), (x - x.mean(axis=0)) / x.std(axis=0))


# ---------------------------------------------------------------- detrend

def _signal(n=2000):
    t = np.arange(n)
    return t, np.sin(2 * np.pi * t / 37.0) + 0.3 * np.cos(2 * np.pi * t / 11.0)


def test_detrend_linear_and_polynomial_exact():
    t, s = _signal()
    for method, trend, kw in [("linear", 5.0 + 0.01 * t, {}),
                              ("polynomial", 2.0 - 3e-3 * t + 4e-6 * t ** 2, {"order": 2}),
                              ("polynomial", 1e-9 * (t - 700.0) ** 3, {"order": 3})]:
        # the removed trend is trend + the signal's own fit; remove it the same way from s alone
        out, fitted = detrend(trend + s, method, return_trend=True, **kw)
        ref = detrend(s, method, **kw)
        np.testing.assert_allclose(out, ref, atol=1e-10)
        np.testing.assert_allclose(fitted + out, trend + s, atol=1e-12)
    # a pure trend is removed to rounding
    np.testing.assert_allclose(detrend(3.0 - 0.2 * t), 0.0, atol=1e-10)
    np.testing.assert_allclose(detrend(1 + t - 1e-3 * t ** 2, "polynomial", order=2), 0.0, atol=1e-8)


def test_detrend_columns_independent():
    t, s = _signal(500)
    x = np.column_stack([s + 0.5 * t, 2 * s - 0.1 * t, s])
    out = detrend(x)
    for j in range(3):
        np.testing.assert_allclose(out[:, j], detrend(x[:, j]), atol=1e-12)


def test_detrend_moving_average():
    n, w, fast, slow = 3000, 20, 10.0, 600.0
    t = np.arange(n)
    signal = np.sin(2 * np.pi * t / fast)  # whole periods in the window: passes unchanged
    trend = 2.0 * np.sin(2 * np.pi * t / slow)  # attenuated by the documented factor
    out, tr = detrend(signal + trend, "moving_average", window=w, return_trend=True)
    inner = slice(w, n - w)
    # the centred window of an even length is t - 9 .. t + 10: shift the phase by half a sample
    gain = np.sin(np.pi * w / slow) / (w * np.sin(np.pi / slow))
    expect_trend = gain * 2.0 * np.sin(2 * np.pi * (t + 0.5) / slow)
    np.testing.assert_allclose(tr[inner], expect_trend[inner], atol=1e-10)
    np.testing.assert_allclose(out[inner], (signal + trend - expect_trend)[inner], atol=1e-10)
    assert np.max(np.abs(out[inner] - signal[inner])) < 0.02  # 2 (1 - gain) = 0.011 of the slow sine is left
    # edges: the window is cut to the existing samples
    x = signal + trend
    assert tr[0] == pytest.approx(x[:w // 2 + 1].mean(), abs=1e-12)
    assert tr[-1] == pytest.approx(x[-((w - 1) // 2 + 1):].mean(), abs=1e-12)
    # 2-D and odd windows
    out2 = detrend(np.column_stack([x, -x]), "moving_average", window=21)
    np.testing.assert_allclose(out2[:, 1], -out2[:, 0], atol=1e-12)


# ---------------------------------------------------------------- remove_cycle

def test_remove_cycle_integer_period_exact():
    rng = np.random.default_rng(1)
    P, n = 12, 12 * 30
    pattern = rng.normal(size=P)
    out, cyc = remove_cycle(np.tile(pattern, 30) + 4.0, P, return_cycle=True)
    np.testing.assert_allclose(out, 0.0, atol=1e-12)
    np.testing.assert_allclose(cyc, np.tile(pattern, 30) + 4.0, atol=1e-12)
    # cycle + a series without cycle: the anomalies are the series, less its own (small) phase means
    noise = rng.normal(size=n)
    out = remove_cycle(np.tile(pattern, 30)[:, None] * [1.0, -2.0] + noise[:, None], float(P))
    assert out.shape == (n, 2)
    with pytest.warns(PreprocessingWarning, match="mostly the series' own variability"):  # noise has no cycle
        only_noise = remove_cycle(noise, P)
    np.testing.assert_allclose(out[:, 0], only_noise, atol=1e-12)
    assert rms(only_noise - noise) < 0.25  # phase means of 30 samples: ~ 1 / sqrt(30)


def test_remove_cycle_non_integer_period():
    P = 365.25
    t = np.arange(int(20 * P))
    cycle = np.sin(2 * np.pi * t / P) + 0.3 * np.cos(4 * np.pi * t / P)
    out = remove_cycle(cycle + 10.0, P)
    assert np.max(np.abs(out)) < 1e-3  # stated tolerance: 1e-3 of the amplitude
    noise = np.random.default_rng(2).normal(size=t.size)
    with pytest.warns(PreprocessingWarning):
        assert rms(remove_cycle(noise, P) - noise) < 0.3  # ~ 1 / sqrt(20) per bin


# ---------------------------------------------------------------- noise reduction

@pytest.fixture(scope="module")
def noisy_series():
    rng = np.random.default_rng(7)
    out = {}
    for name, clean, dt in [("henon", systems.henon(T, rng=1)[:, 0], 1.0),
                            ("lorenz", systems.lorenz(T, dt=0.01, rng=1)[:, 0], 0.01)]:
        noisy = clean + NOISE * clean.std() * rng.standard_normal(T)
        den = {}
        for method in ("schreiber", "projective"):
            den[method] = denoise(noisy, method)
        out[name] = (clean, noisy, dt, den)
    return out


@pytest.mark.parametrize("name", ["henon", "lorenz"])
@pytest.mark.parametrize("method,min_gain", [("schreiber", 2.0), ("projective", 2.4)])
def test_denoise_lowers_rms_error(noisy_series, name, method, min_gain):
    clean, noisy, _, den = noisy_series[name]
    gain = rms(noisy - clean) / rms(den[method] - clean)
    # measured (seeds 1-4): schreiber 2.8 (Hénon), 2.4 (Lorenz); projective 4.1-4.4, 2.9-3.0
    assert gain >= min_gain, f"{method} on {name}: RMS error only {gain:.2f}x lower"


@pytest.mark.parametrize("name", ["henon", "lorenz"])
def test_denoise_moves_lyapunov_towards_clean(noisy_series, name):
    from fastrnn.timeseries import max_lyapunov
    clean, noisy, dt, den = noisy_series[name]

    def lam(s):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return max_lyapunov(s, dt=dt, method="kantz").lambda_max
            except ValueError:  # no scaling region: the noisy curve can be unreadable
                return np.nan

    ref = lam(clean)
    err_noisy = abs(lam(noisy) - ref)
    err_noisy = np.inf if np.isnan(err_noisy) else err_noisy
    for method in ("schreiber", "projective"):
        err = abs(lam(den[method]) - ref)
        assert err < err_noisy, f"{method} on {name}: |dλ| {err:.3f} vs noisy {err_noisy:.3f}"
        assert err < 0.2 * ref


def test_noise_level_and_clean_signal_untouched():
    clean = systems.henon(5000, rng=3)[:, 0]
    sd = NOISE * clean.std()
    noisy = clean + sd * np.random.default_rng(3).standard_normal(clean.size)
    assert 0.7 * sd < noise_level(noisy) < 0.9 * sd  # documented: ratio 0.80 at 5 % noise
    assert noise_level(clean) < 1e-4 * clean.std()  # curvature only
    assert rms(noise_reduction_simple(clean) - clean) < 1e-3 * clean.std()
    assert rms(noise_reduction_projective(clean) - clean) < 1e-2 * clean.std()
    # explicit radius, 2-D input column by column, units: scaling x scales the output
    two = np.column_stack([noisy, 3.0 * noisy])
    out = noise_reduction_simple(two, radius=None)
    np.testing.assert_allclose(out[:, 1], 3.0 * out[:, 0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(noise_level(two), [noise_level(noisy), 3 * noise_level(noisy)], rtol=1e-9)
    fixed = noise_reduction_projective(noisy, radius=3 * sd, n_iter=2)
    assert rms(fixed - clean) < rms(noisy - clean) / 2




# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("call,match", [
    (lambda x: detrend(x, "moving_average", window=2000), "larger than the series"),
    (lambda x: detrend(x, "moving_average"), "needs window"),
    (lambda x: detrend(x, "cubic"), "method must be"),
    (lambda x: detrend(x[:3], "polynomial", order=5), "at least 6"),
    (lambda x: remove_cycle(x, 1.5), "period must be >= 2"),
    (lambda x: remove_cycle(x, 600), "two cycles"),
    (lambda x: denoise(x, "projective", q=7), "q=7 must be smaller than dim=7"),
    (lambda x: denoise(x, "schreiber", q=2), "applies to method=.projective. only"),
    (lambda x: denoise(x, "wavelet"), "method must be"),
    (lambda x: denoise(x, dim=2), "dim must be >= 3"),
    (lambda x: denoise(x[:50]), "at least 100"),
    (lambda x: denoise(x, radius=-1.0), "radius must be >= 0"),
    (lambda x: noise_reduction_projective(x, min_neighbors=60), "exceeds max_neighbors"),
    (lambda x: denoise(np.where(np.arange(x.size) == 5, np.nan, x)), "NaN or infinite"),
    (lambda x: remove_cycle(np.where(np.arange(x.size) == 5, np.inf, x), 12), "NaN or infinite"),
    (lambda x: detrend(np.ones((4, 4, 4))), "1-D or 2-D"),
])
def test_errors(call, match):
    x = np.sin(np.arange(1000) * 0.3)
    with pytest.raises(ValueError, match=match):
        call(x)


def test_type_errors():
    x = np.sin(np.arange(1000) * 0.3)
    with pytest.raises(TypeError, match="window must be an integer"):
        detrend(x, "moving_average", window=10.5)
    with pytest.raises(TypeError, match="n_iter must be an integer"):
        denoise(x, n_iter=2.0)
    with pytest.raises(TypeError, match="dtype"):
        denoise(np.array(["a"] * 200))


def test_remove_cycle_warns_when_the_cycle_is_within_the_averaging_noise():
    x = systems.lorenz(15000, dt=0.01, rng=0)[:, 0]
    x = (x - x.mean()) / x.std()
    t = np.arange(x.size)
    # 7.5 cycles of period 2000 in a chaotic signal decorrelating within ~100 samples: the "mean cycle" is mostly
    # the signal's own variability (its variance ~ 1/7.5), with or without a weak true cycle
    for amp in (0.0, 0.3):
        with pytest.warns(PreprocessingWarning, match="subtracting it removes signal"):
            remove_cycle(x + amp * np.sqrt(2) * np.sin(2 * np.pi * t / 2000), 2000)
    # a clear cycle over many periods: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", PreprocessingWarning)
        remove_cycle(x + np.sqrt(2) * np.sin(2 * np.pi * t / 200), 200)
        rng = np.random.default_rng(0)
        remove_cycle(5 * np.sin(2 * np.pi * np.arange(360) / 12) + rng.standard_normal(360), 12)
