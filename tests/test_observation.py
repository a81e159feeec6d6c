"""The observation pipeline (fastrnn.observation): columns -> preprocessing -> z-score -> delay embedding, fitted once
on training data and applied unchanged to new data; `fastrnn train --embed` records it and `fastrnn evaluate` applies
it."""
import json

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import systems
from fastrnn.experiments import evaluate_model
from fastrnn.observation import Observation, parse_embed
from fastrnn.preprocessing import detrend
from fastrnn.timeseries import estimate_delay, estimate_dimension

from conftest import run_cli as run


@pytest.fixture(scope="module")
def lorenz_x():
    return systems.lorenz(4000, dt=0.01, rng=0)


def test_embedding_columns_are_the_delayed_series(lorenz_x):
    x = lorenz_x[:, 0]
    obs = Observation(embed="4,7", standardize=False).fit(x)
    y = obs.apply(x)
    assert obs.window == 21 and y.shape == (4000 - 21, 4) and obs.n_obs() == 4
    for k in range(4):
        np.testing.assert_array_equal(y[:, k], x[k * 7: k * 7 + y.shape[0]])
    # two columns, the second chosen first: block k holds both chosen columns at t + k lag, z-scored
    obs = Observation(columns=[2, 0], embed=(2, 3)).fit(lorenz_x)
    y = obs.apply(lorenz_x)
    z = (lorenz_x[:, [2, 0]] - lorenz_x[:, [2, 0]].mean(axis=0)) / lorenz_x[:, [2, 0]].std(axis=0)
    np.testing.assert_allclose(y[:, :2], z[:-3], atol=1e-12)
    np.testing.assert_allclose(y[:, 2:], z[3:], atol=1e-12)
    # no embedding: the z-scored columns themselves
    y = Observation().fit_apply(lorenz_x)
    np.testing.assert_allclose(y, (lorenz_x - lorenz_x.mean(0)) / lorenz_x.std(0))


@pytest.mark.filterwarnings("ignore::fastrnn.preprocessing.PreprocessingWarning")  # Lorenz has no cycle of 50
def test_round_trip_through_json_gives_identical_output(lorenz_x):
    x = lorenz_x[:, :1] * 3.0 + 0.002 * np.arange(4000)[:, None]
    obs = Observation(steps=[{"op": "detrend", "method": "polynomial", "order": 2},
                             {"op": "remove_cycle", "period": 50}], embed="3,5").fit(x[:3000])
    again = Observation.from_dict(json.loads(json.dumps(obs.to_dict())))
    np.testing.assert_array_equal(again.apply(x[3000:]), obs.apply(x[3000:]))
    np.testing.assert_array_equal(again.apply(x[:3000]), obs.apply(x[:3000]))
    assert again.to_dict() == obs.to_dict() and repr(again) == repr(obs)


def test_new_data_get_the_training_statistics(lorenz_x):
    x = lorenz_x[:, 0]
    obs = Observation(embed="2,4").fit(x[:3000])
    m, s = float(obs.mean[0]), float(obs.std[0])
    assert m == pytest.approx(x[:3000].mean()) and s == pytest.approx(x[:3000].std())
    new = 2.5 * x[3000:] + 7.0                               # a shifted and scaled file: no refitting
    y = obs.apply(new)
    z = (new - m) / s
    np.testing.assert_allclose(y, np.column_stack([z[:-4], z[4:]]), atol=1e-12)
    # with a detrend step the shift is removed per series, the scale stays the training one
    obs = Observation(steps=[{"op": "detrend", "method": "linear"}], embed="2,4").fit(x[:3000])
    y = obs.apply(new)
    z = detrend(new, "linear") / obs.std[0]
    np.testing.assert_allclose(y, np.column_stack([z[:-4], z[4:]]), atol=1e-10)


def test_auto_resolves_to_the_estimates_and_is_recorded(lorenz_x):
    x = lorenz_x[:, 0]
    obs = Observation(embed="auto").fit(x)
    z = (x - x.mean()) / x.std()
    lag = estimate_delay(z)
    assert obs.lag == lag and obs.dim == estimate_dimension(z, lag)
    d = obs.to_dict()
    assert d["embed"] == {"dim": "auto", "lag": "auto"} and (d["dim"], d["lag"]) == (obs.dim, obs.lag)
    assert isinstance(d["dim"], int) and isinstance(d["lag"], int) and d["dim"] >= 1
    half = Observation(embed="auto,5").fit(x)
    assert half.lag == 5 and half.dim == estimate_dimension(z, 5)


def test_segments_are_embedded_on_their_own(lorenz_x):
    x = lorenz_x[:, 0]
    segs = [x[:1000], x[1500:2200]]
    obs = Observation(embed="3,10").fit(segs)
    np.testing.assert_allclose(obs.mean, np.concatenate(segs).mean())
    out = obs.apply(segs)
    assert [len(v) for v in out] == [980, 680]
    z = (segs[1] - obs.mean[0]) / obs.std[0]
    np.testing.assert_allclose(out[1][:, 2], z[20:], atol=1e-12)       # never across the gap
    s = [np.ones((1000, 1)), 2 * np.ones((700, 1))]
    assert [v.shape for v in obs.align_inputs(s)] == [(980, 1), (680, 1)]


