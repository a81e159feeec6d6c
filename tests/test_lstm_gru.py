"""LSTM and GRU: free runs, Jacobians, forcing of the LSTM's (h, c), initialisation, save/load, PyTorch cross-check.

The gradient checks (finite differences over every alpha pattern, inputs, ridge, control_grad and unit mask; the
kernel against the loop reference at M=40, T=300; float32 against float64) run for these models through the
parametrised tests of test_gradients.py.
"""
import math

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import config, forcing
from fastrnn.kernels import host

import naive
from conftest import make_model

GATED = ["LSTM", "GRU"]
N_BLOCKS = {"LSTM": 4, "GRU": 3}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("K", [0, 2])
def test_shapes_state_dim_and_initialisation(kind, K):
    M, N = 6, 3
    model = getattr(fr, kind)(M, N, K, rng=0)
    nb = N_BLOCKS[kind]
    expect = {"W": (nb * M, M), "b": (nb * M,), "B": (N, M)}
    if K:
        expect["U"] = (nb * M, K)
    assert {k: v.shape for k, v in model.params.items()} == expect
    assert model.param_names == (("W", "U", "b", "B") if K else ("W", "b", "B"))
    assert model.state_dim == (2 * M if kind == "LSTM" else M)
    # forget gate (LSTM, block 1) / update gate (GRU, block 1) bias 1, the other biases 0
    b = model.params["b"].reshape(nb, M)
    np.testing.assert_array_equal(b[1], 1.0)
    np.testing.assert_array_equal(np.delete(b, 1, axis=0), 0.0)
    # the tanh candidate block (g / n, block 2) has spectral radius 0.9
    Wc = model.params["W"][2 * M:3 * M]
    assert np.max(np.abs(np.linalg.eigvals(Wc))) == pytest.approx(0.9, rel=1e-12)
    again = getattr(fr, kind)(M, N, K, rng=0)
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], again.params[k])


def test_lstm_free_run_respects_its_bound():
    """|h| < 1 always; |c_t| <= max(|c_0|, 1 / (1 - f_max)) with f_max the largest possible forget gate."""
    M = 16
    model = fr.LSTM(M, 3, rng=1)
    model.params["W"][...] *= 3.0            # strong recurrence: the bound must hold for any parameters
    z0 = np.concatenate([np.random.default_rng(2).uniform(-1, 1, M), np.full(M, 5.0)])
    _, H = model.generate(3000, z0=z0)
    states = model.run(z0, 2999)
    C = states[:, M:]
    np.testing.assert_array_equal(H, states[:, :M])
    assert np.all(np.abs(H[1:]) < 1.0)
    Wf, bf = model.params["W"][M:2 * M], model.params["b"][M:2 * M]
    f_max = sigmoid(np.max(np.abs(bf) + np.abs(Wf).sum(axis=1)))
    assert np.all(np.abs(C) <= max(5.0, 1.0 / (1.0 - f_max)) + 1e-12)
    # the default initialisation is well inside: the cell state stays of order one (measured max |c| = 0.29)
    init = fr.LSTM(M, 3, rng=3)
    z0 = init.initial_state(x0=np.ones(3))
    np.testing.assert_array_equal(z0[M:], 0.0)
    C0 = init.run(z0, 2999)[:, M:]
    assert np.abs(C0).max() < 1.0


