"""Host side of the CPU kernels, shared by the model modules: reusable work arrays, BLAS and thread control, the
control signal z~ = P x and the assembly of loss and gradients around the Numba sweeps (DESIGN §1, §3).

Every model module's ``loss_grad(params, X, S, alpha, mask, P, control_grad)`` is built from these pieces; so is the
CUDA twin in :mod:`fastrnn.kernels.cuda` where the pieces are host-side.
"""
import threading

import numpy as np
from numba import njit

from .. import config
from ._common import gemm_tn


# ---------------------------------------------------------------- control signal and gradient assembly
def control_rows(X, P):
    """z~ = P x for the rows of X (R, N), in X's dtype: ``X @ P^T`` with P (M, N) cast to X's dtype.

    The single definition of the control signal: the training kernels' z~_t and the initial state z_0 = z~_0 of a free
    run from an observation (:meth:`fastrnn.models.RNNModel.initial_state`) both come from here, so that a window
    forced only at t = 0 and :meth:`~fastrnn.models.RNNModel.generate` start from the same bits.
    """
    return X @ P.T.astype(X.dtype)


def control_signal(X, alpha, P):
    """Control signal of a batch: (Zt, cols, Xu) with Zt (nb, T+1, M) = P x_t where the kernels read it.

    z~_t is read only at t = 0, where every window starts on it, and at the steps where some window is forced
    (``cols``, a slice or index array; Xu = X[:, cols]); the other entries of Zt are left unset.
    """
    nb, T1, N = X.shape
    used = np.any(alpha != 0, axis=0)
    used[0] = True
    cols = np.flatnonzero(used) if not used.all() else slice(None)
    Xu = X[:, cols]
    k = Xu.shape[1]
    Zt = np.empty((nb, T1, P.shape[0]), dtype=X.dtype)
    Zt[:, cols] = control_rows(Xu.reshape(-1, N), P).reshape(nb, k, -1)
    return Zt, cols, Xu


def control_adjoint(GZt, cols, Xu):
    """dL/dP (M, N) float64 = sum over windows and steps of dL/dz~_t x_t^T, from GZt (nb, T+1, M) = dL/dz~, which is
    zero except at the steps ``cols`` of :func:`control_signal` (the gated kernels write it there only)."""
    N = Xu.shape[2]
    return GZt[:, cols].reshape(-1, GZt.shape[-1]).T.astype(np.float64) @ Xu.reshape(-1, N).astype(np.float64)


def input_rows(S):
    """The inputs s_1 .. s_T of a batch (nb, T+1, K) as time-major rows ((T nb), K), matching the kernels' (T, nb, .)
    adjoints: an input-weight gradient is ``adjoint.reshape(-1, M).T @ input_rows(S)``."""
    return np.ascontiguousarray(S[:, 1:].transpose(1, 0, 2)).reshape(-1, S.shape[2])


def input_matrix(params, name, rows, dtype):
    """The input weights ``params[name]``, or an empty (rows, 0) matrix for a model without inputs (K = 0)."""
    m = params.get(name)
    return np.zeros((rows, 0), dtype=dtype) if m is None else m


def mean_loss(losses, X):
    """L = sum of the per-window loss sums / (batch T N)."""
    nb, T1, N = X.shape
    return float(losses.sum()) / (nb * (T1 - 1) * N)


def finish(losses, X, grads, GZt, cols, Xu, control_grad):
    """The common return of every ``loss_grad``: (loss, grads, dL/dP float64 or None if not ``control_grad``)."""
    return mean_loss(losses, X), grads, (control_adjoint(GZt, cols, Xu) if control_grad else None)


def cut_steps(cut, shape):
    """The gradient cuts ``cut`` (nb, T+1) as a boolean array of ``shape``, False at t = 0 (a window's start is
    never cut: its adjoint is dL/dz_0)."""
    cut = np.asarray(cut)
    if cut.shape != tuple(shape):
        raise ValueError(f"cut must have the shape of alpha {tuple(shape)} (one flag per window and step), got "
                         f"{cut.shape}")
    on = cut != 0
    on[:, 0] = False
    return on


