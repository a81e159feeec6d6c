"""Gradients of sparsely forced BPTT: central finite differences in float64 (through the public
``fastrnn.testing.gradcheck``, every entry, of the loop reference's loss), and the loop reference in naive.py."""
import math

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import forcing
from fastrnn.testing import gradcheck

import naive
from conftest import make_model

M, N, K, T, NB = 4, 3, 2, 12, 3


def alpha_patterns():
    rng = np.random.default_rng(7)
    per_seq = np.stack([forcing.interval(T, tau) for tau in (2, 5, 13)])
    return {
        "none": forcing.none(T),
        "tau1": forcing.interval(T, 1),
        "tau7": forcing.interval(T, 7),
        "fractional": np.concatenate([[1.0], rng.uniform(0, 1, T)]),
        "per_sequence": per_seq,
    }


# the tolerances of every finite-difference check here: |g - fd| <= ATOL + RTOL |fd| for every entry
RTOL, ATOL, EPS = 1e-6, 1e-8, 1e-6


def check_fd(model, X, alpha, S=None, reference=None, **kw):
    """gradcheck of loss_and_grad, every entry of every parameter, against central differences of ``reference``."""
    report = gradcheck(model, X, alpha, S, method="entries", max_entries=10 ** 9, eps=EPS, rtol=RTOL, atol=ATOL,
                       reference=reference, raise_exception=True, **kw)
    assert all(c.n_checked == model.params[c.name].size - model.frozen_entries.get(c.name, np.zeros(0)).sum()
               for c in report.params.values())
    return report


def fd_grad(model, f, eps=EPS):
    """Central differences of f() with respect to every parameter entry (for the loop reference's own gradient)."""
    out = {}
    for name, p in model.params.items():
        g = np.zeros_like(p)
        flat, gflat = p.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            fp = f()
            flat[i] = old - eps
            fm = f()
            flat[i] = old
            gflat[i] = (fp - fm) / (2 * eps)
        out[name] = g
    return out


def check_grads(model, grads, fd):
    for name, g in grads.items():
        expect = fd[name]
        if name == "W" and model.kind == "PLRNN":
            assert np.all(np.diag(g) == 0.0), "the PLRNN's W diagonal is never trained"
            expect = expect.copy()
            np.fill_diagonal(expect, 0.0)
        np.testing.assert_allclose(g, expect, rtol=RTOL, atol=ATOL, err_msg=f"{model.kind} d{name}")


@pytest.mark.parametrize("pattern", list(alpha_patterns()))
@pytest.mark.parametrize("with_inputs", [False, True])
@pytest.mark.parametrize("ridge,control_grad", [(0.0, True), (0.0, False), (0.3, True), (0.3, False)])
def test_gradient_matches_finite_differences(kind, pattern, with_inputs, ridge, control_grad):
    k = K if with_inputs else 0
    model = make_model(kind, M, N, k, seed=1)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(NB, T + 1, N))
    S = rng.normal(size=(NB, T + 1, k)) if with_inputs else None
    alpha = alpha_patterns()[pattern]
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S, ridge=ridge, control_grad=control_grad)
    assert set(grads) == set(model.params)
    if control_grad:
        f = lambda m: naive.loss(m, X, alpha, S, ridge)  # noqa: E731
    else:  # z~ is data: freeze the control signal at the current B
        P = naive.control(model.params["B"], ridge)
        Zt = X @ P.T
        f = lambda m: _loss_frozen_control(m, X, alpha, S, Zt)  # noqa: E731
    assert loss == pytest.approx(naive.loss(model, X, alpha, S, ridge), rel=1e-12)
    check_fd(model, X, alpha, S, reference=f, ridge=ridge, control_grad=control_grad)
    # and against the kernel's own forward loss (P frozen when control_grad is False), gradcheck's default
    check_fd(model, X, alpha, S, ridge=ridge, control_grad=control_grad)


def _loss_frozen_control(model, X, alpha, S, Zt):
    """Loss with a fixed control signal Zt (what control_grad=False differentiates)."""
    return naive.loss(model, X, alpha, S, control_signal=Zt)


@pytest.mark.parametrize("with_inputs", [False, True])
def test_unit_mask_gradient(kind, with_inputs):
    k = K if with_inputs else 0
    model = make_model(kind, M, N, k, seed=3)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(NB, T + 1, N))
    S = rng.normal(size=(NB, T + 1, k)) if with_inputs else None
    mask = np.array([True, False, True, False])
    alpha = forcing.interval(T, 3)
    loss, _ = fr.loss_and_grad(model, X, alpha, inputs=S, unit_mask=mask)
    assert loss == pytest.approx(naive.loss(model, X, alpha, S, unit_mask=mask), rel=1e-12)
    check_fd(model, X, alpha, S, reference=lambda m: naive.loss(m, X, alpha, S, unit_mask=mask), unit_mask=mask)
    # the mask matters: forcing all units gives a different loss
    assert abs(loss - fr.loss_and_grad(model, X, alpha, inputs=S)[0]) > 1e-6


