"""Tests of fastrnn.metrics: D_stsp (bins, Gaussian mixture, legacy), D_H (default, legacy), prediction error."""
import math

import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from scipy.signal import welch

from fastrnn import metrics, systems
from fastrnn.metrics import power_spectrum_distance as D_H
from fastrnn.metrics import state_space_divergence as D_stsp


@pytest.fixture(scope="module")
def lorenz():
    return systems.lorenz(20000, rng=0)


# ----------------------------------------------------------------------------------------------------------------
# independent reference implementations (dense histograms, explicit sums)
# ----------------------------------------------------------------------------------------------------------------
def naive_bins_default(a, b, n_bins, alpha):
    mu, sd = a.mean(0), a.std(0)
    ua, ub = (a - mu) / sd, (b - mu) / sd
    edges = [np.linspace(ua[:, d].min(), ua[:, d].max(), n_bins + 1) for d in range(a.shape[1])]
    lo = np.array([e[0] for e in edges])
    hi = np.array([e[-1] for e in edges])
    eps = 1e-9 * (hi - lo)
    ha, _ = np.histogramdd(np.clip(ua, lo, hi - eps), bins=edges)
    hb, _ = np.histogramdd(np.clip(ub, lo, hi - eps), bins=edges)
    pa = (ha + alpha) / (ha.sum() + alpha * ha.size)
    pb = (hb + alpha) / (hb.sum() + alpha * hb.size)
    return float(np.sum(pa * np.log(pa / pb)))


def naive_bins_legacy(a, b, n_bins=10, alpha=1e-5):
    s = a.std(0, ddof=1)
    lo, hi = -2 * s, 2 * s

    def hist(x):
        h = np.zeros((n_bins,) * x.shape[1])
        for row in x:
            idx = [int(n_bins * (row[d] - lo[d]) / (hi[d] - lo[d])) for d in range(x.shape[1])]  # int() truncates
            if all(0 < i < n_bins for i in idx):
                h[tuple(idx)] += 1
        return h

    ha, hb = hist(a), hist(b)
    pa = (ha + alpha) / (ha.sum() + alpha * n_bins ** a.shape[1])
    pb = (hb + alpha) / (hb.sum() + alpha * n_bins ** a.shape[1])
    return float(np.sum(pa * np.log(pa / pb)))


def naive_hellinger_default(a, b, sigma=2.0, L=None):
    L = min(len(a), len(b), 4096) if L is None else L
    hs = []
    for d in range(a.shape[1]):
        ps = []
        for x in (a[:, d], b[:, d]):
            z = (x - x.mean()) / x.std()
            _, P = welch(z, nperseg=L, noverlap=L // 2, window="hann")
            P = gaussian_filter1d(P, sigma, mode="mirror")
            ps.append(P / P.sum())
        hs.append(math.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(ps[0] * ps[1])))))
    return float(np.mean(hs))


