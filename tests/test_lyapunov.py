"""Lyapunov spectra of models (fastrnn.lyapunov) and reference spectra of the benchmark systems (fastrnn.systems):
exact cases, the NumPy QR loop of naive.py on the same orbit, Jacobian-product norms, streaming, errors."""
import numpy as np
import pytest

import fastrnn as fr
from fastrnn import lyapunov as ly
from fastrnn import systems

import naive
from conftest import MODEL_KINDS, make_model


def random_frame(D, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((D, D)))[0]


def stable_plrnn(M=8, seed=0):
    """fastrnn's PLRNN initialisation (linear part of spectral radius 0.95) with a random bias h."""
    model = fr.PLRNN(M, 2, rng=seed)
    model.params["h"][...] = np.random.default_rng(seed).normal(size=M)
    return model


def chaotic_tanh(M=32, gain=2.5, seed=0):
    """tanh RNN with W ~ N(0, gain^2 / M), h = 0: chaotic for gain 2.5, M = 32 (lambda_1 ~ 0.15 per step)."""
    model = fr.TanhRNN(M, 3, rng=seed)
    model.params["W"][...] = np.random.default_rng(seed).normal(0.0, gain / np.sqrt(M), (M, M))
    model.params["h"][...] = 0.0
    return model


def same_orbit_reference(model, z0, transient, n_steps, frame, inputs=None):
    """Orbit from fastrnn's kernels, Jacobians along it from naive.py (NumPy), QR loop from naive.py."""
    _, Z = model.jacobians(z0, transient + n_steps, inputs)
    jacs = naive.jacobians_along(model, Z[:-1], inputs)
    return naive.qr_loop_spectrum(jacs, frame, skip=transient)[0], jacs


# ------------------------------------------------------------------------------------------------ exact cases
def test_uncoupled_plrnn_gives_log_abs_A():
    A = np.array([0.9, -0.5, 0.3, 0.75, -0.95, 0.1])
    model = fr.PLRNN(6, 2, rng=0)
    model.params["A"][...] = A
    model.params["W"][...] = 0.0
    model.params["h"][...] = np.random.default_rng(1).normal(size=6)
    lam = ly.lyapunov_spectrum(model, 2000, transient=1000, rng=0)
    np.testing.assert_allclose(lam, np.sort(np.log(np.abs(A)))[::-1], rtol=0, atol=1e-10)


@pytest.mark.parametrize("which", ["chaotic tanh", "PLRNN", "LSTM"])
def test_sum_is_orbit_mean_log_abs_det(which):
    if which == "chaotic tanh":
        model = chaotic_tanh()
    elif which == "PLRNN":
        model = stable_plrnn()
    else:
        model = make_model(which, 8, 3, 0, seed=2, scale=2.0)
    z0 = np.random.default_rng(3).normal(size=model.state_dim) * 0.5
    T, n = 500, 4000
    lam = ly.lyapunov_spectrum(model, n, transient=T, z0=z0, rng=0)
    J, _ = model.jacobians(z0, T + n)
    assert abs(lam.sum() - np.mean(np.linalg.slogdet(J[T:])[1])) < 1e-8


# ------------------------------------------------------------------------------------------------ NumPy QR loop
@pytest.mark.parametrize("K", [0, 2])
@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_agrees_with_numpy_qr_loop_on_the_same_orbit(kind, K):
    model = make_model(kind, 6, 3, K, seed=1, scale=0.5 if kind == "PLRNN" else 2.0)
    rng = np.random.default_rng(0)
    D = model.state_dim
    z0 = rng.normal(size=D) * 0.5
    frame = random_frame(D, seed=5)
    T, n = 300, 1500
    S = rng.normal(size=(T + n, K)) if K else None
    lam = ly.lyapunov_spectrum(model, n, transient=T, z0=z0, frame0=frame, inputs=S, chunk_size=137)
    ref, jacs = same_orbit_reference(model, z0, T, n, frame, S)
    assert lam.shape == (D,)
    np.testing.assert_allclose(lam, ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.jacobians(z0, T + n, S)[0], jacs, rtol=0, atol=1e-12)


