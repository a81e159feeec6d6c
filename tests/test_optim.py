"""Adam against the published update rule (Kingma & Ba 2015, Algorithm 1), worked by hand."""
import numpy as np
import pytest

from fastrnn import Adam


def test_adam_two_steps_by_hand():
    p = np.array([1.0, -2.0])
    opt = Adam({"p": p}, lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    # step 1, g = (0.5, -1): m = 0.1 g = (0.05, -0.1); v = 0.001 g^2 = (2.5e-4, 1e-3);
    # m_hat = m / 0.1 = g, v_hat = v / 0.001 = g^2, so p -= 0.1 * sign(g) * |g| / (|g| + 1e-8)
    opt.step({"p": np.array([0.5, -1.0])})
    np.testing.assert_allclose(opt.m["p"], [0.05, -0.1], rtol=1e-14)
    np.testing.assert_allclose(opt.v["p"], [2.5e-4, 1e-3], rtol=1e-14)
    np.testing.assert_allclose(p, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 1.0 / (1.0 + 1e-8)], rtol=1e-15)
    assert p[0] == pytest.approx(0.900000002, abs=1e-12)
    # step 2, g = (0.1, 0.2): m = 0.9 m + 0.1 g = (0.055, -0.07); v = 0.999 v + 0.001 g^2 = (2.5975e-4, 1.039e-3);
    # bias corrections 1 - 0.9^2 = 0.19 and 1 - 0.999^2 = 0.001999
    opt.step({"p": np.array([0.1, 0.2])})
    np.testing.assert_allclose(opt.m["p"], [0.055, -0.07], rtol=1e-14)
    np.testing.assert_allclose(opt.v["p"], [2.5975e-4, 1.039e-3], rtol=1e-14)
    u0 = 0.1 * (0.055 / 0.19) / (np.sqrt(2.5975e-4 / 0.001999) + 1e-8)
    u1 = 0.1 * (-0.07 / 0.19) / (np.sqrt(1.039e-3 / 0.001999) + 1e-8)
    np.testing.assert_allclose(p, [0.900000002 - u0, -1.900000001 - u1], rtol=1e-12)
    np.testing.assert_allclose(p, [0.8196959063846518, -1.8488973939904947], rtol=1e-12)
    assert opt.t == 2


def test_adam_float32_in_place_and_state_roundtrip():
    p = np.ones(3, dtype=np.float32)
    ref = np.ones(3, dtype=np.float32)
    opt = Adam({"p": p}, lr=0.01)
    opt.step({"p": np.array([1.0, -1.0, 0.0], dtype=np.float32)})
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, [0.99, 1.01, 1.0], rtol=1e-6)
    # a fresh optimiser loaded from the state continues identically
    opt2 = Adam({"p": ref}, lr=0.01)
    ref[...] = p
    opt2.load_state_dict(opt.state_dict())
    g = {"p": np.array([0.3, 0.2, -0.5], dtype=np.float32)}
    opt.step(g)
    opt2.step(g)
    np.testing.assert_array_equal(p, ref)


def test_adam_bad_arguments():
    with pytest.raises(ValueError, match="lr"):
        Adam({"p": np.zeros(2)}, lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam({"p": np.zeros(2)}, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="params"):
        Adam([np.zeros(2)])
    with pytest.raises(ValueError, match="grads lacks"):
        Adam({"p": np.zeros(2)}).step({})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_update_equals_the_numpy_form_bit_for_bit(dtype):
    """Contiguous gradients of the parameter's dtype take the fused Numba loop, others the NumPy expressions; the
    two perform the same operations in the same precision and order."""
    rng = np.random.default_rng(0)
    fused = {"W": rng.normal(size=(7, 5)).astype(dtype), "b": rng.normal(size=7).astype(dtype)}
    plain = {k: v.copy() for k, v in fused.items()}
    o1, o2 = Adam(fused, lr=3e-3), Adam(plain, lr=3e-3)
    for _ in range(20):
        g = {k: rng.normal(size=v.shape).astype(dtype) for k, v in fused.items()}
        o1.step(g)
        o2.step({k: np.repeat(v, 2)[::2] if v.ndim == 1 else np.asfortranarray(v)
                 for k, v in g.items()})                     # non-C-contiguous copies: the NumPy path
    for k in fused:
        assert np.array_equal(fused[k], plain[k]) and np.array_equal(o1.m[k], o2.m[k])
        assert np.array_equal(o1.v[k], o2.v[k])


def test_radam_is_momentum_sgd_then_rectified_adam():
    from fastrnn import RAdam

    rng = np.random.default_rng(0)
    grads = rng.normal(size=(12, 3))
    p_r, p_a = np.zeros(3), np.zeros(3)
    ra, ad = RAdam({"p": p_r}, lr=0.01), Adam({"p": p_a}, lr=0.01)
    rho_inf = 2 / (1 - 0.999) - 1                                   # 1999
    for t, g in enumerate(grads, start=1):
        before_r, before_a = p_r.copy(), p_a.copy()
        ra.step({"p": g})
        ad.step({"p": g})
        np.testing.assert_array_equal(ra.m["p"], ad.m["p"])          # the same moment estimates
        rho = rho_inf - 2 * t * 0.999 ** t / (1 - 0.999 ** t)
        if t <= 4:                                                 # rho_1 .. rho_4 <= 4: p -= lr m / (1 - beta1^t)
            assert rho <= 4
            np.testing.assert_allclose(p_r - before_r, -0.01 * ra.m["p"] / (1 - 0.9 ** t), rtol=1e-13)
        else:                                                      # rectified Adam step: r_t times Adam's
            r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            assert 0 < r < 1
            np.testing.assert_allclose(p_r - before_r, r * (p_a - before_a), rtol=1e-12)
    assert ra.t == 12 and set(ra.state_dict()) == {"t", "m.p", "v.p"}
