"""Seconds per analysis of a measured series: lambda_max from data (``max_lyapunov``, the automatic method and a
fixed embedding) and nonlinear noise reduction, at the sizes the issues state (10^4 - 10^5 samples).

These are absolute timings (there is no peer library in the environment to compare with in the same run); the
λ_max panel (``benchmarks/lyapunov_panel.py``) reports seconds per estimate for every system as well.

Run: ``python -m pytest benchmarks/bench_data.py --benchmark-only`` (part of ``make bench``).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from fastrnn import systems
from fastrnn import timeseries as ts
from fastrnn.preprocessing import noise_reduction_projective, noise_reduction_simple


@pytest.fixture(scope="module")
def henon_100k():
    return systems.henon(100_000, rng=5)[:, 0]


@pytest.fixture(scope="module")
def noisy_henon_50k():
    x = systems.henon(50_000, rng=5)[:, 0]
    return x + 0.05 * x.std() * np.random.default_rng(5).standard_normal(x.size)


@pytest.fixture(scope="module")
def lorenz_20k():
    return systems.lorenz(20_000, dt=0.01, rng=1)[:, 0]


def test_rosenstein_100k_fixed_embedding(benchmark, henon_100k):
    benchmark.group = "max_lyapunov"
    est = benchmark.pedantic(ts.max_lyapunov, args=(henon_100k,), kwargs={"dim": 2, "lag": 1,
                                                                          "method": "rosenstein"},
                             rounds=3, warmup_rounds=1)
    assert est.n_reference > 99000


def test_auto_lorenz_20k(benchmark, lorenz_20k):
    benchmark.group = "max_lyapunov"

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ts.LyapunovWarning)
            return ts.max_lyapunov(lorenz_20k, dt=0.01)

    est = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert est.method == "rosenstein"


@pytest.mark.parametrize("method", ["simple", "projective"])
def test_noise_reduction_50k(benchmark, noisy_henon_50k, method):
    benchmark.group = "noise reduction"
    fn = noise_reduction_simple if method == "simple" else noise_reduction_projective
    out = benchmark.pedantic(fn, args=(noisy_henon_50k,), rounds=2, warmup_rounds=1)
    assert out.shape == noisy_henon_50k.shape
