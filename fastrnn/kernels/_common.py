"""Numba building blocks shared by the model kernels (DESIGN §3): the float32 tanh and sigmoid, the step and gradient
products, the forcing and read-out pieces of the sweeps over time-major work arrays.

Every model module (:mod:`.plrnn`, :mod:`.tanhrnn`, :mod:`.lstm`, :mod:`.gru`) builds its step on these, and the host
side of the kernels (work arrays, BLAS threads, control signal, gradient assembly) lives in :mod:`.host`.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..config import BLAS_SERIAL_MNK, BLAS_SMALL_MNK, BLAS_THREADED_OUTPUT, FASTMATH, LOOP_MNK

# ---------------------------------------------------------------- fast float32 tanh
# tanh(x) = x p(x^2) / q(x^2) on |x| <= 9 (tanh(9) rounds to within one ulp of 1 in float32), clamped outside.
# The (4, 4) rational was fitted for minimum maximum relative error on [0, 9] (iteratively reweighted least squares,
# fastrnn's own fit; relative error 2.1e-8 in exact arithmetic). It is evaluated in float32, 16 values per AVX-512
# instruction and with no libm call, so loops over it vectorise: the result is within 6 ulp of the exact tanh for every
# float32 argument (5.6 found by an exhaustive scan; mean 0.49 ulp over [-10, 10]; JAX's float32 tanh, also a float32
# rational, measured the same way on a grid: 4.75 ulp, mean 0.59; NumPy's: 1.4 ulp). Large arguments give
# +-(1 - 2^-24), one ulp short of +-1, and rounding makes it monotone only up to those few ulp.
# Evaluated in float64 it was within 0.85 ulp but took twice as long, a tenth of a gated model's training step.
# float64 keeps the library tanh.
_TP0, _TP1, _TP2, _TP3, _TP4 = (0.99999997945519, 0.13381041299482407, 0.0034956066931312165,
                                2.0609386130446955e-05, 1.3355079460072955e-08)
_TQ1, _TQ2, _TQ3, _TQ4 = (0.4671435689528622, 0.025877052924324156, 0.0003285665108976422, 7.776729977187844e-07)
#: Largest error of the float32 :func:`tanh` in units in the last place, and of :func:`sigmoid` in absolute value,
#: over all float32 arguments. Scans of every float32 found 5.6 ulp (near 8.5) and 1.96e-7 (near 17); the last bit
#: depends on which multiply-adds LLVM fuses in the calling loop. ``tests/test_activations.py`` checks both bounds on
#: a dense grid.
TANH32_MAX_ULP = 6.0
SIGMOID32_MAX_ABS = 2.5e-7


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _rational_tanh32(d):
    """The rational tanh of a float32 ``d`` in float32 arithmetic, clamped at |d| = 9 and to [-1, 1] (float32
    rounding takes it up to 1 + 2^-23 near |d| = 9); NaN passes through."""
    d = np.minimum(np.maximum(d, np.float32(-9.0)), np.float32(9.0))
    s = d * d
    p = ((((np.float32(_TP4) * s + np.float32(_TP3)) * s + np.float32(_TP2)) * s + np.float32(_TP1)) * s
         + np.float32(_TP0))
    q = ((((np.float32(_TQ4) * s + np.float32(_TQ3)) * s + np.float32(_TQ2)) * s + np.float32(_TQ1)) * s
         + np.float32(1.0))
    one = np.float32(1.0)
    return np.minimum(np.maximum(d * p / q, -one), one)


def tanh(x):
    """tanh for kernels: a vectorisable rational approximation in float32 (within :data:`TANH32_MAX_ULP` ulp), the
    library tanh in float64."""
    return np.tanh(x)


@overload(tanh, inline="always", jit_options={"fastmath": FASTMATH})
def _tanh_overload(x):
    if x == types.float32:
        return lambda x: _rational_tanh32(x)
    return lambda x: np.tanh(x)


def sigmoid(x):
    """Logistic function for kernels: 1/2 + tanh(x/2)/2 with the vectorisable float32 tanh (absolute error within
    :data:`SIGMOID32_MAX_ABS`, no libm call), 1 / (1 + exp(-x)) in float64."""
    return 1.0 / (1.0 + np.exp(-x))


@overload(sigmoid, inline="always", jit_options={"fastmath": FASTMATH})
def _sigmoid_overload(x):
    if x == types.float32:
        def impl(x):
            half = np.float32(0.5)
            return half + half * _rational_tanh32(half * x)
        return impl
    return lambda x: 1.0 / (1.0 + np.exp(-x))


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def split_adjoint(alpha, mask, t, gz, gf, GZt, w):
    """Adjoint of the forcing z_t = (1 - w) z_f + w z~_t of step t, all windows at once (gated models' sweeps).

    gz (nb, M) = dL/dz_t; gf (nb, M) holds the loss's own term dL/dz_f on entry and receives + (1 - w) gz;
    GZt[:, t] (GZt (nb, T+1, M)) = w gz = dL/dz~_t; w (nb, M) receives alpha[:, t] mask. Returns whether any window
    is forced at t; if none is, only gf += gz happens and GZt[:, t] (zero) and w are not written: the callers read
    dL/dz~ only at forced steps.
    """
    nb, M = gz.shape
    n = nb * M
    g = gz.reshape(n)
    f = gf.reshape(n)
    one = np.full(1, 1.0, dtype=gz.dtype)[0]
    if forcing_weights(alpha, mask, t, w):
        wf = w.reshape(n)
        for r in range(nb):
            for m in range(M):
                GZt[r, t, m] = w[r, m] * gz[r, m]
        for q in range(n):
            f[q] += (one - wf[q]) * g[q]
        return True
    for q in range(n):
        f[q] += g[q]
    return False


# ---------------------------------------------------------------- bias gradients
@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _row8(A, p, m):
    """A[p, m] + ... + A[p + 7, m] in float64, as a balanced tree (independent adds)."""
    return (((np.float64(A[p, m]) + np.float64(A[p + 1, m])) + (np.float64(A[p + 2, m]) + np.float64(A[p + 3, m])))
            + ((np.float64(A[p + 4, m]) + np.float64(A[p + 5, m]))
               + (np.float64(A[p + 6, m]) + np.float64(A[p + 7, m]))))


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def add_column_sums(A, out, o0=0):
    """out[o0 + m] += sum over rows p of A[p, m], summed in float64 (out float64, A (R, M) C-contiguous).

    Eight rows are added in registers before each update of the accumulator: a plain row-by-row loop stores and
    reloads the accumulator for every row and took 2-4x as long (GRU bias gradient at M = 32: 96 us per step).
    """
    R, M = A.shape
    acc = np.zeros(M)
    R8 = R - R % 8
    for p in range(0, R8, 8):
        for m in range(M):
            acc[m] += _row8(A, p, m)
    for p in range(R8, R):
        for m in range(M):
            acc[m] += A[p, m]
    for m in range(M):
        out[o0 + m] += acc[m]


# ---------------------------------------------------------------- step and gradient products
# Thresholds: fastrnn.config (BLAS_SERIAL_MNK, BLAS_THREADED_OUTPUT, BLAS_SMALL_MNK, LOOP_MNK) says why each.


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def dot_rows(A, Bm, out):
    """out = A Bm (C-contiguous 2-d operands), split into row blocks that BLAS treats as small matrices."""
    R, P = A.shape
    Q = Bm.shape[1]
    if R * P * Q <= LOOP_MNK:                               # a few rows (e.g. batch 1): cheaper than a BLAS call
        for r in range(R):
            for j in range(Q):
                out[r, j] = 0.0
            for k in range(P):
                a = A[r, k]
                for j in range(Q):
                    out[r, j] += a * Bm[k, j]
        return
    rows = BLAS_SMALL_MNK // max(1, P * Q)
    if rows >= R or rows < 4:
        np.dot(A, Bm, out)
        return
    nblk = (R + rows - 1) // rows
    rows = (R + nblk - 1) // nblk
    for r0 in range(0, R, rows):
        r1 = min(R, r0 + rows)
        np.dot(A[r0:r1], Bm, out[r0:r1])


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def gate_products(A, Wtb, G, t, tmp):
    """G[k, t] = A W_k^T for every gate k of a gated model; G (ng, T, R, M) holds the gates gate-major.

    Wtb (nblk, P, ng M / nblk) holds the column blocks of W^T (:func:`.host.gate_blocks`): with nblk = 1 one product
    into tmp (R, ng M) that is then scattered into the gates, with nblk = ng one product per gate, straight into
    G[k, t].
    """
    ng, _, R, M = G.shape
    if Wtb.shape[0] == ng:
        for k in range(ng):
            dot_rows(A, Wtb[k], G[k, t])
        return
    dot_rows(A, Wtb[0], tmp)
    for k in range(ng):
        g = G[k, t]
        for r in range(R):
            for m in range(M):
                g[r, m] = tmp[r, k * M + m]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def gate_rproducts(G, t, Wb, out, tmp, part):
    """out = sum over gates k of G[k, t] W_k (the adjoint W^T g of a gated step); G (ng, T, R, M) gate-major.

    Wb (nblk, ng M / nblk, M) is W split into row blocks: with nblk = 1 the gates are gathered into tmp (R, ng M) for
    one product, with nblk = ng one product per gate is summed (part (R, M) scratch).
    """
    ng, _, R, M = G.shape
    if Wb.shape[0] == ng:
        dot_rows(G[0, t], Wb[0], out)
        for k in range(1, ng):
            dot_rows(G[k, t], Wb[k], part)
            for r in range(R):
                for m in range(M):
                    out[r, m] += part[r, m]
        return
    for k in range(ng):
        g = G[k, t]
        for r in range(R):
            for m in range(M):
                tmp[r, k * M + m] = g[r, m]
    dot_rows(tmp, Wb[0], out)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def forcing_weights(alpha, mask, t, w):
    """w[r, m] = alpha[r, t] mask[m] for every window r of the step (w (nb, M)) and True if any window is forced at
    t; False, with w left as it was, if none is."""
    nb, M = w.shape
    anyf = False
    for r in range(nb):
        if alpha[r, t] != 0.0:
            anyf = True
    if not anyf:
        return False
    for r in range(nb):
        a = alpha[r, t]
        for m in range(M):
            w[r, m] = a * mask[m]
    return True


@njit(cache=True, nogil=True)
def gemm_nn(A, Bm, out):
    """out = A Bm for C-contiguous A (R, P), Bm (P, Q) and out (R, Q), in row chunks small enough that BLAS stays on
    the calling thread unless the product is large and wide (Q >= 128)."""
    R, P = A.shape
    Q = Bm.shape[1]
    if R * P * Q <= BLAS_SERIAL_MNK or P * Q >= BLAS_THREADED_OUTPUT:
        np.dot(A, Bm, out)
        return
    rows = max(1, BLAS_SERIAL_MNK // (P * Q))
    for r0 in range(0, R, rows):
        r1 = min(R, r0 + rows)
        np.dot(A[r0:r1], Bm, out[r0:r1])


@njit(cache=True, nogil=True)
def gemm_tn(G, Y, out):
    """out = G^T Y for C-contiguous G (R, P) and Y (R, Q): one BLAS call for large outputs, else row chunks small
    enough that BLAS stays on the calling thread."""
    R, P = G.shape
    Q = Y.shape[1]
    if P * Q >= BLAS_THREADED_OUTPUT or R * P * Q <= BLAS_SERIAL_MNK:
        np.dot(G.T, Y, out)
        return
    rows = max(1, BLAS_SERIAL_MNK // (P * Q))
    np.dot(G[:rows].T, Y[:rows], out)
    for r0 in range(rows, R, rows):
        r1 = min(R, r0 + rows)
        part = np.dot(G[r0:r1].T, Y[r0:r1])
        for i in range(P):
            for j in range(Q):
                out[i, j] += part[i, j]


# ---------------------------------------------------------------- read-out for time-major (T, nb, .) work arrays
@njit(cache=True, nogil=True, fastmath=FASTMATH)
def residuals(B, X, ZF, R):
    """R[t-1, b] = x_{b,t} - B zf[t-1, b] for all steps at once; returns the per-window sums of squares (float64).

    X (nb, T+1, N) windows, ZF (T, nb, M) free states, R (T, nb, N) output.
    """
    T, nb, M = ZF.shape
    N = B.shape[0]
    R2 = R.reshape(T * nb, N)
    gemm_nn(ZF.reshape(T * nb, M), np.ascontiguousarray(B.T), R2)
    losses = np.zeros(nb)
    for t in range(T):
        for b in range(nb):
            acc = 0.0
            for n in range(N):
                r = X[b, t + 1, n] - R[t, b, n]
                R[t, b, n] = r
                acc += r * r
            losses[b] += acc
    return losses


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def loss_adjoint(B, R, scale, G):
    """G = -scale R B: the loss's direct contribution to dL/dzf for every step (R (T, nb, N), G (T, nb, M))."""
    T, nb, M = G.shape
    N = B.shape[0]
    G2 = G.reshape(T * nb, M)
    gemm_nn(R.reshape(T * nb, N), B, G2)
    for r in range(T * nb):
        for i in range(M):
            G2[r, i] *= -scale


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def observation_grad(R, ZF, scale, gB):
    """gB = -scale R^T ZF (dL/dB from the loss terms, the control path excluded)."""
    T, nb, M = ZF.shape
    N = R.shape[2]
    gemm_tn(R.reshape(T * nb, N), ZF.reshape(T * nb, M), gB)
    for n in range(N):
        for i in range(M):
            gB[n, i] *= -scale


# ---------------------------------------------------------------- pieces of a step
@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def add_inputs(S, b0, t, Ct, zf):
    """zf[r] += C s for the rows r of a step, s = S[b0 + r, t] (Ct = C^T (K, M)): the input term of the PLRNN's and
    the tanh RNN's step."""
    R, M = zf.shape
    for r in range(R):
        b = b0 + r
        for k in range(Ct.shape[0]):
            sk = S[b, t, k]
            for i in range(M):
                zf[r, i] += sk * Ct[k, i]



@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def force_rows(alpha, mask, Zt, b0, t, zf, zn):
    """zn = (1 - w) zf + w z~_t with w = alpha[b, t] mask, for the windows b = b0 .. b0 + len(zf) - 1 of step t
    (zn = zf where a window is not forced); the forcing of the PLRNN's and the tanh RNN's sweeps."""
    M = zf.shape[1]
    for r in range(zf.shape[0]):
        b = b0 + r
        a = alpha[b, t]
        if a == 0.0:
            for i in range(M):
                zn[r, i] = zf[r, i]
        else:
            for i in range(M):
                w = a * mask[i]
                zn[r, i] = (1.0 - w) * zf[r, i] + w * Zt[b, t, i]


@njit(cache=True, nogil=True)
def bias_tiles(b, nb, n_gates):
    """c1 b_k tiled over nb windows, (n_gates, nb M): c1 = 1/2 for the sigmoid gates (sigmoid(a) = 1/2 + tanh(a/2)/2)
    and 1 for the tanh block, which is block 2 in both gated models (g of the LSTM, n of the GRU)."""
    M = b.shape[0] // n_gates
    out = np.empty((n_gates, nb * M), dtype=b.dtype)
    for k in range(n_gates):
        c1 = 1.0 if k == 2 else 0.5
        for r in range(nb):
            for m in range(M):
                out[k, r * M + m] = c1 * b[k * M + m]
    return out
