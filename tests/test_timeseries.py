"""Tests of fastrnn.timeseries: embedding, embedding parameters, lambda_max from data, predictability time."""
import math
import warnings

import numpy as np
import pytest

from fastrnn import systems
from fastrnn import timeseries as ts
from fastrnn.timeseries.neighbours import nearest_valid

LN2 = math.log(2.0)
LORENZ_LAMBDA = 0.9056
HENON_LAMBDA = 0.4200


# ----------------------------------------------------------------------------------------------------------------
# data, generated once per module (the Lorenz series is the 5e4-point test case)
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def logistic_x():
    return systems.logistic(20000, rng=1)[:, 0]


@pytest.fixture(scope="module")
def henon_x():
    return systems.henon(20000, rng=1)[:, 0]


@pytest.fixture(scope="module")
def lorenz_xyz():
    return systems.lorenz(50000, dt=0.01, rng=1)


@pytest.fixture(scope="module")
def rossler_xyz():
    return systems.rossler(20000, dt=0.05, rng=1)


@pytest.fixture(scope="module")
def lorenz_estimate(lorenz_xyz):
    return ts.max_lyapunov(lorenz_xyz[:, 0], dt=0.01)


# ----------------------------------------------------------------------------------------------------------------
# slow reference implementations (loops), written independently of the module
# ----------------------------------------------------------------------------------------------------------------
def naive_nearest_valid(Y, n_tree, theiler):
    """For every i < n_tree the nearest j < n_tree with |i - j| > theiler and distance > 0 (brute force)."""
    out = np.full(n_tree, -1)
    js = np.arange(n_tree)
    for i in range(n_tree):
        d = np.sqrt(np.sum((Y[:n_tree] - Y[i]) ** 2, axis=1))
        d[(np.abs(js - i) <= theiler) | (d == 0)] = np.inf
        if np.isfinite(d.min()):
            out[i] = int(np.argmin(d))
    return out


def naive_rosenstein(x, dim, lag, theiler, K, along_flow=False, transverse=False, floor=0.0):
    Y = np.array([[x[t + k * lag] for k in range(dim)] for t in range(len(x) - (dim - 1) * lag)])
    n = len(Y) - K
    nb = naive_nearest_valid(Y, n, theiler)
    shift = {i: naive_flow_offset(Y, i, nb[i]) if along_flow else (nb[i], 0.0) for i in range(n)}

    def neighbour(i, k):
        jn, s = shift[i]
        j = nb[i] + k
        jn = jn + k
        if not 0 <= jn < len(Y):
            return Y[j]
        return Y[j] + s * (Y[jn] - Y[j])

    def separation(i, k):
        d = Y[i + k] - neighbour(i, k)
        if transverse:  # drop the component along the reference's direction Y[t + 1] - Y[t - 1]
            f = Y[min(i + k + 1, len(Y) - 1)] - Y[max(i + k - 1, 0)]
            d = d - np.dot(d, f) / np.dot(f, f) * f
        return d

    curve = []
    for k in range(K + 1):
        sq = [np.sum(separation(i, k) ** 2) for i in range(n)]
        if floor > 0:  # less the noise floor, at least FLOOR_CLIP of it
            sq = [max(v - floor, 0.05 * floor) for v in sq]
        logs = [np.log(np.sqrt(v)) for v in sq]
        curve.append(np.mean(logs))
    return np.array(curve)


def naive_flow_offset(Y, i, j):
    """(the sample ``j`` is interpolated towards, fraction ``s`` in [0, 1]) minimising |Y[i] - Y(j + s)|: the
    projection of Y[i] - Y[j] on the chord to Y[j + 1] or to Y[j - 1], whichever comes closer."""
    best = (j, 0.0, np.sum((Y[i] - Y[j]) ** 2))
    for jn in (j + 1, j - 1):
        if not 0 <= jn < len(Y):
            continue
        v = Y[jn] - Y[j]
        s = min(1.0, float(np.dot(Y[i] - Y[j], v) / np.dot(v, v)))
        if s <= 0:
            continue
        d = np.sum((Y[i] - Y[j] - s * v) ** 2)
        if d < best[2]:
            best = (jn, s, d)
    return best[0], best[1]


