"""Models: free running and Jacobians against naive.py, save/load round trip, parameters, initialisation."""
import numpy as np
import pytest

import fastrnn as fr

import naive
from conftest import make_model


@pytest.mark.parametrize("K", [0, 2])
def test_generate_matches_loop_reference(kind, K):
    model = make_model(kind, 6, 3, K, seed=1, scale=0.7)
    rng = np.random.default_rng(2)
    x0 = rng.normal(size=3)
    S = rng.normal(size=(50, K)) if K else None
    X, Z = model.generate(50, x0=x0, inputs=S)
    z0 = np.linalg.pinv(model.params["B"]) @ x0
    Xr, Zr = naive.generate(model, 50, z0, S)
    np.testing.assert_allclose(Z, Zr, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(X, Xr, rtol=1e-12, atol=1e-13)
    assert X.shape == (50, 3) and Z.shape == (50, 6)


@pytest.mark.parametrize("K", [0, 2])
def test_jacobians_match_reference_and_finite_differences(kind, K):
    model = make_model(kind, 5, 2, K, seed=3, scale=0.8)
    rng = np.random.default_rng(4)
    D = model.state_dim
    z0 = rng.normal(size=D)
    S = rng.normal(size=(20, K)) if K else None
    J, Zs = model.jacobians(z0, 20, inputs=S)
    Jr, Zr = naive.jacobians(model, z0, 20, S)
    np.testing.assert_allclose(Zs, Zr, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(J, Jr, rtol=1e-12, atol=1e-13)
    # finite differences of the model's own free step at state 7
    p = naive.params64(model)
    step = naive.STEPS[kind][0]
    s = None if S is None else S[7]
    eps = 1e-6
    fd = np.stack([(step(p, Zs[7] + eps * e, s) - step(p, Zs[7] - eps * e, s)) / (2 * eps) for e in np.eye(D)], 1)
    np.testing.assert_allclose(J[7], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [0, 3])
def test_save_load_round_trip_is_exact(tmp_path, kind, dtype, K):
    model = make_model(kind, 7, 4, K, dtype=dtype, seed=5)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = fr.load(path)
    assert type(loaded) is type(model) and loaded.dtype == np.dtype(dtype)
    assert (loaded.n_latent, loaded.n_obs, loaded.n_inputs) == (7, 4, K)
    assert loaded.param_names == model.param_names
    for name, v in model.params.items():
        assert loaded.params[name].dtype == v.dtype
        np.testing.assert_array_equal(loaded.params[name], v)
    # no pickle inside: the file loads with allow_pickle=False and holds only plain arrays
    with np.load(path, allow_pickle=False) as f:
        assert str(f["__kind__"]) == kind
        assert all(f[k].dtype != object for k in f.files)


def test_load_rejects_foreign_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastrnn model file"):
        fr.load(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", __kind__=np.array("Transformer"), __dtype__=np.array("float64"),
             __shape__=np.array([2, 2, 0]))
    with pytest.raises(ValueError, match="unknown model kind"):
        fr.load(tmp_path / "y.npz")


def test_params_are_live_and_copy_is_deep(kind):
    model = make_model(kind, 4, 2, 0, seed=6)
    z0 = np.full(model.state_dim, 0.5)
    X0, _ = model.generate(10, z0=z0)
    twin = model.copy()
    bias = "h" if "h" in model.params else "b"
    model.params[bias][...] += 0.5          # writes through to the model
    X1, _ = model.generate(10, z0=z0)
    X2, _ = twin.generate(10, z0=z0)
    assert not np.allclose(X0, X1)
    np.testing.assert_array_equal(X0, X2)
    with pytest.raises(KeyError, match="has no parameter"):
        model.set_params(Q=np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        model.set_params(**{bias: np.zeros(3)})


def test_seeded_init_is_reproducible_and_starts_stable(kind):
    a = getattr(fr, kind)(32, 3, rng=123)
    b = getattr(fr, kind)(32, 3, rng=123)
    c = getattr(fr, kind)(32, 3, rng=124)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["B"], c.params["B"])
    X, Z = a.generate(2000, z0=np.random.default_rng(0).normal(size=a.state_dim) * 3)
    assert np.all(np.isfinite(Z)) and np.abs(Z[-100:]).max() < 10.0
    if kind == "PLRNN":
        assert np.all(np.diag(a.params["W"]) == 0.0)
        lin = np.diag(a.params["A"]) + a.params["W"]
        assert np.max(np.abs(np.linalg.eigvals(lin))) <= 0.95 + 1e-12


def test_generate_validation(kind):
    model = getattr(fr, kind)(4, 2, 1, rng=0)
    with pytest.raises(ValueError, match="n_inputs=1"):
        model.generate(5, x0=np.zeros(2))
    with pytest.raises(ValueError, match=r"inputs must have shape \(5, 1\)"):
        model.generate(5, x0=np.zeros(2), inputs=np.zeros((4, 1)))
    with pytest.raises(ValueError, match="not both"):
        model.generate(5, x0=np.zeros(2), z0=np.zeros(model.state_dim), inputs=np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"x0 must have shape \(2,\)"):
        model.generate(5, x0=np.zeros(3), inputs=np.zeros((5, 1)))
    with pytest.raises(ValueError, match="n_steps"):
        model.generate(0, x0=np.zeros(2), inputs=np.zeros((5, 1)))
    with pytest.raises(TypeError, match="float32 or np.float64"):
        getattr(fr, kind)(4, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="n_latent"):
        getattr(fr, kind)(0, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_generate_stops_at_a_diverging_orbit(dtype):
    import warnings

    model = fr.PLRNN(4, 2, dtype=dtype, rng=0)
    model.params["A"][:] = 1.5                               # |z| grows 1.5x per step: overflows float32 by ~220
    model.params["W"][:] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # no overflow warnings either
        with pytest.raises(fr.OrbitDivergedError, match=r"diverged: the state after \d+ steps") as info:
            model.generate(2000, z0=np.ones(4))
        step = info.value.step
        assert 0 < step < 2000 and 1.5 ** step > 1e8 >= 1.5 ** (step - 1)     # the first state beyond max_norm
        X, Z = model.generate(2000, z0=np.ones(4), on_divergence="truncate")
        assert len(X) == len(Z) == step and np.all(np.isfinite(X)) and np.abs(Z).max() <= 1e8
        X, _ = model.generate(30, z0=np.ones(4), on_divergence="truncate")    # a bounded stretch is left whole
        assert len(X) == 30
        with pytest.raises(fr.OrbitDivergedError, match="not finite"):
            model.generate(2000, z0=np.ones(4), max_norm=np.inf)              # then it runs into inf itself
    with pytest.raises(ValueError, match="on_divergence"):
        model.generate(10, on_divergence="ignore")


def test_evaluation_counts_a_diverging_free_run_as_diverged():
    from fastrnn.experiments import evaluate_model

    model = fr.PLRNN(4, 3, rng=0)
    model.params["A"][:] = 1.5
    model.params["W"][:] = 0.0
    x = fr.systems.lorenz(3000, rng=0, standardize=True)
    res = evaluate_model(model, x, transient=10, lyapunov_steps=0, n_starts=3)
    assert res["generation_diverged"] and res["n_diverged"] == 3 and res["D_stsp_starts"] == [None] * 3
