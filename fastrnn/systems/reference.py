"""Reference Lyapunov spectra of the benchmark systems from their tangent dynamics, and the tangent kernels.

Flows: the orbit and the variational equation ``dY/dt = Df(x(t)) Y`` are integrated together by the same RK4 scheme as
the generators (internal step ``dt / substeps``, time of substep ``j`` of sample ``k`` at ``k dt + j h``), ``Y = I`` at
the start of every sample interval, so ``Y`` is the exact Jacobian of the sampled RK4 map ``x_k -> x_(k+1)``
(:func:`flow_tangent_chunk`). Maps: the analytic Jacobian at every iterate (:func:`map_tangent_chunk`). Either way
the Jacobians go in chunks through fastrnn's C core (Benettin's QR method, :class:`fastrnn.lyapunov.QRAccumulator`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .. import validation
from ..lyapunov import QRAccumulator, random_frame
from .fields import (BURGERS, CHEN, CHUA, DUFFING, DUFFING_MAP, HALVORSEN, HENON, HENON3, IKEDA, LOGISTIC, LORENZ,
                     LORENZ96, LOZI, ROSSLER, THOMAS, TINKERBELL, flow_field_into, flow_jac_into, henon_f,
                     henon_jac_into, logistic_f, logistic_jac_into, map_jac_into, map_step_into)
from .generators import DEFAULT_TRANSIENT, mackey_glass_grid, mackey_glass_start, transient_samples
from .integrators import mackey_glass_tangent
from .registry import SYSTEMS

__all__ = ["lyapunov_spectrum", "flow_tangent_chunk", "map_tangent_chunk", "tangent_stage", "FLOW_IDS", "MAP_IDS",
           "PARAMS", "SIZE_PARAMS", "DIM"]

#: kernel ids of the flows and the maps that have reference spectra
FLOW_IDS = {"lorenz": LORENZ, "rossler": ROSSLER, "duffing": DUFFING, "chen": CHEN, "chua_pwl": CHUA,
            "thomas": THOMAS, "halvorsen": HALVORSEN, "lorenz96": LORENZ96}
MAP_IDS = {"henon": HENON, "logistic": LOGISTIC, "ikeda": IKEDA, "tinkerbell": TINKERBELL, "lozi": LOZI,
           "burgers": BURGERS, "duffing_map": DUFFING_MAP, "henon3": HENON3}
#: parameter names in the order the kernels take them (``p[0], p[1], ...``), as in the generators' signatures
PARAMS = {
    "lorenz": ("sigma", "rho", "beta"),
    "rossler": ("a", "b", "c"),
    "duffing": ("delta", "alpha", "beta", "gamma", "omega"),
    "henon": ("a", "b"),
    "logistic": ("r",),
    "chen": ("a", "b", "c"),
    "chua_pwl": ("alpha", "beta", "m0", "m1"),
    "thomas": ("b",),
    "halvorsen": ("a",),
    "lorenz96": ("F",),
    "ikeda": ("u", "a", "b"),
    "tinkerbell": ("a", "b", "c", "d"),
    "lozi": ("a", "b"),
    "burgers": ("a", "b"),
    "duffing_map": ("a", "b"),
    "henon3": ("a", "b"),
}
#: integer size parameters, passed to the generator only (the dimension of Lorenz-96)
SIZE_PARAMS = {"lorenz96": ("N",)}
#: state dimension D of each system with a reference spectrum (Lorenz-96: at its default N)
DIM = {"lorenz": 3, "rossler": 3, "duffing": 2, "henon": 2, "logistic": 1, "chen": 3, "chua_pwl": 3, "thomas": 3,
       "halvorsen": 3, "lorenz96": 5, "ikeda": 2, "tinkerbell": 2, "lozi": 2, "burgers": 2, "duffing_map": 2,
       "henon3": 3}


@njit(cache=True)
def tangent_stage(sid, xs, ts, Ys, p, k, K, A):
    """One RK4 stage of the orbit and its tangent map: ``k = f(xs, ts)``, ``K = Df(xs) Ys``.

    Parameters
    ----------
    sid : int
        Flow id (:data:`~fastrnn.systems.fields.LORENZ`, ``ROSSLER`` or ``DUFFING``).
    xs : ndarray (D,)
        State at which the stage is evaluated.
    ts : float
        Time of the stage.
    Ys : ndarray (D, D)
        Tangent matrix at the stage.
    p : ndarray
        Parameters, ordered as in :data:`PARAMS`.
    k, K, A : ndarray (D,), (D, D), (D, D)
        Receive the vector field, the tangent derivative and (scratch) the Jacobian at ``xs``.
    """
    D = xs.shape[0]
    flow_field_into(sid, xs, ts, p, k)
    flow_jac_into(sid, xs, p, A)
    for i in range(D):
        for j in range(D):
            s = 0.0
            for m in range(D):
                s += A[i, m] * Ys[m, j]
            K[i, j] = s


@njit(cache=True)
def _stage_point(x, Y, c, k, K, xs, Ys):
    """Where the next RK4 stage is evaluated: ``xs = x + c k``, ``Ys = Y + c K``."""
    D = x.shape[0]
    for a in range(D):
        xs[a] = x[a] + c * k[a]
        for b in range(D):
            Ys[a, b] = Y[a, b] + c * K[a, b]


@njit(cache=True)
def flow_tangent_chunk(sid, x, k0, n, dt, substeps, p, Jout):
    """Advance a flow's orbit by ``n`` samples together with the Jacobians of the sampled RK4 map.

    Parameters
    ----------
    sid : int
        Flow id (:data:`FLOW_IDS`).
    x : ndarray (D,)
        State at sample ``k0``; advanced in place to sample ``k0 + n``.
    k0 : int
        Sample index of ``x`` (fixes the time ``k0 dt`` of the Duffing drive).
    n : int
        Number of samples to advance.
    dt : float
        Time units per sample.
    substeps : int
        RK4 steps per sample (step ``dt / substeps``), as in the generators.
    p : ndarray
        Parameters, ordered as in :data:`PARAMS`.
    Jout : ndarray (>= n, D, D)
        ``Jout[i]`` receives ``d x_(k0+i+1) / d x_(k0+i)``.

    Returns
    -------
    bool
        False if the state stopped being finite (``x`` and ``Jout`` are then incomplete).
    """
    D = x.shape[0]
    h = dt / substeps
    hh = 0.5 * h
    k1 = np.empty(D)
    k2 = np.empty(D)
    k3 = np.empty(D)
    k4 = np.empty(D)
    xs = np.empty(D)
    Y = np.empty((D, D))
    Ys = np.empty((D, D))
    K1 = np.empty((D, D))
    K2 = np.empty((D, D))
    K3 = np.empty((D, D))
    K4 = np.empty((D, D))
    A = np.empty((D, D))
    for i in range(n):
        for a in range(D):
            for b in range(D):
                Y[a, b] = 1.0 if a == b else 0.0
        for j in range(substeps):
            t = (k0 + i) * dt + j * h
            tangent_stage(sid, x, t, Y, p, k1, K1, A)
            _stage_point(x, Y, hh, k1, K1, xs, Ys)
            tangent_stage(sid, xs, t + hh, Ys, p, k2, K2, A)
            _stage_point(x, Y, hh, k2, K2, xs, Ys)
            tangent_stage(sid, xs, t + hh, Ys, p, k3, K3, A)
            _stage_point(x, Y, h, k3, K3, xs, Ys)
            tangent_stage(sid, xs, t + h, Ys, p, k4, K4, A)
            for a in range(D):
                x[a] += h / 6.0 * (k1[a] + 2.0 * k2[a] + 2.0 * k3[a] + k4[a])
                for b in range(D):
                    Y[a, b] += h / 6.0 * (K1[a, b] + 2.0 * K2[a, b] + 2.0 * K3[a, b] + K4[a, b])
        for a in range(D):
            if not np.isfinite(x[a]):
                return False
            for b in range(D):
                Jout[i, a, b] = Y[a, b]
    return True


@njit(cache=True)
def map_tangent_chunk(sid, x, n, p, Jout):
    """Iterate a map ``n`` times, storing the Jacobian at every iterate.

    Parameters
    ----------
    sid : int
        Map id (:data:`MAP_IDS`).
    x : ndarray (D,)
        Current iterate; updated in place.
    n : int
        Number of iterations.
    p : ndarray
        Parameters, ordered as in :data:`PARAMS`.
    Jout : ndarray (>= n, D, D)
        ``Jout[i]`` receives the Jacobian at the ``i``-th iterate (before it is mapped).

    Returns
    -------
    int
        0 if fine, 1 if the orbit stopped being finite, 2 if the logistic orbit hit 0 or 1 (degenerate).
    """
    for i in range(n):
        if sid == HENON:
            henon_jac_into(x, p[0], p[1], Jout[i])
            x[0], x[1] = henon_f(x[0], x[1], p[0], p[1])
            if not (np.isfinite(x[0]) and np.isfinite(x[1])):
                return 1
        elif sid == LOGISTIC:
            logistic_jac_into(x, p[0], Jout[i])
            x[0] = logistic_f(x[0], p[0])
            if x[0] <= 0.0 or x[0] >= 1.0 or not np.isfinite(x[0]):
                return 2
        else:
            map_jac_into(sid, x, p, Jout[i])
            map_step_into(sid, x, p)
            for a in range(x.shape[0]):
                if not np.isfinite(x[a]):
                    return 1
    return 0


def _defaults(system):
    """Generator, default parameters, dt and substeps of ``system`` (from the generator's signature)."""
    gen = SYSTEMS[system].generator
    kw = gen.__kwdefaults__
    params = {name: kw[name] for name in PARAMS[system]}
    return gen, params, kw.get("dt", 1.0), kw.get("substeps")


def lyapunov_spectrum(system, n_steps, *, dt=None, substeps=None, x0=None, transient=None, frame_transient=1000,
                      rng=None, return_history=False, chunk_size=10000, n_exponents=None, **params):
    r"""Reference Lyapunov spectrum of a benchmark system from its tangent dynamics.

    Benettin's QR method on the exact Jacobians of the system's own discretisation, accumulated in fastrnn's C
    core: for the flows (Lorenz, Rössler, forced Duffing) the variational equation ``dY/dt = Df(x(t)) Y`` is
    integrated along the orbit with the same RK4 scheme as the generator (internal step ``dt / substeps``,
    ``Y = I`` at the start of every sample), for the maps (Hénon, logistic) the analytic Jacobian is taken at
    every iterate.

    Parameters
    ----------
    system : str
        Which system: a flow ("lorenz", "rossler", "duffing", "chen", "chua_pwl", "thomas", "halvorsen",
        "lorenz96") or a map ("henon", "logistic", "ikeda", "tinkerbell", "lozi", "burgers", "duffing_map",
        "henon3") or the delay equation "mackey_glass"; the parameters and their defaults are those of the
        generator of the same name (Lorenz-96 also takes its size ``N``).
    n_steps : int
        Number of samples averaged over (flows: total time ``n_steps * dt`` time units; maps: iterations). The
        statistical error falls like ``1/sqrt(n_steps)``; Lorenz with ``n_steps=100_000`` (1000 time units)
        is within about 0.5 % of the literature values.
    dt : float, optional
        Flows only: sampling interval in time units (default: the generator's, e.g. 0.01 for Lorenz).
    substeps : int, optional
        Flows only: RK4 steps per sample (default: the generator's).
    x0 : array_like, optional
        Initial state; None draws one from ``rng`` as the generator does.
    transient : int, optional
        Samples discarded first, by the generator (default: the generator's transient).
    frame_transient : int, default 1000
        Further samples over which the (random) tangent frame is propagated before the averaging starts, so that
        it is aligned with the Lyapunov vectors (removes an O(1/n_steps) bias).
    rng : seed or numpy Generator, optional
        Randomness for the initial state (through the generator) and the initial frame.
    return_history : bool, default False
        Also return the running estimates after every chunk.
    chunk_size : int, default 10000
        Samples of Jacobians computed at once (memory ``chunk_size * D * D * 8`` bytes).
    n_exponents : int, optional
        Mackey-Glass only (its state, the solution over one delay, is infinite-dimensional): how many leading
        exponents to compute (default 3).  They come from the exact linearisation of the generator's scheme
        (RK4 with Hermite-interpolated delayed values, :func:`~fastrnn.systems.integrators.mackey_glass_tangent`),
        orthonormalised once per delay; the second is the flow's zero exponent.
    **params : float
        System parameters (e.g. ``sigma``, ``rho``, ``beta`` for Lorenz; ``r`` for the logistic map; ``F`` and the
        integer ``N`` for Lorenz-96).

    Returns
    -------
    exponents : ndarray (D,)
        Lyapunov exponents, decreasing up to finite-time fluctuations: **per time unit** for the flows
        (Lorenz and Rössler: 3 exponents including the zero one of the flow direction; Duffing: the 2 exponents of
        the (x, v) dynamics, time being the forcing phase), **per iteration** for the maps (Hénon 2, logistic 1).
    steps, history : ndarray
        Only with ``return_history``: samples done after each chunk and the running estimates there (same units).

    Notes
    -----
    Literature values: Lorenz (10, 28, 8/3): (0.9056, 0, -14.5723), sum ``-(sigma + 1 + beta)``; Rössler
    (0.2, 0.2, 5.7): about (0.0714, 0, -5.3943); Hénon (1.4, 0.3): about (0.4192, -1.6232), sum ``ln b``;
    logistic r = 4: ``ln 2``; forced Duffing: sum ``-delta``; the further systems: see :mod:`fastrnn.systems`
    (literature values, ours, sum rules). The exponents are those of the sampled RK4 map,
    which approach the flow's as ``h**4``.

    Examples
    --------
    Mackey-Glass at its defaults (beta 0.2, gamma 0.1, n 10, delay 17): about (0.0051, 0, -0.039) per time unit
    (ours, 10^5 time units; the same at half the step; two nearby orbits of the generator separate at the same
    rate); at delay 30 two exponents are positive (about 0.0071 and 0.0030); at delay 10 the orbit is periodic.

    >>> lam = lyapunov_spectrum("henon", 100_000, rng=0)
    >>> bool(abs(lam.sum() - np.log(0.3)) < 1e-10)
    True
    """
    if not isinstance(system, str) or system.lower() not in set(DIM) | {"mackey_glass"}:
        raise ValueError(f"system must be one of {sorted(set(DIM) | {'mackey_glass'})}, got {system!r}")
    system = system.lower()
    n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
    if system == "mackey_glass":
        if return_history:
            raise ValueError("return_history is not available for mackey_glass; call lyapunov_spectrum with "
                             "several n_steps instead")
        return _delay_spectrum(n_steps, dt, substeps, x0, transient, frame_transient, rng, n_exponents, params)
    if n_exponents is not None:
        raise ValueError(f"n_exponents applies only to the delay equation mackey_glass; {system} has all its "
                         f"{DIM[system]} exponents computed")
    chunk_size = validation.check_int(chunk_size, "chunk_size", minimum=1)
    gen, defaults, dt_default, sub_default = _defaults(system)
    sizes = {k: params.pop(k) for k in SIZE_PARAMS.get(system, ()) if k in params}
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"unknown parameter(s) {sorted(unknown)} for {system}; its parameters are "
                        f"{sorted(set(defaults) | set(SIZE_PARAMS.get(system, ())))}")
    values = {k: validation.check_float(params.get(k, v), k) for k, v in defaults.items()}
    flow = system in FLOW_IDS
    if flow:
        dt = validation.check_float(dt_default if dt is None else dt, "dt", minimum=0, strict_min=True)
        substeps = validation.check_int(sub_default if substeps is None else substeps, "substeps", minimum=1)
    elif dt is not None or substeps is not None:
        raise ValueError(f"{system} is a map (one sample per iteration): dt and substeps do not apply")
    rng = validation.check_rng(rng)

    # Start on the attractor: the generator's first sample after its transient.
    gen_kwargs = dict(values, x0=x0, transient=transient, rng=rng, **sizes)
    if flow:
        gen_kwargs.update(dt=dt, substeps=substeps)
    first = gen(1, **gen_kwargs)
    if system == "duffing":
        first = first[0]
        k0 = transient_samples(transient, DEFAULT_TRANSIENT["duffing"], dt)  # the sample index fixes the forcing phase
    else:
        k0 = 0
    x = np.array(first[0], dtype=np.float64)
    D = x.shape[0]
    p = np.array([values[k] for k in PARAMS[system]], dtype=np.float64)

    frame_transient = validation.check_int(frame_transient, "frame_transient", minimum=0)
    unit = dt if flow else 1.0
    acc = QRAccumulator(random_frame(D, D, rng))
    J = np.empty((min(chunk_size, max(n_steps, frame_transient)), D, D))
    total = frame_transient + n_steps
    done = 0
    steps, history = [], []
    while done < total:
        stop = frame_transient if done < frame_transient else total
        m = min(chunk_size, stop - done)
        if flow:
            if not flow_tangent_chunk(FLOW_IDS[system], x, k0 + done, m, dt, substeps, p, J):
                raise ValueError(f"the {system} orbit left the finite numbers after about {done + m} samples; use "
                                 f"a smaller dt or more substeps, or parameters with a bounded attractor")
        else:
            code = map_tangent_chunk(MAP_IDS[system], x, m, p, J)
            if code == 1:
                raise ValueError(f"the {system} orbit escaped to infinity; choose x0 in the basin of the "
                                 f"attractor or other parameters")
            if code == 2:
                raise ValueError("the logistic orbit landed exactly on 0 or 1 (a degenerate floating-point orbit); "
                                 "choose another x0 or rng")
        acc.push(J[:m])
        done += m
        if done == frame_transient:
            acc.log_sums[:] = 0.0
            acc.n = 0
        elif return_history and done > frame_transient:
            steps.append(done - frame_transient)
            history.append(acc.exponents() / unit)
    exps = acc.exponents() / unit
    if return_history:
        return exps, np.asarray(steps, dtype=np.int64), np.asarray(history)
    return exps


