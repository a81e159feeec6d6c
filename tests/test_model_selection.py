"""Validation during training (issue 14 item 2): fit(validation=, selection=, patience=, restore_best=), the
selection measures against their definitions, early stopping, resume, hold_out and the command line."""
import math

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing, model_selection as ms

from conftest import run_cli


def lorenz(n=5000, seed=0):
    x = np.asarray(fr.systems.lorenz(n, rng=seed))
    return (x - x.mean(0)) / x.std(0)


X = lorenz()
TRAIN, VAL = X[:4000], X[4000:]
KW = dict(tau=20, seq_len=40, batch_size=8, batches_per_epoch=4, rng=0, progress=False)


def test_loss_selection_is_the_training_loss_on_fixed_validation_windows():
    model = fr.PLRNN(6, 3, rng=1)
    hist = fr.fit(model, TRAIN, n_epochs=2, validation=VAL, restore_best=False, **KW)
    starts = range(0, len(VAL) - 40, 41)
    W = np.stack([VAL[s:s + 41] for s in starts])
    assert len(W) == 24
    expected = fr.loss_and_grad(model, W, forcing.interval(40, 20))[0]
    assert hist.val_epoch == [1, 2]
    assert hist.val_score[-1] == pytest.approx(expected, rel=1e-12)


def test_prediction_selection_is_the_free_running_error_over_20_steps():
    model = fr.PLRNN(6, 3, rng=1)
    score = ms.make_scorer("prediction", [VAL], [np.zeros((len(VAL), 0))], 40,
                           loss_fn=lambda m, W, a, S, r, u: fr.loss_and_grad(m, W, a, ridge=r, unit_mask=u)[0])
    W = np.stack([VAL[s:s + 21] for s in range(0, len(VAL) - 20, 21)])
    assert ms.PREDICTION_STEPS == 20 and len(W) == 47 <= ms.MAX_WINDOWS
    # the free run from z~_0 = P x_0: B z_t against x_t, t = 1..20
    P = model.control_matrix(0.0)
    errs = []
    for w in W:
        z = P @ w[0]
        e = 0.0
        for t in range(1, 21):
            z = model.step(z)
            e += np.sum((w[t] - model.params["B"] @ z) ** 2)
        errs.append(e)
    assert score(model) == pytest.approx(np.sum(errs) / (len(W) * 20 * 3), rel=1e-10)


def test_d_stsp_selection_scores_a_diverging_model_inf():
    model = fr.PLRNN(4, 3, rng=0)
    model.params["A"][:] = 3.0                            # |z| grows 3x per step
    score = ms.make_scorer("D_stsp", [VAL], [np.zeros((len(VAL), 0))], 40)
    assert score(model) == math.inf
    good = fr.PLRNN(4, 3, rng=0)
    assert math.isfinite(score(good))


def test_early_stopping_and_restore_best(monkeypatch):
    scores = iter([5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 1.0, 1.0])
    snapshots = {}

    def remember(epoch, history, model):
        snapshots[epoch + 1] = {k: v.copy() for k, v in model.params.items()}
        return False

    model = fr.PLRNN(6, 3, rng=1)
    hist = fr.fit(model, TRAIN, n_epochs=8, validation=VAL, selection=lambda m: next(scores), patience=2,
                  callback=remember, **KW)
    assert len(hist.loss) == 5 and hist.stopped_early                  # best at 3, no gain at 4 and 5
    assert hist.val_score == [5.0, 4.0, 3.0, 3.5, 3.6] and hist.best_epoch == 3
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], snapshots[3][k])
    scores = iter([5.0, 4.0, 3.0, 3.5, 3.6])
    last = fr.PLRNN(6, 3, rng=1)
    fr.fit(last, TRAIN, n_epochs=8, validation=VAL, selection=lambda m: next(scores), patience=2,
           restore_best=False, callback=remember, **KW)
    for k in last.params:
        np.testing.assert_array_equal(last.params[k], snapshots[5][k])


def test_validate_every_scores_every_kth_epoch_and_the_last():
    model = fr.PLRNN(6, 3, rng=1)
    hist = fr.fit(model, TRAIN, n_epochs=7, validation=VAL, validate_every=3, **KW)
    assert hist.val_epoch == [3, 6, 7]