def backward_alpha(alpha, mask, cut):
    """The forcing weights the backward sweep reads for gradient cuts ``cut`` (nb, T+1) (truncated BPTT).

    A cut at step t (``cut[b, t] = 1``) stops dL/dz_t at z_t: nothing of it flows back into z_{t-1} (DESIGN §1,
    truncated BPTT). The backward sweeps already do exactly this at a step forced with weight 1 (they pass (1 - w)
    dL/dz_t back), so a cut is handed to them as alpha = 1 there, while the forward sweep keeps the true alpha and the
    state runs on unforced. That needs cut steps to be unforced (alpha = 0) and the unit mask to be all ones.

    Returns
    -------
    ndarray (nb, T+1)
        alpha with 1 at the cut steps, in alpha's dtype, C-contiguous.

    Raises
    ------
    ValueError
        If a cut step is forced or the mask is not all ones.
    """
    on = cut_steps(cut, alpha.shape)
    if np.any(alpha[on] != 0):
        raise ValueError("a gradient cut falls on a forced step; truncated BPTT cuts only unforced steps (alpha = 0 "
                         "there): use no forcing (tau=math.inf) or a forcing interval that avoids the cuts")
    if not np.all(mask == 1):
        raise ValueError("gradient cuts act on the whole state; pass no unit_mask (all units) with truncated BPTT")
    return np.ascontiguousarray(np.where(on, 1, alpha), dtype=alpha.dtype)


def loss_grad(sweep, params, X, S, alpha, mask, P, control_grad, cut=None):
    """The ``loss_grad`` of a CPU model module around its ``sweep(params, X, S, alpha, mask, Zt, True)``, which
    returns (per-window loss sums, grads, GZt = dL/dz~): the control signal first, dL/dP last.

    With gradient cuts ``cut`` (nb, T+1) (truncated BPTT, :func:`backward_alpha`) the sweep is called with the
    keyword ``alpha_back`` for its backward pass, and dL/dz~ at the cut steps (where no control signal acts) is
    dropped from dL/dP.
    """
    Zt, cols, Xu = control_signal(X, alpha, P)
    if cut is None:
        losses, grads, GZt = sweep(params, X, S, alpha, mask, Zt, True)
    else:
        losses, grads, GZt = sweep(params, X, S, alpha, mask, Zt, True,
                                   alpha_back=backward_alpha(alpha, mask, cut))
        GZt[cut_steps(cut, alpha.shape)] = 0.0
    return finish(losses, X, grads, GZt, cols, Xu, control_grad)


def forward_states(sweep, params, X, S, alpha, mask, P):
    """The ``forward_states`` of a CPU model module: ``sweep(..., Zt, False)`` returns (per-window loss sums, forced
    states, free states) time-major; this returns (loss, forced, free) window-major copies."""
    Zt, _, _ = control_signal(X, alpha, P)
    losses, Z, ZF = sweep(params, X, S, alpha, mask, Zt, False)
    return mean_loss(losses, X), Z.transpose(1, 0, 2).copy(), ZF.transpose(1, 0, 2).copy()


def gate_blocks(M, n_gates):
    """Number of column blocks (1 or ``n_gates``) in which to form a gated model's (nb, M) x (M, n_gates M) step
    product: one product while :func:`._common.dot_rows` can split it into row blocks of at least 4 rows that BLAS
    treats as small matrices (:data:`fastrnn.config.BLAS_SMALL_MNK`), else one product per gate (e.g. the LSTM at
    M = 256, whose (16, 256) x (256, 1024) product ran at 27 GMAC/s against 57 for its four gate blocks)."""
    return 1 if 4 * M * n_gates * M <= config.BLAS_SMALL_MNK else n_gates