@pytest.mark.parametrize("kwargs, msg", [
    ({"embed": "0,5"}, "dim must be >= 1, got 0"),
    ({"embed": "3,0"}, "lag must be >= 1, got 0"),
    ({"embed": "3"}, "use 'none', 'auto' or 'M,LAG'"),
    ({"embed": "three,5"}, "is not an integer"),
    ({"steps": [{"op": "smooth"}]}, "is not a preprocessing step"),
    ({"steps": [{"op": "detrend", "methd": "linear"}]}, "unknown option(s) ['methd']"),
    ({"columns": [0, 0]}, "name a column twice"),
])
def test_bad_options_say_what_to_fix(kwargs, msg):
    with pytest.raises(ValueError, match=None) as info:
        Observation(**kwargs)
    assert msg in str(info.value)


def test_bad_data_say_what_to_fix(lorenz_x):
    with pytest.raises(ValueError, match="too short for the delay embedding with dim=5 and lag=30"):
        Observation(embed="5,30").fit(lorenz_x[:100, 0])
    with pytest.raises(ValueError, match=r"column\(s\) \[3\] out of range: the data have 3 column"):
        Observation(columns=3).fit(lorenz_x)
    obs = Observation(embed="2,2").fit(lorenz_x)
    with pytest.raises(ValueError, match="pipeline was fitted on data with 3"):
        obs.apply(lorenz_x[:, :2])
    with pytest.raises(ValueError, match="not fitted; call fit"):
        Observation().apply(lorenz_x)
    with pytest.raises(ValueError, match="unknown keys"):
        Observation.from_dict({**obs.to_dict(), "scale": 2})
    bad = lorenz_x.copy()
    bad[10, 0] = np.nan
    with pytest.raises(ValueError, match="finite segments"):
        obs.apply(bad)
    assert parse_embed("none") is None and parse_embed("auto") == {"dim": "auto", "lag": "auto"}


def test_train_and_evaluate_a_scalar_series_with_embedding(tmp_path, capsys, lorenz_x):
    x = lorenz_x[:3000, 0] + 0.001 * np.arange(3000)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="x", comments="")
    common = ["--n-latent", "6", "--seq-len", "40", "--batch-size", "4", "--batches-per-epoch", "3", "--epochs", "2",
              "--tau", "10", "--dt", "0.01", "--quiet"]
    code, _, err = run(["train", str(tmp_path / "x.csv"), "--embed", "3,5", "--detrend", "linear", "--out",
                        str(tmp_path / "m.npz")] + common, capsys)
    assert code == 0 and err == []
    meta = json.loads((tmp_path / "m.json").read_text())
    rec = meta["observation"]
    assert rec["steps"] == [{"op": "detrend", "method": "linear"}] and (rec["dim"], rec["lag"]) == (3, 5)
    assert rec["std"] == pytest.approx([detrend(x, "linear").std()]) and fr.load(tmp_path / "m.npz").n_obs == 3
    # evaluate applies exactly the recorded pipeline to a new (shifted, scaled) file, with the training statistics
    new = 3.0 * lorenz_x[3000:, 0] - 4.0
    np.savetxt(tmp_path / "new.csv", new, delimiter=",")
    code, out, err = run(["evaluate", str(tmp_path / "m.npz"), str(tmp_path / "new.csv"), "--starts", "2",
                          "--transient", "50", "--lyapunov-steps", "200", "--quiet"], capsys)
    assert code == 0 and err == []
    z = detrend(new, "linear") / rec["std"][0]
    expected = evaluate_model(fr.load(tmp_path / "m.npz"), np.column_stack([z[:-10], z[5:-5], z[10:]]), dt=0.01,
                              transient=50, lyapunov_steps=200, rng=0, n_starts=2)
    res = json.loads(out)
    assert res["D_stsp_starts"] == expected["D_stsp_starts"] and res["lambda_1"] == expected["lambda_1"]
    # bad pipelines are one-line errors that say what to fix
    for extra, msg in ((["--embed", "0,5"], "dim must be >= 1"), (["--embed", "3,2000"], "too short for the delay"),
                       (["--column", "2"], "out of range: the data have 1 column")):
        code, _, err = run(["train", str(tmp_path / "x.csv"), "--out", str(tmp_path / "b.npz")] + common + extra,
                           capsys)
        assert code == 1 and len(err) == 1 and msg in err[0], (extra, err)
    code, _, err = run(["evaluate", str(tmp_path / "m.npz"), "lorenz", "--quiet"], capsys)
    assert code == 1 and "the data have 3 columns but the model observes 3 (trained on data with 1, observed" in err[0]
