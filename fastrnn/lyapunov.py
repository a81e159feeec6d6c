"""Lyapunov spectra of trained models and the growth of Jacobian products (DESIGN §1 "Lyapunov spectra").

Benettin's QR method (Benettin, Galgani, Giorgilli & Strelcyn 1980; Shimada & Nagashima 1979): along an orbit
z_0, z_1, ... of the freely running map F, an orthonormal frame Q (D x k) is pushed through the Jacobians
J_t = dF/dz(z_t) and re-orthonormalised, ``J_t Q_t = Q_{t+1} R_t``; the exponents are the averages
``lambda_i = (1/n) sum_t log|R_t[i, i]|`` (natural log, **per step** of the map; divide by the sampling interval
dt of the data for values per time unit). The accumulation runs in fastrnn's C core (:mod:`fastrnn._native`,
``csrc/``); the Jacobians come from the same Numba model definitions that training uses, streamed in chunks so
memory stays bounded whatever the orbit length.

Public functions: :func:`lyapunov_spectrum` (models), :func:`jacobian_norms` (log spectral norms of Jacobian
products over growing lags), :func:`qr_spectrum` (any stream of Jacobians, e.g. from your own model).
A free orbit that diverges raises :class:`OrbitDivergedError`; no function returns NaN.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _native, validation
from .models.orbit import OrbitDivergedError, check_orbit

__all__ = ["lyapunov_spectrum", "jacobian_norms", "qr_spectrum", "OrbitDivergedError"]

#: Default number of steps per chunk of Jacobians (memory: chunk_size * D * D * 8 bytes).
DEFAULT_CHUNK = 1000


# ---------------------------------------------------------------------------------------------------- validation
def _check_model(model):
    for attr in ("state_dim", "jacobians", "initial_state"):
        if not hasattr(model, attr):
            raise TypeError(f"model must be a fastrnn model (PLRNN, TanhRNN, LSTM, GRU); {type(model).__name__} "
                            f"has no {attr}")
    return int(model.state_dim)


def _check_inputs(model, inputs, n_rows):
    """Inputs for ``n_rows`` steps, row t driving the step z_t -> z_{t+1}; None for models without inputs."""
    K = int(getattr(model, "n_inputs", 0))
    if K == 0:
        if inputs is not None and np.size(inputs) > 0:
            raise ValueError(f"inputs were given but the model has n_inputs=0; drop inputs or build the model with "
                             f"n_inputs={np.shape(inputs)[-1]}")
        return None
    if inputs is None:
        raise ValueError(f"the model has n_inputs={K}: pass inputs of shape (transient + n_steps, {K}) = "
                         f"({n_rows}, {K}); row t drives the step from z_t to z_(t+1)")
    arr = np.asarray(inputs)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"inputs has dtype {arr.dtype}; it must hold real numbers")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != K or arr.shape[0] < n_rows:
        raise ValueError(f"inputs must have shape (transient + n_steps, {K}) = ({n_rows}, {K}) (more rows are "
                         f"ignored), got {arr.shape}")
    if not np.all(np.isfinite(arr[:n_rows])):
        raise ValueError("inputs contain NaN or inf; clean them before computing spectra")
    return arr


def random_frame(D, k, rng):
    """Q factor of a standard normal (D, k) matrix: a random orthonormal frame."""
    Q, R = np.linalg.qr(rng.standard_normal((D, k)))
    return np.ascontiguousarray(Q * np.sign(np.diag(R)))


def _check_frame(frame0, D, k):
    Q = np.asarray(frame0)
    if Q.dtype.kind not in "fiu":
        raise TypeError(f"frame0 has dtype {Q.dtype}; it must be a real (D, k) array")
    Q = np.array(Q, dtype=np.float64, order="C")
    if Q.ndim != 2 or Q.shape[0] != D or not 1 <= Q.shape[1] <= D or (k is not None and Q.shape[1] != k):
        want = f"({D}, {k})" if k is not None else f"({D}, k) with 1 <= k <= {D}"
        raise ValueError(f"frame0 must have shape {want}, got {Q.shape}")
    if not np.all(np.isfinite(Q)) or np.max(np.abs(Q.T @ Q - np.eye(Q.shape[1]))) > 1e-10:
        raise ValueError("frame0 must have orthonormal columns (Q.T @ Q = I to 1e-10); orthonormalise it with "
                         "np.linalg.qr(frame0)[0]")
    return Q


# ---------------------------------------------------------------------------------------------------- machinery
class QRAccumulator:
    """Benettin's QR accumulation in the C core, fed in chunks: the frame, the running sums of log|R_ii|, the step
    count, and optionally the scaled product of the R factors (for norms of Jacobian products).

    Parameters
    ----------
    frame : ndarray (D, k)
        Orthonormal initial frame (k exponents of a D-dimensional map).
    track_product : bool
        Also keep the product of the R factors, for :meth:`log_norm`.
    max_interval : int
        Most Jacobians multiplied before a re-orthonormalisation (the C core's cap).

    Notes
    -----
    :meth:`push` takes Jacobians (n, D, D) in order along the orbit; :meth:`exponents` are per step. Used by
    :func:`lyapunov_spectrum` and by :func:`fastrnn.systems.lyapunov_spectrum` (reference spectra).
    """

    def __init__(self, frame, track_product=False, max_interval=32):
        self.frame = np.array(frame, dtype=np.float64, order="C")
        k = self.frame.shape[1]
        self.log_sums = np.zeros(k)
        self.n = 0
        self.tri = np.eye(k) if track_product else None
        self.tri_log_scale = 0.0
        self.max_interval = max_interval

    def push(self, J):
        if J.shape[0]:
            self.n, self.tri_log_scale = _native.qr_accumulate(
                J, self.frame, self.log_sums, self.n, tri=self.tri, tri_log_scale=self.tri_log_scale,
                max_interval=self.max_interval)

    def exponents(self):
        return self.log_sums / self.n

    def log_norm(self):
        """log of the spectral norm of (Jacobian product) @ (initial frame)."""
        s = np.linalg.norm(self.tri, 2)
        return self.tri_log_scale + np.log(s) if s > 0 else -np.inf


def _stream(model, state, n_steps, inputs, offset, chunk_size, max_norm, stops=()):
    """Yield (end, J, last_state) for consecutive chunks of the free orbit from ``state``.

    The chunks cover the ``n_steps`` steps after step ``offset`` of the whole orbit (``offset`` indexes
    ``inputs`` and the step numbers in error messages); ``end`` counts steps from the start of this stream and
    every value in ``stops`` is the end of some chunk. Each chunk starts from the last state of the previous one.
    """
    ends = sorted({int(s) for s in stops if 0 < s < n_steps})
    ends.append(n_steps)
    pos = 0
    for stop in ends:
        while pos < stop:
            end = min(pos + chunk_size, stop)
            S = None if inputs is None else inputs[offset + pos:offset + end]
            J, Z = model.jacobians(state.copy(), end - pos, S)
            check_orbit(Z[1:], offset + pos + 1, max_norm)
            state = np.array(Z[-1], dtype=np.float64)
            pos = end
            yield end, J, state


def _run_transient(model, state, transient, inputs, chunk_size, max_norm):
    for _, _, state in _stream(model, state, transient, inputs, 0, chunk_size, max_norm):
        pass
    return state


# ---------------------------------------------------------------------------------------------------- public API
def lyapunov_spectrum(model, n_steps, *, transient=1000, z0=None, x0=None, inputs=None, rng=None,
                      return_history=False, n_exponents=None, frame0=None, history_every=None,
                      chunk_size=DEFAULT_CHUNK, max_norm=1e8, max_interval=32):
    """Lyapunov spectrum of the freely running model, per step, by Benettin's QR method.

    The model runs freely from its initial state for ``transient`` steps (discarded), then for ``n_steps`` steps
    along which an orthonormal frame is propagated through the model's Jacobians (the same Numba definitions that
    training uses) and re-orthonormalised by Householder QR in fastrnn's C core. Jacobians are produced and
    consumed in chunks of ``chunk_size`` steps, so memory stays O(chunk_size D^2) whatever ``n_steps`` is.

    Parameters
    ----------
    model : PLRNN, TanhRNN, LSTM or GRU
        The map z_t -> z_(t+1) is the model's free step. For the LSTM the state is (h, c), so there are 2M
        exponents; for the other models M.
    n_steps : int
        Steps averaged over (>= 1). The statistical error of the exponents falls like 1/sqrt(n_steps).
    transient : int, default 1000
        Steps run first and discarded so that the orbit reaches its attractor (>= 0). The frame is propagated
        through them as well (their log|R_ii| are discarded), so that it is aligned with the Lyapunov vectors
        when the averaging starts.
    z0, x0 : array, optional
        Initial state (D,) or initial observation (N,) (mapped through pinv(B) as in training). At most one;
        if neither is given, a standard normal latent state is drawn from ``rng``.
    inputs : array (transient + n_steps, K), optional
        External inputs, required when the model has K > 0 inputs; row t drives the step from z_t to z_(t+1)
        (rows 0 .. transient-1 drive the transient).
    rng : seed or numpy Generator, optional
        Randomness for the initial state (drawn first, only when z0 and x0 are None) and the initial frame.
    return_history : bool, default False
        Also return the running estimates every ``history_every`` steps (convergence check).
    n_exponents : int, optional
        Number k of leading exponents (1 <= k <= D); default all D (or the number of columns of ``frame0``).
    frame0 : array (D, k), optional
        Orthonormal frame at the start of the transient; default the Q factor of a standard normal (D, k) matrix
        drawn from ``rng``.
    history_every : int, optional
        Spacing (steps) of the history records; default max(1, n_steps // 200).
    chunk_size : int, default 1000
        Steps of Jacobians computed at once.
    max_norm : float, default 1e8
        A state with |z_i| above this (or non-finite) counts as a diverging orbit.
    max_interval : int, default 32
        Largest number of steps between two re-orthonormalisations in the C core (it adapts the interval so
        that the result equals the one-QR-per-step method to ~1e-12; 1 forces a QR after every step).

    Returns
    -------
    exponents : ndarray (k,)
        Lyapunov exponents per step (natural log), in the order of the QR method: decreasing up to finite-time
        fluctuations. A direction the map annihilates exactly (a singular Jacobian) gives -inf.
    steps : ndarray (n_records,), int
        Only with ``return_history``: steps after the transient at which the estimates were recorded.
    history : ndarray (n_records, k)
        Only with ``return_history``: running estimates (per step) at those steps; the last row is ``exponents``.

    Raises
    ------
    OrbitDivergedError
        The orbit became non-finite or left the box |z_i| <= max_norm.
    ValueError, TypeError
        Invalid arguments (the message names the argument).

    Notes
    -----
    The sum of the exponents equals the orbit average of log|det J_t|. The exponents of the data-generating flow
    sampled every dt time units correspond to ``exponents / dt`` per time unit.
    """
    D = _check_model(model)
    n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
    transient = validation.check_int(transient, "transient", minimum=0)
    chunk_size = validation.check_int(chunk_size, "chunk_size", minimum=1)
    max_interval = validation.check_int(max_interval, "max_interval", minimum=1)
    max_norm = validation.check_positive(max_norm, "max_norm")
    if n_exponents is None:
        k = D if frame0 is None else int(np.shape(frame0)[-1]) if np.ndim(frame0) == 2 else D
    else:
        k = validation.check_int(n_exponents, "n_exponents", minimum=1)
    if k > D:
        raise ValueError(f"n_exponents must be <= the state dimension {D}, got {k}")
    if history_every is None:
        history_every = max(1, n_steps // 200)
    history_every = validation.check_int(history_every, "history_every", minimum=1)
    inputs = _check_inputs(model, inputs, transient + n_steps)
    rng = np.random.default_rng(rng)

    state = np.array(model.initial_state(x0=x0, z0=z0, rng=rng), dtype=np.float64)
    frame = random_frame(D, k, rng) if frame0 is None else _check_frame(frame0, D, k)
    check_orbit(state[None, :], 0, max_norm)
    acc = QRAccumulator(frame, max_interval=max_interval)
    # The frame turns during the transient too (sums discarded): it is aligned with the Lyapunov vectors when the
    # averaging starts, which removes the O(1/n_steps) bias of a random initial frame.
    for _, J, state in _stream(model, state, transient, inputs, 0, chunk_size, max_norm):
        acc.push(J)
    acc.log_sums[:] = 0.0
    acc.n = 0
    stops = range(history_every, n_steps, history_every) if return_history else ()
    steps, history = [], []
    for end, J, _ in _stream(model, state, n_steps, inputs, transient, chunk_size, max_norm, stops):
        acc.push(J)
        if return_history and (end % history_every == 0 or end == n_steps):
            steps.append(end)
            history.append(acc.exponents())
    exps = acc.exponents()
    if return_history:
        return exps, np.asarray(steps, dtype=np.int64), np.asarray(history)
    return exps


def _default_lags(n):
    return np.unique(np.round(np.logspace(0, np.log10(n), 40)).astype(np.int64))


def jacobian_norms(model, n_steps_or_trajectory, lags=None, *, transient=1000, z0=None, x0=None, inputs=None,
                   rng=None, chunk_size=DEFAULT_CHUNK, max_norm=1e8):
    """Spectral norms of products of Jacobians over growing lags along a free orbit, in log space.

    For an orbit z_0, z_1, ... (z_0 = the state after the transient) and J_t = dF/dz(z_t), returns
    ``log ||J_(L-1) ... J_1 J_0||_2`` (natural log) for every lag L. These products are the factors that carry
    loss gradients L steps back in BPTT: for a chaotic model the log-norm grows like lambda_1 L, for a model
    converging to a stable fixed point or cycle it decreases. The products are accumulated as
    ``Q_L (R_L ... R_1)`` (QR per step in the C core) with the triangular factor rescaled at every step and the
    scale kept as a logarithm, so lags of 10^4 and more neither overflow nor underflow.

    Parameters
    ----------
    model : PLRNN, TanhRNN, LSTM or GRU
    n_steps_or_trajectory : int or array (T, D)
        Either the length of the free orbit to follow (>= 1; it runs from the initial state after
        ``transient`` steps), or a trajectory of model states (rows z_0 .. z_(T-1), e.g. from the model driven
        by data); the Jacobians are then evaluated at its rows and ``transient``, ``z0``, ``x0`` are not used.
    lags : array of int, optional
        Lags L (1 <= L <= number of Jacobians available); default 40 log-spaced lags from 1 to the orbit length.
    transient : int, default 1000
        Free steps discarded before z_0 (orbit mode only).
    z0, x0, rng : optional
        Initial state as in :func:`lyapunov_spectrum` (orbit mode only).
    inputs : array, optional
        External inputs when the model has K > 0: (transient + n_steps, K) in orbit mode (row t drives the step
        from z_t), (T, K) in trajectory mode (row t is the input of the step leaving trajectory row t).
    chunk_size : int, default 1000
    max_norm : float, default 1e8
        Bound on |z_i| of the free orbit (orbit mode), as in :func:`lyapunov_spectrum`.

    Returns
    -------
    lags : ndarray (n_lags,), int
        The lags, sorted.
    log_norms : ndarray (n_lags,)
        Natural log of the spectral norm of the product of the first L Jacobians, per lag.

    Raises
    ------
    OrbitDivergedError
        The free orbit diverged (orbit mode).
    """
    D = _check_model(model)
    chunk_size = validation.check_int(chunk_size, "chunk_size", minimum=1)
    max_norm = validation.check_positive(max_norm, "max_norm")
    traj = None
    if isinstance(n_steps_or_trajectory, numbers.Integral) and not isinstance(n_steps_or_trajectory, bool):
        n = validation.check_int(n_steps_or_trajectory, "n_steps_or_trajectory", minimum=1)
        transient = validation.check_int(transient, "transient", minimum=0)
    else:
        traj = np.asarray(n_steps_or_trajectory)
        if traj.dtype.kind not in "fiu":
            raise TypeError(f"n_steps_or_trajectory must be an int or a real (T, {D}) array of states, got dtype "
                            f"{traj.dtype}")
        traj = np.ascontiguousarray(traj, dtype=np.float64)
        if traj.ndim != 2 or traj.shape[1] != D or traj.shape[0] < 1:
            raise ValueError(f"a trajectory must have shape (T, {D}) with T >= 1 (rows are model states), got "
                             f"{traj.shape}")
        if not np.all(np.isfinite(traj)):
            raise ValueError("the trajectory contains NaN or inf")
        n = traj.shape[0]
        transient = 0
    if lags is None:
        lags = _default_lags(n)
    else:
        lags = np.asarray(lags)
        if lags.dtype.kind not in "iu" or lags.ndim != 1 or lags.size == 0:
            raise ValueError(f"lags must be a non-empty 1-D array of integers, got {lags!r}")
        lags = np.unique(lags.astype(np.int64))
        if lags[0] < 1 or lags[-1] > n:
            raise ValueError(f"lags must lie in 1 .. {n} (the number of Jacobians), got {lags[0]} .. {lags[-1]}")
    n_used = int(lags[-1])
    inputs = _check_inputs(model, inputs, transient + n_used)

    acc = QRAccumulator(np.eye(D), track_product=True, max_interval=32)
    out = np.empty(lags.size)
    want = {int(L): i for i, L in enumerate(lags)}
    if traj is None:
        rng = np.random.default_rng(rng)
        state = np.array(model.initial_state(x0=x0, z0=z0, rng=rng), dtype=np.float64)
        check_orbit(state[None, :], 0, max_norm)
        state = _run_transient(model, state, transient, inputs, chunk_size, max_norm)
        for end, J, _ in _stream(model, state, n_used, inputs, transient, chunk_size, max_norm, lags):
            acc.push(J)
            if end in want:
                out[want[end]] = acc.log_norm()
    else:
        Jbuf = np.empty((min(chunk_size, n_used), D, D))
        pos = 0
        for L in lags:
            while pos < L:
                m = min(chunk_size, int(L) - pos)
                for i in range(m):
                    S = None if inputs is None else inputs[pos + i:pos + i + 1]
                    Jbuf[i] = model.jacobians(traj[pos + i].copy(), 1, S)[0][0]
                acc.push(Jbuf[:m])
                pos += m
            out[want[int(L)]] = acc.log_norm()
    return lags, out


def qr_spectrum(jacobians, *, n_exponents=None, frame0=None, rng=None, return_history=False, max_interval=32):
    """Lyapunov exponents (per step) from a sequence of Jacobians, by the QR method in fastrnn's C core.

    Parameters
    ----------
    jacobians : array (n, D, D) or iterable of such arrays
        Jacobians J_t of a map along an orbit (row-major, float64 after conversion), in orbit order; an iterable
        of chunks is consumed one chunk at a time (memory bounded by the largest chunk).
    n_exponents : int, optional
        Number k of leading exponents; default D.
    frame0 : array (D, k), optional
        Initial orthonormal frame; default a random one from ``rng``.
    rng : seed or numpy Generator, optional
    return_history : bool, default False
        Also return the running estimates after each chunk.
    max_interval : int, default 32
        See :func:`lyapunov_spectrum`.

    Returns
    -------
    exponents : ndarray (k,)
        Per step (natural log); divide by the time step for per-time-unit values.
    steps, history : ndarray
        Only with ``return_history``: cumulative step counts after each chunk and the running estimates there.
    """
    max_interval = validation.check_int(max_interval, "max_interval", minimum=1)
    chunks = [jacobians] if isinstance(jacobians, np.ndarray) else jacobians
    acc = None
    steps, history = [], []
    for chunk in chunks:
        J = np.asarray(chunk)
        if J.dtype.kind not in "fiu":
            raise TypeError(f"jacobians must be real arrays, got dtype {J.dtype}")
        J = np.ascontiguousarray(J, dtype=np.float64)
        if J.ndim != 3 or J.shape[1] != J.shape[2] or (acc is not None and J.shape[1] != acc.frame.shape[0]):
            raise ValueError(f"jacobians must have shape (n, D, D) with the same D in every chunk, got {J.shape}")
        if acc is None:
            D = J.shape[1]
            k = D if n_exponents is None else validation.check_int(n_exponents, "n_exponents", minimum=1)
            if k > D:
                raise ValueError(f"n_exponents must be <= D = {D}, got {k}")
            frame = random_frame(D, k, np.random.default_rng(rng)) if frame0 is None else _check_frame(frame0, D, k)
            acc = QRAccumulator(frame, max_interval=max_interval)
        acc.push(J)
        if return_history and acc.n:
            steps.append(acc.n)
            history.append(acc.exponents())
    if acc is None or acc.n == 0:
        raise ValueError("jacobians is empty: pass at least one (D, D) Jacobian")
    if return_history:
        return acc.exponents(), np.asarray(steps, dtype=np.int64), np.asarray(history)
    return acc.exponents()
