"""Tests for the further benchmark systems of fastrnn.systems (issue 13): Chen, Chua, Thomas, Halvorsen, Lorenz-96,
Ikeda, Tinkerbell, Lozi, Burgers, Duffing map and the generalised Hénon map: Jacobians, reference spectra (sum rule,
literature values), attractors from the default start, argument validation and the registry entry points."""
import math

import numpy as np
import pytest

from fastrnn import systems as S
from fastrnn.systems import fields as F
from fastrnn.systems.integrators import flow_orbit, map_orbit
from fastrnn.systems.reference import FLOW_IDS, MAP_IDS, PARAMS

NEW_FLOWS = ["chen", "chua_pwl", "thomas", "halvorsen", "lorenz96"]
NEW_MAPS = ["ikeda", "tinkerbell", "lozi", "burgers", "duffing_map", "henon3"]
NEW = NEW_FLOWS + NEW_MAPS
DIMS = {"chen": 3, "chua_pwl": 3, "thomas": 3, "halvorsen": 3, "lorenz96": 5, "ikeda": 2, "tinkerbell": 2, "lozi": 2,
        "burgers": 2, "duffing_map": 2, "henon3": 3}


def _gen(name):
    return S.SYSTEMS[name].generator


def _p(name, **over):
    kw = _gen(name).__kwdefaults__
    return np.array([over.get(k, kw[k]) for k in PARAMS[name]], dtype=np.float64)


# (array form of the field/map, its Jacobian) with the default parameters unpacked
FORMS = {
    "chen": (F.chen_rhs, F.chen_jac), "chua_pwl": (F.chua_rhs, F.chua_jac), "thomas": (F.thomas_rhs, F.thomas_jac),
    "halvorsen": (F.halvorsen_rhs, F.halvorsen_jac), "lorenz96": (F.lorenz96_rhs, F.lorenz96_jac),
    "ikeda": (F.ikeda_map, F.ikeda_jac), "tinkerbell": (F.tinkerbell_map, F.tinkerbell_jac),
    "lozi": (F.lozi_map, F.lozi_jac), "burgers": (F.burgers_map, F.burgers_jac),
    "duffing_map": (F.duffing_map_map, F.duffing_map_jac), "henon3": (F.henon3_map, F.henon3_jac),
}


# --------------------------------------------------------------------------
# Jacobians against central finite differences (and the dispatchers)
# --------------------------------------------------------------------------
def _fd_jac(f, u, eps=1e-6):
    J = np.empty((len(f(u)), len(u)))
    for j in range(len(u)):
        e = np.zeros_like(u)
        e[j] = eps
        J[:, j] = (f(u + e) - f(u - e)) / (2 * eps)
    return J


@pytest.mark.parametrize("name", NEW)
def test_jacobians_match_finite_differences(name):
    rhs, jac = FORMS[name]
    p = tuple(_p(name))
    X = _gen(name)(200, rng=0)  # points on the attractor
    rng = np.random.default_rng(1)
    for u in list(X[::40]) + [X[7] + rng.normal(0, 0.3, X.shape[1])]:
        if name == "chua_pwl" and abs(abs(u[0]) - 1.0) < 1e-3:  # the kinks of the diode
            continue
        if name == "lozi" and abs(u[0]) < 1e-3:
            continue
        J = jac(u, *p)
        np.testing.assert_allclose(J, _fd_jac(lambda v: rhs(v, *p), u), rtol=1e-7, atol=1e-6)
        # the in-place dispatchers write the same matrix
        Jd = np.empty_like(J)
        if name in FLOW_IDS:
            F.flow_jac_into(FLOW_IDS[name], u, np.array(p), Jd)
            out = np.empty(len(u))
            F.flow_field_into(FLOW_IDS[name], u, 0.0, np.array(p), out)
        else:
            F.map_jac_into(MAP_IDS[name], u, np.array(p), Jd)
            out = u.copy()
            F.map_step_into(MAP_IDS[name], out, np.array(p))
        np.testing.assert_array_equal(Jd, J)
        np.testing.assert_array_equal(out, rhs(u, *p))


