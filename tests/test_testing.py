"""fastrnn.testing.gradcheck: it passes on every model and every forcing option, and it fails, naming the parameter,
when one gradient is off by 1e-4 relative."""
import numpy as np
import pytest

import fastrnn as fr
import fastrnn.training
from fastrnn import forcing
from fastrnn.testing import GradcheckReport, gradcheck

from conftest import make_model

M, N, K, T, NB = 4, 3, 2, 10, 3


def batch(k, T1=T + 1, seed=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(NB, T1, N)), (rng.normal(size=(NB, T1, k)) if k else None)


def perturb(monkeypatch, name, rel=1e-4, diag=False):
    """Make fastrnn.training.loss_and_grad return grads[name] * (1 + rel) (or a non-zero W diagonal)."""
    real = fastrnn.training.loss_and_grad

    def wrong(*args, **kw):
        loss, grads = real(*args, **kw)
        grads = dict(grads)
        if diag:
            grads[name] = grads[name] + np.eye(grads[name].shape[0]) * 1e-3
        else:
            grads[name] = grads[name] * (1.0 + rel)
        return loss, grads

    monkeypatch.setattr(fastrnn.training, "loss_and_grad", wrong)


@pytest.mark.parametrize("method", ["entries", "directions"])
def test_passes_on_every_model_and_forcing_option(kind, method):
    model = make_model(kind, M, N, K, seed=1, scale=0.7)  # loss O(1) to O(50): FD rounding ~1e-16 L / eps < atol
    before = {k: v.copy() for k, v in model.params.items()}
    X, S = batch(K)
    alpha = np.stack([forcing.interval(T, 3), np.r_[1.0, np.linspace(0, 1, T)], forcing.none(T)])
    mask = np.array([True, False, True, True])
    for kw in ({}, {"ridge": 0.2, "unit_mask": mask}, {"control_grad": False}, {"initial_state": "zero"}):
        r = gradcheck(model, X, alpha, S, method=method, raise_exception=True, **kw)
        assert isinstance(r, GradcheckReport) and r.passed and r.failed == () and r.method == method
        assert set(r.params) == set(model.params)
        assert max(c.max_rel_error for c in r.params.values()) < 1e-6  # measured: below 3e-8
        for c in r.params.values():
            frozen = int(model.frozen_entries.get(c.name, np.zeros(0)).sum())
            assert c.n_checked == (model.params[c.name].size - frozen if method == "entries" else 4)
    for k, v in model.params.items():  # the model itself is untouched
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("method", ["entries", "directions"])
def test_fails_and_names_the_parameter_off_by_1e_4(monkeypatch, kind, method):
    model = make_model(kind, M, N, K, seed=3)
    X, S = batch(K, seed=4)
    alpha = forcing.interval(T, 4)
    for name in model.params:
        with monkeypatch.context() as mp:
            perturb(mp, name)
            r = gradcheck(model, X, alpha, S, method=method)
            assert not r.passed and r.failed == (name,), (name, str(r))
            assert r.params[name].max_rel_error > 1e-5  # ~1e-4: the perturbation, seen through the FD noise
            with pytest.raises(AssertionError, match=rf"parameter\(s\) {name} of the {kind}"):
                gradcheck(model, X, alpha, S, method=method, raise_exception=True)
    assert gradcheck(model, X, alpha, S, method=method).passed  # unpatched again


def test_frozen_entries_must_have_zero_gradient(monkeypatch):
    model = make_model("PLRNN", M, N, 0, seed=5)
    X, _ = batch(0)
    perturb(monkeypatch, "W", diag=True)
    r = gradcheck(model, X, forcing.interval(T, 3))
    assert r.failed == ("W",) and r.params["W"].max_rel_error == np.inf and r.params["W"].worst == (0, 0)


def test_entry_subsets_and_directions_for_long_windows():
    model = make_model("TanhRNN", 12, N, 0, seed=6, scale=0.8)
    X, _ = batch(0, T1=101)
    alpha = forcing.interval(100, 10)
    r = gradcheck(model, X, alpha)  # T = 100 > max_window: directions
    assert r.method == "directions" and r.passed and all(c.n_checked == 4 for c in r.params.values())
    r = gradcheck(model, X, alpha, method="entries", max_entries=7, n_directions=2)
    assert r.passed and r.params["W"].n_checked == 7 and r.params["h"].n_checked == 7
    assert gradcheck(model, X, alpha, n_directions=2, max_window=100).method == "entries"


def test_reference_loss_and_validation():
    model = make_model("GRU", M, N, 0, seed=7)
    X, _ = batch(0)
    alpha = forcing.interval(T, 2)
    # a reference that is twice the loss has twice its gradient: every parameter fails
    r = gradcheck(model, X, alpha, reference=lambda m: 2.0 * fr.loss_and_grad(m, X, alpha)[0])
    assert set(r.failed) == set(model.params)
    # |g - 2g| / (|2g| + atol / rtol): just below 1/2 at the largest entry
    assert all(0.4 < c.max_rel_error < 0.5 for c in r.params.values()), str(r)
    with pytest.raises(ValueError, match=r"float64 model .* model.astype\(np.float64\)"):
        gradcheck(model.astype(np.float32), X, alpha)
    with pytest.raises(ValueError, match="method must be one of"):
        gradcheck(model, X, alpha, method="all")
    with pytest.raises(ValueError, match="alpha must have T\\+1"):
        gradcheck(model, X, alpha[:-1])
    with pytest.raises(TypeError, match="reference must be a callable"):
        gradcheck(model, X, alpha, reference=1.0)
