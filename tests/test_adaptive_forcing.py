"""Adaptive generalised teacher forcing (forcing.AdaptiveAlpha): kappa and alpha against the formulas on models with
known Jacobians, the update rule over a sequence of kappas, the alpha trace of a short training on Lorenz, exact
resumption from checkpoints, the grammar, and the models' Jacobians at given states."""
import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing

from conftest import make_model
from fastrnn.kernels.norms import spectral_norms


def lorenz_windows(nb=4, T=30, seed=0):
    x = fr.systems.lorenz(2000, rng=seed)
    x = (x - x.mean(0)) / x.std(0)
    starts = np.random.default_rng(seed).integers(0, len(x) - T - 1, nb)
    return x, np.stack([x[s:s + T + 1] for s in starts])


def test_kappa_and_alpha_of_a_linear_shplrnn_equal_the_formulas():
    # relu always active (h2 far above |W2 z|): J = diag(A) + W1 W2 at every state, so both estimates are ||J||_2
    model = fr.ShPLRNN(3, 3, n_hidden=4, rng=0, observation="identity")
    rng = np.random.default_rng(1)
    model.set_params(A=[0.9, 0.5, 1.1], W1=rng.normal(0, 0.5, (3, 4)), W2=rng.normal(0, 0.5, (4, 3)),
                     h2=np.full(4, 1e3))
    J = np.diag(model.params["A"]) + model.params["W1"] @ model.params["W2"]
    kappa = np.linalg.norm(J, 2)
    _, X = lorenz_windows()
    for estimate in ("geometric", "mean"):
        sched = forcing.AdaptiveAlpha(alpha0=0.0, estimate=estimate, tol=1e-15, max_iter=10000)
        assert sched.estimate_kappa(model, X) == pytest.approx(kappa, rel=1e-12)
        assert sched.observe(model, X) == pytest.approx(max(0.0, 1 - 1 / kappa), rel=1e-12)   # > 0: taken at once
    # a contraction gives alpha^ = 0: alpha decays by gamma from alpha0
    model.set_params(A=[0.3, 0.2, 0.1], W1=np.zeros((3, 4)))
    sched = forcing.AdaptiveAlpha(alpha0=1.0, gamma=0.9)
    assert sched.observe(model, X) == pytest.approx(0.9, abs=1e-15)


@pytest.mark.parametrize("estimate", ["geometric", "mean"])
def test_kappa_of_a_plrnn_is_the_formula_over_the_sampled_steps(estimate):
    model = make_model("PLRNN", 4, 3, 0, seed=3)
    _, X = lorenz_windows(nb=3, T=40)
    sched = forcing.AdaptiveAlpha(estimate=estimate, n_steps=9, tol=1e-15, max_iter=10000)
    P = np.linalg.pinv(model.params["B"])
    A, W = model.params["A"], model.params["W"]
    t = np.unique(np.linspace(0, 39, 9).round().astype(int))
    per_window = []
    for b in range(3):
        Js = [np.diag(A) + W * (P @ X[b, s] > 0)[None, :] for s in t]        # dF/dz = diag(A) + W diag(z > 0)
        if estimate == "geometric":
            per_window.append(np.exp(np.mean([np.log(np.linalg.norm(Jk, 2)) for Jk in Js])))
        else:
            per_window.append(np.linalg.norm(np.mean(Js, axis=0), 2))
    assert sched.estimate_kappa(model, X) == pytest.approx(max(per_window), rel=1e-10)


def test_update_rule_increases_at_once_and_decays_with_gamma():
    sched = forcing.AdaptiveAlpha(alpha0=1.0, gamma=0.9)
    # kappa 2 -> alpha^ 0.5; 4 -> 0.75; 0.5 -> 0; 1.25 -> 0.2; 10 -> 0.9 (above alpha: taken at once); 0 -> 0
    expected = [0.95, 0.93, 0.837, 0.7733, 0.9, 0.81]
    for kappa, want in zip([2.0, 4.0, 0.5, 1.25, 10.0, 0.0], expected):
        assert sched.update(kappa) == pytest.approx(want, abs=1e-14)
    assert sched.kappa == 0.0


def test_schedule_adapts_every_k_steps():
    sched = forcing.AdaptiveAlpha(every=3)
    due = []
    for _ in range(7):
        due.append(sched.due())
        a = sched.alpha(0, 1, 10, 2, None)
    assert due == [True, False, False, True, False, False, True]
    np.testing.assert_array_equal(a, forcing.constant(10, 1.0))


def test_alpha_falls_over_a_short_training_on_lorenz_and_the_history_shows_it():
    x, _ = lorenz_windows()
    model = fr.ShPLRNN(3, 3, n_hidden=16, rng=0, observation="identity")
    sched = forcing.AdaptiveAlpha()
    hist = fr.fit(model, x, schedule=sched, seq_len=50, batch_size=8, batches_per_epoch=10, n_epochs=4,
                  progress=False, rng=0)
    assert len(hist.alpha) == 4 and hist.alpha[-1] == sched.value
    assert hist.alpha[0] < 1.0 and np.all(np.diff(hist.alpha) < 0)
    assert sched.steps == 40 and sched.kappa is not None
    # 8 updates (steps 0, 5, ..., 35) with alpha^ = 0 at most: alpha >= 0.999^8
    assert hist.alpha[-1] >= 0.999 ** 8 - 1e-12
    assert hist.loss[-1] < hist.loss[0]