def test_gru_free_run_is_a_convex_combination():
    M = 16
    model = fr.GRU(M, 3, rng=1)
    model.params["W"][...] *= 3.0
    z0 = np.random.default_rng(2).uniform(-4, 4, M)
    _, Z = model.generate(3000, z0=z0)
    assert np.all(np.abs(Z) <= np.maximum(np.abs(z0), 1.0)[None, :] + 1e-12)


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("K", [0, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_generate_matches_loop_reference(kind, K, dtype):
    M, N, n = 7, 3, 80
    model = make_model(kind, M, N, K, dtype=dtype, seed=1, scale=0.8)
    rng = np.random.default_rng(2)
    x0 = rng.normal(size=N)
    S = rng.normal(size=(n, K)) if K else None
    X, Z = model.generate(n, x0=x0, inputs=S)
    assert X.shape == (n, N) and Z.shape == (n, M) and X.dtype == dtype
    z0 = np.linalg.pinv(model.params["B"].astype(np.float64)) @ x0       # LSTM: h_0 = z0, c_0 = 0
    Xr, Zr = naive.generate(model, n, z0, S)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(Z, Zr, rtol=tol, atol=tol)
    np.testing.assert_allclose(X, Xr, rtol=tol, atol=tol)
    # z0 is the full state (h, c) for the LSTM
    full = rng.normal(size=model.state_dim)
    _, Z2 = model.generate(n, z0=full, inputs=S)
    _, Z2r = naive.generate(model, n, full, S)
    np.testing.assert_allclose(Z2, Z2r, rtol=tol, atol=tol)


def test_lstm_z0_must_be_the_full_state():
    model = fr.LSTM(4, 2, rng=0)
    with pytest.raises(ValueError, match=r"z0 must have shape \(8,\)"):
        model.generate(5, z0=np.zeros(4))


def _kernel_step(model, z, s):
    """One step of the model through its Numba step (the single definition every path uses)."""
    return model.step(z, s)


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("K", [0, 2])
def test_jacobians_match_finite_differences_and_reference(kind, K):
    M, n = 5, 30
    model = make_model(kind, M, 2, K, seed=3, scale=1.2)
    D = model.state_dim
    rng = np.random.default_rng(4)
    z0 = rng.normal(size=D)
    S = rng.normal(size=(n, K)) if K else None
    J, Zs = model.jacobians(z0, n, inputs=S)
    assert J.shape == (n, D, D) and Zs.shape == (n + 1, D)
    Jr, Zr = naive.jacobians(model, z0, n, S)
    np.testing.assert_allclose(Zs, Zr, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(J, Jr, rtol=1e-11, atol=1e-13)
    eps = 1e-6
    for k in (0, 7, n - 1):
        s = None if S is None else S[k]
        fd = np.stack([(_kernel_step(model, Zs[k] + eps * e, s) - _kernel_step(model, Zs[k] - eps * e, s)) / (2 * eps)
                       for e in np.eye(D)], axis=1)
        np.testing.assert_allclose(J[k], fd, rtol=1e-6, atol=1e-8)
    # the float32 kernels give the same Jacobians to float32 precision
    J32, _ = model.astype(np.float32).jacobians(z0, n, inputs=S)
    np.testing.assert_allclose(J32, J, rtol=1e-3, atol=1e-5)


def test_lstm_jacobian_known_structure():
    """With W = 0 the gates are constants: J = [[0, diag(o tanh'(c') f)], [0, diag(f)]]."""
    M = 4
    model = fr.LSTM(M, 2, rng=0)
    model.params["W"][...] = 0.0
    b = np.random.default_rng(1).normal(size=4 * M)
    model.params["b"][...] = b
    z = np.random.default_rng(2).normal(size=2 * M)
    J, Z = model.jacobians(z, 1)
    i, f, g, o = sigmoid(b[:M]), sigmoid(b[M:2 * M]), np.tanh(b[2 * M:3 * M]), sigmoid(b[3 * M:])
    c1 = f * z[M:] + i * g
    np.testing.assert_allclose(Z[1], np.concatenate([o * np.tanh(c1), c1]), rtol=1e-14)
    expect = np.zeros((2 * M, 2 * M))
    expect[:M, M:] = np.diag(o * (1 - np.tanh(c1) ** 2) * f)
    expect[M:, M:] = np.diag(f)
    np.testing.assert_allclose(J[0], expect, rtol=1e-14, atol=1e-16)


def test_lstm_teacher_forcing_resets_the_cell_state():
    """tau = 1 on all units: every step starts from h = z~_{t-1}, c = 0, so the loss is a sum of one-step errors."""
    M, N, T = 6, 3, 25
    model = make_model("LSTM", M, N, 0, seed=5)
    X = np.random.default_rng(6).normal(size=(2, T + 1, N))
    loss, _ = fr.loss_and_grad(model, X, forcing.interval(T, 1))
    p = naive.params64(model)
    B = p["B"]
    Zt = X @ np.linalg.pinv(B).T
    expect = 0.0
    for b in range(2):
        for t in range(1, T + 1):
            h = naive.lstm_step(p, np.concatenate([Zt[b, t - 1], np.zeros(M)]), None)[:M]
            expect += np.sum((X[b, t] - B @ h) ** 2)
    assert loss == pytest.approx(expect / (2 * T * N), rel=1e-13)


def test_lstm_forcing_shrinks_masked_cell_units_only():
    """alpha = 1 on masked units resets their (h, c) to (z~, 0); unmasked units run freely, c included."""
    M, N, T = 4, 3, 10
    model = make_model("LSTM", M, N, 0, seed=7)
    X = np.random.default_rng(8).normal(size=(1, T + 1, N))
    mask = np.array([True, False, True, False])
    a = forcing.interval(T, 1)
    loss, _ = fr.loss_and_grad(model, X, a, unit_mask=mask)
    p = naive.params64(model)
    B = p["B"]
    Zt = X[0] @ np.linalg.pinv(B).T
    h, c = Zt[0].copy(), np.zeros(M)
    total = 0.0
    for t in range(1, T + 1):
        hc = naive.lstm_step(p, np.concatenate([h, c]), None)
        h, c = hc[:M], hc[M:]
        total += np.sum((X[0, t] - B @ h) ** 2)
        h = np.where(mask, Zt[t], h)
        c = np.where(mask, 0.0, c)
    assert loss == pytest.approx(total / (T * N), rel=1e-13)


@pytest.mark.parametrize("kind", GATED)
def test_kernel_matches_loop_reference_per_window_alpha_and_mask(kind):
    """Kernel vs loop reference at M=40, T=300, batch 8 with fractional per-window alpha, a unit mask and inputs."""
    M, N, K, T, nb = 40, 3, 2, 300, 8
    model = make_model(kind, M, N, K, seed=9, scale=0.9)
    rng = np.random.default_rng(10)
    X = rng.normal(size=(nb, T + 1, N))
    S = rng.normal(size=(nb, T + 1, K))
    alpha = np.where(rng.uniform(size=(nb, T + 1)) < 0.1, rng.uniform(size=(nb, T + 1)), 0.0)
    mask = rng.uniform(size=M) < 0.5
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S, ridge=0.05, unit_mask=mask)
    ref_loss, ref = naive.loss_and_grad(model, X, alpha, S, 0.05, unit_mask=mask)
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    for name in ref:
        err = np.linalg.norm(grads[name] - ref[name]) / np.linalg.norm(ref[name])
        assert err < 1e-10, (name, err)


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_per_gate_products_match_the_single_product(monkeypatch, kind, dtype):
    """Large M forms the step products one gate block at a time (``host.gate_blocks``) and the W gradient on BLAS's
    threads; forced on a small model, that path gives the loss and gradients of the single-product path (1e-12 in
    float64) and of the loop reference."""
    M, N, K, T, nb = 12, 3, 2, 80, 5
    model = make_model(kind, M, N, K, seed=4, scale=0.9).astype(dtype)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(nb, T + 1, N))
    S = rng.normal(size=(nb, T + 1, K))
    alpha = np.where(rng.uniform(size=(nb, T + 1)) < 0.15, rng.uniform(size=(nb, T + 1)), 0.0)
    mask = rng.uniform(size=M) < 0.6
    loss1, g1 = fr.loss_and_grad(model, X, alpha, inputs=S, unit_mask=mask)
    assert host.gate_blocks(M, 4) == 1
    monkeypatch.setattr(host, "gate_blocks", lambda M_, n_gates: n_gates)
    # and the W gradient on BLAS's threads, as for large products on idle cores
    monkeypatch.setattr(config, "THREADED_GEMM_MIN", 0)
    monkeypatch.setattr(host, "idle_cores", lambda: 2)
    loss2, g2 = fr.loss_and_grad(model, X, alpha, inputs=S, unit_mask=mask)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert loss2 == pytest.approx(loss1, rel=tol)
    for name in g1:
        err = np.linalg.norm(g2[name] - g1[name]) / np.linalg.norm(g1[name])
        assert err < tol, (name, err)
    if dtype == np.float64:
        ref_loss, ref = naive.loss_and_grad(model, X, alpha, S, 0.0, unit_mask=mask)
        assert loss2 == pytest.approx(ref_loss, rel=1e-10)
        for name in ref:
            assert np.linalg.norm(g2[name] - ref[name]) / np.linalg.norm(ref[name]) < 1e-10, name


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [0, 3])
def test_save_load_round_trip_is_exact(tmp_path, kind, dtype, K):
    model = make_model(kind, 5, 4, K, dtype=dtype, seed=11)
    path = tmp_path / f"{kind}.npz"
    model.save(path)
    loaded = fr.load(path)
    assert type(loaded) is type(model) and loaded.dtype == np.dtype(dtype)
    assert (loaded.n_latent, loaded.n_obs, loaded.n_inputs, loaded.state_dim) == (5, 4, K, model.state_dim)
    assert loaded.param_names == model.param_names
    for name, v in model.params.items():
        assert loaded.params[name].dtype == v.dtype
        np.testing.assert_array_equal(loaded.params[name], v)
    rng = np.random.default_rng(12)
    S = rng.normal(size=(40, K)) if K else None
    x0 = rng.normal(size=4)
    np.testing.assert_array_equal(loaded.generate(40, x0=x0, inputs=S)[0], model.generate(40, x0=x0, inputs=S)[0])
    X = rng.normal(size=(2, 11, 4))
    Sw = rng.normal(size=(2, 11, K)) if K else None
    l0, g0 = fr.loss_and_grad(model, X, forcing.interval(10, 3), inputs=Sw)
    l1, g1 = fr.loss_and_grad(loaded, X, forcing.interval(10, 3), inputs=Sw)
    assert l0 == l1
    for name in g0:
        np.testing.assert_array_equal(g0[name], g1[name])


