"""fastrnn.metrics with convention="gtf" (Hess et al. 2023's benchmark): values computed by hand here."""
import math

import numpy as np
import pytest
from scipy.special import logsumexp

import fastrnn as fr
from fastrnn.metrics import power_spectrum_distance as D_H
from fastrnn.metrics import prediction_error
from fastrnn.metrics import state_space_divergence as D_stsp


def test_binned_dstsp_1d_by_hand():
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    b = np.concatenate([rng.normal(0.5, 1.3, 150), [a.max() + 5.0, a.min() - 5.0]])  # two points out of range
    s = a.std(ddof=1)
    edges = np.linspace(a.min() - 0.1 * s, a.max() + 0.1 * s, 31)
    ca, _ = np.histogram(a, edges)
    cb, _ = np.histogram(b, edges)  # np.histogram drops points out of range, as the convention does
    assert ca.sum() == 200 and cb.sum() == 134  # 18 of the 152 generated points are discarded
    p = (ca + 1e-5) / (200 + 30e-5)
    q = (cb + 1e-5) / (134 + 30e-5)
    expect = float(np.sum(p * np.log(p / q)))
    assert D_stsp(a, b, convention="gtf") == pytest.approx(expect, rel=1e-12)
    assert D_stsp(a[:, None], b[:, None], convention="gtf", method="bins") == pytest.approx(expect, rel=1e-12)
    assert D_stsp(a, a, convention="gtf") == 0.0
    # the margin of 0.1 sd keeps every true point inside; generated points all outside give NaN (as that code)
    assert math.isnan(D_stsp(a, a + 100.0, convention="gtf"))
    # differs from the default convention (standardised, edge bins absorb outliers)
    assert abs(D_stsp(a, b) - expect) > 1e-3


def test_binned_dstsp_2d_matches_histogramdd():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 2)) @ np.array([[1.0, 0.3], [0.0, 2.0]])
    b = rng.normal(size=(400, 2)) * 1.5
    s = a.std(0, ddof=1)
    edges = [np.linspace(a[:, d].min() - 0.1 * s[d], a[:, d].max() + 0.1 * s[d], 31) for d in range(2)]
    ha, _ = np.histogramdd(a, bins=edges)
    hb, _ = np.histogramdd(b, bins=edges)
    p = (ha + 1e-5) / (ha.sum() + 900e-5)
    q = (hb + 1e-5) / (hb.sum() + 900e-5)
    assert hb.sum() < 400  # some generated points are discarded
    assert D_stsp(a, b, convention="gtf") == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-10)


def test_gmm_dstsp_for_six_dimensions_matches_numpy():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 6))
    b = rng.normal(0.3, 1.2, size=(250, 6))
    got = D_stsp(a, b, convention="gtf", rng=5)  # N >= 6: the mixture, variance 1, 1000 samples from p_true
    assert D_stsp(a, b, convention="gtf", method="gmm", rng=5) == got
    g = np.random.default_rng(5)
    s = a[g.integers(0, 300, 1000)] + g.standard_normal((1000, 6))

    def logpdf(c):
        d2 = ((s[:, None, :] - c[None]) ** 2).sum(-1)
        return logsumexp(-0.5 * d2, axis=1) - math.log(len(c)) - 3.0 * math.log(2 * math.pi)

    assert got == pytest.approx(float(np.mean(logpdf(a) - logpdf(b))), rel=1e-10)
    assert got > 0.05
    # the first max_components points of each series are the components
    g = np.random.default_rng(5)
    s = a[:100][g.integers(0, 100, 1000)] + g.standard_normal((1000, 6))
    assert D_stsp(a, b, convention="gtf", rng=5, max_components=100) == pytest.approx(
        float(np.mean(logpdf(a[:100]) - logpdf(b[:100]))), rel=1e-10)


def _smoothed_delta(k0, n_freq, sigma=20.0):
    """The normalised spectrum of a pure tone at bin k0 smoothed by scipy's Gaussian kernel (radius 4 sigma),
    written out: the kernel exp(-j^2 / (2 sigma^2)), |j| <= 80, centred at k0 (far from both ends), summing to 1."""
    j = np.arange(-80, 81)
    w = np.exp(-0.5 * (j / sigma) ** 2)
    p = np.zeros(n_freq)
    p[k0 + j] = w / w.sum()
    return p


def test_power_spectrum_distance_of_two_tones():
    L = 4096
    n = np.arange(L)
    x = np.sin(2 * np.pi * 200 * n / L)
    y = np.sin(2 * np.pi * 260 * n / L + 0.3)
    assert D_H(x, x, convention="gtf") == 0.0
    assert D_H(x, np.sin(2 * np.pi * 200 * n / L + 1.0), convention="gtf") < 1e-12  # the phase is irrelevant
    p, q = _smoothed_delta(200, L // 2 + 1), _smoothed_delta(260, L // 2 + 1)
    expect = math.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))
    got = D_H(x, y, convention="gtf")
    assert got == pytest.approx(expect, abs=1e-9)
    # and close to the Hellinger distance of two Gaussians sigma = 20 apart by 60 bins, sqrt(1 - exp(-60^2 / 8 sigma^2))
    assert got == pytest.approx(math.sqrt(1 - math.exp(-3600 / 3200)), abs=0.02)
    # per column, averaged; a constant generated column gets 1
    X, Y = np.c_[x, y], np.c_[y, np.full(L, 3.0)]
    np.testing.assert_allclose(D_H(X, Y, convention="gtf", per_dimension=True), [got, 1.0], atol=1e-12)
    assert D_H(X, Y, convention="gtf") == pytest.approx((got + 1.0) / 2, abs=1e-12)
    # sigma = 0: the raw spectra, disjoint: H = 1; the longer series is cut to the shorter one's length
    assert D_H(x, y, convention="gtf", smoothing=0) == pytest.approx(1.0, abs=1e-9)
    assert D_H(x, np.r_[y, y[:100]], convention="gtf") == got


def test_invalid_convention_names_the_choices():
    x = np.random.default_rng(3).normal(size=(100, 2))
    for fn in (D_stsp, D_H):
        with pytest.raises(ValueError, match=r"convention must be one of 'default', 'legacy', 'gtf'.*got 'GTF'"):
            fn(x, x, convention="GTF")


def test_prediction_error_is_the_gtf_pe_n():
    """PE(n): states from the data (x0 = x_t), n free steps, MSE over all starts and dimensions."""
    model = fr.PLRNN(5, 3, rng=0)
    x = np.random.default_rng(4).normal(size=(60, 3))
    n = 20
    preds = np.stack([model.generate(n + 1, x0=x[t])[0][n] for t in range(60 - n)])
    assert prediction_error(model, x, n) == pytest.approx(float(np.mean((preds - x[n:]) ** 2)), rel=1e-12)
