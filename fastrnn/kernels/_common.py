"""Pieces shared by every model kernel: observation loss, forcing, and their adjoints."""
import numpy as np
from numba import njit

# Safe fastmath subset: reassociation and contraction only. NaN/inf semantics are kept so that a diverging model
# yields a non-finite loss that the training loop can detect.
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True, fastmath=FASTMATH, inline="always")
def observe(B, zf, x, r):
    """r = x - B zf; return ||r||^2 (float64)."""
    N, M = B.shape
    loss = 0.0
    for n in range(N):
        acc = 0.0
        for i in range(M):
            acc += B[n, i] * zf[i]
        rn = x[n] - acc
        r[n] = rn
        loss += rn * rn
    return loss


@njit(cache=True, fastmath=FASTMATH, inline="always")
def force(zf, zt, a, mask, z):
    """z = (1 - a m) zf + a m zt, with m the unit mask."""
    for i in range(zf.shape[0]):
        w = a * mask[i]
        z[i] = (1.0 - w) * zf[i] + w * zt[i]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def adjoint_free_state(B, r, scale, gz, a, mask, gf, gzt):
    """Adjoint of the free state zf_t given gz = dL/dz_t.

    gf = -scale B^T r + (1 - a m) gz and gzt = a m gz (the part that flows into the control signal z~_t).
    """
    N, M = B.shape
    for i in range(M):
        w = a * mask[i]
        gf[i] = (1.0 - w) * gz[i]
        gzt[i] = w * gz[i]
    for n in range(N):
        c = scale * r[n]
        for i in range(M):
            gf[i] -= c * B[n, i]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def matvec_add(W, v, out):
    """out += W v (W row-major, contiguous inner loop)."""
    for i in range(W.shape[0]):
        acc = 0.0
        for j in range(W.shape[1]):
            acc += W[i, j] * v[j]
        out[i] += acc


@njit(cache=True, fastmath=FASTMATH, inline="always")
def rmatvec(W, v, out):
    """out = W^T v (row-major W: accumulate rows, contiguous inner loop)."""
    out[:] = 0.0
    for i in range(W.shape[0]):
        vi = v[i]
        for j in range(W.shape[1]):
            out[j] += W[i, j] * vi