def test_agrees_with_numpy_qr_loop_for_a_chaotic_model():
    model = chaotic_tanh()
    z0 = np.random.default_rng(1).normal(size=32)
    frame = random_frame(32, seed=6)
    lam = ly.lyapunov_spectrum(model, 2000, transient=500, z0=z0, frame0=frame)
    ref, _ = same_orbit_reference(model, z0, 500, 2000, frame)
    assert lam[0] > 0.05
    np.testing.assert_allclose(lam, ref, rtol=0, atol=1e-9)


def test_lstm_has_2M_exponents():
    model = make_model("LSTM", 5, 2, 0, seed=0, scale=2.0)
    assert ly.lyapunov_spectrum(model, 200, transient=50, rng=0).shape == (10,)


def test_leading_exponents_only():
    model = chaotic_tanh(M=16, gain=4.0)
    frame = random_frame(16, seed=7)
    full = ly.lyapunov_spectrum(model, 3000, transient=300, z0=np.full(16, 0.3), frame0=frame)
    lead = ly.lyapunov_spectrum(model, 3000, transient=300, z0=np.full(16, 0.3), frame0=frame[:, :3],
                                n_exponents=3)
    np.testing.assert_allclose(lead, full[:3], rtol=0, atol=1e-10)
    # k taken from frame0 when n_exponents is not given
    again = ly.lyapunov_spectrum(model, 3000, transient=300, z0=np.full(16, 0.3), frame0=frame[:, :3])
    np.testing.assert_array_equal(again, lead)


# ------------------------------------------------------------------------------------------------ streaming
class CallRecorder:
    """Wraps a model and records the n_steps of every jacobians call."""

    def __init__(self, model):
        self.model, self.calls = model, []
        self.state_dim, self.n_inputs = model.state_dim, model.n_inputs

    def initial_state(self, **kw):
        return self.model.initial_state(**kw)

    def jacobians(self, state, n_steps, inputs=None):
        self.calls.append(n_steps)
        return self.model.jacobians(state, n_steps, inputs)


def test_streams_in_bounded_chunks_and_chunking_does_not_matter():
    model = make_model("GRU", 7, 2, 0, seed=3, scale=2.0)
    rec = CallRecorder(model)
    lam = ly.lyapunov_spectrum(rec, 5000, transient=700, rng=4, chunk_size=256)
    assert max(rec.calls) <= 256 and sum(rec.calls) == 5700
    for cs in (1, 999, 10_000):
        np.testing.assert_allclose(ly.lyapunov_spectrum(model, 5000, transient=700, rng=4, chunk_size=cs), lam,
                                   rtol=0, atol=1e-12)


def test_history_converges_to_the_result():
    model = chaotic_tanh(M=16, gain=4.0)
    lam, steps, hist = ly.lyapunov_spectrum(model, 3000, transient=200, rng=0, return_history=True,
                                            history_every=500)
    assert steps.tolist() == [500, 1000, 1500, 2000, 2500, 3000]
    assert hist.shape == (6, 16)
    np.testing.assert_array_equal(hist[-1], lam)
    # consistent with separate runs of the lengths recorded
    np.testing.assert_allclose(ly.lyapunov_spectrum(model, 1000, transient=200, rng=0), hist[1], atol=1e-12)


def test_float32_model_close_to_float64():
    m64 = make_model("TanhRNN", 8, 3, 0, seed=4, scale=2.0)
    m32 = m64.astype(np.float32)
    z0 = np.full(8, 0.2)
    lam64 = ly.lyapunov_spectrum(m64, 3000, transient=300, z0=z0, rng=0)
    lam32 = ly.lyapunov_spectrum(m32, 3000, transient=300, z0=z0, rng=0)
    assert np.max(np.abs(lam32 - lam64)) < 2e-3


