"""lambda_max and tau from data (issue 13): no silent number without a positive exponent, EEG look-alikes
(oscillatory chaos, delay-embedded into ~10 columns, a little noise), the result's interval and quality fields,
and the divergence figure.  Fast: every series is short and seeded."""
import functools
import math
import warnings

import numpy as np
import pytest

from fastrnn import systems
from fastrnn import timeseries as ts

LN2 = math.log(2.0)


def _tau_or_error(x, dt, **kwargs):
    """(suggestion or None, the error or None, the LyapunovWarning messages issued)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            s = ts.suggest_tau(x, dt=dt, **kwargs)
            err = None
        except ValueError as exc:
            s, err = None, exc
    msgs = [str(w.message) for w in caught if issubclass(w.category, ts.LyapunovWarning)]
    return s, err, msgs


def _no_exponent_series():
    rng = np.random.default_rng(0)
    white = rng.standard_normal(10000)
    ar1 = np.zeros(10000)
    for i in range(1, ar1.size):
        ar1[i] = 0.9 * ar1[i - 1] + white[i]
    t = 0.1 * np.arange(10000)
    return {"white": white, "ar1": ar1, "sine": np.sin(t), "quasi": np.sin(t) + np.sin(math.sqrt(2.0) * t)}


@pytest.mark.parametrize("name", ["white", "ar1", "sine", "quasi"])
def test_no_positive_exponent_never_gives_a_silent_tau(name):
    x = _no_exponent_series()[name]
    s, err, msgs = _tau_or_error(x, 0.1)
    assert err is not None or (msgs and s.estimate.warnings)
    if err is not None:
        assert isinstance(err, ts.NoScalingRegionError)
        assert "try" in str(err).lower()  # it says what to try


def test_error_and_warning_classes():
    assert issubclass(ts.NoScalingRegionError, ValueError)
    assert issubclass(ts.LyapunovWarning, UserWarning)


# ----------------------------------------------------------------------------------------------------------------
# EEG look-alikes: Rössler x (oscillatory chaos), 1e4 samples, 1-2 % noise, 10 delay columns of lag 3 steps
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rossler_reference():
    return float(systems.lyapunov_spectrum("rossler", 200000, rng=0)[0])  # about 0.0707 per time unit


def _eeg_lookalike(noise, seed):
    x = systems.rossler(10000 + 27, dt=0.05, rng=seed, noise=noise)[:, 0]
    return np.stack([x[3 * i: x.size - 27 + 3 * i] for i in range(10)], axis=1)  # (10000, 10)


CASES = [(0.01, 3, "column"), (0.01, 3, "joint"), (0.02, 4, "column"), (0.02, 4, "joint"), (0.01, 7, "column"),
         (0.02, 8, "joint"), (0.01, 5, "column"), (0.01, 5, "joint"), (0.0, 3, "column"), (0.0, 3, "joint")]
#: met since the noise floor is subtracted, the interval includes the block bootstrap, and a region past a shoulder
#: is moved to the first rise (the last one; docs/lyapunov_panel.md: 12 of 18 look-alike readings within 25 %)
CASES_MET = [(0.01, 3, "column"), (0.02, 4, "column"), (0.02, 4, "joint"), (0.01, 7, "column"), (0.02, 8, "joint"),
             (0.01, 5, "column")]
CASES_OPEN = [c for c in CASES if c not in CASES_MET]


@functools.lru_cache(maxsize=None)
def _lookalike_reading(noise, seed, kind):
    """`_tau_or_error` on one look-alike case, computed once per case for the tests below (seconds each)."""
    X = _eeg_lookalike(noise, seed)
    return _tau_or_error(X[:, 0] if kind == "column" else X, 0.05)


@pytest.mark.parametrize("noise, seed, kind", CASES)
def test_eeg_lookalike_is_never_silently_wrong(noise, seed, kind, rossler_reference):
    s, err, msgs = _lookalike_reading(noise, seed, kind)
    tau_true = LN2 / rossler_reference / 0.05  # about 196 steps
    if err is None:
        ok = abs(s.tau / tau_true - 1) <= 0.25 and s.tau_low <= tau_true <= s.tau_high
        assert ok or s.estimate.warnings  # a tau outside 25 % always comes with a warning
        assert msgs == [f"max_lyapunov: {m}" for m in s.estimate.warnings]
    else:
        assert isinstance(err, ts.NoScalingRegionError)


def _lookalike_tau_within_25_percent(noise, seed, kind, rossler_reference):
    s, err, _ = _lookalike_reading(noise, seed, kind)
    assert err is None, f"no tau: {err}"
    tau_true = LN2 / rossler_reference / 0.05
    assert s.tau == pytest.approx(tau_true, rel=0.25)
    assert s.tau_low <= tau_true <= s.tau_high


@pytest.mark.parametrize("noise, seed, kind", CASES_MET)
def test_eeg_lookalike_tau_within_25_percent(noise, seed, kind, rossler_reference):
    _lookalike_tau_within_25_percent(noise, seed, kind, rossler_reference)


@pytest.mark.xfail(strict=True, reason="issue 13 target not reached on every look-alike: short records whose curves "
                   "have a shoulder and bend throughout, read over their whole rise (0 %, seed 3: tau +98 %; 1 %, "
                   "seed 5, joint: +49 %; 1 %, seed 3, joint: +182 %); every interval contains the truth; see "
                   "docs/lyapunov_panel.md")
@pytest.mark.parametrize("noise, seed, kind", CASES_OPEN)
def test_eeg_lookalike_tau_within_25_percent_open(noise, seed, kind, rossler_reference):
    _lookalike_tau_within_25_percent(noise, seed, kind, rossler_reference)


# ----------------------------------------------------------------------------------------------------------------
# the result: interval, per-curve fits, warnings; tau's interval
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lorenz_suggestion():
    x = systems.lorenz(20000, dt=0.01, rng=2)[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.LyapunovWarning)
        return ts.suggest_tau(x, dt=0.01)


def test_lorenz_estimate_interval_and_curves(lorenz_suggestion):
    s = lorenz_suggestion
    e = s.estimate
    assert e.lambda_max == pytest.approx(0.9056, rel=0.10)
    assert e.lambda_low <= e.lambda_max <= e.lambda_high
    assert e.lambda_low <= 0.9056 <= e.lambda_high
    assert len(e.curves) >= 3 and len(e.consensus) >= 2
    dims = [c.dim for c in e.curves]
    assert dims == sorted(dims) and e.dim in dims
    rep = [c for c in e.curves if c.divergence is e.divergence]
    assert len(rep) == 1 and rep[0].slope == e.per_step and rep[0].fit_range == e.fit_range
    for i in e.consensus:
        c = e.curves[i]
        assert c.credible and c.r2 >= 0.9 and c.rise >= 1.0
        assert e.lambda_low * e.dt <= c.slope <= e.lambda_high * e.dt
    assert isinstance(e.warnings, list)
    # the fit range lies after the transient and before the first saturation of the curve
    start, stop = e.fit_range
    y = e.divergence
    assert start > 0 and y[stop - 1] < y.max() and stop - start >= 100


def test_tau_interval_is_the_mirror_of_the_lambda_interval(lorenz_suggestion):
    s = lorenz_suggestion
    e = s.estimate
    assert s.tau_low <= s.tau <= s.tau_high
    assert s.tau_pred_low == pytest.approx(LN2 / e.lambda_high)  # a high lambda gives a low tau
    assert s.tau_pred_high == pytest.approx(LN2 / e.lambda_low)
    assert s.tau_pred_low <= s.tau_pred <= s.tau_pred_high
    assert s.tau_low == math.floor(s.tau_pred_low / 0.01) and s.tau_high == math.ceil(s.tau_pred_high / 0.01)
    assert 65 <= s.tau <= 90  # ln 2 / 0.9056 / 0.01 = 77 steps


def test_short_scaling_region_warns():
    # a very short logistic series: few neighbours, the curve saturates after a handful of steps
    x = systems.logistic(400, rng=3)[:, 0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            e = ts.max_lyapunov(x, dim=[1, 2, 3])
        except ts.NoScalingRegionError:
            return
    assert e.lambda_low <= e.lambda_max <= e.lambda_high
    assert len(caught) == len(e.warnings)


def test_explicit_dimensions_and_kantz_radii():
    x = systems.henon(5000, rng=4)[:, 0]
    e = ts.max_lyapunov(x, dim=[2, 3], lag=1, method="kantz", radius="auto")
    assert len(e.curves) == 6 and {c.dim for c in e.curves} == {2, 3}
    assert all(c.radius is not None and c.n_neighbors == 0 for c in e.curves)
    assert e.lambda_max == pytest.approx(0.4192, rel=0.1)
    with pytest.raises(ValueError, match="radius"):
        ts.max_lyapunov(x, radius="big", method="kantz")


def test_divergence_figure_shows_every_curve(lorenz_suggestion):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from fastrnn import plotting

    e = lorenz_suggestion.estimate
    fig = plotting.divergence_figure(e)
    ax = fig.axes[0]
    ydata = [ln.get_ydata() for ln in ax.lines]
    for c in e.curves:
        assert any(len(y) == len(c.divergence) and np.array_equal(y, c.divergence) for y in ydata)
    assert any("interval" in t.get_text() for t in ax.get_legend().get_texts())


def test_a_chaotic_map_with_slow_lobe_switching_is_not_refused_as_noise():
    # The Holmes-Duffing map switches lobes slowly: its automatic delay is ~10^2 steps, where Cao's E2 is flat as for
    # noise. The stochasticity test must also read E2 at delay 1 and not refuse it (the old estimator read -97 %).
    x = systems.duffing_map(20000, rng=0)[:, 0]
    ref = systems.lyapunov_spectrum("duffing_map", 200000, rng=12345)[0]
    s, err, _ = _tau_or_error(x, 1.0)
    assert err is None
    assert s.lambda_max == pytest.approx(ref, rel=0.15)


def test_a_weak_estimate_always_comes_with_a_warning_and_a_wide_interval():
    # one coordinate of Lorenz-96 (5 variables): no curve is credible by the strict rules, so the estimate is the
    # weak reading of the best curve, with a warning that says so and an interval over all candidate curves
    x = systems.lorenz96(20000, rng=0)[:, 0]
    ref = systems.lyapunov_spectrum("lorenz96", 100000, rng=12345)[0]
    s, err, msgs = _tau_or_error(x, systems.SYSTEMS["lorenz96"].dt)
    if err is not None:                                   # a refusal is acceptable; a silent number is not
        assert isinstance(err, ts.NoScalingRegionError)
        return
    e = s.estimate
    assert e.warnings and msgs == [f"max_lyapunov: {m}" for m in e.warnings]
    assert e.lambda_low <= e.lambda_max <= e.lambda_high
    assert e.lambda_low <= ref <= e.lambda_high


def test_a_wiggle_within_the_embedding_window_is_not_a_saturation():
    # Lorenz x with a linear trend removed: the automatic delay grows (18 -> 25 steps) and the raw divergence curve
    # wiggles within the first embedding window; that wiggle must not end the scaling region (it once did, and the
    # estimator refused a clean series). Same for a denoised noisy series.
    from fastrnn import preprocessing

    x0 = systems.lorenz(20000, dt=0.01, rng=0)[:, 0]
    trend = 0.01 * 0.01 * np.arange(x0.size)
    detrended = preprocessing.detrend(x0 + trend, "linear")
    s, err, _ = _tau_or_error(detrended, 0.01)
    assert err is None and s.lambda_max == pytest.approx(0.9056, rel=0.12)
    noisy = x0 + 0.05 * x0.std() * np.random.default_rng(0).standard_normal(x0.size)
    s_noisy, _, _ = _tau_or_error(noisy, 0.01)
    s_clean, err, _ = _tau_or_error(preprocessing.denoise(noisy, "projective"), 0.01)
    assert err is None
    assert abs(s_clean.lambda_max - 0.9056) < abs(s_noisy.lambda_max - 0.9056)   # denoising moves it towards truth


# ----------------------------------------------------------------------------------------------------------------
# a shoulder or a curve that bends throughout: the interval reaches the other reading
# ----------------------------------------------------------------------------------------------------------------
def _fit_of(y, start, stop):
    from fastrnn.timeseries.scaling import fit_line
    k = np.arange(start, stop, dtype=float)
    slope, intercept, r2, stderr = fit_line(k, y[start:stop])
    return ts.CurveFit(dim=3, radius=None, n_neighbors=1, slope=slope, fit_range=(start, stop), intercept=intercept,
                       r2=r2, stderr=stderr, rise=slope * (stop - 1 - start), slope_low=slope, slope_high=slope,
                       credible=True, divergence=y)


def _piecewise(slopes, lengths):
    y = [0.0]
    for s, n in zip(slopes, lengths):
        y += list(y[-1] + s * np.arange(1, n + 1))
    return np.array(y)


def test_shoulder_and_later_rise_give_the_other_slope():
    from fastrnn.timeseries import quality
    y = _piecewise([0.03, 0.01, 0.0], [100, 300, 100])      # fast, then slow, then flat
    assert quality.shoulder(_fit_of(y, 100, 400), None, 0) == pytest.approx(0.03, rel=1e-9)
    assert quality.later_rise(_fit_of(y, 100, 400), None) is None          # nothing rises after the slow part
    assert quality.later_rise(_fit_of(y, 0, 100), None) is None            # 3 e-folds after 2.97: not 1.5x
    bend = _piecewise([0.02, 0.01, 0.0], [100, 500, 100])
    early = _fit_of(bend, 0, 100)
    after, slope = quality.later_rise(early, None)
    assert after == pytest.approx(5.02, rel=1e-9) and slope == pytest.approx(0.01, rel=0.01)
    assert quality.shoulder(early, None, 0) is None
    straight = _piecewise([0.02, 0.0], [300, 100])
    assert quality.shoulder(_fit_of(straight, 50, 300), None, 0) is None
    assert quality.later_rise(_fit_of(straight, 0, 300), None) is None


def test_a_curve_that_bends_throughout_is_read_over_its_whole_rise():
    # Mackey-Glass (delay 17), 2e4 samples: the curve bends gently from start to saturation; the longest straight
    # stretch reads 16 % low and the steeper first rise before it 31 % high, but that rise is not straight itself,
    # so the whole rise is read; the interval reaches both
    x = systems.mackey_glass(20000, dt=1.0, rng=0)[:, 0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = ts.max_lyapunov(x, dt=1.0)
    ref = 0.00514
    assert e.lambda_max == pytest.approx(ref, rel=0.1)
    assert e.lambda_low < 0.9 * ref and e.lambda_high > 1.1 * ref
    assert any("bends throughout" in str(w.message) for w in caught)
    assert any("interval is wide" in str(w.message) for w in caught)


def test_a_region_past_a_shoulder_is_moved_to_the_first_rise():
    from fastrnn.timeseries import quality
    from fastrnn.timeseries.scaling import scaling_region
    y = _piecewise([0.005, 0.003, 0.0], [300, 800, 200])      # 1.5 e-folds, then a slower 2.4, then flat
    region, why = scaling_region(y)
    assert why == "" and region.start >= 200 and region.slope == pytest.approx(0.003, rel=0.02)  # most e-folds
    first = quality.before_shoulder(y, region, None, 0)
    assert first.start == 0 and first.stop == region.start <= 300
    assert first.slope == pytest.approx(0.005, rel=1e-9) and first.r2 == pytest.approx(1.0)
    # no shoulder: a straight curve, or an earlier rise that is steeper by less than SHOULDER
    straight = _piecewise([0.004, 0.0], [1000, 200])
    assert quality.before_shoulder(straight, scaling_region(straight)[0], None, 0) is None
    mild = _piecewise([0.0042, 0.003, 0.0], [300, 800, 200])   # 1.4x steeper
    assert quality.before_shoulder(mild, scaling_region(mild)[0], None, 0) is None
    # a first rise that bends itself: the whole rise, to the region's end, is read instead
    bent = _piecewise([0.008, 0.006, 0.004, 0.0025, 0.0], [100, 100, 100, 800, 200])
    region = scaling_region(bent)[0]
    whole = quality.before_shoulder(bent, region, None, 0)
    assert whole.start == 0 and whole.stop == region.stop
    assert region.slope < whole.slope < 0.006
    # a first rise of under one e-fold is no reading of its own: the whole rise is read
    short = _piecewise([0.008, 0.004, 0.0], [100, 300, 100])   # 0.8 e-fold, then 1.2 at half the slope
    region = scaling_region(short)[0]
    whole = quality.before_shoulder(short, region, None, 0)
    assert region.slope == pytest.approx(0.004, rel=0.02)
    assert whole.start == 0 and whole.stop == region.stop and region.slope < whole.slope < 0.008
    # an earlier rise too small to be a shoulder (under half the region's e-folds): the region stays
    small = _piecewise([0.005, 0.003, 0.0], [150, 800, 200])
    assert quality.before_shoulder(small, scaling_region(small)[0], None, 0) is None


def test_a_shoulder_whose_first_rise_is_short_is_read_over_the_whole_rise(rossler_reference):
    # Rössler x, 2e4 samples, data seed 1: the curve rises fast for under one e-fold, then more slowly; the
    # longest straight stretch read -15 %, the whole rise reads within 10 %
    x = systems.rossler(20000, dt=0.05, rng=1)[:, 0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = ts.max_lyapunov(x, dt=0.05)
    assert e.lambda_max == pytest.approx(rossler_reference, rel=0.1)
    assert e.lambda_low <= rossler_reference <= e.lambda_high
    assert any("bends throughout" in str(w.message) for w in caught)


def test_the_noise_of_a_coarsely_sampled_series_is_estimated_and_its_floor_subtracted(rossler_reference):
    # Rössler x at 31 samples per period (dt 0.2, as an EEG is sampled against its rhythm), 6000 samples, 2 % noise:
    # too coarse for the structure function; the local interpolation estimate reads the noise
    x = systems.rossler(24000, dt=0.05, rng=3)[::4, 0]
    x = x + 0.02 * x.std() * np.random.default_rng(103).standard_normal(x.size)
    tau_true = LN2 / rossler_reference / 0.2  # about 49 steps
    s, err, _ = _tau_or_error(x, 0.2)
    assert err is None and s.estimate.noise_sd[0] == pytest.approx(0.02, rel=0.1) and s.estimate.transverse
    assert s.tau == pytest.approx(tau_true, rel=0.25) and s.tau_low <= tau_true <= s.tau_high
    plain, err, _ = _tau_or_error(x, 0.2, noise_floor=False)  # without the floor the noise holds the curve down
    assert err is None and plain.estimate.noise_sd is None and plain.tau > 1.25 * tau_true
    given, err, _ = _tau_or_error(x, 0.2, noise_floor=0.02)  # a known noise level is used as given
    assert err is None and given.estimate.noise_sd.tolist() == [0.02]
    assert given.tau == pytest.approx(tau_true, rel=0.25)


def test_a_weak_region_past_a_much_steeper_rise_is_refused():
    # the Duffing map's x with 2 % noise, the floor subtracted: the curves rise steeply over the first steps and
    # bend, no curve is credible, and the only weak stretch is the slow approach to saturation (1 % of lambda)
    x = systems.duffing_map(20000, rng=1)[:, 0]
    x = x + 0.02 * x.std() * np.random.default_rng(7).standard_normal(x.size)
    s, err, _ = _tau_or_error(x, 1.0)
    assert isinstance(err, ts.NoScalingRegionError) and "steeper" in str(err) and "fit_range" in str(err)
