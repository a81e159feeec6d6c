"""Tests for fastrnn.systems: benchmark dynamical systems, their vector fields and Jacobians."""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from fastrnn import systems as S

SB = 8.0 / 3.0

# (generator, number of columns, extra kwargs) for every public system; Duffing is unpacked.
GENERATORS = [
    (S.lorenz, 3),
    (S.rossler, 3),
    (S.duffing, 2),
    (S.mackey_glass, 1),
    (S.henon, 2),
    (S.logistic, 1),
]
IDS = [g.__name__ for g, _ in GENERATORS]


def _x(out):
    """Observed series of a generator's output (Duffing returns (x, s))."""
    return out[0] if isinstance(out, tuple) else out


# --------------------------------------------------------------------------
# shapes, dtype, reproducibility
# --------------------------------------------------------------------------
@pytest.mark.parametrize("gen,ncol", GENERATORS, ids=IDS)
def test_shape_dtype_finite(gen, ncol):
    out = gen(257, rng=3)
    x = _x(out)
    assert x.shape == (257, ncol)
    assert x.dtype == np.float64
    assert x.flags.c_contiguous
    assert np.all(np.isfinite(x))
    assert np.all(x.std(axis=0) > 0)  # not a collapsed orbit
    if isinstance(out, tuple):
        s = out[1]
        assert s.shape == (257, 1) and s.dtype == np.float64
    # a single sample is allowed
    assert _x(gen(1, rng=3)).shape == (1, ncol)


@pytest.mark.parametrize("gen,ncol", GENERATORS, ids=IDS)
def test_reproducible_with_seed_and_generator(gen, ncol):
    a = _x(gen(300, rng=11, noise=0.1))
    b = _x(gen(300, rng=11, noise=0.1))
    c = _x(gen(300, rng=12, noise=0.1))
    d = _x(gen(300, rng=np.random.default_rng(11), noise=0.1))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, d)
    assert np.abs(a - c).max() > 1e-3
    # with a fixed x0 and no noise the output does not depend on rng at all
    x0 = _x(gen(1, rng=5))[0]
    e = _x(gen(50, x0=x0, rng=1))
    f = _x(gen(50, x0=x0, rng=2))
    np.testing.assert_array_equal(e, f)


@pytest.mark.parametrize("gen,ncol", GENERATORS, ids=IDS)
def test_x0_and_transient_semantics(gen, ncol):
    """Row 0 is x0 when transient=0, and a transient of k samples drops exactly k rows."""
    x0 = _x(gen(1, rng=4))[0]
    full = _x(gen(40, x0=x0, transient=0))
    np.testing.assert_array_equal(full[0], x0)
    later = _x(gen(25, x0=x0, transient=15))
    np.testing.assert_array_equal(later, full[15:])


# --------------------------------------------------------------------------
# accuracy of the flows
# --------------------------------------------------------------------------
def _reference(rhs, x0, t_end, dt):
    t = np.arange(int(round(t_end / dt)) + 1) * dt
    sol = solve_ivp(rhs, (0.0, t[-1]), x0, method="DOP853", rtol=1e-13, atol=1e-13, t_eval=t)
    assert sol.success
    return sol.y.T


def test_lorenz_rk4_matches_solve_ivp_and_is_fourth_order():
    x0 = np.array([1.0, 2.0, 20.0])
    ref = _reference(lambda t, u: S.fields.lorenz_rhs(u, 10.0, 28.0, SB), x0, 1.0, 0.01)
    err = {s: np.abs(S.lorenz(101, x0=x0, transient=0, substeps=s) - ref).max() for s in (1, 2, 4)}
    # default substeps=5 (h = 0.002): far below any useful tolerance over one time unit
    assert np.abs(S.lorenz(101, x0=x0, transient=0) - ref).max() < 1e-6
    # halving the step divides the error by ~2**4 = 16 (measured 16.4 and 16.2)
    assert 12 < err[1] / err[2] < 22
    assert 12 < err[2] / err[4] < 22


