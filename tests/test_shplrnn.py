"""The shallow PLRNN, plain and clipped (issue 16 item 1): kernels against the loop reference of naive.py, gradients
against central finite differences (float64), Jacobians, Lyapunov spectra, generate == the training forward pass to
the bit, float32, save/load, a short fit, the command line, and the boundedness of the clipped variant."""
import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing
from fastrnn import lyapunov as ly
from fastrnn.cli import main
from fastrnn.models import MODELS, model_class, model_kind

import naive
from test_gradients import alpha_patterns, fd_grad

M, N, K, H, T, NB = 4, 3, 2, 6, 12, 3
VARIANTS = [False, True]


def make_shplrnn(M, N, K, H, clipped, dtype=np.float64, seed=0, scale=1.0):
    """A random ShPLRNN with parameters large enough that every term of the gradient matters: A ~ U(0.3, 0.95),
    the weights N(0, scale^2 / fan-in), h2 ~ N(0, 1) (relu kinks inside the range of W2 z), B with cond(B) <= 20
    (as conftest.make_model)."""
    model = fr.ShPLRNN(M, N, K, n_hidden=H, clipped=clipped, dtype=dtype, rng=seed)
    rng = np.random.default_rng(seed + 100)
    for name, v in model.params.items():
        if name == "A":
            v[...] = rng.uniform(0.3, 0.95, v.shape)
        elif name == "B":
            v[...] = rng.normal(0, 1.0, v.shape)
            while np.linalg.cond(v) > 20.0:
                v[...] = rng.normal(0, 1.0, v.shape)
        elif name in ("h1", "h2"):
            v[...] = rng.normal(0, scale, v.shape)
        else:
            v[...] = rng.normal(0, scale / np.sqrt(max(v.shape[-1], 1)), v.shape)
    return model


def check_grads(grads, fd, what):
    for name, g in grads.items():
        np.testing.assert_allclose(g, fd[name], rtol=1e-6, atol=1e-8, err_msg=f"{what} d{name}")


def relative_errors(grads, fd):
    return {k: float(np.linalg.norm(grads[k] - fd[k]) / max(np.linalg.norm(fd[k]), 1e-300)) for k in grads}


# ------------------------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("pattern", list(alpha_patterns()))
@pytest.mark.parametrize("with_inputs", [False, True])
@pytest.mark.parametrize("clipped", VARIANTS)
def test_gradient_matches_finite_differences(clipped, with_inputs, pattern):
    k = K if with_inputs else 0
    model = make_shplrnn(M, N, k, H, clipped, seed=1)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(NB, T + 1, N))
    S = rng.normal(size=(NB, T + 1, k)) if with_inputs else None
    alpha = alpha_patterns()[pattern]
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S)
    assert set(grads) == set(model.params) == {"A", "W1", "W2", "h1", "h2", "B"} | ({"C"} if k else set())
    assert loss == pytest.approx(naive.loss(model, X, alpha, S), rel=1e-12)
    # central differences of the kernels' own loss (4x faster than the loop reference's, which equals it)
    fd = fd_grad(model, lambda: fr.loss_and_grad(model, X, alpha, inputs=S)[0])
    check_grads(grads, fd, f"clipped={clipped} {pattern}")
    assert max(relative_errors(grads, fd).values()) < 1e-7


@pytest.mark.parametrize("ridge,control_grad", [(0.0, False), (0.3, True), (0.3, False)])
@pytest.mark.parametrize("clipped", VARIANTS)
def test_gradient_with_ridge_and_frozen_control(clipped, ridge, control_grad):
    model = make_shplrnn(M, N, K, H, clipped, seed=3)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(NB, T + 1, N))
    S = rng.normal(size=(NB, T + 1, K))
    alpha = alpha_patterns()["fractional"]
    _, grads = fr.loss_and_grad(model, X, alpha, inputs=S, ridge=ridge, control_grad=control_grad)
    if control_grad:
        f = lambda: naive.loss(model, X, alpha, S, ridge)  # noqa: E731
    else:                                                  # z~ is data: freeze it at the current B
        Zt = X @ naive.control(model.params["B"], ridge).T
        f = lambda: naive.loss(model, X, alpha, S, control_signal=Zt)  # noqa: E731
    check_grads(grads, fd_grad(model, f), f"clipped={clipped} ridge={ridge} control_grad={control_grad}")