def test_lorenz96_other_sizes_and_chua_kinks():
    rng = np.random.default_rng(2)
    for N in (4, 6, 9):
        u = rng.normal(3.0, 3.0, N)
        np.testing.assert_allclose(F.lorenz96_jac(u, 8.0), _fd_jac(lambda v: F.lorenz96_rhs(v, 8.0), u),
                                   rtol=1e-7, atol=1e-6)
        ref = np.array([(u[(i + 1) % N] - u[i - 2]) * u[i - 1] - u[i] + 8.0 for i in range(N)])
        np.testing.assert_allclose(F.lorenz96_rhs(u, 8.0), ref, rtol=1e-14, atol=1e-14)
        assert np.trace(F.lorenz96_jac(u, 8.0)) == -N
    # Chua diode: slope m0 inside |x| < 1, m1 outside (and at the break points)
    m0, m1 = -8 / 7, -5 / 7
    assert F.chua_slope(0.5, m0, m1) == m0 and F.chua_slope(1.0, m0, m1) == m1 and F.chua_slope(-3.0, m0, m1) == m1
    assert F.chua_g(2.0, m0, m1) == pytest.approx(m1 * 2 + (m0 - m1))


# --------------------------------------------------------------------------
# reference spectra: sum rule, literature values
# --------------------------------------------------------------------------
#: the divergence of the field (flows, per time unit) or log|det J| (maps, per iteration) where it is constant
CONSTANT_SUM = {"chen": 28.0 - 35.0 - 3.0, "thomas": -3 * 0.18, "halvorsen": -3 * 1.27, "lorenz96": -5.0,
                "ikeda": 2 * math.log(0.9), "lozi": math.log(0.5), "duffing_map": math.log(0.2),
                "henon3": math.log(0.1)}


@pytest.mark.parametrize("name", NEW)
def test_spectrum_sum_is_the_mean_divergence(name):
    """Sum of the exponents = time average of tr Df (flows) or of log|det J| (maps) along the same orbit."""
    n, ft = (20_000, 200)
    x0 = _gen(name)(1, rng=3)[0]
    lam = S.lyapunov_spectrum(name, n, x0=x0, transient=0, frame_transient=ft, rng=0)
    assert lam.shape == (DIMS[name],)
    assert np.all(np.diff(lam) < 0)
    X = _gen(name)(ft + n + 1, x0=x0, transient=0)[ft:]
    rhs, jac = FORMS[name]
    p = tuple(_p(name))
    if name in FLOW_IDS:
        tr = np.array([np.trace(jac(u, *p)) for u in X])
        mean = (tr[1:-1].sum() + 0.5 * (tr[0] + tr[-1])) / n  # trapezoid rule over the n sample intervals
        # constant divergence: exact up to RK4's O(h^4) (Lorenz-96 at h = 0.01: 3e-6); Chua's piecewise-constant
        # one: the trapezoid rule's error at the kinks
        tol = 1e-5 if name in CONSTANT_SUM else 3e-3
    else:
        mean = np.mean([math.log(abs(np.linalg.det(jac(u, *p)))) for u in X[:-1]])
        tol = 1e-9
    assert abs(lam.sum() - mean) < tol
    if name in CONSTANT_SUM:
        assert abs(lam.sum() - CONSTANT_SUM[name]) < tol