def test_resume_from_a_checkpoint_keeps_alpha(tmp_path):
    x, _ = lorenz_windows()
    kw = dict(seq_len=30, batch_size=4, batches_per_epoch=6, progress=False)
    full = fr.ShPLRNN(3, 3, n_hidden=8, rng=0, observation="identity")
    s_full = forcing.AdaptiveAlpha(gamma=0.95, every=2)
    h_full = fr.fit(full, x, schedule=s_full, n_epochs=4, rng=1, **kw)
    ck = tmp_path / "ck.npz"
    part = fr.ShPLRNN(3, 3, n_hidden=8, rng=0, observation="identity")
    fr.fit(part, x, schedule=forcing.AdaptiveAlpha(gamma=0.95, every=2), n_epochs=2, rng=1, checkpoint=ck, **kw)
    again = fr.ShPLRNN(3, 3, n_hidden=8, rng=0, observation="identity")
    s_again = forcing.AdaptiveAlpha(gamma=0.95, every=2)        # a fresh schedule: its state comes from the file
    h_again = fr.fit(again, x, schedule=s_again, n_epochs=4, rng=1, checkpoint=ck, **kw)
    assert h_again.alpha == h_full.alpha and s_again.state_dict() == s_full.state_dict()
    for k, v in full.params.items():
        np.testing.assert_array_equal(again.params[k], v)


def test_grammar_of_the_gtf_options():
    assert forcing.parse_forcing("agtf") == {"kind": "agtf", "gamma": 0.999, "every": 5}
    opt = forcing.parse_forcing("agtf:0.99:10")
    assert opt == {"kind": "agtf", "gamma": 0.99, "every": 10}
    assert forcing.forcing_label(opt) == "agtf:0.99:10" and forcing.parse_forcing(opt) == opt
    assert forcing.forcing_label(forcing.parse_forcing("agtf")) == "agtf"
    sched = forcing.fit_kwargs(opt, 20)["schedule"]
    assert isinstance(sched, forcing.AdaptiveAlpha) and (sched.gamma, sched.every, sched.value) == (0.99, 10, 1.0)
    assert forcing.fit_kwargs(opt, 20)["schedule"] is not sched           # every run gets its own state
    assert forcing.parse_forcing("gtf:0.3") == {"kind": "alpha", "alpha": 0.3}
    assert forcing.interval_steps(opt) == np.inf
    with pytest.raises(ValueError, match="gamma"):
        forcing.parse_forcing("agtf:1.5")
    with pytest.raises(ValueError, match="estimate"):
        forcing.AdaptiveAlpha(estimate="max")


@pytest.mark.parametrize("kind", ["PLRNN", "TanhRNN", "LSTM", "GRU", "ShPLRNN", "ShPLRNN-clipped"])
def test_step_jacobians_at_given_states_equal_the_orbit_jacobians(kind):
    if kind.startswith("ShPLRNN"):
        model = fr.ShPLRNN(4, 2, 1, n_hidden=6, clipped=kind.endswith("clipped"), rng=0)
    else:
        model = make_model(kind, 4, 2, 1, seed=0)
    rng = np.random.default_rng(0)
    states = rng.normal(0, 1, (5, model.state_dim))
    S = rng.normal(0, 1, (5, 1))
    J = model.step_jacobians(states, S)
    for r in range(5):
        want = model.jacobians(states[r], 1, S[r:r + 1])[0][0]
        np.testing.assert_allclose(J[r], want, rtol=1e-13, atol=1e-15)   # fastmath kernels: to rounding


def test_spectral_norms_by_power_iteration():
    rng = np.random.default_rng(0)
    for D in (1, 3, 16, 40):
        J = rng.normal(size=(50, D, D)) / np.sqrt(D)
        exact = np.linalg.svd(J, compute_uv=False)[:, 0]
        np.testing.assert_allclose(spectral_norms(J, tol=1e-14, max_iter=10000), exact, rtol=1e-6)
        assert np.all(spectral_norms(J) <= exact * (1 + 1e-12))
    assert spectral_norms(np.zeros((2, 3, 3))).tolist() == [0.0, 0.0]


def test_without_adaptation_it_is_gtf_with_a_constant_alpha():
    # gamma = 1 and alpha^ < alpha0 throughout (the initial shPLRNN is a contraction: kappa < 1, alpha^ = 0): the
    # schedule keeps alpha0, and training is exactly fit(alpha=constant(T, alpha0))
    x, _ = lorenz_windows()
    kw = dict(seq_len=30, batch_size=4, batches_per_epoch=5, n_epochs=2, progress=False, rng=3)
    a = fr.ShPLRNN(3, 3, n_hidden=8, rng=0, observation="identity")
    b = a.copy()
    sched = forcing.AdaptiveAlpha(alpha0=0.3, gamma=1.0, every=1)
    h = fr.fit(a, x, schedule=sched, **kw)
    fr.fit(b, x, alpha=forcing.constant(30, 0.3), **kw)
    assert h.alpha == [0.3, 0.3] and sched.kappa < 1 / 0.7
    for k, v in a.params.items():
        np.testing.assert_array_equal(v, b.params[k])
