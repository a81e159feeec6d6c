"""The baselines without forcing: truncated BPTT (gradient cuts), gradient-value clipping, their registry in the run
specs, and the advice of TrainingDivergedError."""
import math

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing, training
from fastrnn.experiments.spec import BASELINES, fit_arguments, make_spec, parse_baseline, run_id

import naive
from conftest import make_model
from test_gradients import check_grads, fd_grad

M, N, K, T, NB = 4, 3, 2, 12, 3


def _data(k, seed=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(NB, T + 1, N)), (rng.normal(size=(NB, T + 1, k)) if k else None)


# ---------------------------------------------------------------- truncated BPTT
def test_truncation_pattern():
    np.testing.assert_array_equal(forcing.truncation(10, 4), [0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(forcing.truncation(3, 1), [0, 1, 1, 1])
    assert forcing.truncation(5, 9).sum() == 0
    with pytest.raises(ValueError, match="tau"):
        forcing.truncation(5, 0)


@pytest.mark.parametrize("with_inputs,control_grad,initial_state",
                         [(False, True, "control"), (True, True, "control"), (False, False, "zero")])
def test_truncated_gradient_matches_finite_differences(kind, with_inputs, control_grad, initial_state):
    """Truncated BPTT is the gradient of the loss with the states at the cut steps held at their values: central
    differences of that loss (the states frozen at the current parameters), and the loop reference."""
    k = K if with_inputs else 0
    model = make_model(kind, M, N, k, seed=1)
    X, S = _data(k)
    if initial_state == "zero":
        X[:, 0] = 0.0       # what initial_state="zero" does; the reference sees the same windows
    alpha, cut = forcing.none(T), forcing.truncation(T, 5)        # cuts at t = 5, 10
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S, truncate=5, control_grad=control_grad,
                                   initial_state=initial_state)
    frozen = naive.states(model, X, alpha, S)
    if control_grad:
        f = lambda: naive.loss(model, X, alpha, S, cut=cut, frozen=frozen)  # noqa: E731
    else:
        Zt = X @ naive.control(model.params["B"], 0.0).T
        f = lambda: naive.loss(model, X, alpha, S, control_signal=Zt, cut=cut, frozen=frozen)  # noqa: E731
    assert loss == pytest.approx(naive.loss(model, X, alpha, S), rel=1e-12)      # the loss is the free run's
    check_grads(model, grads, fd_grad(model, f))
    if control_grad:
        _, ref = naive.loss_and_grad(model, X, alpha, S, cut=cut)
        for name in ref:
            np.testing.assert_allclose(grads[name], ref[name], rtol=1e-10, atol=1e-13, err_msg=name)
    # the cuts matter: full BPTT gives another gradient
    _, full = fr.loss_and_grad(model, X, alpha, inputs=S, control_grad=control_grad, initial_state=initial_state)
    assert max(np.abs(full[n] - grads[n]).max() for n in grads) > 1e-6


def test_truncation_at_the_window_length_is_full_bptt(kind):
    model = make_model(kind, M, N, 0, seed=4)
    X, _ = _data(0, seed=5)
    _, full = fr.loss_and_grad(model, X, forcing.none(T))
    _, trunc = fr.loss_and_grad(model, X, forcing.none(T), truncate=T)      # one cut at t = T: nothing after it
    for name in full:
        np.testing.assert_array_equal(trunc[name], full[name])


def test_truncation_with_forcing_between_the_cuts():
    """Cuts and forcing combine when they fall on different steps; the loop reference agrees."""
    model = make_model("LSTM", M, N, 0, seed=6)
    X, _ = _data(0, seed=7)
    alpha = forcing.interval(T, 3)          # forced at 3, 6, 9, 12
    cut = forcing.truncation(T, 4)          # cuts at 4, 8, 12 -> 12 clashes
    with pytest.raises(ValueError, match="forced step"):
        fr.loss_and_grad(model, X, alpha, truncate=4)
    alpha[12] = 0.0
    _, grads = fr.loss_and_grad(model, X, alpha, truncate=4)
    _, ref = naive.loss_and_grad(model, X, alpha, cut=cut)
    for name in ref:
        np.testing.assert_allclose(grads[name], ref[name], rtol=1e-10, atol=1e-13, err_msg=name)


def test_truncation_refuses_a_unit_mask():
    model = make_model("PLRNN", M, N, 0, seed=1)
    X, _ = _data(0)
    with pytest.raises(ValueError, match="unit_mask"):
        fr.loss_and_grad(model, X, forcing.none(T), truncate=4, unit_mask=np.array([1, 0, 1, 1], bool))
    with pytest.raises(ValueError, match="truncate"):
        fr.loss_and_grad(model, X, forcing.none(T), truncate=0)


def test_fit_truncated_trains_and_records_it(tmp_path):
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(400, 2)), axis=0) * 0.05
    model = fr.PLRNN(6, 2, rng=0)
    hist = fr.fit(model, x, tau=math.inf, truncate=10, clip=1.0, seq_len=40, batch_size=4, batches_per_epoch=5,
                  n_epochs=3, progress=False, rng=1, checkpoint=tmp_path / "ck.npz")
    assert len(hist) == 3 and hist.loss[-1] < hist.loss[0]
    from fastrnn.checkpoint import load_checkpoint
    assert load_checkpoint(tmp_path / "ck.npz").config["truncate"] == 10