# ------------------------------------------------------------------------------------------------ errors
def test_diverging_orbit_is_an_error_not_nan():
    model = fr.PLRNN(3, 2, rng=0)
    model.params["A"][...] = 1.2
    model.params["W"][...] = 0.0
    with pytest.raises(ly.OrbitDivergedError, match=r"diverged: the state after \d+ steps has max \|z_i\|"):
        ly.lyapunov_spectrum(model, 1000, transient=100, z0=np.ones(3))
    assert issubclass(ly.OrbitDivergedError, FloatingPointError)
    model.params["A"][...] = np.nan
    with pytest.raises(ly.OrbitDivergedError, match="is not finite"):
        ly.lyapunov_spectrum(model, 10, transient=0, z0=np.ones(3))
    with pytest.raises(ly.OrbitDivergedError):
        ly.jacobian_norms(model, 10, transient=0, z0=np.ones(3))


def test_argument_validation():
    model = make_model("TanhRNN", 4, 2, 0, seed=0)
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        ly.lyapunov_spectrum(model, 0)
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        ly.lyapunov_spectrum(model, 10.5)
    with pytest.raises(ValueError, match="transient must be >= 0"):
        ly.lyapunov_spectrum(model, 10, transient=-1)
    with pytest.raises(ValueError, match="n_exponents must be <= the state dimension 4"):
        ly.lyapunov_spectrum(model, 10, n_exponents=5)
    with pytest.raises(ValueError, match="orthonormal"):
        ly.lyapunov_spectrum(model, 10, frame0=np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"frame0 must have shape \(4, 3\), got \(3, 3\)"):
        ly.lyapunov_spectrum(model, 10, frame0=np.eye(3))
    with pytest.raises(ValueError, match=r"frame0 must have shape \(4, 2\)"):
        ly.lyapunov_spectrum(model, 10, frame0=np.eye(4), n_exponents=2)
    with pytest.raises(ValueError, match="n_inputs=0"):
        ly.lyapunov_spectrum(model, 10, inputs=np.zeros((1010, 2)))
    with pytest.raises(ValueError, match="max_norm"):
        ly.lyapunov_spectrum(model, 10, max_norm=-1.0)
    with pytest.raises(TypeError, match="fastrnn model"):
        ly.lyapunov_spectrum(np.eye(3), 10)
    with_inputs = make_model("GRU", 4, 2, 3, seed=0)
    with pytest.raises(ValueError, match=r"pass inputs of shape \(transient \+ n_steps, 3\) = \(1010, 3\)"):
        ly.lyapunov_spectrum(with_inputs, 10)
    with pytest.raises(ValueError, match="inputs must have shape"):
        ly.lyapunov_spectrum(with_inputs, 10, inputs=np.zeros((20, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        ly.lyapunov_spectrum(with_inputs, 10, transient=0, inputs=np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="lags must lie in 1 .. 10"):
        ly.jacobian_norms(model, 10, lags=[0, 5])
    with pytest.raises(ValueError, match=r"trajectory must have shape \(T, 4\)"):
        ly.jacobian_norms(model, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="empty"):
        ly.qr_spectrum(np.zeros((0, 3, 3)))


# ------------------------------------------------------------------------------------------------ Jacobian products
def test_jacobian_norms_match_explicit_products():
    model = chaotic_tanh(M=16, gain=4.0)
    z0 = np.full(16, 0.1)
    lags = [1, 3, 10, 50, 200, 1000]
    got_lags, got = ly.jacobian_norms(model, 1000, lags=lags, transient=100, z0=z0)
    J, Z = model.jacobians(z0, 1100)
    ref = naive.jacobian_product_log_norms(naive.jacobians_along(model, Z[100:-1]), lags)
    assert got_lags.tolist() == lags
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    # the same numbers from the orbit given as a trajectory of states
    _, from_traj = ly.jacobian_norms(model, Z[100:-1], lags=lags)
    np.testing.assert_allclose(from_traj, got, rtol=1e-12, atol=1e-12)


def test_jacobian_log_norm_grows_with_lambda_1_for_a_chaotic_model():
    model = chaotic_tanh()
    lam1 = ly.lyapunov_spectrum(model, 20_000, transient=1000, rng=1, n_exponents=1)[0]
    assert lam1 > 0.1
    lags, logn = ly.jacobian_norms(model, 10_000, transient=1000, rng=2)
    assert lags[-1] == 10_000 and np.all(np.isfinite(logn))
    assert logn[-1] > 700  # the norm itself (e^1000 and more) is far beyond float64
    sel = lags >= 100
    slope = np.polyfit(lags[sel], logn[sel], 1)[0]
    assert abs(slope - lam1) < 0.1 * lam1


@pytest.mark.parametrize("which", ["fixed point", "cycle"])
def test_jacobian_log_norm_decays_for_a_stable_model(which):
    if which == "fixed point":
        model = stable_plrnn()
    else:
        model = chaotic_tanh(M=8, gain=1.5, seed=0)  # lambda_1 ~ -0.37: attracted to a stable orbit
    lam1 = ly.lyapunov_spectrum(model, 5000, transient=1000, rng=0, n_exponents=1)[0]
    assert lam1 < -0.01
    lags, logn = ly.jacobian_norms(model, 10_000, transient=1000, rng=0)
    assert np.all(np.isfinite(logn))
    assert logn[-1] < logn[len(lags) // 2] < 0.0
    assert logn[-1] < 0.5 * lam1 * 10_000  # decays at about lambda_1 per step, no underflow to -inf


def test_qr_spectrum_of_a_chunked_stream():
    J = np.random.default_rng(0).normal(size=(900, 4, 4)) / 2
    frame = random_frame(4, seed=1)
    whole = ly.qr_spectrum(J, frame0=frame)
    lam, steps, hist = ly.qr_spectrum((J[i:i + 300] for i in range(0, 900, 300)), frame0=frame,
                                      return_history=True)
    np.testing.assert_allclose(lam, naive.qr_loop_spectrum(J, frame)[0], atol=1e-12)
    np.testing.assert_allclose(lam, whole, atol=1e-12)
    assert steps.tolist() == [300, 600, 900]


# ------------------------------------------------------------------------------------------------ systems
def test_henon_reference_spectrum():
    lam = systems.lyapunov_spectrum("henon", 10_000_000, rng=0)
    np.testing.assert_allclose(lam, [0.4200, -1.6241], rtol=0, atol=2e-3)
    assert abs(lam.sum() - np.log(0.3)) < 1e-10


def test_logistic_reference_exponent():
    lam = systems.lyapunov_spectrum("logistic", 1_000_000, rng=0)
    assert lam.shape == (1,)
    assert abs(lam[0] - np.log(2.0)) < 1e-2
    # r = 3.2: stable 2-cycle with multiplier f'(x1) f'(x2) = 4 + 2r - r^2 = 0.16
    assert abs(systems.lyapunov_spectrum("logistic", 100_000, r=3.2, rng=0)[0] - 0.5 * np.log(0.16)) < 1e-6


def test_lorenz_reference_spectrum():
    lam = systems.lyapunov_spectrum("lorenz", 100_000, rng=0)  # 1000 time units at dt = 0.01
    ref = np.array([0.9056, 0.0, -14.5723])
    assert abs(lam[0] - ref[0]) < 0.01 * ref[0]
    assert abs(lam[1]) < 0.01
    assert abs(lam[2] - ref[2]) < 0.01 * abs(ref[2])
    assert abs(lam.sum() + (10 + 1 + 8 / 3)) < 1e-5  # trace of the Jacobian, up to RK4's O(h^4)
    # per time unit: a coarser sampling of the same flow gives the same exponents
    lam_dt = systems.lyapunov_spectrum("lorenz", 50_000, dt=0.02, substeps=10, rng=0)
    assert abs(lam_dt[0] - ref[0]) < 0.02 * ref[0]


def test_rossler_and_duffing_reference_spectra():
    ros = systems.lyapunov_spectrum("rossler", 100_000, rng=0)  # 5000 time units
    assert abs(ros[0] - 0.0714) < 0.005 and abs(ros[1]) < 0.005 and abs(ros[2] + 5.3943) < 0.03
    duf = systems.lyapunov_spectrum("duffing", 100_000, rng=0)
    assert duf.shape == (2,)
    assert duf[0] > 0.05  # chaotic at the default parameters
    assert abs(duf.sum() + 0.3) < 1e-7  # -delta: the divergence of the vector field


def test_tangent_orbits_follow_the_generators():
    """The tangent kernels integrate exactly the generators' orbits (same RK4, same forcing phase)."""
    for name, D, params in (("lorenz", 3, [10.0, 28.0, 8.0 / 3.0]), ("rossler", 3, [0.2, 0.2, 5.7]),
                            ("duffing", 2, [0.3, -1.0, 1.0, 0.5, 1.2])):
        gen = getattr(systems, name)
        out = gen(51, rng=0, transient=7)
        X = out[0] if name == "duffing" else out
        x = X[0].copy()
        J = np.empty((50, D, D))
        k0 = 7 if name == "duffing" else 0
        assert systems.reference.flow_tangent_chunk(systems.reference.FLOW_IDS[name], x, k0, 50,
                                                    gen.__kwdefaults__["dt"], gen.__kwdefaults__["substeps"],
                                                    np.array(params), J)
        np.testing.assert_allclose(x, X[-1], rtol=1e-12, atol=1e-12)
    # the in-place Jacobians are the module's Jacobians
    rng = np.random.default_rng(0)
    Jb = np.empty((3, 3))
    for name, ref in (("lorenz", systems.fields.lorenz_jac), ("rossler", systems.fields.rossler_jac)):
        s, p = rng.normal(size=3), rng.normal(size=3)
        systems.fields.flow_jac_into(systems.reference.FLOW_IDS[name], s, p, Jb)
        np.testing.assert_array_equal(Jb, ref(s, *p))
    Jd = np.empty((2, 2))
    s, p = rng.normal(size=2), rng.normal(size=5)
    systems.fields.flow_jac_into(2, s, p, Jd)
    np.testing.assert_array_equal(Jd, systems.fields.duffing_jac(s, 0.0, *p))


def test_flow_tangent_is_the_derivative_of_the_sampled_map():
    x0 = systems.lorenz(1, rng=0)[0]
    J = np.empty((1, 3, 3))
    p = np.array([10.0, 28.0, 8.0 / 3.0])
    base = x0.copy()
    systems.reference.flow_tangent_chunk(0, base, 0, 1, 0.01, 5, p, J)
    fd = np.empty((3, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-6
        xp, xm, tmp = x0 + e, x0 - e, np.empty((1, 3, 3))
        systems.reference.flow_tangent_chunk(0, xp, 0, 1, 0.01, 5, p, tmp)
        systems.reference.flow_tangent_chunk(0, xm, 0, 1, 0.01, 5, p, tmp)
        fd[:, j] = (xp - xm) / 2e-6
    np.testing.assert_allclose(J[0], fd, rtol=1e-7, atol=1e-7)


def test_system_spectrum_validation_and_history():
    with pytest.raises(ValueError, match="system must be one of"):
        systems.lyapunov_spectrum("chua", 100)
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['rho'\] for henon"):
        systems.lyapunov_spectrum("henon", 100, rho=3.0)
    with pytest.raises(ValueError, match="dt and substeps do not apply"):
        systems.lyapunov_spectrum("logistic", 100, dt=0.1)
    with pytest.raises(ValueError, match="escape"):
        systems.lyapunov_spectrum("henon", 100, x0=[5.0, 5.0], transient=0)
    lam, steps, hist = systems.lyapunov_spectrum("henon", 25_000, rng=0, chunk_size=10_000, return_history=True)
    assert steps.tolist() == [10_000, 20_000, 25_000]
    np.testing.assert_array_equal(hist[-1], lam)