@pytest.mark.parametrize("clipped", VARIANTS)
def test_unit_mask_gradient(clipped):
    model = make_shplrnn(M, N, K, H, clipped, seed=5)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(NB, T + 1, N))
    S = rng.normal(size=(NB, T + 1, K))
    mask = np.array([True, False, True, False])
    alpha = forcing.interval(T, 3)
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S, unit_mask=mask)
    assert loss == pytest.approx(naive.loss(model, X, alpha, S, unit_mask=mask), rel=1e-12)
    check_grads(grads, fd_grad(model, lambda: naive.loss(model, X, alpha, S, unit_mask=mask)), "mask")
    assert abs(loss - fr.loss_and_grad(model, X, alpha, inputs=S)[0]) > 1e-6     # the mask matters


@pytest.mark.parametrize("clipped", VARIANTS)
def test_naive_reference_agrees_with_finite_differences(clipped):
    """The loop reference itself is checked once against finite differences (so it can serve as a reference)."""
    model = make_shplrnn(M, N, K, H, clipped, seed=11)
    rng = np.random.default_rng(12)
    X = rng.normal(size=(2, 8, N))
    S = rng.normal(size=(2, 8, K))
    alpha = forcing.interval(7, 3)
    _, ref = naive.loss_and_grad(model, X, alpha, S, 0.0)
    check_grads(ref, fd_grad(model, lambda: naive.loss(model, X, alpha, S)), "naive")


@pytest.mark.parametrize("tau,ridge", [(25, 0.0), (np.inf, 0.1), (1, 0.0)])
@pytest.mark.parametrize("with_inputs", [False, True])
@pytest.mark.parametrize("clipped", VARIANTS)
def test_kernel_matches_loop_reference_large(clipped, with_inputs, tau, ridge):
    Ml, Nl, Kl, Hl, Tl, NBl = 12, 3, 2, 40, 150, 5
    k = Kl if with_inputs else 0
    model = make_shplrnn(Ml, Nl, k, Hl, clipped, seed=8, scale=0.9)
    rng = np.random.default_rng(9)
    X = rng.normal(size=(NBl, Tl + 1, Nl))
    S = rng.normal(size=(NBl, Tl + 1, k)) if with_inputs else None
    alpha = forcing.interval(Tl, tau)
    alpha[40:60] = 0.35                                  # a stretch of fractional forcing as well
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S, ridge=ridge)
    ref_loss, ref = naive.loss_and_grad(model, X, alpha, S, ridge)
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    for name in ref:
        err = np.linalg.norm(grads[name] - ref[name]) / np.linalg.norm(ref[name])
        assert err < 1e-10, (name, err)


def test_window_groups_divide_the_batch_and_keep_blas_products():
    """The groups of a large sweep: the largest divisor of the batch up to the thread count whose step products stay
    on the BLAS path; small sweeps and odd splits stay whole; never the machine's load."""
    import numba
    from fastrnn import config
    from fastrnn.kernels import host

    wg = host.window_groups
    big = config.SPLIT_MIN_WORK
    orig = numba.get_num_threads
    try:
        numba.get_num_threads = lambda: 4
        assert wg(16, big, 16 * 256) == 4
        assert wg(6, big, 16 * 1024) == 3
        assert wg(6, big, 16 * 256) == 2                          # 3 groups: 2-row products, loops
        assert wg(7, big, 16 * 256) == 1                          # prime batch: no equal groups
        assert wg(16, big - 1, 16 * 256) == 1                     # below the work threshold
        assert wg(1, big, 16 * 256) == 1
        # 16 x 16 x 64 = 16384 multiply-adds go to BLAS; 4 or 8 rows would be plain loops (LOOP_MNK = 8192)
        assert config.LOOP_MNK == 8192
        assert wg(16, big, 16 * 64) == 1
        assert wg(16, big, 3 * 64) == 4                           # loops already for the whole batch: split
        numba.get_num_threads = lambda: 1
        assert wg(16, big, 16 * 256) == 1
    finally:
        numba.get_num_threads = orig