@pytest.mark.parametrize("stop_at", [2, 4])
def test_resume_gives_the_uninterrupted_run(tmp_path, stop_at):
    kw = dict(KW, n_epochs=8, validation=VAL, selection="prediction", patience=3)
    ref = fr.PLRNN(6, 3, rng=1)
    h_ref = fr.fit(ref, TRAIN, **kw)
    ck = tmp_path / "run.npz"
    part = fr.PLRNN(6, 3, rng=1)
    fr.fit(part, TRAIN, checkpoint=ck, callback=lambda e, h, m: e + 1 == stop_at, **kw)
    again = fr.PLRNN(6, 3, rng=1)
    h = fr.fit(again, TRAIN, checkpoint=ck, **kw)
    assert h.val_epoch == h_ref.val_epoch and h.val_score == h_ref.val_score
    assert h.best_epoch == h_ref.best_epoch and h.stopped_early == h_ref.stopped_early
    for k in ref.params:
        np.testing.assert_array_equal(again.params[k], ref.params[k])


def test_a_run_that_stopped_early_does_not_train_on_when_resumed(tmp_path):
    scores = [5.0, 4.0, 4.5, 4.6] + [0.0] * 10
    ck = tmp_path / "run.npz"
    kw = dict(KW, n_epochs=10, validation=VAL, patience=2, checkpoint=ck, checkpoint_every=3)
    it = iter(scores)
    m1 = fr.PLRNN(6, 3, rng=1)
    h1 = fr.fit(m1, TRAIN, selection=lambda m: next(it), **kw)
    assert h1.stopped_early and len(h1.loss) == 4 and h1.best_epoch == 2
    m2 = fr.PLRNN(6, 3, rng=1)
    h2 = fr.fit(m2, TRAIN, selection=lambda m: 0.0, **kw)            # would be a new best if it trained on
    assert len(h2.loss) == 4 and h2.best_epoch == 2 and h2.val_score == h1.val_score
    for k in m1.params:
        np.testing.assert_array_equal(m2.params[k], m1.params[k])


def test_divergence_restores_the_best_validated_parameters():
    model = fr.PLRNN(6, 3, rng=1)
    snap = {}

    def remember(epoch, history, m):
        if epoch == 0:
            snap.update({k: v.copy() for k, v in m.params.items()})
        return False

    opt = fr.Adam(model.params, lr=1e-3)

    def blow_up(epoch, history, m):
        remember(epoch, history, m)
        opt.lr = 1e12                                    # from the second epoch on the updates explode
        return False

    with pytest.raises(fr.TrainingDivergedError, match="best validated parameters"):
        fr.fit(model, TRAIN, n_epochs=6, validation=VAL, optimizer=opt, callback=blow_up,
               selection=lambda m: 1.0 if not all(np.all(np.isfinite(v)) for v in m.params.values()) else 0.5,
               **KW)
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], snap[k])


def test_validation_arguments_are_checked():
    model = fr.PLRNN(6, 3, rng=1)
    with pytest.raises(ValueError, match="forcing schedule"):
        fr.fit(model, TRAIN, schedule=forcing.AnnealedTau(1, 20), seq_len=40, n_epochs=1, progress=False,
               validation=VAL)
    with pytest.raises(ValueError, match="unknown selection"):
        fr.fit(model, TRAIN, n_epochs=1, validation=VAL, selection="mse", **KW)
    with pytest.raises(ValueError, match="fewer than one window"):
        fr.fit(model, TRAIN, n_epochs=1, validation=VAL[:30], **KW)
    with pytest.raises(ValueError, match="without validation data"):
        fr.fit(model, TRAIN, n_epochs=1, validation_inputs=VAL, **KW)
    with pytest.raises(ValueError, match="patience"):
        fr.fit(model, TRAIN, n_epochs=1, validation=VAL, patience=0, **KW)
    with pytest.raises(ValueError, match="columns"):
        fr.fit(model, TRAIN, n_epochs=1, validation=VAL[:, :2], **KW)