# ---------------------------------------------------------------- clipping
def _grads():
    return {"A": np.array([0.5, -3.0, 2.0]), "W": np.array([[10.0, -0.1], [-20.0, 1.0]])}


def test_value_clipping_is_elementwise():
    g = training.clip_gradients(_grads(), clip_value=1.0)
    np.testing.assert_array_equal(g["A"], [0.5, -1.0, 1.0])
    np.testing.assert_array_equal(g["W"], [[1.0, -0.1], [-1.0, 1.0]])


def test_norm_clipping_scales_all_gradients_together():
    raw = _grads()
    norm = math.sqrt(sum(float(np.sum(v * v)) for v in raw.values()))
    g = training.clip_gradients(_grads(), norm, clip=2.0)
    for name in raw:
        np.testing.assert_allclose(g[name], raw[name] * 2.0 / norm, rtol=1e-15)
    assert math.sqrt(sum(float(np.sum(v * v)) for v in g.values())) == pytest.approx(2.0)
    untouched = training.clip_gradients(_grads(), norm, clip=2 * norm)
    for name in raw:
        np.testing.assert_array_equal(untouched[name], raw[name])


class _Spy:
    """An optimiser that records the gradients fit hands it and changes nothing."""

    lr = 1e-3

    def __init__(self):
        self.seen = []

    def step(self, grads):
        self.seen.append({k: v.copy() for k, v in grads.items()})


@pytest.mark.parametrize("how", ["value", "norm"])
def test_fit_clips_before_the_optimiser(how):
    x = np.random.default_rng(3).normal(size=(300, 2))
    runs = {}
    for name, kw in (("raw", {}), ("clipped", {"clip_value": 1e-3} if how == "value" else {"clip": 1e-3})):
        spy = _Spy()
        fr.fit(fr.PLRNN(5, 2, rng=0), x, tau=10, seq_len=30, batch_size=4, batches_per_epoch=2, n_epochs=1,
               progress=False, rng=4, optimizer=spy, **kw)
        runs[name] = spy.seen
    for raw, clipped in zip(runs["raw"], runs["clipped"]):
        norm = math.sqrt(sum(float(np.sum(v * v)) for v in raw.values()))
        assert norm > 1e-2                  # the threshold bites
        for name in raw:
            expect = np.clip(raw[name], -1e-3, 1e-3) if how == "value" else raw[name] * (1e-3 / norm)
            np.testing.assert_allclose(clipped[name], expect, rtol=1e-12, atol=0, err_msg=name)


def test_clip_value_is_validated():
    with pytest.raises(ValueError, match="clip_value"):
        fr.fit(fr.PLRNN(3, 2, rng=0), np.zeros((50, 2)), tau=5, seq_len=10, clip_value=0.0, progress=False)