# ----------------------------------------------------------------------------------------------------------------
# delay embedding, ACF, AMI
# ----------------------------------------------------------------------------------------------------------------
def test_delay_embed_layout():
    x = np.arange(10.0)
    Y = ts.delay_embed(x, 3, 2)
    assert Y.shape == (6, 3)
    np.testing.assert_array_equal(Y[0], [0, 2, 4])
    np.testing.assert_array_equal(Y[-1], [5, 7, 9])
    xy = np.stack([np.arange(6.0), 10 + np.arange(6.0)], axis=1)
    Y2 = ts.delay_embed(xy, 2, 1)
    np.testing.assert_array_equal(Y2[0], [0, 10, 1, 11])  # block k holds all columns at t + k lag
    assert ts.delay_embed(x, 1).shape == (10, 1)
    with pytest.raises(ValueError, match="too short for an embedding"):
        ts.delay_embed(np.arange(5.0), 3, 3)


def test_autocorrelation_and_mutual_information_known_values():
    t = np.arange(4000)
    r = ts.autocorrelation(np.cos(2 * np.pi * t / 40), 40)
    assert r[0] == pytest.approx(1.0)
    assert r[10] == pytest.approx(0.0, abs=0.01)  # quarter period
    assert r[20] == pytest.approx(-1.0, abs=0.01)
    u = np.random.default_rng(0).uniform(size=200000)
    ami = ts.mutual_information(u, 3, n_bins=16)
    assert ami[0] == pytest.approx(math.log(16), abs=1e-3)  # I(x; x) = H = ln 16 for uniform bins
    assert np.all(ami[1:] < 2e-3)  # independent samples (bias ~ (B-1)^2 / 2T)


def test_mean_period_of_a_sine_and_of_white_noise():
    t = np.arange(8000)
    assert ts.mean_period(np.sin(2 * np.pi * t / 50.0)) == pytest.approx(50.0, rel=0.02)
    w = np.random.default_rng(1).standard_normal(8000)
    assert ts.mean_period(w) == pytest.approx(4.0, rel=0.05)


# ----------------------------------------------------------------------------------------------------------------
# embedding parameters
# ----------------------------------------------------------------------------------------------------------------
def test_delay_of_maps_is_one(logistic_x, henon_x):
    assert ts.estimate_delay(logistic_x) == 1
    assert ts.estimate_delay(henon_x) == 1


def test_delay_and_dimension_of_lorenz_and_rossler(lorenz_xyz, rossler_xyz):
    # Lorenz x at dt = 0.01: the first AMI minimum is at about 0.15-0.2 time units
    lag = ts.estimate_delay(lorenz_xyz[:, 0])
    assert 10 <= lag <= 25
    assert 3 <= ts.estimate_dimension(lorenz_xyz[:, 0], lag) <= 5
    assert 3 <= ts.estimate_dimension(lorenz_xyz[:, 0], lag, method="fnn") <= 5
    # Rössler x at dt = 0.05: about a quarter of the ~5.9 time-unit rotation period (1/e decay of the ACF caps it)
    lag_r = ts.estimate_delay(rossler_xyz[:, 0])
    assert 15 <= lag_r <= 35
    assert 3 <= ts.estimate_dimension(rossler_xyz[:, 0], lag_r) <= 5
    assert 3 <= ts.estimate_dimension(rossler_xyz[:, 0], lag_r, method="fnn") <= 5
    assert ts.estimate_delay(rossler_xyz[:, 0], method="acf") >= lag_r


def test_cao_statistics_separate_determinism_from_noise(henon_x):
    E1, E2 = ts.cao(henon_x, 1, max_dim=5)
    assert E1[0] < 0.5 and np.all(E1[1:] > 0.9)  # dimension 2
    assert np.any(np.abs(E2 - 1) > 0.3)  # deterministic: E2 is not 1 everywhere
    noise = np.random.default_rng(2).standard_normal(5000)
    _, E2n = ts.cao(noise, 1, max_dim=5)
    np.testing.assert_allclose(E2n, 1.0, atol=0.1)