#: published largest exponents (per time unit for flows, per iteration for maps), our run length and tolerance
PUBLISHED = {
    # Chen & Ueta (1999) system; 2.0232 (lyapunov-spectrum.site by RK4, h = 0.001), Sprott: 2.0272
    "chen": (2.025, 100_000, 0.06),
    # Sprott, "Chaos and Time-Series Analysis" (2003), App. A: (0.3271, 0, -2.5197); ours 0.328 over 2e4 time units
    "chua_pwl": (0.3271, 400_000, 0.01),
    # Sprott, "Elegant Chaos" (2010), Thomas b = 0.18: (0.0349, 0, -0.5749)
    "thomas": (0.0349, 100_000, 0.004),
    # Sprott, "Elegant Chaos" (2010), Halvorsen a = 1.27: (0.7899, 0, -4.6007)
    "halvorsen": (0.7899, 100_000, 0.03),
    # Sprott (2003) App. A: (0.5076, -0.7183); lyapunov-spectrum site (Ikeda, u = 0.9): (0.50752, -0.71824)
    "ikeda": (0.5075, 1_000_000, 0.004),
    # Tinkerbell (0.9, -0.6013, 2, 0.5): (0.19978, -0.50018), Dobriyanchik (2024)
    "tinkerbell": (0.1998, 1_000_000, 0.003),
    # Sprott (2003) App. A, Lozi (1.7, 0.5): (0.47023, -1.16338)
    "lozi": (0.47023, 1_000_000, 0.002),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_largest_exponent_matches_literature(name):
    ref, n, tol = PUBLISHED[name]
    lam = S.lyapunov_spectrum(name, n, rng=0)
    assert abs(lam[0] - ref) < tol
    if name in FLOW_IDS:
        assert abs(lam[1]) < 0.01  # the flow direction


def _two_orbit_exponent(name, x0, n_chunks, chunk, d0=1e-8):
    """Largest exponent from a reference and a perturbed orbit, renormalised every ``chunk`` samples (no
    Jacobians: an independent check of the tangent dynamics)."""
    kw = _gen(name).__kwdefaults__
    p = _p(name)
    x = x0.copy()
    y = x0 + d0 / math.sqrt(len(x0))
    total = 0.0
    for _ in range(n_chunks):
        if name in FLOW_IDS:
            x = flow_orbit(FLOW_IDS[name], x, chunk + 1, 0, kw["dt"], kw["substeps"], p)[0][-1]
            y = flow_orbit(FLOW_IDS[name], y, chunk + 1, 0, kw["dt"], kw["substeps"], p)[0][-1]
        else:
            x = map_orbit(MAP_IDS[name], x, chunk + 1, 0, p)[0][-1]
            y = map_orbit(MAP_IDS[name], y, chunk + 1, 0, p)[0][-1]
        d = np.linalg.norm(y - x)
        total += math.log(d / d0)
        y = x + (y - x) * (d0 / d)
    return total / (n_chunks * chunk * kw.get("dt", 1.0))


@pytest.mark.parametrize("name,value", [("lorenz96", 0.472), ("burgers", 0.1210), ("duffing_map", 0.4770),
                                        ("henon3", 0.2243)])
def test_largest_exponent_matches_two_orbit_estimate(name, value):
    """Systems without a verified published exponent: the tangent value (ours, 2e6 iterations / 1e6 samples,
    documented in fastrnn.systems) against the separation of two nearby orbits along the same orbit."""
    x0 = _gen(name)(1, rng=0)[0]
    n_chunks, chunk = (2000, 10) if name in FLOW_IDS else (20_000, 5)
    lam = S.lyapunov_spectrum(name, n_chunks * chunk, x0=x0, transient=0, frame_transient=0, rng=0)
    two = _two_orbit_exponent(name, x0, n_chunks, chunk)
    assert abs(lam[0] - two) < 0.03 * value + 0.002
    assert abs(S.lyapunov_spectrum(name, 200_000, rng=1)[0] - value) < 0.05 * value


def test_lorenz96_size_parameter():
    lam = S.lyapunov_spectrum("lorenz96", 20_000, N=6, rng=0)
    assert lam.shape == (6,) and lam[0] > 0.5  # ours 0.934 over 2000 time units
    assert abs(lam.sum() + 6.0) < 1e-5  # RK4's O(h^4) at h = 0.01
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['sigma'\] for lorenz96"):
        S.lyapunov_spectrum("lorenz96", 100, sigma=1.0)
    with pytest.raises(ValueError, match="N must be >= 4"):
        S.lyapunov_spectrum("lorenz96", 100, N=3)
    with pytest.raises(ValueError, match="dt and substeps do not apply"):
        S.lyapunov_spectrum("ikeda", 100, dt=0.1)


# --------------------------------------------------------------------------
# attractors from the default start; the kernels integrate the generators' orbits
# --------------------------------------------------------------------------
BOUNDS = {"chen": 60.0, "chua_pwl": 5.0, "thomas": 6.0, "halvorsen": 20.0, "lorenz96": 20.0, "ikeda": 3.0,
          "tinkerbell": 2.0, "lozi": 2.0, "burgers": 3.0, "duffing_map": 2.0, "henon3": 3.0}


@pytest.mark.parametrize("name", NEW)
def test_default_start_is_bounded_and_chaotic(name):
    gen = _gen(name)
    for seed in range(3):
        X = gen(3000, rng=seed)
        assert X.shape == (3000, DIMS[name]) and X.dtype == np.float64 and X.flags.c_contiguous
        assert np.all(np.isfinite(X)) and np.abs(X).max() < BOUNDS[name]
        assert np.all(X.std(axis=0) > 0.05 * np.abs(X).max())  # not a fixed point or a collapsed orbit
        assert len(np.unique(np.round(X[:, 0], 6))) > 2500  # not a short cycle
    # sensitive dependence: a 1e-9 perturbation of the start grows to the size of the attractor
    x0 = gen(1, rng=0)[0]
    a = gen(4000, x0=x0, transient=0)
    b = gen(4000, x0=x0 + 1e-9, transient=0)
    assert np.abs(a - b)[:3].max() < 1e-6
    assert np.abs(a - b)[-500:].max() > 0.1 * np.abs(a).max()


@pytest.mark.parametrize("name", NEW)
def test_generator_semantics_and_kernels(name):
    gen = _gen(name)
    x0 = gen(1, rng=4)[0]
    full = gen(40, x0=x0, transient=0)
    np.testing.assert_array_equal(full[0], x0)
    np.testing.assert_array_equal(gen(25, x0=x0, transient=15), full[15:])
    np.testing.assert_array_equal(gen(300, rng=11, noise=0.1), gen(300, rng=np.random.default_rng(11), noise=0.1))
    Z = gen(2000, rng=0, standardize=True)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(0), 1, atol=1e-12)
    p = _p(name)
    if name in MAP_IDS:  # row[k + 1] = map(row[k]) exactly
        rhs = FORMS[name][0]
        np.testing.assert_array_equal(full[1:], np.array([rhs(u, *p) for u in full[:-1]]))
    else:  # the tangent kernel integrates exactly the generator's orbit
        kw = gen.__kwdefaults__
        x, J = full[0].copy(), np.empty((39, len(x0), len(x0)))
        assert S.reference.flow_tangent_chunk(FLOW_IDS[name], x, 0, 39, kw["dt"], kw["substeps"], p, J)
        np.testing.assert_allclose(x, full[-1], rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# argument validation
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", NEW)
def test_common_bad_inputs(name):
    gen, ncol = _gen(name), DIMS[name]
    with pytest.raises(ValueError, match="n_steps"):
        gen(0)
    with pytest.raises(TypeError, match="n_steps"):
        gen(10.5)
    with pytest.raises(ValueError, match="noise"):
        gen(10, noise=-0.1)
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
    first = PARAMS[name][0]
    with pytest.raises(ValueError, match=f"{first} must be finite"):
        gen(10, **{first: float("nan")})
    with pytest.raises(TypeError, match=first):
        gen(10, **{first: "1"})
    if name in FLOW_IDS:
        for bad in (0.0, -0.01, float("inf")):
            with pytest.raises(ValueError, match="dt"):
                gen(10, dt=bad)
        with pytest.raises(ValueError, match="substeps"):
            gen(10, substeps=0)
        if name in ("chen", "halvorsen", "lorenz96"):  # quadratic fields blow up from far away (Chua's field is
            # linear at large |x|, Thomas' bounded)
            with pytest.raises(ValueError, match="diverged"):
                gen(10, x0=1e200 * (-1.0) ** np.arange(ncol), transient=5)
    elif name != "ikeda":  # the Ikeda map sends the plane into a bounded disc
        big = 1e306 if name == "lozi" else 1e3  # the Lozi map grows only geometrically
        with pytest.raises(ValueError, match="escapes to infinity; choose x0"):
            gen(10, x0=np.full(ncol, big), transient=5)


def test_specific_bad_inputs():
    with pytest.raises(ValueError, match="N must be >= 4"):
        S.lorenz96(10, N=3)
    with pytest.raises(TypeError, match="N must be an integer"):
        S.lorenz96(10, N=5.0)
    with pytest.raises(ValueError, match=r"x0 must have shape \(7,\)"):
        S.lorenz96(10, N=7, x0=np.zeros(5))
    assert S.lorenz96(10, N=7, rng=0).shape == (10, 7)
    with pytest.raises(ValueError, match="escaped to infinity from 20 random initial conditions"):
        S.tinkerbell(10, a=3.0, rng=0)


# --------------------------------------------------------------------------
# the registry: SYSTEMS + lyapunov_spectrum by name, MAPS, system_series
# --------------------------------------------------------------------------
def test_registry_entries():
    assert len(S.SYSTEMS) >= 15
    assert set(NEW) <= set(S.SYSTEMS)
    assert set(NEW_MAPS) <= set(S.MAPS) and not set(NEW_FLOWS) & set(S.MAPS)
    for name in NEW:
        gen, dt, has_inputs = S.SYSTEMS[name]
        assert not has_inputs
        assert dt == gen.__kwdefaults__.get("dt", 1.0)
        assert (dt == 1.0) == (name in S.MAPS)
        assert getattr(S, name) is gen


@pytest.mark.parametrize("name", NEW)
def test_system_series_by_name(name):
    x, s, dt = S.system_series(f" {name.upper()} ", 500, rng=1)
    assert s is None and x.shape == (500, DIMS[name])
    np.testing.assert_allclose(x.std(0), 1.0, atol=1e-12)
    assert dt == S.SYSTEMS[name].dt
    if name in FLOW_IDS:
        _, _, dt2 = S.system_series(name, 10, dt=0.5 * S.SYSTEMS[name].dt, rng=1)
        assert dt2 == 0.5 * S.SYSTEMS[name].dt


# ----------------------------------------------------------------------------------------------------------------
# Mackey-Glass: reference exponents of the delay equation from the linearised scheme
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mackey_glass_spectrum():
    return S.lyapunov_spectrum("mackey_glass", 50_000, rng=0)


def test_mackey_glass_spectrum_zero_exponent_and_step(mackey_glass_spectrum):
    lam = mackey_glass_spectrum
    assert lam.shape == (3,) and lam[0] > lam[1] > lam[2]
    assert 0.0045 < lam[0] < 0.0057  # ours: 0.0051 per time unit over 1e5 time units
    assert abs(lam[1]) < 1e-4  # the flow direction
    assert -0.042 < lam[2] < -0.035
    fine = S.lyapunov_spectrum("mackey_glass", 50_000, rng=0, substeps=20, n_exponents=1)
    assert fine.shape == (1,) and abs(fine[0] - lam[0]) < 0.06 * lam[0]  # same orbit start, half the step
    periodic = S.lyapunov_spectrum("mackey_glass", 10_000, rng=0, tau=10.0, n_exponents=2)
    assert abs(periodic[0]) < 3e-4  # delay 10: a limit cycle


def test_mackey_glass_exponent_matches_two_orbits(mackey_glass_spectrum):
    """Independent of the tangent kernel: two orbits of the generator whose constant initial histories differ by
    1e-12 separate at lambda_1 (fitted between 1e-9 and 1e-3, after the approach to the attractor)."""
    rates = []
    for x0 in (0.6, 0.8, 1.2):
        a = S.mackey_glass(8000, x0=x0, transient=0)[:, 0]
        b = S.mackey_glass(8000, x0=x0 + 1e-12, transient=0)[:, 0]
        env = np.log(np.maximum.reduceat(np.abs(a - b), np.arange(0, 8000, 50)))
        t = np.arange(env.size) * 50.0
        sel = (t >= 500) & (env > math.log(1e-9)) & (env < math.log(1e-3))
        assert sel.sum() >= 10
        rates.append(np.polyfit(t[sel], env[sel], 1)[0])
    assert abs(np.mean(rates) - mackey_glass_spectrum[0]) < 0.2 * mackey_glass_spectrum[0]


def test_mackey_glass_spectrum_bad_inputs():
    with pytest.raises(ValueError, match="divides the delay"):
        S.lyapunov_spectrum("mackey_glass", 100, tau=17.05)
    with pytest.raises(ValueError, match="return_history is not available"):
        S.lyapunov_spectrum("mackey_glass", 100, return_history=True)
    with pytest.raises(ValueError, match="n_exponents applies only"):
        S.lyapunov_spectrum("lorenz", 100, n_exponents=2)
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['rho'\] for mackey_glass"):
        S.lyapunov_spectrum("mackey_glass", 100, rho=1.0)
    with pytest.raises(ValueError, match="x0 must be >= 0"):
        S.lyapunov_spectrum("mackey_glass", 100, x0=-1.0)