def test_rossler_and_duffing_match_solve_ivp():
    x0 = np.array([1.0, 2.0, 0.5])
    ref = _reference(lambda t, u: S.fields.rossler_rhs(u, 0.2, 0.2, 5.7), x0, 10.0, 0.05)
    assert np.abs(S.rossler(201, x0=x0, transient=0) - ref).max() < 1e-6
    # Duffing with non-default parameters, explicit time dependence of the drive
    p = dict(delta=0.25, alpha=-1.0, beta=1.0, gamma=0.4, omega=1.1)
    x0 = np.array([0.5, 0.1])
    ref = _reference(lambda t, u: S.fields.duffing_rhs(u, t, *p.values()), x0, 10.0, 0.05)
    x, _ = S.duffing(201, x0=x0, transient=0, **p)
    assert np.abs(x - ref).max() < 1e-7


def test_lorenz_100k_steps_and_attractor_statistics():
    """100k samples (1000 time units) run, stay on the attractor, and have the known mean z."""
    X = S.lorenz(100_000, rng=0)
    assert X.shape == (100_000, 3)
    assert np.all(np.isfinite(X))
    # long-run mean of z on the Lorenz attractor is about 23.55 (seeds 0..4: 23.53 .. 23.57)
    assert 23.3 < X[:, 2].mean() < 23.8
    # symmetric attractor: x and y average near 0, x and y strongly correlated
    assert abs(X[:, 0].mean()) < 1.0 and abs(X[:, 1].mean()) < 1.0
    assert np.corrcoef(X[:, 0], X[:, 1])[0, 1] > 0.8
    # bounded: |x| < 21, |y| < 29, 0 < z < 50 on the attractor
    assert np.abs(X[:, 0]).max() < 21 and np.abs(X[:, 1]).max() < 29
    assert 0 < X[:, 2].min() and X[:, 2].max() < 50
    # sum of Lyapunov exponents = divergence of the field = -(sigma + 1 + beta), trace of Jacobian
    assert np.trace(S.fields.lorenz_jac(X[123], 10.0, 28.0, SB)) == pytest.approx(-(10 + 1 + SB), abs=1e-12)


def test_duffing_drive_column():
    gamma, omega, dt, transient = 0.45, 1.3, 0.04, 77
    x, s = S.duffing(500, gamma=gamma, omega=omega, dt=dt, transient=transient, rng=0,
                     standardize=True, noise=0.1)
    t = (transient + np.arange(500)) * dt
    np.testing.assert_allclose(s[:, 0], gamma * np.cos(omega * t), rtol=0, atol=1e-14)
    # default transient is 500 time units
    _, s = S.duffing(10, rng=0)
    np.testing.assert_allclose(s[:, 0], 0.5 * np.cos(1.2 * (10000 + np.arange(10)) * 0.05), atol=1e-14)


def test_duffing_is_chaotic_double_well():
    """Default parameters: orbit visits both wells (x = +-1) and nearby orbits separate."""
    x, _ = S.duffing(20_000, rng=1)
    assert (x[:, 0] > 0.8).mean() > 0.1 and (x[:, 0] < -0.8).mean() > 0.1
    a, _ = S.duffing(4000, x0=[0.5, 0.1], transient=0)
    b, _ = S.duffing(4000, x0=[0.5 + 1e-6, 0.1], transient=0)
    # largest exponent ~0.1 per time unit: over 200 time units 1e-6 grows to O(1)
    assert np.abs(a - b)[:100].max() < 1e-4
    assert np.abs(a - b)[-500:].max() > 0.1


# --------------------------------------------------------------------------
# Mackey-Glass
# --------------------------------------------------------------------------
def _mg_method_of_steps(x0, tau, beta=0.2, gamma=0.1, n=10.0):
    """Reference solution on [0, 3 tau] by the method of steps (analytic on the first interval)."""
    c = beta * x0 / (1 + x0 ** n)
    first = lambda t: c / gamma + (x0 - c / gamma) * np.exp(-gamma * t)  # noqa: E731
    g = lambda xd: beta * xd / (1 + xd ** n)  # noqa: E731
    kw = dict(method="DOP853", rtol=1e-13, atol=1e-13, dense_output=True)
    s2 = solve_ivp(lambda t, u: g(first(t - tau)) - gamma * u, (tau, 2 * tau), [first(tau)], **kw)
    s3 = solve_ivp(lambda t, u: g(s2.sol(t - tau)[0]) - gamma * u, (2 * tau, 3 * tau),
                   [s2.sol(2 * tau)[0]], **kw)

    def ref(t):
        out = np.empty_like(t)
        for i, ti in enumerate(t):
            out[i] = first(ti) if ti <= tau else (s2.sol(ti)[0] if ti <= 2 * tau else s3.sol(ti)[0])
        return out
    return ref