def test_hold_out_splits_the_end_of_each_series():
    x = np.arange(100.0)[:, None]
    tr, va, s1, s2 = ms.hold_out(x, fraction=0.2, min_length=10)
    np.testing.assert_array_equal(tr[:, 0], np.arange(80.0))
    np.testing.assert_array_equal(va[:, 0], np.arange(80.0, 100.0))
    assert s1 is None and s2 is None
    segs = [np.arange(100.0)[:, None], np.arange(30.0)[:, None]]
    ins = [np.ones((100, 1)), 2 * np.ones((30, 1))]
    tr, va, s1, s2 = ms.hold_out(segs, ins, fraction=0.25, min_length=10)
    assert [len(t) for t in tr] == [75, 30] and [len(v) for v in va] == [25]   # the short segment stays whole
    assert [len(s) for s in s1] == [75, 30] and [len(s) for s in s2] == [25]
    with pytest.raises(ValueError, match="long enough"):
        ms.hold_out(x, fraction=0.2, min_length=30)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        ms.hold_out(x, fraction=1.5)


def test_train_command_with_validation(tmp_path, capsys):
    import json

    out = tmp_path / "m.npz"
    code, _, err = run_cli(["train", "lorenz", "--n-steps", "5000", "--epochs", "6", "--batches-per-epoch", "3",
                            "--seq-len", "40", "--n-latent", "6", "--tau", "20", "--validation", "0.2", "--patience",
                            "2", "--selection", "prediction", "--out", str(out), "-q"], capsys)
    assert code == 0, err
    meta = json.loads((tmp_path / "m.json").read_text())["validation"]
    assert meta["fraction"] == 0.2 and meta["selection"] == "prediction"
    assert meta["epochs"][0] == 1 and len(meta["scores"]) == len(meta["epochs"])
    assert meta["best_epoch"] == meta["epochs"][int(np.argmin(meta["scores"]))]
    code, _, err = run_cli(["train", "lorenz", "--n-steps", "3000", "--epochs", "1", "--patience", "2", "--out",
                            str(out), "-q"], capsys)
    assert code != 0 and any("--validation" in line for line in err)


def test_run_selection_on_a_validation_part():
    """spec["select"] = f holds out the last f of the training part (not trained on) as the selection's reference;
    True keeps the training series as the reference; inputs fall back to it."""
    from fastrnn.experiments import Selection
    from fastrnn.experiments.run import validation_part

    x = np.arange(1000.0).reshape(500, 2)
    fit_part, s, ref = validation_part({"select": 0.2, "seq_len": 10}, x, None)
    np.testing.assert_array_equal(fit_part, x[:400])
    np.testing.assert_array_equal(ref, x[400:])
    assert s is None
    assert validation_part({"select": True, "seq_len": 10}, x, None)[2] is None
    assert validation_part({"select": 0.2, "seq_len": 10}, x, np.ones((500, 1)))[2] is None
    sel = Selection("/nonexistent/never-written.npz", X[:3000], None, 1500, 200, n_starts=4, reference=VAL)
    assert sel.length == 1700 and sel.transient == 200            # max(n_ref, len(reference)) + transient
    assert all(ref is VAL for _, _, ref in sel.runs)
    assert [x0.tolist() for x0, _, _ in sel.runs] == [X[i].tolist() for i in (0, 999, 1999, 2999)]
    model = fr.PLRNN(6, 3, rng=1)
    fr.fit(model, TRAIN, n_epochs=3, **KW)
    from fastrnn.experiments import selection_score
    expected = max(selection_score(model, X[i], 1700, None, VAL, 200) for i in (0, 999, 1999, 2999))
    assert sel.score(model) == expected


@pytest.mark.parametrize("kind", ["PLRNN", "TanhRNN", "LSTM", "GRU", "ShPLRNN"])
def test_forward_only_loss_is_the_loss_of_loss_and_grad(kind):
    from fastrnn.training import loss

    model = getattr(fr, kind)(5, 3, rng=2)
    W = np.stack([VAL[s:s + 31] for s in range(0, 300, 31)])
    a = forcing.interval(30, 7)
    a[3:5] = 0.4
    assert loss(model, W, a) == fr.loss_and_grad(model, W, a)[0]