def test_full_lorenz_state_needs_no_delays(lorenz_xyz):
    assert ts.estimate_dimension(lorenz_xyz[:20000], 10) == 1


# ----------------------------------------------------------------------------------------------------------------
# neighbour search and divergence curve against loops
# ----------------------------------------------------------------------------------------------------------------
def test_nearest_neighbours_respect_theiler_window_exactly():
    rng = np.random.default_rng(3)
    # a slowly moving random walk: temporal neighbours are the nearest, so the window matters
    Y = np.cumsum(rng.normal(scale=0.05, size=(400, 2)), axis=0)
    for theiler in (0, 5, 30):
        got, _ = nearest_valid(Y, np.arange(350), 1, theiler, n_tree=350)
        want = naive_nearest_valid(Y, 350, theiler)
        np.testing.assert_array_equal(got[:, 0], want)


def test_divergence_curve_matches_loop_reference():
    x = systems.henon(700, rng=4)[:, 0]
    est = ts.max_lyapunov(x, dim=2, lag=1, theiler=3, max_steps=12, fit_range=(1, 8), method="rosenstein")
    z = (x - x.mean()) / x.std()
    ref = naive_rosenstein(z, 2, 1, 3, 12)
    np.testing.assert_allclose(est.divergence, ref, rtol=1e-12, atol=1e-12)
    slope = np.polyfit(np.arange(1, 8), ref[1:8], 1)[0]
    assert est.per_step == pytest.approx(slope, rel=1e-10)


def test_along_flow_curve_matches_loop_reference():
    x = systems.lorenz(900, dt=0.01, rng=4)[:, 0]
    z = (x - x.mean()) / x.std()
    est = ts.max_lyapunov(x, dim=3, lag=8, theiler=40, max_steps=30, fit_range=(5, 25), method="rosenstein",
                          along_flow=True)
    ref = naive_rosenstein(z, 3, 8, 40, 30, along_flow=True)
    np.testing.assert_allclose(est.divergence, ref, rtol=1e-11, atol=1e-11)
    plain = naive_rosenstein(z, 3, 8, 40, 30)
    assert np.all(ref[:3] < plain[:3])  # the along-flow separation is removed: neighbours start closer


@pytest.mark.parametrize("along_flow", [False, True])
def test_transverse_curve_matches_loop_reference(along_flow):
    x = systems.rossler(1500, dt=0.1, rng=4)[:, 0]
    z = (x - x.mean()) / x.std()
    est = ts.max_lyapunov(x, dim=3, lag=12, theiler=60, max_steps=30, fit_range=(5, 25), method="rosenstein",
                          along_flow=along_flow, transverse=True)
    ref = naive_rosenstein(z, 3, 12, 60, 30, along_flow=along_flow, transverse=True)
    np.testing.assert_allclose(est.divergence, ref, rtol=1e-11, atol=1e-11)
    assert np.all(ref < naive_rosenstein(z, 3, 12, 60, 30, along_flow=along_flow))  # a projection only shortens


def test_noise_floor_curve_matches_loop_reference():
    x = systems.rossler(1500, dt=0.1, rng=4, noise=0.03)[:, 0]
    z = (x - x.mean()) / x.std()
    est = ts.max_lyapunov(x, dim=3, lag=12, theiler=60, max_steps=30, fit_range=(5, 25), method="rosenstein",
                          noise_floor=0.03)
    assert est.transverse and est.noise_sd.tolist() == [0.03]  # the floor brings the transverse distance along
    ref = naive_rosenstein(z, 3, 12, 60, 30, transverse=True, floor=2 * (3 - 1) * 0.03 ** 2)
    np.testing.assert_allclose(est.divergence, ref, rtol=1e-11, atol=1e-11)
    from fastrnn.timeseries.divergence import FLOOR_CLIP
    assert FLOOR_CLIP == 0.05