def gate_layouts(W, n_gates):
    """W in row blocks Wb and their transposes Wtb (one block, or one per gate at large M: :func:`gate_blocks`), the
    layouts a gated model's backward and forward steps take."""
    M = W.shape[1]
    nblk = gate_blocks(M, n_gates)
    Wb = W.reshape(nblk, n_gates * M // nblk, M)
    return Wb, np.ascontiguousarray(Wb.transpose(0, 2, 1))


# ---------------------------------------------------------------- reusable work arrays
_tls = threading.local()


def gate_state_jacobians(jacobian_rows, W, b, Ut, Z, S, n_gates):
    """Jacobians J (R, D, D) of a gated model's free step at the states Z (R, D) with inputs S (R, K), in W's dtype:
    the module's compiled ``jacobian_rows`` over the rows, each row one step from its own state (the GRU and the
    LSTM share this glue)."""
    R, D = Z.shape
    J = np.empty((R, D, D), W.dtype)
    jacobian_rows(W, gate_layouts(W, n_gates)[1], b, Ut,
                  np.ascontiguousarray(S, dtype=W.dtype).reshape(R, 1, S.shape[1]),
                  np.ascontiguousarray(Z, dtype=W.dtype), J)
    return J


def workspace(tag, dtype, shapes):
    """Scratch arrays of the given shapes, reused by the next call in this thread with the same tag, dtype and shapes.

    Contents are undefined. Training calls the kernels with the same shapes batch after batch; reusing the arrays
    spares the page faults of fresh allocations (several milliseconds per step at M = 256). One set per tag and
    thread is kept, and only while it stays under :data:`fastrnn.config.WORKSPACE_MAX_BYTES`.
    """
    store = getattr(_tls, "store", None)
    if store is None:
        store = _tls.store = {}
    key = (np.dtype(dtype).str, tuple(tuple(s) for s in shapes))
    hit = store.get(tag)
    if hit is not None and hit[0] == key:
        return hit[1]
    arrays = tuple(np.empty(s, dtype=dtype) for s in shapes)
    if sum(a.nbytes for a in arrays) <= config.WORKSPACE_MAX_BYTES:
        store[tag] = (key, arrays)
    else:
        store.pop(tag, None)
    return arrays


# ---------------------------------------------------------------- BLAS threads
# The kernels call BLAS (through Numba's np.dot) once or twice per time step with small matrices, and once per batch
# for the weight gradient. OpenBLAS runs the larger of these calls on a pool of threads that keep spinning after each
# call; interleaved with the single-threaded recursion, and worse on cores shared with other processes, the pool
# costs far more than it saves (a 3-10x slower training step at M = 256 was measured on 2 shared cores). The kernels
# therefore run with OpenBLAS on the calling thread, restoring its thread count afterwards.
_blas_setters = None


def _find_blas_setters():
    """``openblas_set_num_threads_local`` of every OpenBLAS already loaded in this process (Linux; OpenBLAS >= 0.3.27).

    Elsewhere, or with another BLAS, there is nothing to set and the kernels use the BLAS as configured.
    """
    import ctypes
    import os

    try:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS that Numba's np.dot calls; load it before looking)
    except ImportError:
        pass
    setters = []
    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh
                            if "openblas" in line.rsplit("/", 1)[-1].lower() and ".so" in line})
    except OSError:
        return setters
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 0)
    for path in paths:
        try:
            fn = ctypes.CDLL(path, mode=mode).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int]
        fn.restype = ctypes.c_int
        setters.append(fn)
    return setters


_blas_lock = threading.Lock()


class serial_blas:
    """Context manager: OpenBLAS runs on the calling thread inside the block (see the note above).

    ``openblas_set_num_threads_local`` sets the calling thread's count only, so the nesting depth and the counts to
    restore are kept per thread: kernels called from several Python threads at once (a threaded Dask worker) each
    run BLAS on their own thread, and each thread's count is restored when its outermost block leaves.
    """

    __slots__ = ()

    def __enter__(self):
        global _blas_setters
        if _blas_setters is None:
            with _blas_lock:
                if _blas_setters is None:
                    _blas_setters = _find_blas_setters()
        depth = getattr(_tls, "blas_depth", 0)
        if depth == 0:
            _tls.blas_previous = [fn(1) for fn in _blas_setters]
        _tls.blas_depth = depth + 1
        return self

    def __exit__(self, *exc):
        _tls.blas_depth -= 1
        if _tls.blas_depth == 0:
            for fn, n in zip(_blas_setters, _tls.blas_previous):
                fn(n)
        return False


# ---------------------------------------------------------------- threads
# fastrnn.config.PARALLEL_MIN_WORK: below it (multiply-adds per sweep, batch x T x M^2) the kernels run on one thread.
# On 2 cores the split sweep was slower at M = 128 (7.8 vs 4.7 ms per training step, batch 16, T = 200) and no faster
# at M = 256 (15-26 vs 16-18 ms): the per-thread products are too small to pay back the second thread.


#: Seconds over which :func:`idle_cores` measures the other processes' CPU use (it reuses its answer within them).
_IDLE_WINDOW_S = 0.25
_idle_state = {"sample": None, "answer": None}


def _cpu_seconds():
    """(CPU seconds all processes have been busy, including steal time; this process's CPU seconds) from Linux's
    /proc/stat and :func:`os.times`."""
    import os

    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:9]]
    busy = sum(v) - v[3] - v[4]                          # user nice system [idle iowait] irq softirq steal
    t = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), t[0] + t[1]