# ---------------------------------------------------------------- TrainingDivergedError's advice
def _diverging_fit(**kw):
    model = fr.PLRNN(4, 2, rng=0)
    model.params["A"][...] = 1e200          # the free state grows 1e200-fold per step: the loss overflows at once
    x = np.random.default_rng(0).normal(size=(200, 2))
    with pytest.raises(fr.TrainingDivergedError) as info:
        fr.fit(model, x, seq_len=200 - 1, batch_size=2, batches_per_epoch=1, n_epochs=1, progress=False, **kw)
    return str(info.value)


def test_divergence_advice_names_only_remedies_not_in_use():
    msg = _diverging_fit(tau=math.inf, clip=1.0)
    assert "clip=1.0" not in msg and "clipping" not in msg
    assert "smaller lr (now 0.001)" in msg and "sparse forcing" in msg
    msg = _diverging_fit(tau=20)
    assert "clip=1.0" in msg and "smaller tau (more forcing; now 20)" in msg
    msg = _diverging_fit(tau=1, clip=10.0)
    assert "tau" not in msg and "tighter clipping (clip=1.0; now 10)" in msg
    msg = _diverging_fit(tau=math.inf, truncate=50, clip=0.5)
    assert "clip" not in msg and "sparse forcing" not in msg and "shorter truncation interval (now 50)" in msg


# ---------------------------------------------------------------- the registry of baselines in run specs
def test_baseline_registry():
    assert list(BASELINES) == ["clipping", "value_clipping", "windowing", "truncated"]
    assert BASELINES["clipping"] == {"clip": 1.0, "initial_state": "control"}
    assert BASELINES["windowing"] == {"clip": 1.0, "initial_state": "zero"}
    assert BASELINES["clipping:10"] == {"clip": 10.0, "initial_state": "control"}
    assert BASELINES["value_clipping:100"] == {"clip_value": 100.0, "initial_state": "control"}
    assert BASELINES["truncated:50"] == {"clip": 1.0, "initial_state": "control", "truncate": 50}
    assert parse_baseline("Clipping:1") == "clipping" and parse_baseline("value_clipping") == "value_clipping"
    assert "truncated:30" in BASELINES and "truncated" not in BASELINES and "bogus" not in BASELINES
    for bad, what in (("truncated", "cut interval"), ("truncated:x", "whole number"), ("windowing:5", "no parameter"),
                      ("clipping:-1", "clip"), ("bogus", "truncated:STEPS")):
        with pytest.raises(ValueError, match=what):
            parse_baseline(bad)


def test_run_ids_of_earlier_specs_are_unchanged():
    """Finished runs are reused by id: the ids of the specs that existed before the new baselines stay."""
    assert run_id(make_spec(forcing_option=25)) == "PLRNN_tau25_s0_15635b22c2"
    assert run_id(make_spec(baseline="clipping")) == "PLRNN_clipping_s0_0db830da69"
    assert run_id(make_spec(baseline="clipping:1.0")) == "PLRNN_clipping_s0_0db830da69"
    assert run_id(make_spec(baseline="windowing", model="LSTM", seed=2)) == "LSTM_windowing_s2_2dcfe70e0e"
    spec = make_spec(baseline="truncated:50", model="GRU")
    assert run_id(spec).startswith("GRU_truncated-50_s0_")
    assert fit_arguments(spec) == {"tau": math.inf, "clip": 1.0, "initial_state": "control", "truncate": 50}
    assert fit_arguments(make_spec(baseline="value_clipping:10"))["clip_value"] == 10.0


@pytest.mark.parametrize("baseline,expect", [("truncated:25", {"truncate": 25, "clip": 1.0}),
                                             ("value_clipping:10", {"clip_value": 10.0})])
def test_sweep_runs_train_the_new_baselines(tmp_path, monkeypatch, baseline, expect):
    from fastrnn import experiments
    from fastrnn.experiments import run as run_module

    seen = {}
    real_fit = run_module.fit

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(run_module, "fit", spy)
    spec = make_spec(model="TanhRNN", baseline=baseline, n_latent=4, seq_len=50, batch_size=2, batches_per_epoch=2,
                     n_epochs=1, n_steps=1500, n_test=500, eval_transient=100, eval_starts=1, lyapunov_steps=0)
    res = experiments.execute_run(spec, tmp_path)
    assert res["spec"]["baseline"] == baseline and "error" not in res["train"]
    assert seen["tau"] == math.inf and {k: seen[k] for k in expect} == expect
