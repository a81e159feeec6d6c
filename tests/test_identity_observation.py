"""The identity observation (observation="identity"): x = z[:N], B = [I 0] fixed, forcing on the first N units only.

Gradients against float64 central differences of the loop reference (naive.py, with the unit mask of the observed
units and P = pinv([I 0]) = [I 0]^T), B unchanged by training, the unobserved units never forced, save/load."""
import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing
from fastrnn.testing import gradcheck

import naive
from conftest import make_model

M, N, K, T, NB = 5, 2, 1, 10, 2
KINDS = ["PLRNN", "TanhRNN", "LSTM", "GRU", "ShPLRNN", "ShPLRNN-clipped"]


def identity_model(kind, n_inputs=K, seed=0):
    """A random model of ``kind`` with the identity observation (parameters as conftest.make_model draws them)."""
    if kind.startswith("ShPLRNN"):
        model = fr.ShPLRNN(M, N, n_inputs, n_hidden=6, clipped=kind.endswith("clipped"), rng=seed,
                           observation="identity")
        rng = np.random.default_rng(seed + 100)
        for name, v in model.params.items():
            if name == "A":
                v[...] = rng.uniform(0.3, 0.9, v.shape)
            elif name != "B":
                v[...] = rng.normal(0, 1.0 / np.sqrt(v.shape[-1]), v.shape)
        return model
    ref = make_model(kind, M, N, n_inputs, seed=seed)
    model = getattr(fr, kind)(M, N, n_inputs, rng=seed, observation="identity")
    model.set_params(**{k: v for k, v in ref.params.items() if k != "B"})
    return model


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pattern", ["tau3", "gtf"])
def test_gradients_with_identity_observation_match_finite_differences(kind, pattern):
    model = identity_model(kind)
    rng = np.random.default_rng(1)
    X = rng.normal(0, 0.7, (NB, T + 1, N))
    S = rng.normal(0, 1.0, (NB, T + 1, K))
    alpha = forcing.interval(T, 3) if pattern == "tau3" else forcing.constant(T, 0.4)
    observed = np.arange(M) < N

    def reference(m):           # the loop reference with B = [I 0], P = pinv(B) and partial forcing of units < N
        return naive.loss(m, X, alpha, S, unit_mask=observed)

    report = gradcheck(model, X, alpha, S, method="entries", max_entries=10 ** 9, rtol=1e-6, atol=1e-8,
                       reference=reference, raise_exception=True)
    assert report.params["B"].n_checked == 0              # every entry of B is frozen, its gradient exactly 0
    _, grads = fr.loss_and_grad(model, X, alpha, S)
    assert not np.any(grads["B"])
    # a partial mask within the observed units is accepted and checked too
    gradcheck(model, X, alpha, S, unit_mask=np.arange(M) == 0, method="entries", max_entries=10 ** 9,
              reference=lambda m: naive.loss(m, X, alpha, S, unit_mask=np.arange(M) == 0), raise_exception=True)


@pytest.mark.parametrize("kind", ["PLRNN", "ShPLRNN"])
def test_forcing_touches_only_the_observed_units(kind):
    model = identity_model(kind, n_inputs=0)
    rng = np.random.default_rng(2)
    X = rng.normal(0, 1.0, (NB, T + 1, N))
    P = model.control_matrix()
    np.testing.assert_array_equal(P, np.eye(M, N))
    mask = fr.training.forcing_mask(model, None)
    np.testing.assert_array_equal(mask, (np.arange(M) < N).astype(float))
    # teacher forcing (alpha = 1 at every step): the observed units sit on the data, the others run on freely
    _, Z, ZF = model.kernel.forward_states(model.params, X, np.zeros((NB, T + 1, 0)), forcing.check_alpha(
        forcing.interval(T, 1), T, NB), mask, P)
    np.testing.assert_allclose(Z[:, :, :N], X, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(Z[:, 1:, N:], ZF[:, :, N:])
    assert np.all(Z[:, 0, N:] == 0.0)                       # z_0 = [x_0, 0]
    with pytest.raises(ValueError, match="observed units"):
        fr.loss_and_grad(model, X, forcing.interval(T, 1), unit_mask=np.ones(M, bool))


def test_B_stays_identity_through_fit_and_save_load(tmp_path):
    model = fr.ShPLRNN(3, 2, n_hidden=8, rng=0, observation="identity")
    x = fr.systems.lorenz(600, rng=0)[:, :2]
    x = (x - x.mean(0)) / x.std(0)
    before = {k: v.copy() for k, v in model.params.items()}
    fr.fit(model, x, alpha=forcing.constant(20, 0.3), seq_len=20, batch_size=4, batches_per_epoch=5, n_epochs=2,
           progress=False, rng=0)
    np.testing.assert_array_equal(model.params["B"], np.eye(2, 3))
    assert not np.allclose(model.params["W1"], before["W1"])
    path = tmp_path / "m.npz"
    model.save(path)
    back = fr.load(path)
    assert back.observation == "identity" and back.n_hidden == 8
    for k, v in model.params.items():
        np.testing.assert_array_equal(back.params[k], v)
    np.testing.assert_array_equal(back.initial_state(x0=x[0]), np.r_[x[0], 0.0])
    plain = fr.PLRNN(3, 2, rng=0, observation="identity")
    plain.save(tmp_path / "p.npz")
    assert fr.load(tmp_path / "p.npz").frozen_entries["B"].all()


def test_identity_observation_is_validated():
    with pytest.raises(ValueError, match="n_obs <= n_latent"):
        fr.PLRNN(2, 3, observation="identity")
    with pytest.raises(ValueError, match="observation must be one of"):
        fr.GRU(3, 2, observation="eye")
    assert fr.PLRNN(3, 2, rng=0).observation == "learned"
