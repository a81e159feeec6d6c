"""Reductions over all (window, time) pairs on the device: parameter-gradient products, column sums, window gathering.

Parameter gradients are sums over every (window, time) pair of outer products of stored per-step arrays (DESIGN §3).
Here they are tall-skinny products ``A^T B`` over L = batch * T rows. Each thread block sums one tile of the output
over one chunk of rows into its own slot of a partial buffer (no two blocks write the same address), and
:func:`reduce_chunks` adds the slots in a fixed order: race-free and deterministic, without atomics.

Stored arrays are 3-D (batch, time, features); row ``l`` of a product is the pair ``(l // nT, l % nT)``, and each
operand has a time offset and a column offset, so that views such as ``S[:, 1:]`` or ``Z[:, :-1, :M]`` are read in
place without copies.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import cuda, from_dtype


@functools.lru_cache(maxsize=None)
def gemm_tn(dtype, tile):
    """Kernel ``out[c, i*n + j] = sum over rows l of chunk c of A[l, a_c0 + i] * f(B[l, b_c0 + j])`` (f = relu if
    ``relu_b`` else identity). Launch with grid (ceil(m/tile), ceil(n/tile), n_chunks) and block (tile, tile)."""
    nbdt = from_dtype(np.dtype(dtype))
    zero = np.dtype(dtype).type(0.0)
    TS = tile

    @cuda.jit
    def kernel(Aa, a_t0, a_c0, Bb, b_t0, b_c0, relu_b, nT, L, m, n, rows, out):
        shA = cuda.shared.array((TS, TS), dtype=nbdt)
        shB = cuda.shared.array((TS, TS), dtype=nbdt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        i0 = cuda.blockIdx.x * TS
        j0 = cuda.blockIdx.y * TS
        c = cuda.blockIdx.z
        lstart = c * rows
        lend = lstart + rows
        if lend > L:
            lend = L
        acc = zero
        for l0 in range(lstart, lend, TS):
            l = l0 + ty
            va = zero
            vb = zero
            if l < lend:
                w = l // nT
                t = l - w * nT
                if i0 + tx < m:
                    va = Aa[w, t + a_t0, a_c0 + i0 + tx]
                if j0 + tx < n:
                    vb = Bb[w, t + b_t0, b_c0 + j0 + tx]
                    if relu_b != 0 and vb < zero:
                        vb = zero
            shA[ty, tx] = va
            shB[ty, tx] = vb
            cuda.syncthreads()
            for k in range(TS):
                acc += shA[k, ty] * shB[k, tx]
            cuda.syncthreads()
        if i0 + ty < m and j0 + tx < n:
            out[c, (i0 + ty) * n + j0 + tx] = acc

    return kernel


@functools.lru_cache(maxsize=None)
def coldot(dtype):
    """Kernel ``out[c, j] = sum over rows l of chunk c of A[l, a_c0 + j] * (B[l, b_c0 + j] if use_b else 1)``.
    Launch with grid (ceil(m/threads), n_chunks) and 1-D blocks."""
    zero = np.dtype(dtype).type(0.0)

    @cuda.jit
    def kernel(Aa, a_t0, a_c0, Bb, b_t0, b_c0, use_b, nT, L, m, rows, out):
        j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        c = cuda.blockIdx.y
        if j < m:
            lstart = c * rows
            lend = lstart + rows
            if lend > L:
                lend = L
            acc = zero
            for l in range(lstart, lend):
                w = l // nT
                t = l - w * nT
                v = Aa[w, t + a_t0, a_c0 + j]
                if use_b != 0:
                    v *= Bb[w, t + b_t0, b_c0 + j]
                acc += v
            out[c, j] = acc

    return kernel


@functools.lru_cache(maxsize=None)
def reduce_chunks(dtype):
    """Kernel ``out[i] = factor * sum_c partial[c, i]`` (c in increasing order). Launch with 1-D grid and blocks."""
    zero = np.dtype(dtype).type(0.0)

    @cuda.jit
    def kernel(partial, nc, factor, out):
        i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if i < out.shape[0]:
            acc = zero
            for c in range(nc):
                acc += partial[c, i]
            out[i] = factor * acc

    return kernel


@functools.lru_cache(maxsize=None)
def gather(dtype):
    """Kernel ``X[b, t, :] = series[starts[b] + t, :]`` for t < X.shape[1]: windows cut out of device-resident series.
    Launch with one block per window."""

    @cuda.jit
    def kernel(series, starts, X):
        b = cuda.blockIdx.x
        T1 = X.shape[1]
        N = X.shape[2]
        s0 = starts[b]
        for idx in range(cuda.threadIdx.x, T1 * N, cuda.blockDim.x):
            t = idx // N
            X[b, t, idx - t * N] = series[s0 + t, idx - t * N]

    return kernel