def test_noise_level_reads_white_noise_and_not_a_smooth_signal():
    rng = np.random.default_rng(1)
    t = np.arange(20000) * 0.05
    two = np.stack([np.sin(t), np.cos(0.7 * t)], axis=1) + np.array([0.01, 0.03]) * rng.standard_normal((t.size, 2))
    np.testing.assert_allclose(ts.noise_level(two), [0.01, 0.03], rtol=0.08)
    lorenz = systems.lorenz(20000, dt=0.01, rng=0)[:, 0]
    assert ts.noise_level((lorenz - lorenz.mean()) / lorenz.std())[0] < ts.exponent.NOISE_MIN
    with pytest.raises(ValueError, match="max_lag must be an integer >= 5"):
        ts.noise_level(two, max_lag=4)
    with pytest.raises(ValueError, match="T > 12"):
        ts.noise_level(two[:10])


def naive_interpolation_noise(x, context=2, k=20):
    """Loop twin of noise_level(method="interpolation") for one column: brute-force neighbours of every time's
    two-sided context (more than 2 * context samples away), a least-squares local linear model per time."""
    times = list(range(context, len(x) - context))
    ctx = np.array([[x[t + o] for o in range(-context, context + 1) if o != 0] for t in times])
    r2, gain = [], []
    for i, t in enumerate(times):
        d = np.sum((ctx - ctx[i]) ** 2, axis=1)
        order = [j for j in np.argsort(d, kind="stable") if abs(j - i) > 2 * context][:k]
        A = np.column_stack([np.ones(len(order)), ctx[order] - ctx[i]])
        coef = np.linalg.lstsq(A, np.array([x[times[j]] for j in order]), rcond=None)[0]
        r2.append((x[t] - coef[0]) ** 2)
        gain.append(1.0 + np.sum(coef[1:] ** 2))
    return math.sqrt(np.mean(r2) / np.mean(gain))


def test_interpolation_noise_level_matches_its_loop_and_reads_coarse_series_and_maps():
    x = systems.henon(700, rng=3)[:, 0] + 0.03 * np.random.default_rng(4).standard_normal(700)
    assert ts.noise_level(x, method="interpolation")[0] == pytest.approx(naive_interpolation_noise(x), rel=1e-9)
    rng = np.random.default_rng(5)
    for series in (systems.rossler(9000 * 4, dt=0.05, rng=2)[::4, 0],    # 31 samples per period
                   systems.lorenz(9000 * 5, dt=0.01, rng=1)[::5, 0],     # 15 samples per period
                   systems.henon(9000, rng=1)[:, 0]):
        z = (series - series.mean()) / series.std()
        assert ts.noise_level(z, method="interpolation")[0] < 0.001
        noisy = np.stack([z + 0.02 * rng.standard_normal(z.size), z + 0.05 * rng.standard_normal(z.size)], axis=1)
        np.testing.assert_allclose(ts.noise_level(noisy, method="interpolation"), [0.02, 0.05], rtol=0.12)
        assert ts.noise_level(z)[0] > 0.01  # where the structure function reads the clean signal as noise
    with pytest.raises(ValueError, match="method must be 'structure' or 'interpolation'"):
        ts.noise_level(x, method="pca")
    with pytest.raises(ValueError, match="T > 80"):
        ts.noise_level(x[:50], method="interpolation")
    with pytest.raises(ValueError, match="NaN or inf"):
        ts.noise_level(np.where(np.arange(700) == 9, np.nan, x), method="interpolation")


def test_noise_floor_is_automatic_for_noisy_flows_and_validated():
    x = systems.rossler(20000, dt=0.05, rng=0, noise=0.02)[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.LyapunovWarning)
        auto = ts.max_lyapunov(x, dt=0.05)
        off = ts.max_lyapunov(x, dt=0.05, noise_floor=False)
        clean = ts.max_lyapunov(systems.rossler(20000, dt=0.05, rng=0)[:, 0], dt=0.05)
    assert auto.noise_sd[0] == pytest.approx(0.02, rel=0.05) and auto.transverse
    assert off.noise_sd is None and not off.transverse and clean.noise_sd is None and not clean.transverse
    lam = 0.0707
    assert abs(auto.lambda_max / lam - 1) < 0.25 < abs(off.lambda_max / lam - 1)  # ours: -18 % against -39 %
    for bad, err in ((True, TypeError), (np.True_, TypeError), (-0.1, ValueError), ([0.1, 0.2], ValueError),
                     (np.nan, ValueError)):
        with pytest.raises(err, match="noise_floor"):
            ts.max_lyapunov(x[:3000], dt=0.05, noise_floor=bad)


