"""Checkpoints of fit (exact resume, atomic writes, mismatch errors) and the windowing baseline (zero initial state)."""
import glob
import os

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import checkpoint as ck
from fastrnn import forcing, systems

import naive
from conftest import make_model


class Interrupted(Exception):
    pass


def _data():
    return systems.lorenz(3000, standardize=True, rng=0)


def _train(kind, x, path=None, interrupt_after=None, n_epochs=6, init_seed=1):
    """A short run with a random schedule (uses rng every batch) and a step-size decay (changes Adam's lr)."""
    model = getattr(fr, kind)(6, 3, rng=init_seed)
    opt = fr.Adam(model.params, lr=5e-3)

    def cb(epoch, hist, m):
        opt.lr *= 0.7
        if interrupt_after is not None and epoch == interrupt_after:
            raise Interrupted
        return False

    hist = fr.fit(model, x, schedule=forcing.JitteredTau(8, 3), seq_len=40, batch_size=4, batches_per_epoch=3,
                  n_epochs=n_epochs, rng=11, progress=False, optimizer=opt, callback=cb, checkpoint=path,
                  checkpoint_every=2)
    return model, opt, hist


@pytest.mark.parametrize("kind", ["PLRNN", "LSTM"])
def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path, kind):
    x = _data()
    ref_model, ref_opt, ref_hist = _train(kind, x)
    path = tmp_path / "run.ckpt.npz"
    with pytest.raises(Interrupted):
        _train(kind, x, path, interrupt_after=4)         # checkpoints after epochs 1 and 3, then dies in epoch 4
    assert ck.load_checkpoint(path).epoch == 3
    # a fresh process would build the model from another seed: everything must come from the checkpoint
    model, opt, hist = _train(kind, x, path, init_seed=99)
    for name, value in ref_model.params.items():
        np.testing.assert_array_equal(model.params[name], value)
    assert hist.loss == ref_hist.loss and hist.grad_norm == ref_hist.grad_norm and len(hist.seconds) == 6
    assert opt.t == ref_opt.t == 18 and opt.lr == ref_opt.lr
    for name in ref_model.params:
        np.testing.assert_array_equal(opt.m[name], ref_opt.m[name])
        np.testing.assert_array_equal(opt.v[name], ref_opt.v[name])
    assert ck.load_checkpoint(path).epoch == 5          # the last epoch is always checkpointed


def test_a_finished_checkpoint_is_not_trained_further(tmp_path):
    x = _data()
    path = tmp_path / "c.npz"
    model, _, hist = _train("PLRNN", x, path)
    before = {k: v.copy() for k, v in model.params.items()}
    again, _, hist2 = _train("PLRNN", x, path, init_seed=5)
    for k, v in before.items():
        np.testing.assert_array_equal(again.params[k], v)
    assert hist2.loss == hist.loss


def test_checkpoint_round_trip_and_rng_state(tmp_path):
    model = make_model("GRU", 4, 2, 1)
    opt = fr.Adam(model.params, lr=0.01)
    opt.step({k: np.ones_like(v) for k, v in model.params.items()})
    hist = fr.History(loss=[1.0, 0.5], grad_norm=[3.0, 2.0], seconds=[0.1, 0.2])
    rng = np.random.default_rng(123)
    rng.standard_normal(7)
    path = tmp_path / "x.npz"
    ck.save_checkpoint(path, model=model, optimizer=opt, epoch=1, history=hist, rng=rng, config={"seq_len": 9})
    c = ck.load_checkpoint(path)
    assert (c.epoch, c.kind, c.shape, c.dtype, c.config) == (1, "GRU", (4, 2, 1), "float64", {"seq_len": 9})
    assert c.history == {"loss": [1.0, 0.5], "grad_norm": [3.0, 2.0], "seconds": [0.1, 0.2]}
    for k, v in model.params.items():
        np.testing.assert_array_equal(c.params[k], v)
    g = np.random.default_rng(0)
    g.bit_generator.state = c.rng_state
    np.testing.assert_array_equal(g.standard_normal(5), rng.standard_normal(5))
    # other bit generators (array-valued states) survive the JSON encoding too
    mt = np.random.Generator(np.random.MT19937(5))
    ck.save_checkpoint(path, model=model, optimizer=opt, epoch=0, history=hist, rng=mt)
    g2 = np.random.Generator(np.random.MT19937(0))
    g2.bit_generator.state = ck.load_checkpoint(path).rng_state
    assert g2.integers(0, 2**62) == mt.integers(0, 2**62)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    x = _data()
    path = tmp_path / "c.npz"
    _train("PLRNN", x, path, n_epochs=2)
    good = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    model = fr.PLRNN(6, 3, rng=0)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(path, model=model, optimizer=fr.Adam(model.params), epoch=0, history=fr.History(),
                           rng=np.random.default_rng(0))
    assert path.read_bytes() == good                     # the old checkpoint is untouched
    assert glob.glob(os.path.join(tmp_path, ".*tmp")) == []   # and no temporary file is left behind