# ---------------------------------------------------------------- independent check against PyTorch's own cells
def _torch_cell(torch, model):
    """A torch.nn LSTMCell / GRUCell carrying the model's parameters (float64).

    PyTorch: LSTM gates W_ih s + b_ih + W_hh h + b_hh (order i, f, g, o); GRU n = tanh(W_in s + b_in + r (W_hn h +
    b_hn)). fastrnn's b enters outside r, so it maps to b_ih with b_hh = 0; U maps to W_ih.
    """
    M, K = model.n_latent, model.n_inputs
    p = naive.params64(model)
    Kin = max(K, 1)
    cell = (torch.nn.LSTMCell if model.kind == "LSTM" else torch.nn.GRUCell)(Kin, M).double()
    with torch.no_grad():
        cell.weight_hh.copy_(torch.from_numpy(p["W"]))
        cell.weight_ih.copy_(torch.from_numpy(p["U"]) if K else torch.zeros_like(cell.weight_ih))
        cell.bias_ih.copy_(torch.from_numpy(p["b"]))
        cell.bias_hh.zero_()
    return cell


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("K", [0, 2])
def test_loss_and_grad_match_pytorch_autograd(kind, K):
    """Sparsely forced loss and every gradient (ridge control, gradient through P into B) against torch autograd."""
    torch = pytest.importorskip("torch")
    M, N, T, nb, ridge = 6, 3, 40, 3, 0.2
    model = make_model(kind, M, N, K, seed=13, scale=0.9)
    rng = np.random.default_rng(14)
    X = rng.normal(size=(nb, T + 1, N))
    S = rng.normal(size=(nb, T + 1, K)) if K else np.zeros((nb, T + 1, 1))
    alpha = np.stack([forcing.interval(T, tau) for tau in (4, 9, 50)])
    alpha[1, 5:12] = 0.5
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S if K else None, ridge=ridge)

    cell = _torch_cell(torch, model)
    B = torch.tensor(naive.params64(model)["B"], requires_grad=True)
    Xt, St, At = (torch.from_numpy(a) for a in (X, S, alpha))
    P = torch.linalg.solve(B.T @ B + ridge * torch.eye(M, dtype=torch.float64), B.T)
    Zt = Xt @ P.T
    h = Zt[:, 0]
    c = torch.zeros_like(h)
    total = 0.0
    for t in range(1, T + 1):
        if kind == "LSTM":
            h, c = cell(St[:, t], (h, c))
        else:
            h = cell(St[:, t], h)
        total = total + ((Xt[:, t] - h @ B.T) ** 2).sum()
        w = At[:, t:t + 1]
        h = (1 - w) * h + w * Zt[:, t]
        c = (1 - w) * c
    ref_loss = total / (nb * T * N)
    ref_loss.backward()
    assert loss == pytest.approx(ref_loss.item(), rel=1e-12)
    ref = {"W": cell.weight_hh.grad, "b": cell.bias_ih.grad, "B": B.grad}
    if K:
        ref["U"] = cell.weight_ih.grad
    assert set(ref) == set(grads)
    for name, g in ref.items():
        np.testing.assert_allclose(grads[name], g.numpy(), rtol=1e-10, atol=1e-13, err_msg=f"{kind} d{name}")