def idle_cores():
    """Cores not busy with other processes, counting the calling thread's own core as idle (>= 1).

    On Linux: all cores less the CPU time the *other* processes used over the last quarter second or so (/proc/stat
    less this process's own time, so the kernels' own threads never count as load; measured between calls at least
    :data:`_IDLE_WINDOW_S` apart, the answer reused in between). A training loop that runs two threads on an idle
    2-core machine thus keeps both, while a second process training on the other core (a Dask worker) takes it.
    The first call, and systems without /proc/stat, fall back to the 1-minute load average, which does count this
    process's threads (as GNU OpenMP's dynamic mode does). Elsewhere than on Unix every core counts as idle.
    """
    import os
    import time

    n = os.cpu_count() or 1
    now = time.monotonic()
    state = _idle_state
    sample, answer = state["sample"], state["answer"]
    if answer is not None and now - sample[0] < _IDLE_WINDOW_S:
        return answer
    try:
        busy, own = _cpu_seconds()
    except (OSError, ValueError, IndexError, AttributeError):
        busy = None
    if busy is not None and sample is not None and sample[1] is not None and now - sample[0] < 60.0:
        others = max(0.0, (busy - sample[1]) - (own - sample[2])) / (now - sample[0])
        answer = max(1, min(n, int(n - others + 0.5)))
    else:
        try:
            answer = max(1, int(n - os.getloadavg()[0] + 1.0))
        except (AttributeError, OSError):
            answer = n
    state["sample"] = (now, busy, own if busy is not None else None)
    state["answer"] = answer
    return answer


def sweep_chunks(nb, T, M):
    """Number of groups of windows to sweep on separate threads (1: the serial kernels).

    Large problems (see :data:`fastrnn.config.PARALLEL_MIN_WORK`) use up to Numba's thread count, but only as many
    threads as there are cores not busy with other processes (:func:`idle_cores`): a thread that has to wait for a
    busy core holds up the whole sweep, and on 2 cores shared with other processes the split sweep was measured 1.7x
    slower than the serial one.
    """
    if nb < 2 or nb * T * M * M < config.PARALLEL_MIN_WORK:
        return 1
    return _usable_threads(nb)


def window_groups(nb, work, row_work):
    """Number of equal groups of consecutive windows in which a sweep is computed (1: the plain serial sweep).

    Sweeps of at least :data:`fastrnn.config.SPLIT_MIN_WORK` multiply-adds (``work``) are split into the largest
    number of groups, up to Numba's thread count, that divides the batch ``nb`` and keeps each group's step products
    (``row_work`` multiply-adds per window) on the path they take for the whole batch
    (:data:`fastrnn.config.LOOP_MNK`: plain loops run slower than BLAS). The groups depend on the problem and the
    thread count only, never on the machine's load, so the results are the same bit for bit whether the groups run
    at once (:func:`concurrent`) or one after the other.
    """
    if nb < 2 or work < config.SPLIT_MIN_WORK:
        return 1
    import numba

    for g in range(min(nb, numba.get_num_threads()), 1, -1):
        if nb % g == 0 and (nb * row_work <= config.LOOP_MNK or nb // g * row_work > config.LOOP_MNK):
            return g
    return 1


def concurrent(n_groups):
    """Whether ``n_groups`` (> 1) groups of :func:`window_groups` run on separate threads: when a second core is not
    busy with other processes (:func:`idle_cores`, as for :func:`sweep_chunks`)."""
    return n_groups > 1 and idle_cores() >= 2


def _usable_threads(nb):
    import numba

    return min(nb, numba.get_num_threads(), idle_cores())


def sum_groups(parts):
    """The sum over axis 0 of per-group gradients (n_groups, ...), in the groups' order; one group is returned as it
    is (the serial sweep's gradient, bit for bit)."""
    if parts.shape[0] == 1:
        return parts[0]
    out = parts[0].copy()
    for p in parts[1:]:
        out += p
    return out


# fastrnn.config.THREADED_GEMM_MIN: weight-gradient products from this many multiply-adds run on BLAS's threads when
# cores are idle. After the sequential sweep nothing else runs, so the threads pay off: the LSTM's W gradient at
# M = 256, batch 16, T = 200 (four (3200 x 256)^T (3200 x 256) products) took 9 ms on 2 idle cores against 18-21 ms.


@njit(cache=True, nogil=True)
def _block_grads_serial(Gb, Y, out):
    ng, R, P = Gb.shape
    for k in range(ng):
        gemm_tn(Gb[k], Y, out[k * P:(k + 1) * P])


def block_weight_grads(Gb, Y, out):
    """out[k P:(k+1) P] = Gb[k]^T Y for the gate blocks Gb (ng, R, P) and Y (R, Q): a gated model's W gradient.

    Large products (:data:`fastrnn.config.THREADED_GEMM_MIN`) run on BLAS's own threads when :func:`idle_cores` finds a
    second core idle, everything else on the calling thread (see :class:`serial_blas`).
    """
    ng, R, P = Gb.shape
    if ng * R * P * Y.shape[1] >= config.THREADED_GEMM_MIN and idle_cores() >= 2:
        for k in range(ng):
            np.dot(Gb[k].T, Y, out=out[k * P:(k + 1) * P])
    else:
        with serial_blas():
            _block_grads_serial(Gb, Y, out)