@pytest.mark.parametrize("tau,substeps", [(17.0, (5, 10, 20)), (6.3, (10, 20, 40))])
def test_mackey_glass_matches_method_of_steps(tau, substeps):
    """Against an independent solution on [0, 3 tau]; every step h used divides tau."""
    ref = _mg_method_of_steps(1.2, tau)
    T = int(3 * tau)
    r = ref(np.arange(T + 1) * 1.0)
    e1, e2, e3 = (np.abs(S.mackey_glass(T + 1, x0=1.2, tau=tau, transient=0, substeps=s)[:, 0] - r).max()
                  for s in substeps)
    # default h = 0.1 (substeps=10): measured 2.7e-10 (tau = 17) and 2.6e-10 (tau = 6.3)
    default = S.mackey_glass(T + 1, x0=1.2, tau=tau, transient=0)[:, 0]
    assert np.abs(default - r).max() < 1e-9
    # fourth order through the delayed (history-buffer, Hermite-interpolated) values: ratio ~16
    assert 10 < e1 / e2 < 25 and 10 < e2 / e3 < 25


def test_mackey_glass_halving_consistency_and_range():
    a = S.mackey_glass(500, x0=1.2, transient=0, substeps=10)[:, 0]
    b = S.mackey_glass(500, x0=1.2, transient=0, substeps=20)[:, 0]
    assert np.abs(a - b).max() < 1e-7  # measured 5e-9
    # a delay that is not a multiple of the step (Hermite interpolation at every stage)
    c = S.mackey_glass(200, x0=1.2, tau=17.05, transient=0, substeps=10)[:, 0]
    d = S.mackey_glass(200, x0=1.2, tau=17.05, transient=0, substeps=40)[:, 0]
    assert np.abs(c - d).max() < 1e-4
    x = S.mackey_glass(5000, rng=0)[:, 0]
    # the tau = 17 attractor lies in about 0.2 .. 1.4 and is not a fixed point or small cycle
    assert 0.2 < x.min() and x.max() < 1.4
    assert x.max() - x.min() > 0.7
    assert len(np.unique(np.round(x, 3))) > 500


def test_mackey_glass_step_must_not_exceed_tau():
    with pytest.raises(ValueError, match="substeps"):
        S.mackey_glass(10, tau=0.5, dt=1.0, substeps=1)
    # h = 0.25 <= tau = 0.5 works
    assert S.mackey_glass(10, tau=0.5, dt=1.0, substeps=4, rng=0).shape == (10, 1)