@pytest.mark.parametrize("truncate", [None, 4])
@pytest.mark.parametrize("with_inputs", [False, True])
@pytest.mark.parametrize("clipped", VARIANTS)
def test_grouped_sweep_matches_loop_reference_and_is_load_independent(monkeypatch, clipped, with_inputs, truncate):
    """A sweep computed in 3 groups of windows agrees with the whole-batch sweep and the loop reference, and is the
    same bit for bit whether the groups run on threads or one after the other (the load only decides that)."""
    import numba
    from fastrnn import config
    from fastrnn.kernels import host

    model = make_shplrnn(5, 3, 2 if with_inputs else 0, 24, clipped, seed=11, scale=0.9)
    rng = np.random.default_rng(12)
    X = rng.normal(size=(6, 41, 3))
    S = rng.normal(size=(6, 41, 2)) if with_inputs else None
    alpha = forcing.none(40) if truncate else np.stack([forcing.interval(40, t) for t in (3, 7, 11, 13, 100, 40)])
    if not truncate:
        alpha[1, 5:9] = 0.3
    whole = fr.loss_and_grad(model, X, alpha, inputs=S, truncate=truncate)
    monkeypatch.setattr(config, "SPLIT_MIN_WORK", 0)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 3)
    assert host.window_groups(6, 1, 5 * 24) == 3
    monkeypatch.setattr(host, "idle_cores", lambda: 2)
    threaded = fr.loss_and_grad(model, X, alpha, inputs=S, truncate=truncate)
    monkeypatch.setattr(host, "idle_cores", lambda: 1)
    sequential = fr.loss_and_grad(model, X, alpha, inputs=S, truncate=truncate)
    cut = forcing.truncation(40, truncate) if truncate else None
    ref_loss, ref = naive.loss_and_grad(model, X, alpha, S, cut=cut)
    assert threaded[0] == sequential[0]
    assert threaded[0] == pytest.approx(whole[0], rel=1e-13) and threaded[0] == pytest.approx(ref_loss, rel=1e-12)
    for name in ref:
        np.testing.assert_array_equal(threaded[1][name], sequential[1][name], err_msg=name)
        np.testing.assert_allclose(threaded[1][name], whole[1][name], rtol=1e-12,
                                   atol=1e-14 * np.abs(whole[1][name]).max(), err_msg=name)
        err = np.linalg.norm(threaded[1][name] - ref[name]) / np.linalg.norm(ref[name])
        assert err < 1e-10, (name, err)


@pytest.mark.parametrize("clipped", VARIANTS)
def test_truncated_bptt_matches_the_loop_reference(clipped):
    """Gradient cuts every 4 steps (the truncated-BPTT baseline) on both variants, with inputs."""
    model = make_shplrnn(6, 3, 2, 10, clipped, seed=6, scale=0.9)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3, 31, 3))
    S = rng.normal(size=(3, 31, 2))
    alpha = forcing.none(30)
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S, truncate=4)
    ref_loss, ref = naive.loss_and_grad(model, X, alpha, S, cut=forcing.truncation(30, 4))
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name in ref:
        err = np.linalg.norm(grads[name] - ref[name]) / np.linalg.norm(ref[name])
        assert err < 1e-10, (name, err)
    full = fr.loss_and_grad(model, X, alpha, inputs=S)[1]
    assert np.linalg.norm(full["W2"] - grads["W2"]) > 1e-3 * np.linalg.norm(full["W2"])   # the cuts matter


def test_forward_states_match_the_loop_reference():
    model = make_shplrnn(5, 2, 1, 7, True, seed=2, scale=0.8)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2, 21, 2))
    S = rng.normal(size=(2, 21, 1))
    alpha = forcing.interval(20, 4)
    a = forcing.check_alpha(alpha, 20, 2)
    P = forcing.control_matrix(model.params["B"])
    loss, Z, ZF = model.kernel.forward_states(model.params, X, S, a, np.ones(5), P)
    p = naive.params64(model)
    for b in range(2):
        z = P @ X[b, 0]
        np.testing.assert_allclose(Z[b, 0], z, rtol=1e-14)
        for t in range(1, 21):
            zf = naive.shplrnn_step(p, z, S[b, t], clipped=True)
            np.testing.assert_allclose(ZF[b, t - 1], zf, rtol=1e-12, atol=1e-13)
            z = (1 - a[b, t]) * zf + a[b, t] * (P @ X[b, t])
            np.testing.assert_allclose(Z[b, t], z, rtol=1e-12, atol=1e-13)
    assert loss == pytest.approx(naive.loss(model, X, alpha, S), rel=1e-12)


