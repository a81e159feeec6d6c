"""The control matrix P (z~ = P x) and the chain rule of dL/dP into B, for wide, square and tall B."""
import numpy as np
import pytest

from fastrnn import forcing

SHAPES = [(3, 5), (4, 4), (5, 3)]          # (N, M): fewer, as many and more observations than latent units


def _B(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_control_matrix_is_the_pseudo_inverse_or_the_ridge_inverse(shape):
    B = _B(shape)
    np.testing.assert_allclose(forcing.control_matrix(B), np.linalg.pinv(B), rtol=1e-12, atol=1e-13)
    M = shape[1]
    ridge = 0.3
    np.testing.assert_allclose(forcing.control_matrix(B, ridge), np.linalg.inv(B.T @ B + ridge * np.eye(M)) @ B.T,
                               rtol=1e-12, atol=1e-13)


def test_rank_deficient_B_needs_a_ridge():
    B = _B((3, 5))
    B[2] = B[0] + B[1]
    with pytest.raises(ValueError, match="rank-deficient.*ridge > 0"):
        forcing.control_matrix(B)
    assert np.all(np.isfinite(forcing.control_matrix(B, 1e-6)))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_control_grad_B_matches_finite_differences(shape, ridge):
    """d/dB of <G, P(B)> by central differences (eps 1e-6), entry by entry."""
    B = _B(shape, 1)
    G = np.random.default_rng(2).normal(size=shape[::-1])
    got = forcing.control_grad_B(B, forcing.control_matrix(B, ridge), G, ridge)
    eps = 1e-6
    fd = np.empty_like(B)
    for idx in np.ndindex(B.shape):
        Bp, Bm = B.copy(), B.copy()
        Bp[idx] += eps
        Bm[idx] -= eps
        fp, fm = (np.sum(G * forcing.control_matrix(Bs, ridge)) for Bs in (Bp, Bm))
        fd[idx] = (fp - fm) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)