def test_alpha0_is_unused(kind):
    model = make_model(kind, M, N, 0, seed=5)
    X = np.random.default_rng(6).normal(size=(NB, T + 1, N))
    a1 = forcing.interval(T, 4)
    a0 = a1.copy()
    a0[0] = 0.0
    l1, g1 = fr.loss_and_grad(model, X, a1)
    l0, g0 = fr.loss_and_grad(model, X, a0)
    assert l1 == l0
    for k in g1:
        np.testing.assert_array_equal(g1[k], g0[k])


@pytest.mark.parametrize("tau,ridge", [(25, 0.0), (math.inf, 0.1), (1, 0.0)])
@pytest.mark.parametrize("with_inputs", [False, True])
def test_kernel_matches_loop_reference_large(kind, tau, ridge, with_inputs):
    Ml, Nl, Kl, Tl, NBl = 40, 3, 2, 300, 8
    k = Kl if with_inputs else 0
    model = make_model(kind, Ml, Nl, k, seed=8, scale=0.9)
    if kind == "PLRNN":  # keep the free run bounded over 300 steps
        model.params["A"][...] = np.random.default_rng(1).uniform(0.3, 0.8, Ml)
        model.params["W"][...] *= 0.3
    rng = np.random.default_rng(9)
    X = rng.normal(size=(NBl, Tl + 1, Nl))
    S = rng.normal(size=(NBl, Tl + 1, k)) if with_inputs else None
    alpha = forcing.interval(Tl, tau)
    loss, grads = fr.loss_and_grad(model, X, alpha, inputs=S, ridge=ridge)
    ref_loss, ref = naive.loss_and_grad(model, X, alpha, S, ridge)
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    for name in ref:
        err = np.linalg.norm(grads[name] - ref[name]) / np.linalg.norm(ref[name])
        assert err < 1e-10, (name, err)


def test_naive_reference_agrees_with_finite_differences(kind):
    """The loop reference itself is checked once against finite differences (so it can serve as a reference)."""
    model = make_model(kind, M, N, K, seed=11)
    rng = np.random.default_rng(12)
    X = rng.normal(size=(2, 8, N))
    S = rng.normal(size=(2, 8, K))
    alpha = forcing.interval(7, 3)
    _, ref = naive.loss_and_grad(model, X, alpha, S, 0.0)
    check_grads(model, ref, fd_grad(model, lambda: naive.loss(model, X, alpha, S)))


@pytest.mark.parametrize("with_inputs", [False, True])
def test_float32_agrees_with_float64(kind, with_inputs):
    k = K if with_inputs else 0
    m64 = make_model(kind, 16, N, k, seed=13, scale=0.8)
    m32 = m64.astype(np.float32)
    rng = np.random.default_rng(14)
    X = rng.normal(size=(8, 61, N))
    S = rng.normal(size=(8, 61, k)) if with_inputs else None
    alpha = forcing.interval(60, 10)
    l64, g64 = fr.loss_and_grad(m64, X, alpha, inputs=S)
    l32, g32 = fr.loss_and_grad(m32, X, alpha, inputs=S)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for name in g64:
        assert g32[name].dtype == np.float32
        err = np.linalg.norm(g32[name] - g64[name]) / np.linalg.norm(g64[name])
        assert err < 1e-4, (name, err)


@pytest.mark.parametrize("chunks", [2, 3, 5])
@pytest.mark.parametrize("with_inputs", [False, True])
@pytest.mark.parametrize("kind2", ["PLRNN", "TanhRNN"])
def test_threaded_sweep_matches_serial_kernels(monkeypatch, kind2, with_inputs, chunks):
    """The batch-split sweep (used only for very large problems) gives the serial result and the loop reference's."""
    from fastrnn.kernels import host

    k = K if with_inputs else 0
    model = make_model(kind2, 12, N, k, seed=3, scale=0.8)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 41, N))
    S = rng.normal(size=(5, 41, k)) if with_inputs else None
    alpha = np.stack([forcing.interval(40, t) for t in (3, 7, 11, 13, 100)])
    alpha[1, 5:9] = 0.3
    mask = np.array([1, 0] * 6, bool)
    monkeypatch.setattr(host, "sweep_chunks", lambda nb, T, M: 1)
    l1, g1 = fr.loss_and_grad(model, X, alpha, inputs=S, unit_mask=mask)
    monkeypatch.setattr(host, "sweep_chunks", lambda nb, T, M: chunks)
    l2, g2 = fr.loss_and_grad(model, X, alpha, inputs=S, unit_mask=mask)
    ln, gn = naive.loss_and_grad(model, X, alpha, S, unit_mask=mask)
    assert l2 == pytest.approx(l1, rel=1e-13) and l2 == pytest.approx(ln, rel=1e-12)
    for name in g1:
        np.testing.assert_allclose(g2[name], g1[name], rtol=1e-12, atol=1e-14 * np.abs(g1[name]).max())
        np.testing.assert_allclose(g2[name], gn[name], rtol=1e-10, atol=1e-12 * np.abs(gn[name]).max())