def test_transverse_distance_ignores_a_phase_lag_at_every_step():
    # the neighbour runs on a circle 1 % further out, 0.03 radians behind in phase: across the flow (the radial
    # direction; the central chord of a circle is parallel to its tangent) they are 1 - 1.01 cos 0.03 apart at
    # every step, the plain distance is the full chord
    from fastrnn.timeseries.divergence import divergence_from_sets
    t = np.arange(300) * 0.05
    Y = np.concatenate([np.stack([np.cos(t), np.sin(t)], axis=1)[:150],
                        1.01 * np.stack([np.cos(t - 0.03), np.sin(t - 0.03)], axis=1)[:150]])
    args = (Y, np.array([5]), np.array([0, 1]), np.array([155]), 100)
    across, _ = divergence_from_sets(*args, transverse=True)
    plain, _ = divergence_from_sets(*args)
    np.testing.assert_allclose(across, np.log(1.01 * np.cos(0.03) - 1.0), rtol=1e-9)
    np.testing.assert_allclose(plain, 0.5 * np.log(1.0 + 1.01 ** 2 - 2.02 * np.cos(0.03)), rtol=1e-9)


def test_along_flow_offsets_remove_a_pure_time_shift():
    # neighbour = the reference's own trajectory shifted by 0.3 of a sample: the shift is found exactly
    t = np.arange(200) * 0.05
    Y = np.stack([np.cos(t), np.sin(t)], axis=1)
    Yi = np.stack([np.cos(t + 0.3 * 0.05), np.sin(t + 0.3 * 0.05)], axis=1)
    both = np.concatenate([Yi[:100], Y[:100]])  # rows 0..99 the shifted copy, 100..199 the original
    from fastrnn.timeseries.divergence import flow_offsets
    s = flow_offsets(both, np.array([10]), np.array([0, 1]), np.array([110]))
    assert s[0] == pytest.approx(0.3, abs=1e-3)