def _delay_spectrum(n_steps, dt, substeps, x0, transient, frame_transient, rng, n_exponents, params):
    """:func:`lyapunov_spectrum` of the Mackey-Glass delay equation (per time unit)."""
    gen = SYSTEMS["mackey_glass"].generator
    kw = gen.__kwdefaults__
    unknown = set(params) - {"beta", "gamma", "n", "tau"}
    if unknown:
        raise TypeError(f"unknown parameter(s) {sorted(unknown)} for mackey_glass; its parameters are "
                        f"['beta', 'gamma', 'n', 'tau']")
    beta, gamma, hill, tau = (validation.check_float(params.get(k, kw[k]), k, minimum=0, strict_min=True)
                              for k in ("beta", "gamma", "n", "tau"))
    dt = validation.check_float(kw["dt"] if dt is None else dt, "dt", minimum=0, strict_min=True)
    substeps = validation.check_int(kw["substeps"] if substeps is None else substeps, "substeps", minimum=1)
    n_exponents = validation.check_int(3 if n_exponents is None else n_exponents, "n_exponents", minimum=1)
    frame_transient = validation.check_int(frame_transient, "frame_transient", minimum=0)
    rng = validation.check_rng(rng)
    h, m, q = mackey_glass_grid(dt, substeps, tau)
    if q != 0.0:
        raise ValueError(f"the reference exponents need a step dt / substeps = {h} that divides the delay tau = "
                         f"{tau}; choose substeps so that tau * substeps / dt is an integer")
    x0 = mackey_glass_start(x0, rng)
    n_skip = transient_samples(transient, DEFAULT_TRANSIENT["mackey_glass"], dt) * substeps
    n_frame = -(-frame_transient * substeps // m) * m  # whole delays, so that the average starts at a renormalisation
    V = rng.standard_normal((n_exponents, 2 * (m + 3)))
    exps = mackey_glass_tangent(x0, n_skip, n_steps * substeps, n_frame, m, h, m, 0.0, beta, gamma, hill, V)
    if not np.all(np.isfinite(exps)):
        raise ValueError("the Mackey-Glass orbit left the finite numbers; use a smaller dt or more substeps")
    return exps