@pytest.mark.parametrize("kind", GATED)
def test_free_run_matches_pytorch_cell(kind):
    torch = pytest.importorskip("torch")
    M, K, n = 8, 2, 60
    model = make_model(kind, M, 3, K, seed=15, scale=1.0)
    S = np.random.default_rng(16).normal(size=(n, K))
    z0 = np.random.default_rng(17).normal(size=model.state_dim)
    _, Z = model.generate(n, z0=z0, inputs=S)
    cell = _torch_cell(torch, model)
    h = torch.from_numpy(z0[:M])[None]
    c = torch.from_numpy(z0[M:])[None] if kind == "LSTM" else None
    out = [h[0].numpy().copy()]
    with torch.no_grad():
        for t in range(1, n):
            s = torch.from_numpy(S[t])[None]
            if kind == "LSTM":
                h, c = cell(s, (h, c))
            else:
                h = cell(s, h)
            out.append(h[0].numpy().copy())
    np.testing.assert_allclose(Z, np.array(out), rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("kind", GATED)
def test_fit_learns_an_oscillation_in_float32(kind):
    """150 Adam steps on a noiseless circle cut the sparsely forced loss more than tenfold (measured: 50-5000x)."""
    t = np.arange(1500)
    data = np.stack([np.sin(0.3 * t), np.cos(0.3 * t)], axis=1)
    model = getattr(fr, kind)(12, 2, dtype=np.float32, rng=0)
    hist = fr.fit(model, data, tau=10, seq_len=30, batch_size=8, batches_per_epoch=10, n_epochs=15, lr=1e-2,
                  progress=False, rng=1)
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert all(math.isfinite(v) for v in hist.loss)
    assert hist.loss[-1] < 0.1 * hist.loss[0], hist.loss