def test_resume_refuses_a_different_run(tmp_path):
    x = _data()
    path = tmp_path / "c.npz"
    _train("PLRNN", x, path, n_epochs=2)
    m = fr.PLRNN(6, 3, rng=0)
    with pytest.raises(ValueError, match="seq_len=40"):
        fr.fit(m, x, tau=5, seq_len=30, batch_size=4, batches_per_epoch=3, n_epochs=3, progress=False,
               checkpoint=path)
    with pytest.raises(ValueError, match="holds a PLRNN"):
        fr.fit(fr.GRU(6, 3, rng=0), x, tau=5, seq_len=40, batch_size=4, batches_per_epoch=3, n_epochs=3,
               progress=False, checkpoint=path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        fr.fit(m, x, tau=5, seq_len=40, batch_size=4, batches_per_epoch=3, n_epochs=3, progress=False,
               checkpoint=tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="checkpoint_every must be >= 1"):
        fr.fit(m, x, tau=5, seq_len=40, n_epochs=1, progress=False, checkpoint=path, checkpoint_every=0)


# ------------------------------------------------------------------ windowing baseline: zero initial state
@pytest.mark.parametrize("kind", ["PLRNN", "TanhRNN", "LSTM", "GRU"])
def test_zero_initial_state_matches_the_loop_reference_and_finite_differences(kind):
    model = make_model(kind, 5, 3, 0, seed=3)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 13, 3))
    alpha = forcing.interval(12, 5)          # forcing at t = 5, 10 keeps the control path into B in play

    def ref_loss(m):
        P = naive.control(m.params["B"], 0.0)
        Zt = X @ P.T
        Zt[:, 0] = 0.0                        # the window starts from z_0 = 0 (LSTM: h_0 = c_0 = 0)
        return naive.loss(m, X, alpha, control_signal=Zt)

    loss, grads = fr.loss_and_grad(model, X, alpha, initial_state="zero")
    assert loss == pytest.approx(ref_loss(model), rel=1e-12)
    assert loss != pytest.approx(fr.loss_and_grad(model, X, alpha)[0], rel=1e-3)   # it is not the default start
    eps = 1e-6
    for name, p in model.params.items():
        for idx in [tuple(rng.integers(0, s) for s in p.shape) for _ in range(4)]:
            if name == "W" and kind == "PLRNN" and idx[0] == idx[1]:
                continue
            old = p[idx]
            p[idx] = old + eps
            up = ref_loss(model)
            p[idx] = old - eps
            down = ref_loss(model)
            p[idx] = old
            assert grads[name][idx] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8), (name, idx)


def test_windowing_fit_and_validation():
    x = _data()
    m = fr.PLRNN(8, 3, rng=0)
    hist = fr.fit(m, x, tau=np.inf, initial_state="zero", clip=1.0, seq_len=30, batch_size=8,
                  batches_per_epoch=10, n_epochs=4, lr=1e-2, rng=0, progress=False)
    assert hist.loss[-1] < hist.loss[0]
    with pytest.raises(ValueError, match="initial_state must be 'control'"):
        fr.fit(m, x, tau=5, seq_len=30, n_epochs=1, progress=False, initial_state="zeros")
    with pytest.raises(ValueError, match="initial_state"):
        fr.loss_and_grad(m, x[:20], forcing.interval(19, 5), initial_state=None)