def naive_hellinger_legacy(a, b, sigma=2, n_chunks=50, cutoff=500):
    L = len(a) // n_chunks
    size = sigma * 10 + 1
    kernel = np.array([math.exp(-0.5 * ((k - size // 2) / sigma) ** 2) for k in range(size)])
    kernel /= kernel.sum()
    hs = []
    for d in range(a.shape[1]):
        spectra = []
        for x, Lx in ((a[:, d], L), (b[:, d], len(b) // n_chunks)):
            acc = []
            for c in range(n_chunks):
                ch = x[c * Lx: c * Lx + Lx][:L]
                if len(ch) % 2:
                    ch = ch[:-1]
                ch = (ch - ch.mean()) / ch.std(ddof=1)
                ps = np.abs(np.fft.rfft(ch, norm="ortho")) ** 2 * 2 / len(ch)
                acc.append(np.convolve(ps, kernel)[size // 2: -(size // 2)])
            spectra.append(np.mean(acc, axis=0)[:cutoff])
        hs.append(math.sqrt(max(0.0, 1 - np.trapezoid(np.sqrt(spectra[0] * spectra[1])))))
    return float(np.mean(hs))


def naive_gmm(a, b, variance, n_samples, max_components, seed):
    mu, sd = a.mean(0), a.std(0)
    ua, ub = (a - mu) / sd, (b - mu) / sd
    ca = ua[:: -(-len(ua) // max_components)]
    cb = ub[:: -(-len(ub) // max_components)]
    rng = np.random.default_rng(seed)
    s = ca[rng.integers(0, len(ca), n_samples)] + math.sqrt(variance) * rng.standard_normal((n_samples, a.shape[1]))

    def logp(c):
        d2 = ((s[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        dens = np.exp(-0.5 * d2 / variance).mean(1) / (2 * math.pi * variance) ** (a.shape[1] / 2)
        return np.log(dens)

    return float(np.mean(logp(ca) - logp(cb)))


# ----------------------------------------------------------------------------------------------------------------
# D_stsp
# ----------------------------------------------------------------------------------------------------------------
def test_dstsp_and_dh_of_identical_trajectories_are_zero(lorenz):
    assert D_stsp(lorenz, lorenz) == 0.0
    assert D_stsp(lorenz, lorenz, method="gmm", rng=0) == 0.0
    assert D_stsp(lorenz, lorenz, convention="legacy") == 0.0
    assert D_H(lorenz, lorenz) == 0.0
    assert D_H(lorenz[:, 0], lorenz[:, 0]) == 0.0
    # D_H compares spectral shapes: an affine copy has the same spectrum
    assert D_H(lorenz, 3.0 * lorenz + 2.0) < 1e-6


def test_binned_dstsp_matches_dense_reference():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3000, 2))
    b = 0.8 * rng.normal(size=(2500, 2)) + [0.3, -3.0]  # partly outside the true range (edge bins)
    for n_bins, alpha in ((10, 1e-5), (7, 0.5)):
        assert D_stsp(a, b, method="bins", n_bins=n_bins, smoothing=alpha) == pytest.approx(
            naive_bins_default(a, b, n_bins, alpha), rel=1e-10)
    c = rng.normal(size=(2000, 3)) * [1, 2, 0.5]
    d = rng.normal(size=(2000, 3)) * [1.2, 2, 0.5]
    assert D_stsp(c, d, method="bins", n_bins=12) == pytest.approx(naive_bins_default(c, d, 12, 1e-5), rel=1e-10)


def test_legacy_binned_dstsp_matches_reference_conventions():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2000, 2))
    b = rng.normal(size=(2000, 2)) * 1.3 + 0.2
    assert D_stsp(a, b, convention="legacy") == pytest.approx(naive_bins_legacy(a, b), rel=1e-10)
    assert D_stsp(a, b, convention="legacy", method="auto") == D_stsp(a, b, convention="legacy", method="bins")
    # all generated points outside +-2 std: the reference code gives NaN, and so does the legacy convention
    assert math.isnan(D_stsp(a, b + 100.0, convention="legacy"))


def test_dstsp_finite_with_empty_bins(lorenz):
    # a generated trajectory stuck at a fixed point, one far away, and a tiny cluster: mostly empty bins
    fixed = np.tile(lorenz[100], (5000, 1))
    far = lorenz + 1e6
    cluster = lorenz[:50]
    for gen in (fixed, far, cluster):
        for method in ("bins", "gmm"):
            v = D_stsp(lorenz, gen, method=method, rng=0)
            assert np.isfinite(v) and v > 1.0
    # the value for empty generated bins is set by the smoothing constant: alpha -> pseudo-count per cell
    one = D_stsp(lorenz, fixed, smoothing=1e-5)
    assert one > D_stsp(lorenz, fixed, smoothing=1e-2)


def test_dstsp_grows_monotonically_with_perturbation(lorenz):
    rng = np.random.default_rng(2)
    sd = lorenz.std(0)
    noise = rng.standard_normal(lorenz.shape)
    levels = [0.05, 0.1, 0.2, 0.5, 1.0]
    bins = [D_stsp(lorenz, lorenz + s * sd * noise) for s in levels]
    assert bins[0] > 0 and np.all(np.diff(bins) > 0)
    gmm = [D_stsp(lorenz, lorenz + s * sd * noise, method="gmm", rng=0) for s in levels[2:]]
    assert np.all(np.diff(gmm) > 0)
    shifts = [0.1, 0.3, 1.0, 2.0]
    bins_shift = [D_stsp(lorenz, lorenz + s * sd) for s in shifts]
    gmm_shift = [D_stsp(lorenz, lorenz + s * sd, method="gmm", rng=0) for s in shifts]
    assert np.all(np.diff(bins_shift) > 0) and np.all(np.diff(gmm_shift) > 0)


def test_gmm_orders_cases_like_bins_on_3d_data(lorenz):
    rng = np.random.default_rng(5)
    sd = lorenz.std(0)
    cases = [
        systems.lorenz(20000, rng=1),  # another trajectory on the same attractor
        lorenz + 0.2 * sd * rng.standard_normal(lorenz.shape),
        lorenz + 0.5 * sd * rng.standard_normal(lorenz.shape),
        systems.lorenz(20000, rho=35.0, rng=2),  # a different attractor
        lorenz + 0.5 * sd,
        lorenz + 1.5 * sd,
        3.0 * systems.rossler(20000, rng=0),
    ]
    bins = [D_stsp(lorenz, c, method="bins") for c in cases]
    gmm = [D_stsp(lorenz, c, method="gmm", rng=0) for c in cases]
    assert list(np.argsort(bins)) == list(range(len(cases)))
    assert list(np.argsort(gmm)) == list(np.argsort(bins))
    assert D_stsp(lorenz, cases[2], method="auto") == bins[2]  # auto = bins in 3-D
    assert D_stsp(np.tile(lorenz[:2000], 2), np.tile(cases[2][:2000], 2), method="auto", rng=0) == D_stsp(
        np.tile(lorenz[:2000], 2), np.tile(cases[2][:2000], 2), method="gmm", rng=0)  # 6-D: gmm


def test_gmm_matches_explicit_mixture_sum():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(900, 2))
    b = rng.normal(size=(700, 2)) * 1.5 + 0.5
    got = D_stsp(a, b, method="gmm", variance=0.2, n_samples=300, max_components=400, rng=11)
    assert got == pytest.approx(naive_gmm(a, b, 0.2, 300, 400, 11), rel=1e-9)
    # the same rng gives the same value; another rng a close one
    assert got == D_stsp(a, b, method="gmm", variance=0.2, n_samples=300, max_components=400, rng=11)


def test_legacy_gmm_direction_is_generated_to_true():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(3000, 2))
    b = a[:1500] * 0.3  # generated covers a small part of the true support
    fwd = D_stsp(a, b, method="gmm", rng=0)  # KL(true || gen): large, the true mass outside gen's support
    legacy = D_stsp(a, b, method="gmm", convention="legacy", rng=0)  # KL(gen || true): smaller
    assert fwd > 2 * legacy > 0


# ----------------------------------------------------------------------------------------------------------------
# D_H
# ----------------------------------------------------------------------------------------------------------------
def test_dh_matches_reference_formula(lorenz):
    other = systems.lorenz(15000, rng=3)
    assert D_H(lorenz, other) == pytest.approx(naive_hellinger_default(lorenz, other), abs=1e-10)
    assert D_H(lorenz, other, smoothing=0.0, nperseg=1000) == pytest.approx(
        naive_hellinger_default(lorenz, other, sigma=1e-12, L=1000), abs=1e-6)
    per_dim = D_H(lorenz, other, per_dimension=True)
    assert per_dim.shape == (3,) and np.mean(per_dim) == pytest.approx(D_H(lorenz, other))


def test_dh_legacy_matches_reference_code_conventions():
    x = systems.lorenz(50000, rng=4)
    y = systems.lorenz(60000, rng=5)
    assert D_H(x, y, convention="legacy") == pytest.approx(naive_hellinger_legacy(x, y), abs=1e-10)
    # without renormalisation after the cutoff the legacy value of (x, x) is small but not zero
    assert 0 < D_H(x, x, convention="legacy") < 0.3


def test_dh_grows_monotonically_with_frequency_shift_and_noise():
    t = np.arange(20000)
    base = np.sin(2 * np.pi * 0.05 * t)
    shifts = [0.0005, 0.001, 0.002, 0.004, 0.01]
    d = [D_H(base, np.sin(2 * np.pi * (0.05 + s) * t)) for s in shifts]
    assert np.all(np.diff(d) > 0) and d[-1] > 0.99  # disjoint spectra -> 1
    # Lorenz sampled with a larger step: every frequency shifts up by the same factor
    x = systems.lorenz(20000, dt=0.01, rng=0)
    d2 = [D_H(x, systems.lorenz(20000, dt=0.01 * f, rng=0)) for f in (1.05, 1.1, 1.2, 1.4)]
    assert np.all(np.diff(d2) > 0)
    rng = np.random.default_rng(8)
    n = rng.standard_normal(x.shape) * x.std(0)
    d3 = [D_H(x, x + s * n) for s in (0.05, 0.1, 0.3, 1.0)]
    assert np.all(np.diff(d3) > 0)


# ----------------------------------------------------------------------------------------------------------------
# prediction error with duck-typed exact models
# ----------------------------------------------------------------------------------------------------------------
class LinearMap:
    """x_{t+1} = a * x_t + s_t (elementwise); observations are the state (B = I)."""

    def __init__(self, a, with_inputs=False):
        self.a = np.asarray(a, dtype=float)
        self.with_inputs = with_inputs
        self.calls = 0

    def generate(self, n_steps, x0=None, z0=None, inputs=None):
        self.calls += 1
        X = np.empty((n_steps, self.a.size))
        X[0] = x0
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(1, n_steps):
                X[t] = self.a * X[t - 1] + (inputs[t] if self.with_inputs else 0.0)
        return X, X.copy()


def test_prediction_error_closed_form():
    T, n = 60, 5
    a_true, a_model = np.array([0.9, -0.5]), np.array([0.8, -0.5])
    x = np.empty((T, 2))
    x[0] = [1.0, 2.0]
    for t in range(1, T):
        x[t] = a_true * x[t - 1]
    assert metrics.prediction_error(LinearMap(a_true), x, n) == pytest.approx(0.0, abs=1e-24)
    # column 1 exact; column 0: (a_model^h - a_true^h)^2 x_t^2 averaged over t and the 2 columns
    errs = metrics.prediction_error(LinearMap(a_model), x, n, per_step=True)
    for h in range(1, n + 1):
        want = np.mean(((a_model[0] ** h - a_true[0] ** h) * x[: T - n, 0]) ** 2) / 2
        assert errs[h - 1] == pytest.approx(want, rel=1e-12)
    assert metrics.prediction_error(LinearMap(a_model), x, n) == errs[-1]


def test_prediction_error_inputs_alignment_and_subsampling():
    rng = np.random.default_rng(9)
    T = 80
    s = rng.normal(size=(T, 1))
    x = np.empty((T, 1))
    x[0] = 0.3
    for t in range(1, T):
        x[t] = 0.7 * x[t - 1] + s[t]  # step t uses input s_t
    model = LinearMap([0.7], with_inputs=True)
    assert metrics.prediction_error(model, x, 10, inputs=s) == pytest.approx(0.0, abs=1e-20)
    model.calls = 0
    metrics.prediction_error(model, x, 10, inputs=s, n_starts=7, rng=0)
    assert model.calls == 7
    wrong = LinearMap([0.7], with_inputs=True)
    assert metrics.prediction_error(wrong, x, 10, inputs=np.roll(s, 1, axis=0)) > 0.1


def test_prediction_error_diverging_model_is_infinite():
    x = np.linspace(0, 1, 50)[:, None]
    assert metrics.prediction_error(LinearMap([1e300]), x, 3) == np.inf


# ----------------------------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------------------------
def test_bad_input_gives_clear_errors(lorenz):
    bad = lorenz.copy()
    bad[10, 1] = np.nan
    for fn in (D_stsp, D_H):
        with pytest.raises(ValueError, match="NaN"):
            fn(bad, lorenz)
        with pytest.raises(ValueError, match="NaN"):
            fn(lorenz, bad)
        with pytest.raises(ValueError, match="same N"):
            fn(lorenz, lorenz[:, :2])
        with pytest.raises(ValueError, match="constant"):
            fn(np.ones((100, 2)), lorenz[:100, :2])
        with pytest.raises(ValueError, match="convention"):
            fn(lorenz, lorenz, convention="paper")
    with pytest.raises(ValueError, match="method"):
        D_stsp(lorenz, lorenz, method="kde")
    with pytest.raises(ValueError, match="n_bins"):
        D_stsp(lorenz, lorenz, n_bins=1)
    with pytest.raises(ValueError, match="smoothing"):
        D_stsp(lorenz, lorenz, smoothing=0.0)
    with pytest.raises(ValueError, match="samples"):
        D_H(lorenz[:3], lorenz)
    # a generated series stuck at a fixed point is a valid (bad) reconstruction: maximal distance, not an error
    stuck = lorenz.copy()
    stuck[:, 1] = 4.0
    assert D_H(lorenz, stuck, per_dimension=True)[1] == 1.0
    assert D_H(lorenz, np.ones_like(lorenz)) == 1.0
    # the same for a fixed point reached with rounding-level jitter, and for a diverged column
    settled = lorenz.copy()
    settled[:, 0] = 0.1 + np.where(np.arange(len(lorenz)) % 7 == 0, 1.4e-17, 0.0)
    settled[:, 2] = 1e200 * np.sign(lorenz[:, 2] - lorenz[:, 2].mean())      # spread overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = D_H(lorenz, settled, per_dimension=True)
    assert h[0] == 1.0 and h[2] == 1.0 and h[1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="at least as long"):
        D_H(lorenz, lorenz[:1000], convention="legacy")
    with pytest.raises(TypeError, match="generate"):
        metrics.prediction_error(object(), lorenz, 3)
    with pytest.raises(ValueError, match="n_steps"):
        metrics.prediction_error(LinearMap([1, 1, 1]), lorenz[:10], 10)
    with pytest.raises(ValueError, match="shape"):
        metrics.prediction_error(LinearMap([1.0, 1.0]), lorenz[:50], 3)
    with pytest.raises(ValueError, match="aligned"):
        metrics.prediction_error(LinearMap([1, 1, 1]), lorenz[:50], 3, inputs=np.zeros((10, 1)))
