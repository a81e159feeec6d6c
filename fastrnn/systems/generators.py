"""The public generators of the benchmark systems and their shared argument handling.

Each generator validates its arguments (with :mod:`fastrnn.validation`), converts the transient from time units to
samples, draws a random initial condition from ``rng`` when none is given, runs its Numba integrator
(:mod:`fastrnn.systems.integrators`) and finishes the orbit in one place: finiteness check, relative observation
noise (drawn after the initial condition), then optional z-scoring with :func:`fastrnn.preprocessing.zscore`. The
conventions shared by all of them are documented in :mod:`fastrnn.systems`.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import validation
from ..preprocessing import zscore
from .fields import LORENZ, ROSSLER
from .integrators import duffing_orbit, flow3_orbit, henon_orbit, logistic_orbit, mackey_glass_orbit

__all__ = ["lorenz", "rossler", "duffing", "mackey_glass", "henon", "logistic", "mackey_glass_grid",
           "mackey_glass_start", "transient_samples",
           "draw_logistic_x0", "diverged_error", "DEFAULT_TRANSIENT", "MAX_ATTEMPTS"]

#: Maximum number of fresh random initial conditions tried by the maps when an orbit escapes or lands on an unstable
#: fixed point (only when x0 is None).
MAX_ATTEMPTS = 20

#: default transient of each generator, in time units (maps: iterations), used when ``transient`` is None
DEFAULT_TRANSIENT = {"lorenz": 50.0, "rossler": 500.0, "duffing": 500.0, "mackey_glass": 1000.0, "henon": 1000.0,
                     "logistic": 1000.0,
                     # the further flows (generators_flows) and maps (generators_maps)
                     "chen": 50.0, "chua_pwl": 500.0, "thomas": 1000.0, "halvorsen": 100.0, "lorenz96": 100.0,
                     "ikeda": 1000.0, "tinkerbell": 1000.0, "lozi": 1000.0, "burgers": 1000.0, "duffing_map": 1000.0,
                     "henon3": 1000.0}


def transient_samples(transient, default_span, dt):
    """Number of samples to discard first.

    Parameters
    ----------
    transient : int or None
        Samples given by the caller (>= 0), or None for the default.
    default_span : float
        Default transient in time units (maps: iterations).
    dt : float
        Time units per sample.

    Returns
    -------
    int
        ``transient``, or ``default_span / dt`` rounded up to whole samples when it is None.
    """
    if transient is None:
        return int(math.ceil(default_span / dt - 1e-9))
    return validation.check_int(transient, "transient", minimum=0)


def check_common(n_steps, dt, noise, standardize, substeps=None):
    """Validate the arguments every generator shares (``dt`` and ``substeps`` of the flows)."""
    n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
    dt = validation.check_float(dt, "dt", minimum=0, strict_min=True)
    noise = validation.check_float(noise, "noise", minimum=0)
    standardize = validation.check_bool(standardize, "standardize")
    if substeps is not None:
        substeps = validation.check_int(substeps, "substeps", minimum=1)
    return n_steps, dt, noise, standardize, substeps


def check_params(**values):
    """The system parameters as finite floats, in the order given."""
    return tuple(validation.check_float(value, name) for name, value in values.items())


_Setup = namedtuple("_Setup", "n_steps dt noise standardize substeps params n_skip rng x0")


def setup_flow(n_steps, dt, noise, standardize, substeps, transient, span, rng, x0, low, high, **params):
    """Validate a flow generator's arguments (in this order) and draw or check its initial state.

    ``span`` is the default transient in time units; a missing ``x0`` is drawn uniformly from the box
    ``[low, high]`` (the first use of ``rng``).
    """
    n_steps, dt, noise, standardize, substeps = check_common(n_steps, dt, noise, standardize, substeps)
    params = check_params(**params)
    n_skip = transient_samples(transient, span, dt)
    rng = validation.check_rng(rng)
    x0 = rng.uniform(low, high) if x0 is None else validation.check_point(x0, len(low))
    return _Setup(n_steps, dt, noise, standardize, substeps, params, n_skip, rng, x0)


def from_random_starts(draw, orbit, failure):
    """``orbit(draw())`` from fresh random starts until one is good (``(x, ok)`` with ok True), at most
    :data:`MAX_ATTEMPTS` times; then ValueError with the message ``failure``."""
    for _ in range(MAX_ATTEMPTS):
        x, ok = orbit(draw())
        if ok:
            return x
    raise ValueError(failure)


def diverged_error(what):
    """The ValueError of a flow orbit that left the finite numbers (``what``: the system's name)."""
    return ValueError(f"the {what} orbit diverged (non-finite values); choose parameters and x0 "
                      "with a bounded orbit, or a smaller dt / larger substeps")


def finish_orbit(x, noise, standardize, rng, what):
    """Check finiteness, add relative observation noise, then standardise columns."""
    if not np.all(np.isfinite(x)):
        raise diverged_error(what)
    if noise > 0.0:
        std = x.std(axis=0)
        x = x + noise * std * rng.standard_normal(x.shape)
    if standardize:
        try:
            x = zscore(x)
        except ValueError as exc:
            raise ValueError(f"cannot standardize the {what} orbit ({exc}); use standardize=False or parameters "
                             "with a non-constant orbit") from exc
    return np.ascontiguousarray(x, dtype=np.float64)


# --------------------------------------------------------------------------
# Public generators
# --------------------------------------------------------------------------
def lorenz(n_steps, *, dt=0.01, sigma=10.0, rho=28.0, beta=8.0 / 3.0, x0=None, transient=None,
           substeps=5, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the Lorenz (1963) system.

    ``dx/dt = sigma (y - x)``, ``dy/dt = x (rho - z) - y``, ``dz/dt = x y - beta z``,
    integrated by RK4 with internal step ``dt / substeps``.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    dt : float, default 0.01
        Time units per sample.
    sigma, rho, beta : float, default 10, 28, 8/3
        Lorenz parameters (the defaults are chaotic).
    x0 : array_like, shape (3,), optional
        Initial state at time 0; None draws one uniformly from the box
        ``[-15, 15] x [-20, 20] x [5, 40]`` around the attractor.
    transient : int, optional
        Samples discarded before the first returned one; None: 50 time units
        (5000 samples at the default dt).
    substeps : int, default 5
        RK4 steps per sample (internal step 0.002 time units at the default dt).
    standardize : bool, default False
        Z-score each column.
    noise : float, default 0
        Std of additive Gaussian observation noise relative to each column's std.
    rng : int, numpy.random.Generator or None
        Randomness for ``x0`` (when None) and the noise.

    Returns
    -------
    ndarray, shape (n_steps, 3), float64
        Columns ``(x, y, z)``; row k is the state at time ``(transient + k) dt``.

    Examples
    --------
    >>> X = lorenz(1000, rng=0)
    >>> X.shape
    (1000, 3)
    """
    s = setup_flow(n_steps, dt, noise, standardize, substeps, transient, DEFAULT_TRANSIENT["lorenz"], rng, x0,
                    [-15.0, -20.0, 5.0], [15.0, 20.0, 40.0], sigma=sigma, rho=rho, beta=beta)
    x = flow3_orbit(LORENZ, s.x0, s.n_steps, s.n_skip, s.dt, s.substeps, *s.params)
    return finish_orbit(x, s.noise, s.standardize, s.rng, "Lorenz")


def rossler(n_steps, *, dt=0.05, a=0.2, b=0.2, c=5.7, x0=None, transient=None, substeps=5,
            standardize=False, noise=0.0, rng=None):
    r"""Orbit of the Rössler (1976) system.

    ``dx/dt = -y - z``, ``dy/dt = x + a y``, ``dz/dt = b + z (x - c)``, integrated
    by RK4 with internal step ``dt / substeps``.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    dt : float, default 0.05
        Time units per sample.
    a, b, c : float, default 0.2, 0.2, 5.7
        Rössler parameters (the defaults are chaotic).
    x0 : array_like, shape (3,), optional
        Initial state at time 0; None draws one uniformly from the box
        ``[-5, 5] x [-5, 5] x [0, 1]``.
    transient : int, optional
        Samples discarded before the first returned one; None: 500 time units
        (10000 samples at the default dt).
    substeps : int, default 5
        RK4 steps per sample (internal step 0.01 time units at the default dt).
    standardize, noise, rng
        See :func:`lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 3), float64
        Columns ``(x, y, z)``; row k is the state at time ``(transient + k) dt``.
    """
    s = setup_flow(n_steps, dt, noise, standardize, substeps, transient, DEFAULT_TRANSIENT["rossler"], rng, x0,
                    [-5.0, -5.0, 0.0], [5.0, 5.0, 1.0], a=a, b=b, c=c)
    x = flow3_orbit(ROSSLER, s.x0, s.n_steps, s.n_skip, s.dt, s.substeps, *s.params)
    return finish_orbit(x, s.noise, s.standardize, s.rng, "Rössler")


def duffing(n_steps, *, dt=0.05, delta=0.3, alpha=-1.0, beta=1.0, gamma=0.5, omega=1.2, x0=None,
            transient=None, substeps=5, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the periodically forced Duffing oscillator and its drive.

    ``x'' + delta x' + alpha x + beta x**3 = gamma cos(omega t)``, written as the
    first-order system ``dx/dt = v``, ``dv/dt = -delta v - alpha x - beta x**3 +
    gamma cos(omega t)`` and integrated by RK4 with internal step
    ``dt / substeps``, starting at ``t = 0``.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    dt : float, default 0.05
        Time units per sample (the default drive period ``2 pi / 1.2`` is
        about 105 samples).
    delta, alpha, beta, gamma, omega : float, default 0.3, -1, 1, 0.5, 1.2
        Damping, linear stiffness, cubic stiffness, drive amplitude and drive
        angular frequency in radians per time unit (the defaults: chaotic
        double-well oscillator).
    x0 : array_like, shape (2,), optional
        ``(x, v)`` at time 0; None draws one uniformly from
        ``[-1.5, 1.5] x [-1, 1]``.
    transient : int, optional
        Samples discarded before the first returned one; None: 500 time units
        (10000 samples at the default dt).
    substeps : int, default 5
        RK4 steps per sample (internal step 0.01 time units at the default dt).
    standardize, noise, rng
        See :func:`lorenz`; they act on ``x`` only, never on the drive ``s``.

    Returns
    -------
    x : ndarray, shape (n_steps, 2), float64
        Columns ``(position, velocity)``; row k is the state at time
        ``t_k = (transient + k) dt``.
    s : ndarray, shape (n_steps, 1), float64
        The drive ``gamma cos(omega t_k)`` at the same times: an external
        input series aligned with ``x`` (``s[k]`` is the drive at the time of
        ``x[k]``), not an observed column.
    """
    s = setup_flow(n_steps, dt, noise, standardize, substeps, transient, DEFAULT_TRANSIENT["duffing"], rng, x0,
                    [-1.5, -1.0], [1.5, 1.0], delta=delta, alpha=alpha, beta=beta, gamma=gamma, omega=omega)
    x = duffing_orbit(s.x0, s.n_steps, s.n_skip, s.dt, s.substeps, *s.params)
    x = finish_orbit(x, s.noise, s.standardize, s.rng, "Duffing")
    gamma, omega = s.params[3], s.params[4]
    t = (s.n_skip + np.arange(s.n_steps)) * s.dt
    return x, (gamma * np.cos(omega * t)).reshape(s.n_steps, 1)


def mackey_glass(n_steps, *, dt=1.0, beta=0.2, gamma=0.1, n=10.0, tau=17.0, x0=None, transient=None,
                 substeps=10, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the Mackey-Glass (1977) delay differential equation.

    ``dx/dt = beta x(t - tau) / (1 + x(t - tau)**n) - gamma x(t)`` with constant
    initial history ``x(t) = x0`` for ``t <= 0``, integrated by RK4 with step
    ``h = dt / substeps`` and a history buffer; delayed values between grid
    points come from cubic Hermite interpolation of the stored values and
    derivatives (fourth order).

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    dt : float, default 1.0
        Time units per sample.
    beta, gamma, n, tau : float, default 0.2, 0.1, 10, 17
        Production rate, decay rate (per time unit), Hill exponent (> 0) and
        delay (time units, > 0).  tau = 17 gives the classic chaotic series
        (values in about 0.2 .. 1.4); tau = 30 is more strongly chaotic.
    x0 : float, optional
        Constant initial history value (>= 0); None draws it uniformly from
        ``[0.5, 1.3]``.
    transient : int, optional
        Samples discarded before the first returned one; None: 1000 time
        units (1000 samples at the default dt).
    substeps : int, default 10
        RK4 steps per sample; the step ``h = dt / substeps`` must not exceed
        tau.  When h divides tau (h = 0.1 by default) the method is fourth
        order (error 3e-10 over the first 50 time units at h = 0.1).
        Otherwise the steps that straddle ``t = tau`` see the kink of the
        constant initial history at ``t = 0`` between grid points, which costs
        accuracy there (about 7e-6 for tau = 17.05, h = 0.1); this only
        matters for convergence studies that start at t = 0, not on the
        attractor after the transient.
    standardize, noise, rng
        See :func:`lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 1), float64
        Row k is ``x`` at time ``(transient + k) dt``.
    """
    n_steps, dt, noise, standardize, substeps = check_common(n_steps, dt, noise, standardize, substeps)
    beta, gamma = check_params(beta=beta, gamma=gamma)
    n = validation.check_float(n, "n", minimum=0, strict_min=True)
    tau = validation.check_float(tau, "tau", minimum=0, strict_min=True)
    h, m, q = mackey_glass_grid(dt, substeps, tau)
    n_skip = transient_samples(transient, DEFAULT_TRANSIENT["mackey_glass"], dt)
    rng = validation.check_rng(rng)
    x0 = mackey_glass_start(x0, rng)
    x = mackey_glass_orbit(x0, n_steps, n_skip, substeps, h, m, q, beta, gamma, n)
    return finish_orbit(x.reshape(n_steps, 1), noise, standardize, rng, "Mackey-Glass")


def mackey_glass_grid(dt, substeps, tau):
    """Integration step ``h = dt / substeps`` and the delay on its grid, ``tau = (m + q) h`` with integer
    ``m >= 1`` and ``0 <= q < 1`` (``q = 0`` when ``h`` divides ``tau`` to 1e-9); shared by :func:`mackey_glass`
    and :func:`fastrnn.systems.lyapunov_spectrum`."""
    h = dt / substeps
    ratio = tau / h
    if ratio < 1.0 - 1e-12:
        raise ValueError(f"the integration step dt / substeps = {h} exceeds tau = {tau}; "
                         f"use substeps >= {int(math.ceil(dt / tau))} or a smaller dt")
    m = int(round(ratio))
    if abs(ratio - m) <= 1e-9 * ratio:
        q = 0.0
    else:
        m = int(math.floor(ratio))
        q = ratio - m
    return h, max(m, 1), q


def mackey_glass_start(x0, rng):
    """The constant initial history: ``x0`` checked (>= 0), or drawn uniformly from ``[0.5, 1.3]`` with ``rng``."""
    if x0 is None:
        return float(rng.uniform(0.5, 1.3))
    x0 = float(validation.check_point(x0, 1)[0])
    if x0 < 0.0:
        raise ValueError(f"x0 must be >= 0 for the Mackey-Glass equation, got {x0}")
    return x0


def henon(n_steps, *, a=1.4, b=0.3, x0=None, transient=None, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the Hénon (1976) map.

    ``x_{k+1} = 1 - a x_k**2 + y_k``, ``y_{k+1} = b x_k``; one sample per
    iteration (dt = 1 step).

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    a, b : float, default 1.4, 0.3
        Hénon parameters (the defaults are chaotic).
    x0 : array_like, shape (2,), optional
        Initial state; None draws one uniformly from ``[-0.5, 0.5] x [-0.2, 0.2]``
        and, should the orbit escape to infinity, draws again (up to 20 times).
    transient : int, optional
        Iterations discarded before the first returned one; None: 1000.
    standardize, noise, rng
        See :func:`lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 2), float64
        Columns ``(x, y)``; row k is the state after ``transient + k``
        iterations; ``row[k + 1] = map(row[k])`` exactly.
    """
    n_steps, _, noise, standardize, _ = check_common(n_steps, 1.0, noise, standardize)
    a, b = check_params(a=a, b=b)
    n_skip = transient_samples(transient, DEFAULT_TRANSIENT["henon"], 1.0)
    rng = validation.check_rng(rng)
    if x0 is not None:
        x0 = validation.check_point(x0, 2)
        x, ok = henon_orbit(x0, n_steps, n_skip, a, b)
        if not ok:
            raise ValueError(f"the Hénon orbit from x0={x0.tolist()} with a={a}, b={b} escapes to "
                             "infinity; choose x0 in the basin of the attractor")
    else:
        x = from_random_starts(lambda: rng.uniform([-0.5, -0.2], [0.5, 0.2]),
                                lambda start: henon_orbit(start, n_steps, n_skip, a, b),
                                f"the Hénon orbit with a={a}, b={b} escaped to infinity from "
                                f"{MAX_ATTEMPTS} random initial conditions; choose parameters with a "
                                "bounded attractor (e.g. a=1.4, b=0.3) or pass x0")
    return finish_orbit(x, noise, standardize, rng, "Hénon")


def draw_logistic_x0(rng):
    """Random initial condition of the logistic map, uniform on [0.05, 0.95] (a float drawn from ``rng``)."""
    return float(rng.uniform(0.05, 0.95))


def logistic(n_steps, *, r=4.0, x0=None, transient=None, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the logistic map ``x_{k+1} = r x_k (1 - x_k)``.

    One sample per iteration (dt = 1 step).

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    r : float, default 4.0
        Growth parameter in (0, 4]; r = 4 is fully chaotic (Lyapunov exponent
        ln 2 per iteration).
    x0 : float, optional
        Initial value in [0, 1].  None draws it uniformly from [0.05, 0.95];
        if the floating-point orbit then lands exactly on an unstable fixed
        point (e.g. 0.5 -> 1 -> 0 -> 0 ...) or leaves [0, 1] through rounding,
        it is discarded and a new initial value is drawn (up to 20 times), so
        the result is never a degenerate orbit.  With a given x0 such an orbit
        raises ValueError instead.
    transient : int, optional
        Iterations discarded before the first returned one; None: 1000.
    standardize, noise, rng
        See :func:`lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 1), float64
        Row k is the value after ``transient + k`` iterations;
        ``row[k + 1] = r row[k] (1 - row[k])`` exactly.
    """
    n_steps, _, noise, standardize, _ = check_common(n_steps, 1.0, noise, standardize)
    r = validation.check_float(r, "r")
    if not 0.0 < r <= 4.0:
        raise ValueError(f"r must lie in (0, 4] for an orbit that stays in [0, 1], got {r}")
    n_skip = transient_samples(transient, DEFAULT_TRANSIENT["logistic"], 1.0)
    rng = validation.check_rng(rng)
    if x0 is not None:
        x0 = float(validation.check_point(x0, 1)[0])
        if not 0.0 <= x0 <= 1.0:
            raise ValueError(f"x0 must lie in [0, 1], got {x0}")
        x, ok = logistic_orbit(x0, n_steps, n_skip, r)
        if not ok:
            raise ValueError(f"the logistic orbit from x0={x0!r} with r={r} lands exactly on an "
                             "unstable fixed point in floating point (degenerate orbit); choose "
                             "another x0 or pass x0=None")
    else:
        x = from_random_starts(lambda: draw_logistic_x0(rng), lambda start: logistic_orbit(start, n_steps, n_skip, r),
                                f"the logistic orbit with r={r} was degenerate from {MAX_ATTEMPTS} "
                                "random initial conditions; use fewer n_steps or another r")
    return finish_orbit(x, noise, standardize, rng, "logistic")
