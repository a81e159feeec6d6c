r"""Benchmark dynamical systems for training and evaluating RNNs on chaotic data.

Every generator returns float64 arrays of shape ``(T, N)`` (time, features) with
``T = n_steps`` samples spaced ``dt`` time units apart (maps: one iteration per
sample, ``dt = 1`` step).  They share these keywords:

``x0``
    Initial condition (time 0). ``None`` draws one at random from ``rng`` in a
    box around the attractor.
``transient``
    Number of samples computed and discarded before the first returned sample,
    so that the orbit lies on the attractor.  ``None`` uses a per-system default
    stated below (a fixed span of *time*, converted to samples with ``dt``).
    Sample ``k`` of the output is the state at time ``(transient + k) * dt``.
``standardize``
    If True, z-score each returned column (mean 0, standard deviation 1).
``noise``
    Standard deviation of additive i.i.d. Gaussian observation noise, relative
    to each column's standard deviation (``0.1`` = 10 % of the column's std).
    It is added after the orbit is computed and before standardisation.
``rng``
    Seed, :class:`numpy.random.Generator` or None (see
    :func:`numpy.random.default_rng`); used for the random initial condition
    (drawn first) and for the noise (drawn second).

Flows are integrated with the classical fixed-step fourth-order Runge-Kutta
method with internal step ``h = dt / substeps``.

Systems
-------
Lorenz (1963), :func:`lorenz`, 3 columns ``(x, y, z)``::

    dx/dt = sigma (y - x)
    dy/dt = x (rho - z) - y
    dz/dt = x y - beta z

defaults sigma=10, rho=28, beta=8/3; dt=0.01 time units per sample, substeps=5
(h = 0.002); default transient 50 time units.  Lyapunov spectrum
(0.9056, 0, -14.5723) per time unit; one "Lyapunov time" is about 110 samples.

Rössler (1976), :func:`rossler`, 3 columns ``(x, y, z)``::

    dx/dt = -y - z
    dy/dt = x + a y
    dz/dt = b + z (x - c)

defaults a=0.2, b=0.2, c=5.7; dt=0.05 time units per sample, substeps=5
(h = 0.01); default transient 500 time units.  The mean rotation period is
about 5.9 time units (about 117 samples).

Forced Duffing oscillator, :func:`duffing`, 2 columns ``(x, v)`` plus the drive::

    dx/dt = v
    dv/dt = -delta v - alpha x - beta x**3 + gamma cos(omega t)

defaults delta=0.3, alpha=-1, beta=1, gamma=0.5, omega=1.2 (a double-well
oscillator in its chaotic regime); dt=0.05 time units per sample, substeps=5
(h = 0.01); default transient 500 time units.  Time starts at ``t = 0`` at the
initial condition; the drive ``gamma cos(omega t)`` is returned separately as
an external input series aligned with the states.

Mackey-Glass (1977) delay differential equation, :func:`mackey_glass`, 1 column::

    dx/dt = beta x(t - tau) / (1 + x(t - tau)**n) - gamma x(t)

defaults beta=0.2, gamma=0.1, n=10, tau=17 (chaotic, x stays in about
0.2 .. 1.4); dt=1 time unit per sample, substeps=10 (h = 0.1, which divides
tau); constant initial history ``x(t) = x0`` for ``t <= 0``; default transient
1000 time units.  Integrated by RK4 with a history buffer; delayed values off
the grid (RK4 half steps, or tau not a multiple of h) come from cubic Hermite
interpolation between stored grid values and their derivatives, which keeps
the method fourth order (choose h dividing tau; see :func:`mackey_glass`).

Hénon (1976) map, :func:`henon`, 2 columns ``(x, y)``, one sample per iteration::

    x_{k+1} = 1 - a x_k**2 + y_k
    y_{k+1} = b x_k

defaults a=1.4, b=0.3; default transient 1000 iterations.  Lyapunov exponents
(0.4200, -1.6241) per iteration.

Logistic map, :func:`logistic`, 1 column, one sample per iteration::

    x_{k+1} = r x_k (1 - x_k)

default r=4 (fully chaotic, Lyapunov exponent ln 2 per iteration); default
transient 1000 iterations.  In floating point an orbit can land exactly on an
unstable fixed point (e.g. 0.5 -> 1 -> 0 -> 0 ...); with ``x0=None`` such an
orbit is discarded and regenerated from a new random initial condition, so
the returned series is always an exact, non-degenerate orbit of the map.

Vector fields and Jacobians
---------------------------
For reference Lyapunov spectra (variational equations) the module exposes
``@njit(cache=True)`` functions taking a 1-D float64 state and returning new
arrays: ``_lorenz_rhs/_lorenz_jac(state, sigma, rho, beta)``,
``_rossler_rhs/_rossler_jac(state, a, b, c)``,
``_duffing_rhs/_duffing_jac(state, t, delta, alpha, beta, gamma, omega)``
(vector field per time unit), ``_henon_map/_henon_jac(state, a, b)`` and
``_logistic_map/_logistic_jac(state, r)`` (per iteration; the logistic state
has shape (1,) and its Jacobian shape (1, 1)).
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from numba import njit

__all__ = ["lorenz", "rossler", "duffing", "mackey_glass", "henon", "logistic"]

# Maximum number of fresh random initial conditions tried by the maps when an
# orbit escapes or lands on an unstable fixed point (only when x0 is None).
_MAX_ATTEMPTS = 20


# --------------------------------------------------------------------------
# Vector fields, maps and their Jacobians (public to the package)
# --------------------------------------------------------------------------
@njit(cache=True)
def _lorenz_f(x, y, z, sigma, rho, beta):
    """Lorenz vector field on scalars; returns a tuple (no allocation)."""
    return sigma * (y - x), x * (rho - z) - y, x * y - beta * z


@njit(cache=True)
def _lorenz_rhs(state, sigma, rho, beta):
    """Lorenz vector field, per time unit.

    Parameters
    ----------
    state : ndarray, shape (3,)
        ``(x, y, z)``.
    sigma, rho, beta : float
        Lorenz parameters.

    Returns
    -------
    ndarray, shape (3,)
        ``(dx/dt, dy/dt, dz/dt)``.
    """
    out = np.empty(3)
    out[0], out[1], out[2] = _lorenz_f(state[0], state[1], state[2], sigma, rho, beta)
    return out


@njit(cache=True)
def _lorenz_jac(state, sigma, rho, beta):
    """Jacobian ``d(rhs)/d(state)`` of :func:`_lorenz_rhs`, shape (3, 3), per time unit.

    ``[[-sigma, sigma, 0], [rho - z, -1, -x], [y, x, -beta]]``.
    """
    x, y, z = state[0], state[1], state[2]
    J = np.empty((3, 3))
    J[0, 0] = -sigma
    J[0, 1] = sigma
    J[0, 2] = 0.0
    J[1, 0] = rho - z
    J[1, 1] = -1.0
    J[1, 2] = -x
    J[2, 0] = y
    J[2, 1] = x
    J[2, 2] = -beta
    return J


@njit(cache=True)
def _rossler_f(x, y, z, a, b, c):
    """Rössler vector field on scalars; returns a tuple."""
    return -y - z, x + a * y, b + z * (x - c)


@njit(cache=True)
def _rossler_rhs(state, a, b, c):
    """Rössler vector field, per time unit.

    Parameters
    ----------
    state : ndarray, shape (3,)
        ``(x, y, z)``.
    a, b, c : float
        Rössler parameters.

    Returns
    -------
    ndarray, shape (3,)
        ``(-y - z, x + a y, b + z (x - c))``.
    """
    out = np.empty(3)
    out[0], out[1], out[2] = _rossler_f(state[0], state[1], state[2], a, b, c)
    return out


@njit(cache=True)
def _rossler_jac(state, a, b, c):
    """Jacobian of :func:`_rossler_rhs`, shape (3, 3), per time unit.

    ``[[0, -1, -1], [1, a, 0], [z, 0, x - c]]``.
    """
    x, z = state[0], state[2]
    J = np.zeros((3, 3))
    J[0, 1] = -1.0
    J[0, 2] = -1.0
    J[1, 0] = 1.0
    J[1, 1] = a
    J[2, 0] = z
    J[2, 2] = x - c
    return J


@njit(cache=True)
def _duffing_f(x, v, t, delta, alpha, beta, gamma, omega):
    """Forced Duffing vector field on scalars; returns a tuple."""
    return v, -delta * v - alpha * x - beta * x * x * x + gamma * math.cos(omega * t)


@njit(cache=True)
def _duffing_rhs(state, t, delta, alpha, beta, gamma, omega):
    """Forced Duffing vector field at time ``t``, per time unit.

    Parameters
    ----------
    state : ndarray, shape (2,)
        ``(x, v)``: position and velocity.
    t : float
        Time (time units) at which the drive ``gamma cos(omega t)`` is evaluated.
    delta, alpha, beta, gamma, omega : float
        Damping, linear stiffness, cubic stiffness, drive amplitude and drive
        angular frequency (radians per time unit).

    Returns
    -------
    ndarray, shape (2,)
        ``(v, -delta v - alpha x - beta x**3 + gamma cos(omega t))``.
    """
    out = np.empty(2)
    out[0], out[1] = _duffing_f(state[0], state[1], t, delta, alpha, beta, gamma, omega)
    return out


@njit(cache=True)
def _duffing_jac(state, t, delta, alpha, beta, gamma, omega):
    """Jacobian of :func:`_duffing_rhs` with respect to the state, shape (2, 2).

    ``[[0, 1], [-alpha - 3 beta x**2, -delta]]``; it does not depend on ``t``,
    ``gamma`` or ``omega`` (kept in the signature to match the vector field).
    """
    x = state[0]
    J = np.empty((2, 2))
    J[0, 0] = 0.0
    J[0, 1] = 1.0
    J[1, 0] = -alpha - 3.0 * beta * x * x
    J[1, 1] = -delta
    return J


@njit(cache=True)
def _mackey_glass_f(x, x_tau, beta, gamma, n):
    """Mackey-Glass right-hand side ``beta x_tau / (1 + x_tau**n) - gamma x`` (per time unit)."""
    return beta * x_tau / (1.0 + x_tau ** n) - gamma * x


@njit(cache=True)
def _henon_f(x, y, a, b):
    """Hénon map on scalars; returns a tuple."""
    return 1.0 - a * x * x + y, b * x


@njit(cache=True)
def _henon_map(state, a, b):
    """Hénon map, one iteration.

    Parameters
    ----------
    state : ndarray, shape (2,)
        ``(x, y)``.
    a, b : float
        Hénon parameters.

    Returns
    -------
    ndarray, shape (2,)
        ``(1 - a x**2 + y, b x)``.
    """
    out = np.empty(2)
    out[0], out[1] = _henon_f(state[0], state[1], a, b)
    return out


@njit(cache=True)
def _henon_jac(state, a, b):
    """Jacobian of :func:`_henon_map`, shape (2, 2): ``[[-2 a x, 1], [b, 0]]``."""
    J = np.empty((2, 2))
    J[0, 0] = -2.0 * a * state[0]
    J[0, 1] = 1.0
    J[1, 0] = b
    J[1, 1] = 0.0
    return J


@njit(cache=True)
def _logistic_f(x, r):
    """Logistic map on a scalar."""
    return r * x * (1.0 - x)


@njit(cache=True)
def _logistic_map(state, r):
    """Logistic map, one iteration.

    Parameters
    ----------
    state : ndarray, shape (1,)
        ``(x,)``.
    r : float
        Growth parameter.

    Returns
    -------
    ndarray, shape (1,)
        ``(r x (1 - x),)``.
    """
    out = np.empty(1)
    out[0] = _logistic_f(state[0], r)
    return out


@njit(cache=True)
def _logistic_jac(state, r):
    """Jacobian of :func:`_logistic_map`, shape (1, 1): ``[[r (1 - 2 x)]]``."""
    J = np.empty((1, 1))
    J[0, 0] = r * (1.0 - 2.0 * state[0])
    return J


# --------------------------------------------------------------------------
# Integration kernels
# --------------------------------------------------------------------------
_LORENZ, _ROSSLER = 0, 1


@njit(cache=True, inline="always")
def _flow3_f(system, x, y, z, p0, p1, p2):
    """Vector field of the autonomous 3-D flow ``system`` (_LORENZ or _ROSSLER) with its three parameters."""
    if system == _LORENZ:
        return _lorenz_f(x, y, z, p0, p1, p2)
    return _rossler_f(x, y, z, p0, p1, p2)


@njit(cache=True)
def _flow3_orbit(system, x0, n_out, n_skip, dt, substeps, p0, p1, p2):
    """RK4 orbit of an autonomous 3-D flow (Lorenz or Rössler): ``n_skip`` discarded then ``n_out`` stored samples."""
    out = np.empty((n_out, 3))
    h = dt / substeps
    hh = 0.5 * h
    x, y, z = x0[0], x0[1], x0[2]
    for k in range(n_skip + n_out):
        if k >= n_skip:
            out[k - n_skip, 0] = x
            out[k - n_skip, 1] = y
            out[k - n_skip, 2] = z
        if k == n_skip + n_out - 1:
            break
        for _ in range(substeps):
            a1, b1, c1 = _flow3_f(system, x, y, z, p0, p1, p2)
            a2, b2, c2 = _flow3_f(system, x + hh * a1, y + hh * b1, z + hh * c1, p0, p1, p2)
            a3, b3, c3 = _flow3_f(system, x + hh * a2, y + hh * b2, z + hh * c2, p0, p1, p2)
            a4, b4, c4 = _flow3_f(system, x + h * a3, y + h * b3, z + h * c3, p0, p1, p2)
            x += h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
            y += h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
            z += h / 6.0 * (c1 + 2.0 * c2 + 2.0 * c3 + c4)
    return out


@njit(cache=True)
def _duffing_orbit(x0, n_out, n_skip, dt, substeps, delta, alpha, beta, gamma, omega):
    """RK4 orbit of the forced Duffing flow starting at t = 0.

    Sample ``k`` (before discarding) is at time ``k * dt``; substep ``j`` of
    sample ``k`` starts at ``k * dt + j * h`` (no accumulated time drift).
    """
    out = np.empty((n_out, 2))
    h = dt / substeps
    hh = 0.5 * h
    x, v = x0[0], x0[1]
    for k in range(n_skip + n_out):
        if k >= n_skip:
            out[k - n_skip, 0] = x
            out[k - n_skip, 1] = v
        if k == n_skip + n_out - 1:
            break
        for j in range(substeps):
            t = k * dt + j * h
            a1, b1 = _duffing_f(x, v, t, delta, alpha, beta, gamma, omega)
            a2, b2 = _duffing_f(x + hh * a1, v + hh * b1, t + hh, delta, alpha, beta, gamma, omega)
            a3, b3 = _duffing_f(x + hh * a2, v + hh * b2, t + hh, delta, alpha, beta, gamma, omega)
            a4, b4 = _duffing_f(x + h * a3, v + h * b3, t + h, delta, alpha, beta, gamma, omega)
            x += h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
            v += h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return out


@njit(cache=True)
def _mg_delayed(xs, ds, size, x0, h, j, frac):
    """Solution at fractional grid position ``j + frac`` (0 <= frac < 1) from the ring buffer.

    Grid point ``i`` (time ``i h``) lives at ``xs[i % size]`` with derivative
    ``ds[i % size]``.  Positions before 0 are the constant initial history
    ``x0``.  Between grid points: cubic Hermite interpolation (error O(h**4)).
    """
    if j < 0:
        return x0
    if frac == 0.0:
        return xs[j % size]
    i0 = j % size
    i1 = (j + 1) % size
    t = frac
    t2 = t * t
    t3 = t2 * t
    return ((2.0 * t3 - 3.0 * t2 + 1.0) * xs[i0] + (t3 - 2.0 * t2 + t) * h * ds[i0]
            + (-2.0 * t3 + 3.0 * t2) * xs[i1] + (t3 - t2) * h * ds[i1])


@njit(cache=True)
def _mg_orbit(x0, n_out, n_skip, substeps, h, m, q, beta, gamma, n):
    """RK4 orbit of the Mackey-Glass DDE on the grid ``t_i = i h``.

    The delay is ``tau = (m + q) h`` with integer ``m >= 1`` and ``0 <= q < 1``.
    A stage at grid position ``i + c`` (c = 0, 1/2, 1) needs the solution at
    ``i + c - m - q``, which is at most ``i``, so it is always known.  Every
    ``substeps`` grid steps a sample is stored.
    """
    size = m + 3  # holds grid points i - m - 1 .. i + 1
    xs = np.empty(size)
    ds = np.empty(size)
    out = np.empty(n_out)
    # offsets of the delayed positions for c = 0, 1/2, 1 relative to i - m
    f0 = math.floor(0.0 - q)
    f5 = math.floor(0.5 - q)
    f1 = math.floor(1.0 - q)
    r0 = (0.0 - q) - f0
    r5 = (0.5 - q) - f5
    r1 = (1.0 - q) - f1
    f0i = int(f0)
    f5i = int(f5)
    f1i = int(f1)
    x = x0
    xs[0] = x
    xd = _mg_delayed(xs, ds, size, x0, h, -m + f0i, r0)
    ds[0] = _mackey_glass_f(x, xd, beta, gamma, n)
    total = (n_skip + n_out - 1) * substeps
    for i in range(total + 1):
        if i % substeps == 0:
            k = i // substeps
            if k >= n_skip:
                out[k - n_skip] = x
        if i == total:
            break
        base = i - m
        k1 = ds[i % size]
        xd5 = _mg_delayed(xs, ds, size, x0, h, base + f5i, r5)
        k2 = _mackey_glass_f(x + 0.5 * h * k1, xd5, beta, gamma, n)
        k3 = _mackey_glass_f(x + 0.5 * h * k2, xd5, beta, gamma, n)
        xd1 = _mg_delayed(xs, ds, size, x0, h, base + f1i, r1)
        k4 = _mackey_glass_f(x + h * k3, xd1, beta, gamma, n)
        x = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        slot = (i + 1) % size
        xs[slot] = x
        # derivative at the new grid point: its delayed value is the c = 1 one
        ds[slot] = _mackey_glass_f(x, xd1, beta, gamma, n)
    return out


@njit(cache=True)
def _henon_orbit(x0, n_out, n_skip, a, b):
    """Hénon orbit; returns (orbit, ok) with ok False if it left the finite numbers."""
    out = np.empty((n_out, 2))
    x, y = x0[0], x0[1]
    for k in range(n_skip + n_out):
        if k >= n_skip:
            out[k - n_skip, 0] = x
            out[k - n_skip, 1] = y
        if k == n_skip + n_out - 1:
            break
        x, y = _henon_f(x, y, a, b)
        if not (math.isfinite(x) and math.isfinite(y)):
            return out, False
    return out, True


@njit(cache=True)
def _logistic_orbit(x0, n_out, n_skip, r):
    """Logistic orbit; returns (orbit, ok).

    ok is False when the orbit leaves [0, 1] (rounding can push it out and it
    then escapes to -inf) or lands exactly on an unstable fixed point: 0 for
    r > 1 (reached e.g. by 0.5 -> 1 -> 0), or any ``x_{k+1} == x_k`` with
    ``|r (1 - 2 x_k)| > 1`` (e.g. 0.75 for r = 4).
    """
    out = np.empty((n_out, 1))
    x = x0
    for k in range(n_skip + n_out):
        if k >= n_skip:
            out[k - n_skip, 0] = x
        if k == n_skip + n_out - 1:
            break
        xn = _logistic_f(x, r)
        if not (0.0 <= xn <= 1.0):
            return out, False
        if xn == x and abs(r * (1.0 - 2.0 * x)) > 1.0:
            return out, False
        if xn == 0.0 and r > 1.0:
            return out, False
        x = xn
    return out, True


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------
def _check_int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r} of type "
                        f"{type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def _check_real(name, value, *, positive=False, nonnegative=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and not value > 0.0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and not value >= 0.0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_x0(x0, dim):
    try:
        arr = np.array(x0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"x0 must be a sequence of {dim} real numbers, got {x0!r}") from exc
    if dim == 1 and arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.shape != (dim,):
        raise ValueError(f"x0 must have shape ({dim},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"x0 must be finite, got {arr}")
    return arr


def _make_rng(rng):
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rng must be None, a non-negative integer seed, a SeedSequence or a "
                         f"numpy.random.Generator, got {rng!r} ({exc})") from exc


def _transient_samples(transient, default_span, dt):
    """Default ``transient``: ``default_span`` time units rounded up to samples."""
    if transient is None:
        return int(math.ceil(default_span / dt - 1e-9))
    return _check_int("transient", transient, 0)


def _common(n_steps, dt, noise, standardize, substeps=None):
    n_steps = _check_int("n_steps", n_steps, 1)
    dt = _check_real("dt", dt, positive=True)
    noise = _check_real("noise", noise, nonnegative=True)
    standardize = _check_bool("standardize", standardize)
    if substeps is not None:
        substeps = _check_int("substeps", substeps, 1)
    return n_steps, dt, noise, standardize, substeps


def _finish(x, noise, standardize, rng, what):
    """Check finiteness, add relative observation noise, then standardise columns."""
    if not np.all(np.isfinite(x)):
        raise ValueError(f"the {what} orbit diverged (non-finite values); choose parameters and x0 "
                         "with a bounded orbit, or a smaller dt / larger substeps")
    if noise > 0.0:
        std = x.std(axis=0)
        x = x + noise * std * rng.standard_normal(x.shape)
    if standardize:
        std = x.std(axis=0)
        if np.any(std == 0.0):
            raise ValueError(f"cannot standardize the {what} orbit: column(s) "
                             f"{np.flatnonzero(std == 0.0).tolist()} are constant; "
                             "use standardize=False or parameters with a non-constant orbit")
        x = (x - x.mean(axis=0)) / std
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
    n_steps, dt, noise, standardize, substeps = _common(n_steps, dt, noise, standardize, substeps)
    sigma = _check_real("sigma", sigma)
    rho = _check_real("rho", rho)
    beta = _check_real("beta", beta)
    n_skip = _transient_samples(transient, 50.0, dt)
    rng = _make_rng(rng)
    if x0 is None:
        x0 = rng.uniform([-15.0, -20.0, 5.0], [15.0, 20.0, 40.0])
    else:
        x0 = _check_x0(x0, 3)
    x = _flow3_orbit(_LORENZ, x0, n_steps, n_skip, dt, substeps, sigma, rho, beta)
    return _finish(x, noise, standardize, rng, "Lorenz")


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
    n_steps, dt, noise, standardize, substeps = _common(n_steps, dt, noise, standardize, substeps)
    a = _check_real("a", a)
    b = _check_real("b", b)
    c = _check_real("c", c)
    n_skip = _transient_samples(transient, 500.0, dt)
    rng = _make_rng(rng)
    if x0 is None:
        x0 = rng.uniform([-5.0, -5.0, 0.0], [5.0, 5.0, 1.0])
    else:
        x0 = _check_x0(x0, 3)
    x = _flow3_orbit(_ROSSLER, x0, n_steps, n_skip, dt, substeps, a, b, c)
    return _finish(x, noise, standardize, rng, "Rössler")


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
    n_steps, dt, noise, standardize, substeps = _common(n_steps, dt, noise, standardize, substeps)
    delta = _check_real("delta", delta)
    alpha = _check_real("alpha", alpha)
    beta = _check_real("beta", beta)
    gamma = _check_real("gamma", gamma)
    omega = _check_real("omega", omega)
    n_skip = _transient_samples(transient, 500.0, dt)
    rng = _make_rng(rng)
    if x0 is None:
        x0 = rng.uniform([-1.5, -1.0], [1.5, 1.0])
    else:
        x0 = _check_x0(x0, 2)
    x = _duffing_orbit(x0, n_steps, n_skip, dt, substeps, delta, alpha, beta, gamma, omega)
    x = _finish(x, noise, standardize, rng, "Duffing")
    t = (n_skip + np.arange(n_steps)) * dt
    s = (gamma * np.cos(omega * t)).reshape(n_steps, 1)
    return x, s


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
    n_steps, dt, noise, standardize, substeps = _common(n_steps, dt, noise, standardize, substeps)
    beta = _check_real("beta", beta)
    gamma = _check_real("gamma", gamma)
    n = _check_real("n", n, positive=True)
    tau = _check_real("tau", tau, positive=True)
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
    m = max(m, 1)
    n_skip = _transient_samples(transient, 1000.0, dt)
    rng = _make_rng(rng)
    if x0 is None:
        x0 = float(rng.uniform(0.5, 1.3))
    else:
        x0 = float(_check_x0(x0, 1)[0])
        if x0 < 0.0:
            raise ValueError(f"x0 must be >= 0 for the Mackey-Glass equation, got {x0}")
    x = _mg_orbit(x0, n_steps, n_skip, substeps, h, m, q, beta, gamma, n)
    return _finish(x.reshape(n_steps, 1), noise, standardize, rng, "Mackey-Glass")


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
    n_steps, _, noise, standardize, _ = _common(n_steps, 1.0, noise, standardize)
    a = _check_real("a", a)
    b = _check_real("b", b)
    n_skip = _transient_samples(transient, 1000.0, 1.0)
    rng = _make_rng(rng)
    if x0 is not None:
        x0 = _check_x0(x0, 2)
        x, ok = _henon_orbit(x0, n_steps, n_skip, a, b)
        if not ok:
            raise ValueError(f"the Hénon orbit from x0={x0.tolist()} with a={a}, b={b} escapes to "
                             "infinity; choose x0 in the basin of the attractor")
    else:
        for _ in range(_MAX_ATTEMPTS):
            start = rng.uniform([-0.5, -0.2], [0.5, 0.2])
            x, ok = _henon_orbit(start, n_steps, n_skip, a, b)
            if ok:
                break
        else:
            raise ValueError(f"the Hénon orbit with a={a}, b={b} escaped to infinity from "
                             f"{_MAX_ATTEMPTS} random initial conditions; choose parameters with a "
                             "bounded attractor (e.g. a=1.4, b=0.3) or pass x0")
    return _finish(x, noise, standardize, rng, "Hénon")


def _draw_logistic_x0(rng):
    """Random initial condition of the logistic map, uniform on [0.05, 0.95]."""
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
    n_steps, _, noise, standardize, _ = _common(n_steps, 1.0, noise, standardize)
    r = _check_real("r", r)
    if not 0.0 < r <= 4.0:
        raise ValueError(f"r must lie in (0, 4] for an orbit that stays in [0, 1], got {r}")
    n_skip = _transient_samples(transient, 1000.0, 1.0)
    rng = _make_rng(rng)
    if x0 is not None:
        x0 = float(_check_x0(x0, 1)[0])
        if not 0.0 <= x0 <= 1.0:
            raise ValueError(f"x0 must lie in [0, 1], got {x0}")
        x, ok = _logistic_orbit(x0, n_steps, n_skip, r)
        if not ok:
            raise ValueError(f"the logistic orbit from x0={x0!r} with r={r} lands exactly on an "
                             "unstable fixed point in floating point (degenerate orbit); choose "
                             "another x0 or pass x0=None")
    else:
        for _ in range(_MAX_ATTEMPTS):
            x, ok = _logistic_orbit(_draw_logistic_x0(rng), n_steps, n_skip, r)
            if ok:
                break
        else:
            raise ValueError(f"the logistic orbit with r={r} was degenerate from {_MAX_ATTEMPTS} "
                             "random initial conditions; use fewer n_steps or another r")
    return _finish(x, noise, standardize, rng, "logistic")


# ==========================================================================
# Reference Lyapunov spectra from the tangent dynamics (issue 4)
# ==========================================================================
# Flows: the orbit and the variational equation dY/dt = Df(x(t)) Y are integrated together by the same RK4
# scheme as the generators (internal step dt / substeps, time of substep j of sample k at k dt + j h), Y = I at
# the start of every sample interval, so Y is the exact Jacobian of the sampled RK4 map x_k -> x_(k+1). Maps: the
# analytic Jacobian at every iterate. Either way the Jacobians go through fastrnn's C core (Benettin's QR
# method, :func:`fastrnn.lyapunov.qr_spectrum` machinery) in chunks.

_FLOW_IDS = {"lorenz": 0, "rossler": 1, "duffing": 2}
_MAP_IDS = {"henon": 0, "logistic": 1}
_REF_PARAMS = {
    "lorenz": ("sigma", "rho", "beta"),
    "rossler": ("a", "b", "c"),
    "duffing": ("delta", "alpha", "beta", "gamma", "omega"),
    "henon": ("a", "b"),
    "logistic": ("r",),
}
_REF_DIM = {"lorenz": 3, "rossler": 3, "duffing": 2, "henon": 2, "logistic": 1}


@njit(cache=True)
def _flow_field_into(sid, x, t, p, out):
    """Vector field of flow ``sid`` (0 Lorenz, 1 Rössler, 2 Duffing) at (x, t) into ``out``, per time unit."""
    if sid == 0:
        out[0], out[1], out[2] = _lorenz_f(x[0], x[1], x[2], p[0], p[1], p[2])
    elif sid == 1:
        out[0], out[1], out[2] = _rossler_f(x[0], x[1], x[2], p[0], p[1], p[2])
    else:
        out[0], out[1] = _duffing_f(x[0], x[1], t, p[0], p[1], p[2], p[3], p[4])


@njit(cache=True)
def _flow_jac_into(sid, x, p, J):
    """Jacobian of the vector field (same formulas as ``_lorenz_jac``, ``_rossler_jac``, ``_duffing_jac``)."""
    if sid == 0:
        J[0, 0] = -p[0]
        J[0, 1] = p[0]
        J[0, 2] = 0.0
        J[1, 0] = p[1] - x[2]
        J[1, 1] = -1.0
        J[1, 2] = -x[0]
        J[2, 0] = x[1]
        J[2, 1] = x[0]
        J[2, 2] = -p[2]
    elif sid == 1:
        J[0, 0] = 0.0
        J[0, 1] = -1.0
        J[0, 2] = -1.0
        J[1, 0] = 1.0
        J[1, 1] = p[0]
        J[1, 2] = 0.0
        J[2, 0] = x[2]
        J[2, 1] = 0.0
        J[2, 2] = x[0] - p[2]
    else:
        J[0, 0] = 0.0
        J[0, 1] = 1.0
        J[1, 0] = -p[1] - 3.0 * p[2] * x[0] * x[0]
        J[1, 1] = -p[0]


@njit(cache=True)
def _stage(sid, xs, ts, Ys, p, k, K, A):
    """One RK4 stage: k = f(xs, ts), K = Df(xs) Ys."""
    D = xs.shape[0]
    _flow_field_into(sid, xs, ts, p, k)
    _flow_jac_into(sid, xs, p, A)
    for i in range(D):
        for j in range(D):
            s = 0.0
            for m in range(D):
                s += A[i, m] * Ys[m, j]
            K[i, j] = s


@njit(cache=True)
def _flow_tangent_chunk(sid, x, k0, n, dt, substeps, p, Jout):
    """Advance the orbit ``x`` (in place) by ``n`` samples from sample index ``k0``; Jout[i] = d x_(i+1) / d x_i.

    Returns False if the state stopped being finite.
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
            _stage(sid, x, t, Y, p, k1, K1, A)
            for a in range(D):
                xs[a] = x[a] + hh * k1[a]
                for b in range(D):
                    Ys[a, b] = Y[a, b] + hh * K1[a, b]
            _stage(sid, xs, t + hh, Ys, p, k2, K2, A)
            for a in range(D):
                xs[a] = x[a] + hh * k2[a]
                for b in range(D):
                    Ys[a, b] = Y[a, b] + hh * K2[a, b]
            _stage(sid, xs, t + hh, Ys, p, k3, K3, A)
            for a in range(D):
                xs[a] = x[a] + h * k3[a]
                for b in range(D):
                    Ys[a, b] = Y[a, b] + h * K3[a, b]
            _stage(sid, xs, t + h, Ys, p, k4, K4, A)
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
def _map_tangent_chunk(sid, x, n, p, Jout):
    """Jout[i] = Jacobian at the current iterate, then iterate (0 Hénon, 1 logistic); x is updated in place.

    Returns 0 if fine, 1 if the orbit stopped being finite, 2 if the logistic orbit hit 0 or 1 (degenerate).
    """
    for i in range(n):
        if sid == 0:
            Jout[i, 0, 0] = -2.0 * p[0] * x[0]
            Jout[i, 0, 1] = 1.0
            Jout[i, 1, 0] = p[1]
            Jout[i, 1, 1] = 0.0
            x[0], x[1] = _henon_f(x[0], x[1], p[0], p[1])
            if not (np.isfinite(x[0]) and np.isfinite(x[1])):
                return 1
        else:
            Jout[i, 0, 0] = p[0] * (1.0 - 2.0 * x[0])
            x[0] = _logistic_f(x[0], p[0])
            if x[0] <= 0.0 or x[0] >= 1.0 or not np.isfinite(x[0]):
                return 2
    return 0