# --------------------------------------------------------------------------
# maps
# --------------------------------------------------------------------------
def test_henon_follows_map_exactly():
    a, b = 1.4, 0.3
    X = S.henon(5000, rng=2)
    nxt = np.array([S.fields.henon_map(X[k], a, b) for k in range(len(X) - 1)])
    np.testing.assert_array_equal(X[1:], nxt)
    np.testing.assert_allclose(X[1:, 0], 1 - a * X[:-1, 0] ** 2 + X[:-1, 1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(X[1:, 1], b * X[:-1, 0], rtol=0, atol=1e-15)
    # the Hénon attractor: x in about [-1.285, 1.273]
    assert -1.3 < X[:, 0].min() < -1.2 and 1.2 < X[:, 0].max() < 1.3
    # sum of the exponents = log|det J| = log b at every point
    assert np.log(abs(np.linalg.det(S.fields.henon_jac(X[7], a, b)))) == pytest.approx(np.log(0.3), abs=1e-14)


def test_logistic_follows_map_and_invariant_density():
    X = S.logistic(100_000, rng=3)[:, 0]
    np.testing.assert_array_equal(X[1:], 4.0 * X[:-1] * (1.0 - X[:-1]))
    assert np.all((X > 0) & (X < 1))
    # invariant density of r = 4: 1 / (pi sqrt(x (1 - x))), CDF (2/pi) arcsin(sqrt(x))
    xs = np.sort(X)
    cdf = 2 / np.pi * np.arcsin(np.sqrt(xs))
    assert np.abs(cdf - np.arange(1, len(xs) + 1) / len(xs)).max() < 0.01
    # Lyapunov exponent ln 2 from the Jacobian along the orbit
    lam = np.mean([np.log(abs(S.fields.logistic_jac(np.array([v]), 4.0)[0, 0])) for v in X[:20000]])
    assert lam == pytest.approx(math.log(2), abs=0.03)
    # a periodic window: r = 3.2 gives the period-2 orbit, not flagged as degenerate
    Y = S.logistic(100, r=3.2, rng=0)[:, 0]
    np.testing.assert_allclose(Y[2:], Y[:-2], atol=1e-12)
    assert abs(Y[1] - Y[0]) > 0.1


@pytest.mark.parametrize("x0", [0.5, 0.75, 0.0, 1.0])
def test_logistic_degenerate_x0_raises(x0):
    # 0.5 -> 1 -> 0 -> 0 ...; 0.75 is the unstable fixed point of r = 4
    with pytest.raises(ValueError, match="x0"):
        S.logistic(10, x0=x0, transient=0)


def test_logistic_default_restarts_degenerate_orbit(monkeypatch):
    draws = iter([0.5, 0.75, 0.3])
    monkeypatch.setattr(S.generators, "draw_logistic_x0", lambda rng: next(draws))
    X = S.logistic(50, transient=0, rng=0)[:, 0]
    assert X[0] == 0.3  # the first two (degenerate) starts were discarded
    np.testing.assert_array_equal(X[1:], 4.0 * X[:-1] * (1.0 - X[:-1]))
    # always degenerate: a clear error after the maximum number of attempts
    monkeypatch.setattr(S.generators, "draw_logistic_x0", lambda rng: 0.5)
    with pytest.raises(ValueError, match="degenerate"):
        S.logistic(50, rng=0)


def test_henon_divergence():
    with pytest.raises(ValueError, match="x0"):
        S.henon(10, x0=[10.0, 10.0])
    with pytest.raises(ValueError, match="escaped"):
        S.henon(10, a=3.0, rng=0)


# --------------------------------------------------------------------------
# Jacobians against central finite differences
# --------------------------------------------------------------------------
def _fd_jac(f, u, eps=1e-6):
    J = np.empty((len(f(u)), len(u)))
    for j in range(len(u)):
        e = np.zeros_like(u)
        e[j] = eps
        J[:, j] = (f(u + e) - f(u - e)) / (2 * eps)
    return J


@pytest.mark.parametrize("case", ["lorenz", "rossler", "duffing", "henon", "logistic"])
def test_jacobians_match_finite_differences(case):
    rng = np.random.default_rng(0)
    for _ in range(5):
        if case == "lorenz":
            p = (10.0, 28.0, SB)
            u = rng.normal([0, 0, 25], 8.0)
            f, J = (lambda v: S.fields.lorenz_rhs(v, *p)), S.fields.lorenz_jac(u, *p)
        elif case == "rossler":
            p = (0.2, 0.2, 5.7)
            u = rng.normal(0, 5.0, 3)
            f, J = (lambda v: S.fields.rossler_rhs(v, *p)), S.fields.rossler_jac(u, *p)
        elif case == "duffing":
            p = (0.3, -1.0, 1.0, 0.5, 1.2)
            u, t = rng.normal(0, 1.0, 2), rng.uniform(0, 10)
            f, J = (lambda v: S.fields.duffing_rhs(v, t, *p)), S.fields.duffing_jac(u, t, *p)
        elif case == "henon":
            p = (1.4, 0.3)
            u = rng.uniform(-1, 1, 2)
            f, J = (lambda v: S.fields.henon_map(v, *p)), S.fields.henon_jac(u, *p)
        else:
            p = (3.9,)
            u = rng.uniform(0, 1, 1)
            f, J = (lambda v: S.fields.logistic_map(v, *p)), S.fields.logistic_jac(u, *p)
        np.testing.assert_allclose(J, _fd_jac(f, u), rtol=1e-7, atol=1e-6)


# --------------------------------------------------------------------------
# post-processing: standardisation and noise
# --------------------------------------------------------------------------
@pytest.mark.parametrize("gen,ncol", GENERATORS, ids=IDS)
def test_standardize(gen, ncol):
    out = gen(2000, rng=0, standardize=True)
    x = _x(out)
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=0), 1.0, atol=1e-12)
    raw = _x(gen(2000, rng=0))
    np.testing.assert_allclose(x, (raw - raw.mean(0)) / raw.std(0), atol=1e-12)
    if isinstance(out, tuple):  # the drive is an input: never standardised
        np.testing.assert_array_equal(out[1], gen(2000, rng=0)[1])


