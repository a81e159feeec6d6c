"""Spectral norms of stacks of matrices by power iteration: the kappa of adaptive forcing
(:class:`fastrnn.forcing.AdaptiveAlpha`)."""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def power_norms(J, tol, max_iter, out):
    """out[r] = ||J[r]||_2 for J (R, D, D) float64, by power iteration on J^T J.

    Each matrix starts from the previous one's vector mixed with a fixed one (consecutive Jacobians of an orbit
    are alike, and the mix keeps the start off any one singular direction) and iterates until the estimate
    sigma = ||J v|| (v of unit length: a lower bound of the norm) changes by at most ``tol`` relative, after at
    least 3 and at most ``max_iter`` iterations.
    """
    R, D, _ = J.shape
    fixed = np.empty(D)
    for i in range(D):
        fixed[i] = 1.0 + 0.37 * ((i * 7919) % 13) / 13.0
    fixed /= np.sqrt(np.sum(fixed * fixed))
    v = fixed.copy()
    w = np.empty(D)
    for r in range(R):
        A = J[r]
        for i in range(D):
            v[i] = v[i] + 0.5 * fixed[i]
        nv = np.sqrt(np.sum(v * v))
        for i in range(D):
            v[i] /= nv
        sigma = 0.0
        for it in range(max_iter):
            for i in range(D):                      # w = J v
                acc = 0.0
                for j in range(D):
                    acc += A[i, j] * v[j]
                w[i] = acc
            new = np.sqrt(np.sum(w * w))
            if new == 0.0:
                sigma = 0.0
                break
            for j in range(D):                      # v = J^T w / ||J^T w||
                acc = 0.0
                for i in range(D):
                    acc += A[i, j] * w[i]
                v[j] = acc
            nv = np.sqrt(np.sum(v * v))
            for j in range(D):
                v[j] /= nv
            done = it >= 2 and abs(new - sigma) <= tol * new
            sigma = new
            if done:
                break
        out[r] = sigma


def spectral_norms(J, tol=1e-6, max_iter=100):
    """Spectral norms of the square matrices J (..., D, D), float64 (see :func:`power_norms`)."""
    J = np.asarray(J, dtype=np.float64)
    lead = J.shape[:-2]
    flat = np.ascontiguousarray(J.reshape((-1,) + J.shape[-2:]))
    out = np.empty(flat.shape[0])
    power_norms(flat, float(tol), int(max_iter), out)
    return out.reshape(lead)
