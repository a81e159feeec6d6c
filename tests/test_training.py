"""fit: sparsely forced training on Lorenz, batching from several series, schedules, callbacks."""
import math

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing, systems
from fastrnn.training import _WindowSampler


def test_plrnn_learns_lorenz_with_sparse_forcing():
    x = systems.lorenz(20000, dt=0.01, standardize=True, rng=0)
    model = fr.PLRNN(20, 3, rng=1)
    hist = fr.fit(model, x, tau=25, seq_len=200, batch_size=16, batches_per_epoch=10, n_epochs=30, rng=2,
                  progress=False)
    assert len(hist) == 30 and len(hist.grad_norm) == 30 and all(s > 0 for s in hist.seconds)
    assert hist.loss[-1] < hist.loss[0] / 10, hist.loss
    X, _ = model.generate(20000, x0=x[0])
    assert np.all(np.isfinite(X)) and np.abs(X).max() < 10.0   # data are standardised: |x| < 3


def test_training_is_reproducible_with_rng():
    x = systems.lorenz(3000, standardize=True, rng=0)
    runs = []
    for _ in range(2):
        m = fr.TanhRNN(8, 3, rng=4)
        fr.fit(m, x, tau=10, seq_len=50, batch_size=4, batches_per_epoch=3, n_epochs=2, rng=5, progress=False)
        runs.append(m.params["W"].copy())
    np.testing.assert_array_equal(*runs)


def test_windows_are_contiguous_slices_of_aligned_series():
    rng = np.random.default_rng(0)
    a = np.arange(40.0)[:, None] * np.ones((1, 2))
    b = 1000 + np.arange(25.0)[:, None] * np.ones((1, 2))
    sampler = _WindowSampler([a, b], [a[:, :1] + 0.5, b[:, :1] + 0.5], 9)
    X, S = sampler.draw(200, rng)
    assert X.shape == (200, 10, 2) and S.shape == (200, 10, 1)
    np.testing.assert_array_equal(np.diff(X[..., 0], axis=1), 1.0)          # consecutive samples
    np.testing.assert_array_equal(S[..., 0], X[..., 0] + 0.5)               # inputs aligned with data
    from_b = X[:, 0, 0] >= 1000
    assert 0.2 < from_b.mean() < 0.55                  # drawn in proportion to the windows each series holds (16/47)
    assert X[from_b, -1, 0].max() <= 1024 and X[~from_b, -1, 0].max() <= 39


def test_fit_with_inputs_and_several_series():
    x, s = systems.duffing(3000, rng=0, standardize=True)
    x2, s2 = systems.duffing(2000, rng=1, standardize=True)
    model = fr.PLRNN(10, 2, 1, rng=0)
    before = model.params["C"].copy()
    hist = fr.fit(model, [x, x2], inputs=[s, s2], tau=10, seq_len=60, batch_size=8, batches_per_epoch=5,
                  n_epochs=6, rng=0, progress=False)
    assert hist.loss[-1] < hist.loss[0]
    assert not np.array_equal(before, model.params["C"])
    with pytest.raises(ValueError, match="aligned"):
        fr.fit(model, [x, x2], inputs=[s, s2[:-1]], tau=10, seq_len=60, progress=False)


def test_clipping_scales_the_gradient_to_the_threshold():
    x = systems.lorenz(3000, standardize=True, rng=0)
    deltas, norms = [], []
    for clip in (None, 1e-3):
        m = fr.PLRNN(8, 3, rng=0)
        before = {k: v.copy() for k, v in m.params.items()}
        # with a huge eps, Adam's first update is lr * g / eps: proportional to the (clipped) gradient
        opt = fr.Adam(m.params, lr=1.0, eps=1e6)
        hist = fr.fit(m, x, tau=math.inf, seq_len=100, batch_size=4, batches_per_epoch=1, n_epochs=1, clip=clip,
                      rng=0, progress=False, optimizer=opt)
        deltas.append({k: before[k] - v for k, v in m.params.items()})
        norms.append(hist.grad_norm[0])
    assert norms[0] == norms[1] > 1e-3            # the recorded norm is the raw one
    for k in deltas[0]:
        np.testing.assert_allclose(deltas[1][k], deltas[0][k] * 1e-3 / norms[0], rtol=1e-3, atol=1e-20)


def test_schedules():
    rng = np.random.default_rng(0)
    ann = forcing.AnnealedTau(end=64)
    assert [ann.tau(e, 7) for e in range(7)] == [1, 2, 4, 8, 16, 32, 64]
    np.testing.assert_array_equal(ann.alpha(3, 7, 20, 4, rng), forcing.interval(20, 8))
    jit = forcing.JitteredTau(10, 3)
    a = jit.alpha(0, 5, 100, 64, rng)
    assert a.shape == (64, 101)
    gaps = {int(np.diff(np.flatnonzero(row))[0]) for row in a}
    assert gaps <= set(range(7, 14)) and len(gaps) > 3
    aa = forcing.AnnealedAlpha(1.0, 0.0)
    np.testing.assert_allclose(aa.alpha(1, 5, 4, 1, rng)[1:], 0.75)
    with pytest.raises(ValueError, match="delta must be < tau"):
        forcing.JitteredTau(3, 3)
    x = systems.lorenz(2000, standardize=True, rng=0)
    m = fr.TanhRNN(6, 3, rng=0)
    hist = fr.fit(m, x, schedule=jit, seq_len=30, batch_size=4, batches_per_epoch=2, n_epochs=2, rng=0,
                  progress=False)
    assert len(hist) == 2


def test_callback_can_stop_training():
    x = systems.lorenz(2000, standardize=True, rng=0)
    m = fr.PLRNN(6, 3, rng=0)
    hist = fr.fit(m, x, tau=10, seq_len=30, batch_size=4, batches_per_epoch=2, n_epochs=50, rng=0,
                  progress=False, callback=lambda e, h, model: e == 2)
    assert len(hist) == 3


def test_progress_bar_shows_epoch_and_loss(capsys):
    x = systems.lorenz(1000, standardize=True, rng=0)
    fr.fit(fr.PLRNN(4, 3, rng=0), x, tau=5, seq_len=20, batch_size=2, batches_per_epoch=1, n_epochs=2, rng=0,
           progress=True)
    err = capsys.readouterr().err
    assert "PLRNN" in err and "2/2" in err and "loss=" in err