def _ref_defaults(system):
    """Default parameters, dt, substeps and transient span of ``system`` (from its generator's signature)."""
    import inspect

    gen = {"lorenz": lorenz, "rossler": rossler, "duffing": duffing, "henon": henon, "logistic": logistic}[system]
    sig = inspect.signature(gen).parameters
    params = {name: sig[name].default for name in _REF_PARAMS[system]}
    dt = sig["dt"].default if "dt" in sig else 1.0
    substeps = sig["substeps"].default if "substeps" in sig else None
    return gen, params, dt, substeps


def lyapunov_spectrum(system, n_steps, *, dt=None, substeps=None, x0=None, transient=None, frame_transient=1000,
                      rng=None, return_history=False, chunk_size=10000, **params):
    r"""Reference Lyapunov spectrum of a benchmark system from its tangent dynamics.

    Benettin's QR method on the exact Jacobians of the system's own discretisation, accumulated in fastrnn's C
    core: for the flows (Lorenz, Rössler, forced Duffing) the variational equation ``dY/dt = Df(x(t)) Y`` is
    integrated along the orbit with the same RK4 scheme as the generator (internal step ``dt / substeps``,
    ``Y = I`` at the start of every sample), for the maps (Hénon, logistic) the analytic Jacobian is taken at
    every iterate.

    Parameters
    ----------
    system : {"lorenz", "rossler", "duffing", "henon", "logistic"}
        Which system; the parameters and their defaults are those of the generator of the same name.
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
    **params : float
        System parameters (e.g. ``sigma``, ``rho``, ``beta`` for Lorenz; ``r`` for the logistic map).

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
    logistic r = 4: ``ln 2``; forced Duffing: sum ``-delta``. The exponents are those of the sampled RK4 map,
    which approach the flow's as ``h**4``.

    Examples
    --------
    >>> lam = lyapunov_spectrum("henon", 100_000, rng=0)
    >>> bool(abs(lam.sum() - np.log(0.3)) < 1e-10)
    True
    """
    from .lyapunov import QRAccumulator, random_frame

    if not isinstance(system, str) or system.lower() not in _REF_DIM:
        raise ValueError(f"system must be one of {sorted(_REF_DIM)}, got {system!r}")
    system = system.lower()
    n_steps = _check_int("n_steps", n_steps, 1)
    chunk_size = _check_int("chunk_size", chunk_size, 1)
    gen, defaults, dt_default, sub_default = _ref_defaults(system)
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"unknown parameter(s) {sorted(unknown)} for {system}; its parameters are "
                        f"{sorted(defaults)}")
    values = {k: _check_real(k, params.get(k, v)) for k, v in defaults.items()}
    flow = system in _FLOW_IDS
    if flow:
        dt = _check_real("dt", dt_default if dt is None else dt, positive=True)
        substeps = _check_int("substeps", sub_default if substeps is None else substeps, 1)
    elif dt is not None or substeps is not None:
        raise ValueError(f"{system} is a map (one sample per iteration): dt and substeps do not apply")
    rng = _make_rng(rng)

    # Start on the attractor: the generator's first sample after its transient.
    gen_kwargs = dict(values, x0=x0, transient=transient, rng=rng)
    if flow:
        gen_kwargs.update(dt=dt, substeps=substeps)
    first = gen(1, **gen_kwargs)
    if system == "duffing":
        first = first[0]
        k0 = _transient_samples(transient, 500.0, dt)  # the sample index fixes the forcing phase
    else:
        k0 = 0
    x = np.array(first[0], dtype=np.float64)
    D = _REF_DIM[system]
    p = np.array([values[k] for k in _REF_PARAMS[system]], dtype=np.float64)

    frame_transient = _check_int("frame_transient", frame_transient, 0)
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
            if not _flow_tangent_chunk(_FLOW_IDS[system], x, k0 + done, m, dt, substeps, p, J):
                raise ValueError(f"the {system} orbit left the finite numbers after about {done + m} samples; use "
                                 f"a smaller dt or more substeps, or parameters with a bounded attractor")
        else:
            code = _map_tangent_chunk(_MAP_IDS[system], x, m, p, J)
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


__all__ = [*__all__, "lyapunov_spectrum"]
