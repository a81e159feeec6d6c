"""One definition per model: training's forward pass, ``generate``, the free run and the Jacobians evaluate the same
step (DESIGN §2), to the last bit, in float32 and float64."""
import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing
from fastrnn.models import MODELS, RNNModel, model_class, model_kind

from conftest import make_model

T = 50


def _window(model, K, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1, T + 1, model.n_obs)).astype(model.dtype)
    S = rng.normal(size=(1, T + 1, K)).astype(model.dtype)
    return X, S


def _forward_states(model, X, S, alpha):
    """The training kernels' forward pass (the one ``fastrnn.loss_and_grad`` runs) on the windows X."""
    a = forcing.check_alpha(alpha, T, X.shape[0], model.dtype)
    mask = np.ones(model.n_latent, dtype=model.dtype)
    P = forcing.control_matrix(model.params["B"].astype(np.float64))
    return model.kernel.forward_states(model.params, X, S, a, mask, P)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [0, 2])
@pytest.mark.parametrize("alpha", ["start_only", "zeros"])
def test_forward_pass_forced_only_at_the_start_is_generate(kind, dtype, K, alpha):
    """A window forced only at t = 0 runs freely after it: its free states are generate's, bit for bit."""
    model = make_model(kind, 6, 3, K, dtype=dtype, seed=2, scale=0.9)
    X, S = _window(model, K, seed=3)
    a = forcing.interval(T, T + 1) if alpha == "start_only" else np.zeros(T + 1)
    loss, Z, ZF = _forward_states(model, X, S, a)
    Xg, Zg = model.generate(T + 1, x0=X[0, 0], inputs=S[0] if K else None)
    M = model.n_latent
    assert Zg.dtype == model.dtype and ZF.dtype == model.dtype
    np.testing.assert_array_equal(Zg[0], Z[0, 0, :M])          # z_0 = z~_0 = P x_0, the same bits
    np.testing.assert_array_equal(Zg[1:], ZF[0])                # the 50 free steps
    # the full state (the LSTM's (h, c)) of the free run and of the Jacobians' orbit
    state = model.initial_state(x0=X[0, 0])
    Sf = S[0, 1:] if K else None
    np.testing.assert_array_equal(model.run(state, T, Sf), Z[0])
    _, orbit = model.jacobians(state, T, Sf)
    np.testing.assert_array_equal(orbit, Z[0].astype(np.float64))
    # and the loss of that window is generate's prediction error
    assert loss == pytest.approx(np.mean((X[0, 1:] - Xg[1:]) ** 2), rel=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("K", [0, 2])
def test_jacobians_are_derivatives_of_the_step_that_generate_runs(kind, K):
    """model.jacobians (what lyapunov_spectrum multiplies) equals central differences of model.step (float64)."""
    model = make_model(kind, 5, 2, K, seed=4, scale=0.8)
    if kind == "PLRNN":
        model.params["W"][...] *= 0.4        # a bounded orbit: central differences keep their digits
    D = model.state_dim
    rng = np.random.default_rng(5)
    n = 25
    S = rng.normal(size=(n, K)) if K else None
    J, states = model.jacobians(rng.normal(size=D) * 0.7, n, S)
    assert J.shape == (n, D, D) and states.shape == (n + 1, D) and np.abs(states).max() < 50
    h = 1e-6
    for k in (0, 6, 13, n - 1):
        s = None if S is None else S[k]
        np.testing.assert_array_equal(model.step(states[k], s), states[k + 1])
        fd = np.stack([(model.step(states[k] + h * e, s) - model.step(states[k] - h * e, s)) / (2 * h)
                       for e in np.eye(D)], axis=1)
        np.testing.assert_allclose(J[k], fd, rtol=1e-6, atol=1e-8, err_msg=f"{kind} step {k}")


def test_float32_free_run_uses_the_training_activations():
    """float32 generate runs the rational tanh of the training kernels, not NumPy's tanh (the old defect)."""
    model = make_model("TanhRNN", 8, 3, 0, dtype=np.float32, seed=6, scale=1.5)
    z0 = np.random.default_rng(7).normal(size=8)
    Z = model.run(z0, 200)
    W, h = model.params["W"], model.params["h"]
    z, libm = z0.astype(np.float32), []
    for _ in range(200):
        z = np.tanh(z @ W.T + h)
        libm.append(z)
    np.testing.assert_allclose(Z[1:], np.array(libm), rtol=0, atol=1e-3)   # the same map ...
    X, _ = _window(model, 0, seed=8)
    _, _, ZF = _forward_states(model, X, np.zeros((1, T + 1, 0), np.float32), forcing.none(T))
    _, Zg = model.generate(T + 1, x0=X[0, 0])
    np.testing.assert_array_equal(Zg[1:], ZF[0])                             # ... evaluated as in training


def test_registry():
    assert list(MODELS) == ["PLRNN", "TanhRNN", "LSTM", "GRU", "ShPLRNN"]   # the ShPLRNN: tests/test_shplrnn.py
    assert all(issubclass(c, RNNModel) and c.kind == k for k, c in MODELS.items())
    assert [model_kind(n) for n in ("plrnn", "Tanh", "RNN", "tanhrnn", "lstm", " GRU ")] == \
        ["PLRNN", "TanhRNN", "TanhRNN", "TanhRNN", "LSTM", "GRU"]
    assert model_class("gru") is fr.GRU and model_class("rnn") is fr.TanhRNN
    with pytest.raises(ValueError, match="unknown model 'transformer'; choose one of PLRNN, TanhRNN, LSTM, GRU"):
        model_kind("transformer")
    with pytest.raises(ValueError, match="unknown model"):
        model_class(3)
