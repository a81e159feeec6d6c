"""The paper's systems and conventions (fastrnn.systems.PAPER_SYSTEMS, paper_series): parameters reach the
integrators, the scalings are the documented ones, the Duffing drive is 0.35 cos(1.4 t)."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from fastrnn import systems
from fastrnn.systems import PAPER_SYSTEMS, paper_series
from fastrnn.systems.generators import DEFAULT_TRANSIENT, transient_samples


def _unscale(ps):
    sc = ps.scaling
    return ps.x * np.asarray(sc["std"]) + np.asarray(sc["mean"])


def _reference(rhs, x0, dt, n):
    sol = solve_ivp(rhs, (0.0, (n - 1) * dt), x0, t_eval=np.arange(n) * dt, method="DOP853", rtol=1e-12,
                    atol=1e-12)
    return sol.y.T


def test_rossler_parameters_reach_the_integrator():
    a, b, c = 0.15, 0.2, 10.0
    x0 = [1.0, -2.0, 0.5]
    ours = systems.rossler(101, a=a, b=b, c=c, dt=0.1, x0=x0, transient=0, substeps=20)   # 10 time units
    ref = _reference(lambda t, u: [-u[1] - u[2], u[0] + a * u[1], b + u[2] * (u[0] - c)], x0, 0.1, 101)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8)
    other = systems.rossler(101, a=a, b=b, c=5.7, dt=0.1, x0=x0, transient=0)
    assert np.abs(other - ours).max() > 0.1          # c enters: 0.22 apart after 10 time units
    # the paper setting is exactly this generator at these parameters
    ps = paper_series("rossler", 3000, rng=4)
    np.testing.assert_allclose(_unscale(ps), systems.rossler(3000, a=a, b=b, c=c, dt=0.1, rng=4), rtol=1e-12,
                               atol=1e-12)
    assert ps.dt == 0.1 and ps.inputs is None and ps.scaling["kind"] == "columns"
    np.testing.assert_allclose(ps.x.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ps.x.std(axis=0), 1, atol=1e-12)


def test_lorenz_rho38_and_one_global_zscore():
    x0 = [1.0, 2.0, 20.0]
    ours = systems.lorenz(201, rho=38.0, x0=x0, transient=0, substeps=20)          # 2 time units at dt = 0.01
    ref = _reference(lambda t, u: [10 * (u[1] - u[0]), u[0] * (38 - u[2]) - u[1], u[0] * u[1] - 8 / 3 * u[2]],
                     x0, 0.01, 201)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7)
    ps = paper_series("lorenz", rng=1)
    assert ps.x.shape == (100000, 3) and ps.dt == 0.01 and ps.scaling["kind"] == "global"
    assert abs(ps.x.mean()) < 1e-12 and ps.x.std() == pytest.approx(1.0, abs=1e-12)          # over all entries
    col_means, col_stds = ps.x.mean(axis=0), ps.x.std(axis=0)
    assert np.abs(col_means).max() > 0.5 and np.abs(col_stds - 1).max() > 0.05       # not per column
    raw = systems.lorenz(100000, sigma=10.0, rho=38.0, beta=8 / 3, dt=0.01, rng=1)
    np.testing.assert_allclose(_unscale(ps), raw, rtol=1e-12, atol=1e-10)
    assert ps.scaling["mean"] == pytest.approx(raw.mean()) and ps.scaling["std"] == pytest.approx(raw.std())


def test_lorenz_observed_in_y_and_z():
    ps = paper_series("lorenz2d", 5000, rng=2)
    raw = systems.lorenz(5000, rho=38.0, rng=2)[:, 1:]
    assert ps.x.shape == (5000, 2)
    np.testing.assert_allclose(ps.x, (raw - raw.mean()) / raw.std(), rtol=1e-12, atol=1e-12)


def test_duffing_drive_observed_or_as_input():
    n, dt = 4000, 0.1773
    obs = paper_series("duffing", n, rng=3)
    inp = paper_series("duffing_input", n, rng=3)
    t = (transient_samples(None, DEFAULT_TRANSIENT["duffing"], dt) + np.arange(n)) * dt
    drive = 0.35 * np.cos(1.4 * t)
    assert obs.x.shape == (n, 3) and obs.inputs is None and obs.dt == dt
    np.testing.assert_allclose(_unscale(obs)[:, 2], drive, rtol=0, atol=1e-12)
    np.testing.assert_allclose(obs.x[:, 2], (drive - drive.mean()) / drive.std(), rtol=0, atol=1e-9)
    assert inp.x.shape == (n, 2) and inp.inputs.shape == (n, 1)
    np.testing.assert_allclose(inp.x, obs.x[:, :2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(inp.inputs[:, 0] * inp.scaling["input_std"][0] + inp.scaling["input_mean"][0], drive,
                               rtol=0, atol=1e-12)
    # x'' + 0.1 x' - x + x^3 = 0.35 cos(1.4 t): the paper's orbit is the generator's at these parameters, and the
    # generator solves this equation
    kw = PAPER_SYSTEMS["duffing"].params
    np.testing.assert_allclose(_unscale(inp), systems.duffing(n, rng=3, **kw)[0], rtol=1e-12, atol=1e-12)
    x0 = [0.5, -0.2]
    ours = systems.duffing(114, x0=x0, transient=0, substeps=20, **kw)[0]          # 20 time units
    ref = _reference(lambda t, u: [u[1], -0.1 * u[1] + u[0] - u[0] ** 3 + 0.35 * np.cos(1.4 * t)], x0, dt, 114)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)                         # RK4's error: 6e-8


def test_mackey_glass_and_names():
    ps = paper_series("Mackey_Glass ", 2000, rng=0)
    assert ps.x.shape == (2000, 1) and ps.dt == 1.0
    np.testing.assert_allclose(_unscale(ps), systems.mackey_glass(2000, rng=0), rtol=1e-12)
    assert set(PAPER_SYSTEMS) == {"lorenz", "lorenz2d", "rossler", "duffing", "duffing_input", "mackey_glass"}
    assert all(s.description for s in PAPER_SYSTEMS.values())
    with pytest.raises(ValueError, match="unknown paper system 'lorenz63'"):
        paper_series("lorenz63")


def test_gtf_lorenz63_benchmark_setting():
    from fastrnn.systems import gtf_benchmark

    b = gtf_benchmark("lorenz63", 20000, 10000, rng=0)
    assert b.train.shape == (20000, 3) and b.test.shape == (10000, 3) and b.dt == 0.01
    assert b.training == {"batch_size": 16, "seq_len": 200, "batches_per_epoch": 50}
    np.testing.assert_allclose(b.train.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(b.train.std(0), 1.0, rtol=1e-12)
    # the test series is the clean continuation, scaled with the training statistics
    raw = systems.lorenz(30000, rng=np.random.default_rng(0), sigma=10.0, rho=28.0, beta=8.0 / 3.0, dt=0.01)
    np.testing.assert_allclose(b.test * b.scaling["std"] + b.scaling["mean"], raw[20000:], rtol=1e-10, atol=1e-10)
    # 5 % noise: the training residual against the clean orbit has std 0.05 of each clean column's
    resid = b.train * b.scaling["std"] + b.scaling["mean"] - raw[:20000]
    np.testing.assert_allclose(resid.std(0) / raw[:20000].std(0), 0.05, rtol=0.03)
    clean = gtf_benchmark("lorenz63", 20000, 10000, noise=0.0, rng=0)
    np.testing.assert_allclose(clean.train * clean.scaling["std"] + clean.scaling["mean"], raw[:20000], rtol=1e-12,
                               atol=1e-10)
    with pytest.raises(ValueError, match="unknown GTF benchmark"):
        gtf_benchmark("lorenz84")
