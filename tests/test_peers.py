"""The benchmark peers (benchmarks/_peers.py) compute the same loss and gradients as fastrnn.

The speed ratios of the benchmark suite compare equal work only if every peer implements DESIGN §1 exactly: this
checks loss (1e-10) and gradients (1e-8, relative) in float64 on small cases, with sparse and fractional forcing, a
unit mask and external inputs. Skipped where jax or torch is not installed (``pip install -e '.[peers]'``).
"""
import os
import sys

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing

from conftest import make_model

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import _peers  # noqa: E402

KINDS = [k for k in ("PLRNN", "TanhRNN", "LSTM", "GRU") if hasattr(fr, k)]
M, N, NB, T = 5, 3, 3, 40


def _case(kind, K, pattern, seed=0):
    model = make_model(kind, M, N, K, seed=seed, scale=0.8)
    rng = np.random.default_rng(seed + 1)
    X = rng.normal(size=(NB, T + 1, N))
    S = rng.normal(size=(NB, T + 1, K))
    mask = np.ones(M)
    if pattern == "tau7":
        alpha = forcing.interval(T, 7)
    elif pattern == "fractional":
        alpha = np.concatenate([[1.0], rng.uniform(0, 1, T)])
    else:  # tau5 with a unit mask
        alpha = forcing.interval(T, 5)
        mask = np.array([1, 0, 1, 1, 0], dtype=float)
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S if K else None, unit_mask=mask.astype(bool))
    params = {k: np.array(v, dtype=np.float64) for k, v in model.params.items()}
    return params, X, S, np.broadcast_to(alpha, (NB, T + 1)), mask, loss, grads


def _compare(peer, loss, grads):
    got_loss, got = peer.loss_and_grad()
    assert got_loss == pytest.approx(loss, rel=1e-10)
    for name, g in grads.items():
        err = np.linalg.norm(got[name] - g) / np.linalg.norm(g)
        assert err < 1e-8, (name, err)


@pytest.mark.parametrize("pattern", ["tau7", "fractional", "masked"])
@pytest.mark.parametrize("K", [0, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_jax_peer_matches_fastrnn(kind, K, pattern):
    pytest.importorskip("jax")
    params, X, S, alpha, mask, loss, grads = _case(kind, K, pattern)
    _compare(_peers.JaxStep(kind, params, X, S, alpha, mask, "float64"), loss, grads)


@pytest.mark.parametrize("pattern", ["tau7", "fractional", "masked"])
@pytest.mark.parametrize("K", [0, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_torch_peer_matches_fastrnn(kind, K, pattern):
    pytest.importorskip("torch")
    params, X, S, alpha, mask, loss, grads = _case(kind, K, pattern)
    _compare(_peers.TorchEagerStep(kind, params, X, S, alpha, mask, "float64"), loss, grads)


@pytest.mark.skipif("LSTM" not in KINDS, reason="fastrnn has no LSTM")
@pytest.mark.parametrize("pattern", ["tau7", "fractional", "masked"])
@pytest.mark.parametrize("K", [0, 2])
def test_chunked_nn_lstm_peer_matches_fastrnn(K, pattern):
    pytest.importorskip("torch")
    params, X, S, alpha, mask, loss, grads = _case("LSTM", K, pattern)
    _compare(_peers.TorchLSTMChunkedStep(params, X, S, alpha, mask, "float64"), loss, grads)


def test_peer_training_step_is_one_adam_update():
    """One peer step changes every parameter by at most lr (Adam's first step moves each entry by ~lr sign(g))."""
    pytest.importorskip("torch")
    params, X, S, alpha, mask, loss, grads = _case("TanhRNN", 0, "tau7")
    peer = _peers.TorchEagerStep("TanhRNN", params, X, S, alpha, mask, "float64")
    before = {k: v.detach().numpy().copy() for k, v in peer.params.items()}
    assert float(peer().detach()) == pytest.approx(loss, rel=1e-10)
    for k, v in peer.params.items():
        step = v.detach().numpy() - before[k]
        np.testing.assert_allclose(np.abs(step), 1e-3, rtol=1e-3, atol=1e-12,
                                   err_msg=f"{k}: Adam's first update is lr * g / (|g| + eps)")