def test_noise_relative_std():
    x0 = [1.0, 2.0, 20.0]
    clean = S.lorenz(20000, x0=x0, transient=100)
    noisy = S.lorenz(20000, x0=x0, transient=100, noise=0.2, rng=5)
    rel = (noisy - clean).std(axis=0) / clean.std(axis=0)
    np.testing.assert_allclose(rel, 0.2, rtol=0.03)
    assert np.abs((noisy - clean).mean(axis=0) / clean.std(axis=0)).max() < 0.01
    # noise is added before standardisation
    both = S.lorenz(20000, x0=x0, transient=100, noise=0.2, rng=5, standardize=True)
    np.testing.assert_allclose(both, (noisy - noisy.mean(0)) / noisy.std(0), atol=1e-12)
    # maps and Duffing (noise on x only, not on the drive)
    h0 = S.henon(20000, rng=1)
    h1 = S.henon(20000, rng=1, noise=0.05)
    np.testing.assert_allclose((h1 - h0).std(0) / h0.std(0), 0.05, rtol=0.03)
    (d0, s0), (d1, s1) = S.duffing(5000, rng=1), S.duffing(5000, rng=1, noise=0.1)
    np.testing.assert_array_equal(s0, s1)
    np.testing.assert_allclose((d1 - d0).std(0) / d0.std(0), 0.1, rtol=0.06)


# --------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------
@pytest.mark.parametrize("gen,ncol", GENERATORS, ids=IDS)
def test_common_bad_inputs(gen, ncol):
    with pytest.raises(ValueError, match="n_steps"):
        gen(0)
    with pytest.raises(TypeError, match="n_steps"):
        gen(10.5)
    with pytest.raises(TypeError, match="n_steps"):
        gen(True)
    with pytest.raises(ValueError, match="noise"):
        gen(10, noise=-0.1)
    with pytest.raises(ValueError, match="noise"):
        gen(10, noise=float("nan"))
    with pytest.raises(ValueError, match="transient"):
        gen(10, transient=-1)
    with pytest.raises(TypeError, match="standardize"):
        gen(10, standardize="yes")
    with pytest.raises(ValueError, match="x0"):
        gen(10, x0=np.zeros(ncol + 1))
    with pytest.raises(ValueError, match="x0"):
        gen(10, x0=np.full(ncol, np.nan))
    with pytest.raises(ValueError, match="rng|seed|Seed"):
        gen(10, rng=-1)


@pytest.mark.parametrize("gen", [S.lorenz, S.rossler, S.duffing, S.mackey_glass], ids=lambda g: g.__name__)
def test_flow_bad_inputs(gen):
    for bad in (0.0, -0.01, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="dt"):
            gen(10, dt=bad)
    with pytest.raises(ValueError, match="substeps"):
        gen(10, substeps=0)
    with pytest.raises(TypeError, match="substeps"):
        gen(10, substeps=2.0)


def test_parameter_bad_inputs():
    with pytest.raises(ValueError, match="sigma"):
        S.lorenz(10, sigma=float("inf"))
    with pytest.raises(TypeError, match="rho"):
        S.lorenz(10, rho="28")
    with pytest.raises(ValueError, match="c must be finite"):
        S.rossler(10, c=float("nan"))
    with pytest.raises(ValueError, match="omega"):
        S.duffing(10, omega=float("nan"))
    with pytest.raises(ValueError, match="tau"):
        S.mackey_glass(10, tau=0.0)
    with pytest.raises(ValueError, match="n must be > 0"):
        S.mackey_glass(10, n=-1.0)
    with pytest.raises(ValueError, match="x0"):
        S.mackey_glass(10, x0=-0.5)
    with pytest.raises(ValueError, match="a must be finite"):
        S.henon(10, a=float("inf"))
    with pytest.raises(ValueError, match="r must lie"):
        S.logistic(10, r=4.5)
    with pytest.raises(ValueError, match="x0 must lie"):
        S.logistic(10, x0=1.5)
    with pytest.raises(ValueError, match="diverged"):
        S.lorenz(10, x0=[1e200, 1e200, 1e200], transient=5)
