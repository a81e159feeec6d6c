"""Pieces shared by the CUDA twins of the model kernels: the control signal, the forcing, the read-out residuals, the
per-window loss reduction and the forcing adjoint (device functions), and the host side common to every model's
``loss_grad`` (uploads, the return of loss, gradients and dL/dP).

Device functions come per dtype from :func:`device_functions`, so that their constants are in the working precision.
They are inlined into the kernels that call them (``inline=True``). Note: numba compiles a device function for the
current device's compute capability when a kernel calling it is compiled, so ``cuda.compile_ptx`` of these kernels
needs a GPU, or (as ``tests/test_cuda.py`` does without one) the compute capability supplied by hand.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from numba import cuda

from ...config import CUDA_MAX_THREADS
from .. import host

#: Upper bound on the block size of every recurrent kernel (the length of its loss-reduction buffer).
MAX_THREADS = CUDA_MAX_THREADS


@functools.lru_cache(maxsize=None)
def device_functions(dtype):
    """Device functions in the precision ``dtype`` (float32 or float64), as attributes of a namespace:

    ``control(PT, X, b, t, i)``
        z~_t[i] = (P x_t)[i] of window b (PT = P^T (N, M)).
    ``start(PT, X, Z, sh, b, tid, nt, M)``
        z_0 = z~_0 of window b for this thread's units: into Z[b, 0, :M] and sh[:M].
    ``force(v, PT, X, b, t, i, w)``
        (1 - w) v + w z~_t[i]: the forced state from the free one, w = alpha[b, t] mask[i].
    ``residuals(B, X, R, sh, off, b, t, tid, nt, loss)``
        R[b, t-1, n] = x_t[n] - (B z_f)[n] for the outputs n of this thread, z_f in sh[off:off + M]; returns loss
        (float64) plus their squares.
    ``block_loss(red, loss, tid, nt, losses, b)``
        losses[b] = the sum over the block's threads of their ``loss`` (red: a float64 shared array of >= nt).
    ``free_adjoint(B, R, scale, GZt, b, t, i, w, g)``
        The adjoint of the free state of step t, (1 - w) g - scale sum_n R[b, t-1, n] B[n, i], given g = dL/dz_t[i];
        writes GZt[b, t, i] = w g = dL/dz~_t[i].
    """
    zero = np.dtype(dtype).type(0.0)
    one = np.dtype(dtype).type(1.0)

    @cuda.jit(device=True, inline=True)
    def control(PT, X, b, t, i):
        acc = zero
        for n in range(PT.shape[0]):
            acc += PT[n, i] * X[b, t, n]
        return acc

    @cuda.jit(device=True, inline=True)
    def start(PT, X, Z, sh, b, tid, nt, M):
        for i in range(tid, M, nt):
            acc = control(PT, X, b, 0, i)
            Z[b, 0, i] = acc
            sh[i] = acc

    @cuda.jit(device=True, inline=True)
    def force(v, PT, X, b, t, i, w):
        return (one - w) * v + w * control(PT, X, b, t, i)

    @cuda.jit(device=True, inline=True)
    def residuals(B, X, R, sh, off, b, t, tid, nt, loss):
        M = B.shape[1]
        for n in range(tid, B.shape[0], nt):
            acc = zero
            for i in range(M):
                acc += B[n, i] * sh[off + i]
            r = X[b, t, n] - acc
            R[b, t - 1, n] = r
            loss += r * r
        return loss

    @cuda.jit(device=True, inline=True)
    def block_loss(red, loss, tid, nt, losses, b):
        red[tid] = loss
        cuda.syncthreads()
        if tid == 0:
            s = 0.0
            for k in range(nt):
                s += red[k]
            losses[b] = s

    @cuda.jit(device=True, inline=True)
    def free_adjoint(B, R, scale, GZt, b, t, i, w, g):
        GZt[b, t, i] = w * g
        gf = (one - w) * g
        for n in range(B.shape[0]):
            gf -= (scale * R[b, t - 1, n]) * B[n, i]
        return gf

    return SimpleNamespace(control=control, start=start, force=force, residuals=residuals, block_loss=block_loss,
                           free_adjoint=free_adjoint, zero=zero, one=one)


# ---------------------------------------------------------------- host side
def upload_T(session, a):
    """Upload a.T as a C-contiguous device array."""
    return session.to_device(np.ascontiguousarray(a.T))


def launch(kernel, session, units, shared_values, nb, dtype):
    """``kernel`` configured for one block per window (nb), threads for ``units`` units and ``shared_values`` values
    of ``dtype`` per unit of dynamic shared memory."""
    threads = session.threads_for(units)
    return kernel[nb, threads, 0, max(int(shared_values * units * np.dtype(dtype).itemsize), 1)]


class Batch:
    """What every model's ``loss_grad`` uploads and derives first: dtype, sizes, scale 2 / (nb T N), and alpha, mask
    and P^T on the device (P float64 on the host, cast to the parameters' dtype)."""

    def __init__(self, session, params, X, S, alpha, mask, P, cut=None):
        dtype = params["B"].dtype
        if X.dtype != dtype or S.dtype != dtype:
            raise TypeError(f"X and inputs must have the model's dtype {dtype} on the device, got {X.dtype}, "
                            f"{S.dtype}")
        self.session, self.dtype, self.X, self.S = session, dtype, X, S
        self.nb, T1, self.N = X.shape
        self.T, self.K = T1 - 1, S.shape[2]
        self.scale = dtype.type(2.0 / (self.nb * self.T * self.N))
        self.alpha = session.to_device(np.asarray(alpha, dtype=dtype))
        # the backward sweep's alpha: 1 at gradient cuts (truncated BPTT), as on the CPU (host.backward_alpha)
        self.cut = None if cut is None else host.cut_steps(cut, np.shape(alpha))
        self.alpha_back = (self.alpha if cut is None else
                           session.to_device(host.backward_alpha(np.asarray(alpha, dtype=dtype), mask, cut)))
        self.mask = session.to_device(np.asarray(mask, dtype=dtype))
        self.PT = session.to_device(np.ascontiguousarray(np.asarray(P, dtype=dtype).T))
        self.losses = session.buffer("losses", (self.nb,), np.float64)

    def input_matrix(self, params, name, rows):
        """The input weights, or an empty (rows, 0) matrix without inputs."""
        return params[name] if self.K else np.zeros((rows, 0), self.dtype)

    def finish(self, grads, GZt, control_grad):
        """(loss, grads, dL/dP (M, N) float64 or None): the return of every ``loss_grad``, CPU and GPU alike."""
        ses, X = self.session, self.X
        loss = float(self.losses.copy_to_host().sum()) / (self.nb * self.T * self.N)
        dP = None
        if control_grad and self.cut is not None:     # dL/dz~ at the cut steps is no control gradient: drop it
            G = GZt.copy_to_host()
            G[self.cut] = 0.0
            dP = (G.reshape(-1, G.shape[2]).T.astype(np.float64)
                  @ X.copy_to_host().reshape(-1, self.N).astype(np.float64))
        elif control_grad:
            M = GZt.shape[2]
            dP = ses.product(GZt, 0, 0, M, X, 0, 0, self.N, self.T + 1).astype(np.float64)
        return loss, grads, dP


def session_or_default(session):
    """``session``, or the process's default :class:`~fastrnn.kernels.cuda.driver.Session` if None."""
    if session is not None:
        return session
    from .driver import default_session
    return default_session()