def test_warnings_for_a_shoulder_and_for_a_curve_that_keeps_rising():
    from fastrnn.timeseries.scaling import earlier_slope
    k = np.arange(400, dtype=float)
    shoulder = np.where(k < 100, -5 + 0.04 * k, -1 + 0.01 * (k - 100))  # steep first rise, then a slower one
    assert earlier_slope(shoulder, 200, skip=5) == pytest.approx((shoulder[200] - shoulder[5]) / 195)
    assert earlier_slope(shoulder, 200, skip=5, min_rise=10) is None
    assert earlier_slope(shoulder, 8, skip=5) is None  # too short a stretch
    # Chua's double scroll (x, dt 0.05): a concave curve without one straight stretch (it reads +53 % with the
    # along-flow correction, docs/lyapunov_panel.md) is never silent
    x = systems.chua_pwl(20000, dt=0.05, rng=0)[:, 0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = ts.max_lyapunov(x, dt=0.05)
    assert any("more e-folds after the fitted region" in m for m in est.warnings)
    assert [str(w.message) for w in caught if issubclass(w.category, ts.LyapunovWarning)] == [
        f"max_lyapunov: {m}" for m in est.warnings]


def test_auto_method_reads_maps_with_kantz_and_flows_with_rosenstein(henon_x, lorenz_xyz):
    assert ts.finely_sampled((lorenz_xyz[:5000, :1] - lorenz_xyz[:5000, :1].mean()) / lorenz_xyz[:5000, 0].std())
    h = (henon_x - henon_x.mean()) / henon_x.std()
    assert ts.map_like(h[:, None]) and not ts.finely_sampled(h[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.LyapunovWarning)
        eh = ts.max_lyapunov(henon_x)
        el = ts.max_lyapunov(lorenz_xyz[:20000, 0], dt=0.01)
    assert eh.method == "kantz" and eh.radius is not None
    assert el.method == "rosenstein"
    with pytest.raises(ValueError, match="method must be"):
        ts.max_lyapunov(henon_x, method="wolf")
    with pytest.raises(TypeError, match="along_flow"):
        ts.max_lyapunov(henon_x, along_flow="yes")
    with pytest.raises(TypeError, match="transverse"):
        ts.max_lyapunov(henon_x, transverse=1)


# ----------------------------------------------------------------------------------------------------------------
# lambda_max accuracy (issue targets), embedding chosen automatically
# ----------------------------------------------------------------------------------------------------------------
def test_logistic_lambda_within_5_percent(logistic_x):
    est = ts.max_lyapunov(logistic_x)
    assert est.lambda_max == pytest.approx(LN2, rel=0.05)
    assert est.lag == 1 and est.per_step == est.lambda_max and est.r2 > 0.99


def test_henon_lambda_within_5_percent(henon_x):
    est = ts.max_lyapunov(henon_x)
    assert est.lambda_max == pytest.approx(HENON_LAMBDA, rel=0.05)
    kantz = ts.max_lyapunov(henon_x, method="kantz")
    assert kantz.lambda_max == pytest.approx(HENON_LAMBDA, rel=0.05)
    assert kantz.n_neighbors == 8


def test_lorenz_x_lambda_within_10_percent_per_time_unit(lorenz_estimate):
    est = lorenz_estimate
    assert est.lambda_max == pytest.approx(LORENZ_LAMBDA, rel=0.10)
    assert est.per_step == pytest.approx(est.lambda_max * 0.01)
    assert est.dt == 0.01 and 3 <= est.dim <= 5 and 10 <= est.lag <= 25
    # the fit range lies after the initial transient and before saturation
    start, stop = est.fit_range
    assert start > 10 and stop - start > 200
    y = est.divergence
    assert y[stop] < y.max() - 0.1 * (y.max() - y.min())
    # quality numbers are consistent with the curve
    k, line = est.fitted_line()
    resid = y[start:stop] - line
    assert est.r2 == pytest.approx(1 - resid @ resid / np.sum((y[start:stop] - y[start:stop].mean()) ** 2))
    assert 0 < est.stderr < 0.01


def test_observation_noise_biases_the_estimate_low_unless_its_floor_is_subtracted():
    # 1 % observation noise (std relative to the signal's) on maps: without the floor about -15 % (logistic) and
    # -20 % (Henon); the floor of the noise estimated by local interpolation removes most of that bias
    for gen, ref in ((systems.logistic, LN2), (systems.henon, HENON_LAMBDA)):
        x = gen(20000, rng=1, noise=0.01)[:, 0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            plain = ts.max_lyapunov(x, noise_floor=False)
            est = ts.max_lyapunov(x)
        assert 0.7 * ref < plain.lambda_max < ref
        assert est.noise_sd[0] == pytest.approx(0.01, rel=0.2)
        assert est.lambda_max == pytest.approx(ref, rel=0.1) and plain.lambda_max < est.lambda_max


def test_multivariate_series_is_one_joint_state(lorenz_xyz):
    est = ts.max_lyapunov(lorenz_xyz[:30000], dt=0.01, lag=10)
    assert est.dim == 1  # Cao: the full state needs no delays
    assert est.lambda_max == pytest.approx(LORENZ_LAMBDA, rel=0.15)


def test_explicit_fit_range_and_determinism(henon_x):
    a = ts.max_lyapunov(henon_x, dim=2, lag=1, fit_range=(2, 10), max_steps=30)
    b = ts.max_lyapunov(henon_x, dim=2, lag=1, fit_range=(2, 10), max_steps=30)
    assert a.fit_range == (2, 10) and a.divergence.size == 31
    np.testing.assert_array_equal(a.divergence, b.divergence)
    assert a.per_step == pytest.approx(np.polyfit(np.arange(2, 10), a.divergence[2:10], 1)[0], rel=1e-10)
    with pytest.raises(ValueError):
        a.divergence[0] = 1.0  # frozen result: read-only arrays


def test_long_series_uses_every_reference_and_kantz_radius_works():
    x = systems.henon(100000, rng=5)[:, 0]
    est = ts.max_lyapunov(x, dim=2, lag=1, method="rosenstein")  # seconds: benchmarks/bench_data.py
    assert est.lambda_max == pytest.approx(HENON_LAMBDA, rel=0.05)
    assert est.n_reference > 99000
    r = ts.max_lyapunov(x[:20000], dim=2, lag=1, method="kantz", radius=0.02)
    assert r.radius == 0.02 and r.n_neighbors == 0
    assert r.lambda_max == pytest.approx(HENON_LAMBDA, rel=0.1)


# ----------------------------------------------------------------------------------------------------------------
# predictability time and tau
# ----------------------------------------------------------------------------------------------------------------
def test_predictability_time():
    assert ts.predictability_time(LN2) == pytest.approx(1.0)
    assert ts.predictability_time(0.9056) == pytest.approx(LN2 / 0.9056)
    assert ts.predictability_time(0.9056, 0.01, in_steps=True) == pytest.approx(LN2 / 0.9056 / 0.01)
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match="no finite predictability time"):
            ts.predictability_time(bad)
    with pytest.raises(TypeError):
        ts.predictability_time("1")


def test_suggest_tau(logistic_x, lorenz_xyz, lorenz_estimate):
    s = ts.suggest_tau(logistic_x)
    assert s.tau == 1 and s.tau_pred == pytest.approx(1.0, rel=0.05)
    e = lorenz_estimate
    s = ts.suggest_tau(lorenz_xyz[:, 0], dt=0.01, dim=e.dim, lag=e.lag)
    assert s.tau == round(LN2 / s.lambda_max / 0.01)
    assert s.tau_pred == pytest.approx(LN2 / s.lambda_max)
    assert 65 <= s.tau <= 90  # ln 2 / 0.9056 = 0.765 time units = 77 steps
    assert s.estimate.lambda_max == s.lambda_max


def test_non_chaotic_series_gives_an_error_not_a_number():
    t = np.arange(10000)
    with pytest.raises(ValueError):
        ts.suggest_tau(np.sin(2 * np.pi * t / 37.3))


# ----------------------------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------------------------
def test_bad_input_gives_clear_errors(logistic_x):
    with pytest.raises(ValueError, match="too short"):
        ts.max_lyapunov(logistic_x[:40], dim=5, lag=3)
    with pytest.raises(ValueError, match="samples"):
        ts.max_lyapunov(logistic_x[:10])
    with pytest.raises(ValueError, match="constant"):
        ts.max_lyapunov(np.ones(1000))
    with pytest.raises(ValueError, match="constant"):
        ts.estimate_delay(np.full(1000, 3.0))
    bad = logistic_x[:2000].copy()
    bad[17] = np.nan
    for fn in (ts.max_lyapunov, ts.estimate_delay, ts.suggest_tau, ts.mean_period):
        with pytest.raises(ValueError, match="NaN"):
            fn(bad)
    with pytest.raises(ValueError, match="NaN"):
        ts.cao(bad, 1)
    with pytest.raises(ValueError, match="method"):
        ts.max_lyapunov(logistic_x, method="wolf")
    with pytest.raises(ValueError, match="dt"):
        ts.max_lyapunov(logistic_x, dt=0.0)
    with pytest.raises(TypeError, match="dim"):
        ts.max_lyapunov(logistic_x, dim=2.5)
    with pytest.raises(TypeError, match="fit_range"):
        ts.max_lyapunov(logistic_x, fit_range="best")
    with pytest.raises(ValueError, match="fit_range"):
        ts.max_lyapunov(logistic_x, fit_range=(5, 6))
    with pytest.raises(TypeError, match="real numbers"):
        ts.max_lyapunov(np.array(["a"] * 100))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        ts.max_lyapunov(np.zeros((10, 10, 10)))


def test_plot_divergence(henon_x):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est = ts.max_lyapunov(henon_x, dim=2, lag=1)
    ax = est.plot()
    curve, fit = ax.lines[0], ax.lines[1]
    np.testing.assert_array_equal(curve.get_ydata(), est.divergence)
    k, line = est.fitted_line()
    np.testing.assert_allclose(fit.get_xdata(), k)
    np.testing.assert_allclose(fit.get_ydata(), line)
    plt.close(ax.figure)
    with pytest.raises(TypeError):
        ts.plot_divergence(0.4)