@pytest.mark.parametrize("with_inputs", [False, True])
def test_float32_agrees_with_float64(with_inputs):
    k = K if with_inputs else 0
    m64 = make_shplrnn(10, N, k, 24, False, seed=13, scale=0.8)
    m32 = m64.astype(np.float32)
    rng = np.random.default_rng(14)
    X = rng.normal(size=(8, 61, N))
    S = rng.normal(size=(8, 61, k)) if with_inputs else None
    alpha = forcing.interval(60, 10)
    l64, g64 = fr.loss_and_grad(m64, X, alpha, inputs=S)
    l32, g32 = fr.loss_and_grad(m32, X, alpha, inputs=S)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for name in g64:
        assert g32[name].dtype == np.float32
        err = np.linalg.norm(g32[name] - g64[name]) / np.linalg.norm(g64[name])
        assert err < 1e-4, (name, err)


# ------------------------------------------------------------------------------------------------ one definition
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [0, 2])
@pytest.mark.parametrize("clipped", VARIANTS)
def test_forward_pass_forced_only_at_the_start_is_generate(clipped, k, dtype):
    """As tests/test_model_definition.py for the other models: a window forced only at t = 0 runs freely after it,
    and its free states are generate's, run's and the Jacobians' orbit, bit for bit."""
    Tw = 50
    model = make_shplrnn(6, 3, k, 9, clipped, dtype=dtype, seed=2, scale=0.9)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1, Tw + 1, 3)).astype(dtype)
    S = rng.normal(size=(1, Tw + 1, k)).astype(dtype)
    a = forcing.check_alpha(forcing.interval(Tw, Tw + 1), Tw, 1, dtype)
    P = forcing.control_matrix(model.params["B"].astype(np.float64))
    loss, Z, ZF = model.kernel.forward_states(model.params, X, S, a, np.ones(6, dtype), P)
    Xg, Zg = model.generate(Tw + 1, x0=X[0, 0], inputs=S[0] if k else None)
    assert Zg.dtype == model.dtype and ZF.dtype == model.dtype
    np.testing.assert_array_equal(Zg[0], Z[0, 0])
    np.testing.assert_array_equal(Zg[1:], ZF[0])
    state = model.initial_state(x0=X[0, 0])
    Sf = S[0, 1:] if k else None
    np.testing.assert_array_equal(model.run(state, Tw, Sf), Z[0])
    _, orbit = model.jacobians(state, Tw, Sf)
    np.testing.assert_array_equal(orbit, Z[0].astype(np.float64))
    assert loss == pytest.approx(np.mean((X[0, 1:] - Xg[1:]) ** 2), rel=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("k", [0, 2])
@pytest.mark.parametrize("clipped", VARIANTS)
def test_jacobians(clipped, k):
    """model.jacobians equals the loop reference's diag(A) + W1 diag(d) W2 and central differences of model.step."""
    model = make_shplrnn(5, 2, k, 8, clipped, seed=4, scale=0.8)
    D = 5
    rng = np.random.default_rng(5)
    n = 25
    S = rng.normal(size=(n, k)) if k else None
    J, states = model.jacobians(rng.normal(size=D) * 0.7, n, S)
    assert J.shape == (n, D, D) and states.shape == (n + 1, D) and np.abs(states).max() < 50
    ref_J, ref_Z = naive.jacobians(model, states[0], n, S)
    np.testing.assert_allclose(states, ref_Z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(J, ref_J, rtol=1e-12, atol=1e-13)
    h = 1e-6
    for t in (0, 6, 13, n - 1):
        s = None if S is None else S[t]
        np.testing.assert_array_equal(model.step(states[t], s), states[t + 1])
        fd = np.stack([(model.step(states[t] + h * e, s) - model.step(states[t] - h * e, s)) / (2 * h)
                       for e in np.eye(D)], axis=1)
        np.testing.assert_allclose(J[t], fd, rtol=1e-6, atol=1e-8, err_msg=f"step {t}")


@pytest.mark.parametrize("clipped", VARIANTS)
def test_lyapunov_spectrum_agrees_with_numpy_qr_loop(clipped):
    model = make_shplrnn(6, 3, 0, 30, clipped, seed=1, scale=2.0 if clipped else 1.5)
    if not clipped:
        model.params["W1"][...] *= 0.1                   # a bounded orbit (the plain model's relu term is not)
    rng = np.random.default_rng(0)
    z0 = rng.normal(size=6) * 0.5
    frame = np.linalg.qr(np.random.default_rng(5).standard_normal((6, 6)))[0]
    Tr, n = 300, 1500
    lam = ly.lyapunov_spectrum(model, n, transient=Tr, z0=z0, frame0=frame, chunk_size=137)
    _, Z = model.jacobians(z0, Tr + n)
    assert np.abs(Z).max() < 1e3
    jacs = naive.jacobians_along(model, Z[:-1])
    ref = naive.qr_loop_spectrum(jacs, frame, skip=Tr)[0]
    assert lam.shape == (6,)
    np.testing.assert_allclose(lam, ref, rtol=0, atol=1e-9)
    assert abs(lam.sum() - np.mean(np.linalg.slogdet(jacs[Tr:])[1])) < 1e-8


def test_uncoupled_model_has_exponents_log_abs_A():
    """With W1 = 0 the map is z' = A z + h1: the exponents are log|A_i|, sorted."""
    model = fr.ShPLRNN(5, 2, n_hidden=7, rng=0)
    A = np.array([0.9, -0.5, 0.3, 0.75, 0.1])
    model.params["A"][...] = A
    model.params["W1"][...] = 0.0
    lam = ly.lyapunov_spectrum(model, 1000, transient=100, rng=0)
    np.testing.assert_allclose(lam, np.sort(np.log(np.abs(A)))[::-1], rtol=0, atol=1e-10)


# ------------------------------------------------------------------------------------------------ the clipped variant
def test_clipped_orbits_stay_bounded_from_wild_initial_states():
    """10^6 free steps from states |z| ~ 1e3 stay within the a priori bound max(|z_0|_inf, c / (1 - a)), a = max|A|,
    c = max_i sum_k |W1_ik| |h2_k| + |h1_i|: |phi_k| <= |h2_k| for the clipped phi. The plain model with the same
    parameters leaves every bound (its relu term is unbounded)."""
    M2, H2 = 3, 12
    n = 10 ** 6
    for seed in range(2):
        model = make_shplrnn(M2, 2, 0, H2, True, seed=seed, scale=3.0)
        p = model.params
        p["A"][...] = np.random.default_rng(seed).uniform(-0.95, 0.95, M2)
        p["W1"][:, : M2] += 3.0 * np.eye(M2)              # a strongly expanding relu term
        p["W2"][: M2] = np.eye(M2)
        a = np.abs(p["A"]).max()
        c = (np.abs(p["W1"]) @ np.abs(p["h2"]) + np.abs(p["h1"])).max()
        z0 = np.random.default_rng(seed + 10).normal(size=M2) * 1e3
        Z = model.run(z0, n)
        assert np.isfinite(Z).all()
        bound = max(np.abs(z0).max(), c / (1 - a))
        assert np.abs(Z).max() <= bound * (1 + 1e-12)
        assert np.abs(Z[n // 2:]).max() <= c / (1 - a) * (1 + 1e-12)   # and it forgets the initial state
        plain = fr.ShPLRNN(M2, 2, n_hidden=H2, clipped=False, rng=0)
        plain.set_params(**p)
        with pytest.raises(fr.OrbitDivergedError):
            plain.generate(2000, z0=np.abs(z0))


# ------------------------------------------------------------------------------------------------ the model
def test_construction_initialisation_and_validation():
    model = fr.ShPLRNN(4, 3, 2, n_hidden=10, rng=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"A": (4,), "W1": (4, 10), "W2": (10, 4), "h1": (4,), "h2": (10,), "B": (3, 4), "C": (4, 2)}
    assert model.n_params == 4 + 40 + 40 + 4 + 10 + 12 + 8 and not model.clipped
    assert np.all((model.params["A"] > 0.5) & (model.params["A"] < 0.9)) and np.all(model.params["h1"] == 0)
    assert fr.ShPLRNN(4, 3).n_hidden == 32 and "C" not in fr.ShPLRNN(4, 3).params
    assert repr(fr.ShPLRNN(2, 1, n_hidden=3, clipped=True)) == \
        "ShPLRNN(n_latent=2, n_obs=1, n_inputs=0, n_hidden=3, clipped=True, dtype=float64)"
    # the initial map is a contraction (Lipschitz constant max|A| + |W1| |W2| = 0.99): free runs from anywhere
    # neither explode nor die out, and settle on one fixed point
    for clipped in VARIANTS:
        m = fr.ShPLRNN(16, 3, n_hidden=128, clipped=clipped, rng=1)
        p = m.params
        assert np.abs(p["A"]).max() + np.linalg.norm(p["W1"], 2) * np.linalg.norm(p["W2"], 2) == \
            pytest.approx(0.99, rel=1e-12)
        rng = np.random.default_rng(0)
        ends = [m.run(rng.normal(size=16) * 10 ** e, 3000)[-1] for e in (0, 3)]
        assert np.abs(ends[0]).max() > 1e-3
        np.testing.assert_allclose(ends[0], ends[1], rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="n_hidden"):
        fr.ShPLRNN(4, 3, n_hidden=0)
    with pytest.raises(TypeError, match="clipped must be True or False"):
        fr.ShPLRNN(4, 3, clipped="yes")
    c = fr.ShPLRNN(3, 2, n_hidden=5, clipped=True, rng=2)
    assert c.copy().clipped and c.astype(np.float32).kernel is c.kernel


def test_registry():
    assert "ShPLRNN" in MODELS and MODELS["ShPLRNN"] is fr.ShPLRNN
    assert model_kind("shplrnn") == model_kind(" ShPLRNN ") == model_kind("shallow-plrnn") == "ShPLRNN"
    assert model_class("ShPLRNN") is fr.ShPLRNN
    with pytest.raises(ValueError, match="choose one of PLRNN, TanhRNN, LSTM, GRU, ShPLRNN"):
        model_kind("transformer")


@pytest.mark.parametrize("clipped", VARIANTS)
def test_save_load_round_trip(tmp_path, clipped):
    model = make_shplrnn(5, 3, 2, 11, clipped, dtype=np.float32, seed=7, scale=0.7)
    path = tmp_path / "m.npz"
    model.save(path)
    back = fr.load(path)
    assert type(back) is fr.ShPLRNN and back.kind == "ShPLRNN" and back.dtype == np.float32
    assert (back.n_latent, back.n_obs, back.n_inputs, back.n_hidden, back.clipped) == (5, 3, 2, 11, clipped)
    for name, v in model.params.items():
        np.testing.assert_array_equal(back.params[name], v)
    S = np.random.default_rng(0).normal(size=(30, 2))
    x0 = np.ones(3)
    np.testing.assert_array_equal(back.generate(30, x0=x0, inputs=S)[1], model.generate(30, x0=x0, inputs=S)[1])


def test_fit_on_lorenz_lowers_the_loss():
    x = fr.systems.lorenz(3000, standardize=True, rng=0)
    for clipped in VARIANTS:
        model = fr.ShPLRNN(6, 3, n_hidden=32, clipped=clipped, rng=0)
        hist = fr.fit(model, x, tau=10, seq_len=50, batch_size=8, batches_per_epoch=10, n_epochs=6, lr=5e-3, rng=1,
                      progress=False)
        assert len(hist.loss) == 6 and np.all(np.isfinite(hist.loss))
        assert hist.loss[-1] < 0.5 * hist.loss[0], (clipped, hist.loss)


def test_train_command(tmp_path, capsys):
    out = tmp_path / "sh.npz"
    code = main(["train", "lorenz", "--model", "ShPLRNN", "--n-latent", "5", "--n-steps", "2000", "--tau", "10",
                 "--epochs", "2", "--seq-len", "30", "--batch-size", "4", "--batches-per-epoch", "3", "--quiet",
                 "--out", str(out)])
    capsys.readouterr()
    assert code == 0
    model = fr.load(out)
    assert model.kind == "ShPLRNN" and model.n_latent == 5 and model.n_hidden == 40 and not model.clipped


def test_idle_cores_counts_other_processes_only(monkeypatch):
    """idle_cores from CPU-time samples: the other processes' use (all busy time less this process's) over the
    window, never this process's own threads; answers reused within the window; load average on the first call."""
    import os
    import time as _time
    from fastrnn.kernels import host

    n = os.cpu_count() or 1
    clock = [100.0]
    cpu = [(50.0, 10.0)]
    monkeypatch.setattr(_time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(host, "_cpu_seconds", lambda: cpu[0])
    monkeypatch.setattr(host, "_idle_state", {"sample": None, "answer": None})
    monkeypatch.setattr(os, "getloadavg", lambda: (float(n) + 5.0, 0.0, 0.0))
    assert host.idle_cores() == 1                         # first call: the load average (all cores busy)
    clock[0] += 1.0
    cpu[0] = (50.0 + 2.0 * min(n, 2), 10.0 + 2.0 * min(n, 2))   # all the busy time was this process's own
    assert host.idle_cores() == n
    busy, own = cpu[0]
    clock[0] += 0.1
    cpu[0] = (busy + 100.0, own)                          # inside the window: not read, the previous answer
    assert host.idle_cores() == n
    clock[0] += 1.0                                       # 1.1 s after the last sample another process kept one
    cpu[0] = (busy + 1.1 + 0.5, own + 0.5)                # core busy (and this one used half a core)
    assert host.idle_cores() == max(1, n - 1)
