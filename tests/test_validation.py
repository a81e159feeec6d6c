"""Bad input gets a clear error naming the argument; odd but valid input is converted, never silently wrong."""
import math

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing

from conftest import make_model

T = 10


@pytest.fixture
def setup(kind):
    model = make_model(kind, 4, 3, 2, seed=0)
    rng = np.random.default_rng(1)
    return model, rng.normal(size=(2, T + 1, 3)), rng.normal(size=(2, T + 1, 2)), forcing.interval(T, 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_X(setup, bad):
    model, X, S, a = setup
    X[1, 4, 2] = bad
    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite"):
        fr.loss_and_grad(model, X, a, inputs=S)


def test_nonfinite_inputs(setup):
    model, X, S, a = setup
    S[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="inputs contains"):
        fr.loss_and_grad(model, X, a, inputs=S)


def test_shapes(setup):
    model, X, S, a = setup
    with pytest.raises(ValueError, match=r"X must be 2-D or 3-D"):
        fr.loss_and_grad(model, X[0, 0], a, inputs=S)
    with pytest.raises(ValueError, match="X has 2 observed dimensions"):
        fr.loss_and_grad(model, X[..., :2], a, inputs=S)
    with pytest.raises(ValueError, match=r"inputs must have shape \(2, 11, 2\)"):
        fr.loss_and_grad(model, X, a, inputs=S[:, :-1])
    with pytest.raises(ValueError, match="pass inputs"):
        fr.loss_and_grad(model, X, a)
    with pytest.raises(ValueError, match="T >= 1"):
        fr.loss_and_grad(model, X[:, :1], a[:1], inputs=S[:, :1])
    with pytest.raises(ValueError, match=r"T\+1 = 11 entries"):
        fr.loss_and_grad(model, X, a[:-1], inputs=S)
    with pytest.raises(ValueError, match="3 rows but the batch has 2"):
        fr.loss_and_grad(model, X, np.stack([a] * 3), inputs=S)
    with pytest.raises(ValueError, match=r"unit_mask must have shape \(4,\)"):
        fr.loss_and_grad(model, X, a, inputs=S, unit_mask=np.ones(3, bool))
    no_in = make_model(model.kind, 4, 3, 0)
    with pytest.raises(ValueError, match="n_inputs=0"):
        fr.loss_and_grad(no_in, X, a, inputs=S)


@pytest.mark.parametrize("value", [-0.1, 1.5, np.nan])
def test_alpha_range(setup, value):
    model, X, S, a = setup
    a = a.copy()
    a[3] = value
    with pytest.raises(ValueError, match="alpha"):
        fr.loss_and_grad(model, X, a, inputs=S)


def test_rank_deficient_B(setup):
    model, X, S, a = setup
    model.params["B"][2] = model.params["B"][0] * 2.0
    with pytest.raises(ValueError, match=r"B is rank-deficient.*ridge > 0"):
        fr.loss_and_grad(model, X, a, inputs=S)
    loss, _ = fr.loss_and_grad(model, X, a, inputs=S, ridge=1e-3)
    assert np.isfinite(loss)


def test_dtypes_and_arguments(setup):
    model, X, S, a = setup
    with pytest.raises(TypeError, match="X has dtype complex128"):
        fr.loss_and_grad(model, X.astype(complex), a, inputs=S)
    with pytest.raises(TypeError, match="alpha has dtype"):
        fr.loss_and_grad(model, X, np.array(["a"] * (T + 1)), inputs=S)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        fr.loss_and_grad(model, X, a, inputs=S, ridge=-1.0)
    with pytest.raises(TypeError, match="model must be a fastrnn model"):
        fr.loss_and_grad("PLRNN", X, a, inputs=S)
    with pytest.raises(ValueError, match="tau must be >= 1"):
        forcing.interval(T, 0)
    with pytest.raises(ValueError, match="T must be >= 1"):
        forcing.interval(0, 3)


def test_noncontiguous_and_mixed_precision_are_converted(setup):
    model, X, S, a = setup
    ref_loss, ref = fr.loss_and_grad(model, X, a, inputs=S)
    big = np.zeros((2, T + 1, 6))
    big[..., ::2] = X                                    # a strided view
    fort = np.asfortranarray(S)
    loss, g = fr.loss_and_grad(model, big[..., ::2], list(a), inputs=fort, unit_mask=np.ones(4, int))
    assert loss == ref_loss
    for k in ref:
        np.testing.assert_array_equal(g[k], ref[k])
    # float32 data into a float64 model is promoted (same values as converting by hand)
    X32 = X.astype(np.float32)
    l32, _ = fr.loss_and_grad(model, X32, a, inputs=S)
    assert l32 == fr.loss_and_grad(model, X32.astype(np.float64), a, inputs=S)[0]
    # float64 data into a float32 model computes in float32 and returns float32 gradients
    m32 = model.astype(np.float32)
    l, g = fr.loss_and_grad(m32, X, a, inputs=S)
    assert all(v.dtype == np.float32 for v in g.values())
    assert l == pytest.approx(ref_loss, rel=1e-5)


def test_fit_argument_errors(kind):
    model = make_model(kind, 4, 2, 0)
    data = np.random.default_rng(0).normal(size=(100, 2))
    with pytest.raises(ValueError, match="exactly one of tau=, alpha= or schedule="):
        fr.fit(model, data, seq_len=10, progress=False)
    with pytest.raises(ValueError, match="exactly one of"):
        fr.fit(model, data, tau=5, alpha=forcing.interval(10, 5), seq_len=10, progress=False)
    with pytest.raises(ValueError, match="seq_len=200 needs series of at least 201"):
        fr.fit(model, data, tau=5, seq_len=200, progress=False)
    with pytest.raises(ValueError, match="data has 3 columns, expected 2"):
        fr.fit(model, np.zeros((100, 3)), tau=5, seq_len=10, progress=False)
    with pytest.raises(ValueError, match="data contains"):
        fr.fit(model, np.full((100, 2), np.nan), tau=5, seq_len=10, progress=False)
    with pytest.raises(ValueError, match="inputs were given"):
        fr.fit(model, data, tau=5, seq_len=10, inputs=np.zeros((100, 1)), progress=False)
    with pytest.raises(ValueError, match="clip must be > 0"):
        fr.fit(model, data, tau=5, seq_len=10, clip=0.0, progress=False)


def test_fit_stops_on_nonfinite_loss_and_keeps_last_finite_parameters(kind):
    model = make_model(kind, 6, 2, 0, seed=2, scale=0.5)
    data = np.random.default_rng(3).normal(size=(500, 2))
    seen = []

    def sabotage(epoch, history, m):
        seen.append({k: v.copy() for k, v in m.params.items()})
        if epoch == 2:
            m.params["h" if "h" in m.params else "b"][...] = np.nan   # the next batch's loss is non-finite
        return False

    with pytest.raises(fr.TrainingDivergedError, match="non-finite at epoch 3.*last parameters with a finite loss"):
        fr.fit(model, data, tau=math.inf, seq_len=50, batch_size=4, batches_per_epoch=1, n_epochs=10,
               progress=False, callback=sabotage, rng=0)
    # epoch 3's batch failed; the last finite loss was computed with the parameters seen after epoch 1
    for k, v in model.params.items():
        assert np.all(np.isfinite(v))
        np.testing.assert_array_equal(v, seen[1][k])
