r"""Vector fields, maps and their Jacobians of the benchmark systems: the one home of their formulas.

Every formula is written once, as an ``@njit(cache=True)`` function on scalars (``lorenz_f``, ``rossler_f``,
``duffing_f``, ``mackey_glass_f``, ``henon_f``, ``logistic_f``; they return tuples and allocate nothing) or, for the
Jacobians, as an in-place writer (``*_jac_into``). The array forms built on them take a 1-D float64 state and return
new arrays: ``lorenz_rhs/lorenz_jac(state, sigma, rho, beta)``, ``rossler_rhs/rossler_jac(state, a, b, c)``,
``duffing_rhs/duffing_jac(state, t, delta, alpha, beta, gamma, omega)`` (vector fields per time unit),
``henon_map/henon_jac(state, a, b)`` and ``logistic_map/logistic_jac(state, r)`` (per iteration; the logistic state
has shape (1,) and its Jacobian shape (1, 1)). :func:`flow_field_into` and :func:`flow_jac_into` dispatch on the
system ids :data:`LORENZ`, :data:`ROSSLER`, :data:`DUFFING` (flows) and :data:`HENON`, :data:`LOGISTIC` (maps) with
the parameters packed in an array in the order of the generator's signature.

The further systems' formulas live in :mod:`fastrnn.systems.fields_flows` (Chen, Chua, Thomas, Halvorsen,
Lorenz-96) and :mod:`fastrnn.systems.fields_maps` (Ikeda, Tinkerbell, Lozi, Burgers, Duffing map, generalised Hénon)
and are re-exported here; the dispatchers cover them through the ids :data:`CHEN`, :data:`CHUA`, :data:`THOMAS`,
:data:`HALVORSEN`, :data:`LORENZ96` (flows) and :data:`IKEDA`, :data:`TINKERBELL`, :data:`LOZI`, :data:`BURGERS`,
:data:`DUFFING_MAP`, :data:`HENON3` (maps; :func:`map_step_into`, :func:`map_jac_into`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .fields_flows import *  # noqa: F401,F403  (re-exported: the further flows' formulas)
from .fields_flows import (__all__ as _flows_all, chen_f, chen_jac_into, chua_f, chua_jac_into, halvorsen_f,
                           halvorsen_jac_into, lorenz96_jac_into, lorenz96_rhs_into, thomas_f, thomas_jac_into)
from .fields_maps import *  # noqa: F401,F403  (re-exported: the further maps' formulas)
from .fields_maps import (__all__ as _maps_all, burgers_f, burgers_jac_into, duffing_map_f, duffing_map_jac_into,
                          henon3_f, henon3_jac_into, ikeda_f, ikeda_jac_into, lozi_f, lozi_jac_into, tinkerbell_f,
                          tinkerbell_jac_into)

__all__ = ["LORENZ", "ROSSLER", "DUFFING", "HENON", "LOGISTIC",
           "CHEN", "CHUA", "THOMAS", "HALVORSEN", "LORENZ96",
           "IKEDA", "TINKERBELL", "LOZI", "BURGERS", "DUFFING_MAP", "HENON3",
           "lorenz_f", "lorenz_rhs", "lorenz_jac", "lorenz_jac_into",
           "rossler_f", "rossler_rhs", "rossler_jac", "rossler_jac_into",
           "duffing_f", "duffing_rhs", "duffing_jac", "duffing_jac_into",
           "mackey_glass_f",
           "henon_f", "henon_map", "henon_jac", "henon_jac_into",
           "logistic_f", "logistic_map", "logistic_jac", "logistic_jac_into",
           "flow_field_into", "flow_jac_into", "map_step_into", "map_jac_into"] + _flows_all + _maps_all

#: ids of the flows in the Numba kernels (:func:`flow_field_into`, the orbit and tangent integrators)
LORENZ, ROSSLER, DUFFING = 0, 1, 2
#: ids of the maps in the Numba kernels
HENON, LOGISTIC = 0, 1
#: ids of the further flows (:mod:`fastrnn.systems.fields_flows`)
CHEN, CHUA, THOMAS, HALVORSEN, LORENZ96 = 3, 4, 5, 6, 7
#: ids of the further maps (:mod:`fastrnn.systems.fields_maps`)
IKEDA, TINKERBELL, LOZI, BURGERS, DUFFING_MAP, HENON3 = 2, 3, 4, 5, 6, 7


# --------------------------------------------------------------------------
# Lorenz
# --------------------------------------------------------------------------
@njit(cache=True)
def lorenz_f(x, y, z, sigma, rho, beta):
    """Lorenz vector field on scalars; returns a tuple (no allocation)."""
    return sigma * (y - x), x * (rho - z) - y, x * y - beta * z


@njit(cache=True)
def lorenz_rhs(state, sigma, rho, beta):
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
    out[0], out[1], out[2] = lorenz_f(state[0], state[1], state[2], sigma, rho, beta)
    return out


@njit(cache=True)
def lorenz_jac_into(state, sigma, rho, beta, J):
    """Write the Jacobian of :func:`lorenz_rhs` at ``state`` into ``J`` (3, 3):
    ``[[-sigma, sigma, 0], [rho - z, -1, -x], [y, x, -beta]]``."""
    x, y, z = state[0], state[1], state[2]
    J[0, 0] = -sigma
    J[0, 1] = sigma
    J[0, 2] = 0.0
    J[1, 0] = rho - z
    J[1, 1] = -1.0
    J[1, 2] = -x
    J[2, 0] = y
    J[2, 1] = x
    J[2, 2] = -beta


@njit(cache=True)
def lorenz_jac(state, sigma, rho, beta):
    """Jacobian ``d(rhs)/d(state)`` of :func:`lorenz_rhs`, shape (3, 3), per time unit.

    ``[[-sigma, sigma, 0], [rho - z, -1, -x], [y, x, -beta]]``.
    """
    J = np.empty((3, 3))
    lorenz_jac_into(state, sigma, rho, beta, J)
    return J


# --------------------------------------------------------------------------
# Rössler
# --------------------------------------------------------------------------
@njit(cache=True)
def rossler_f(x, y, z, a, b, c):
    """Rössler vector field on scalars; returns a tuple."""
    return -y - z, x + a * y, b + z * (x - c)


@njit(cache=True)
def rossler_rhs(state, a, b, c):
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
    out[0], out[1], out[2] = rossler_f(state[0], state[1], state[2], a, b, c)
    return out


@njit(cache=True)
def rossler_jac_into(state, a, b, c, J):
    """Write the Jacobian of :func:`rossler_rhs` at ``state`` into ``J`` (3, 3):
    ``[[0, -1, -1], [1, a, 0], [z, 0, x - c]]``."""
    J[0, 0] = 0.0
    J[0, 1] = -1.0
    J[0, 2] = -1.0
    J[1, 0] = 1.0
    J[1, 1] = a
    J[1, 2] = 0.0
    J[2, 0] = state[2]
    J[2, 1] = 0.0
    J[2, 2] = state[0] - c


@njit(cache=True)
def rossler_jac(state, a, b, c):
    """Jacobian of :func:`rossler_rhs`, shape (3, 3), per time unit.

    ``[[0, -1, -1], [1, a, 0], [z, 0, x - c]]``.
    """
    J = np.empty((3, 3))
    rossler_jac_into(state, a, b, c, J)
    return J


# --------------------------------------------------------------------------
# Forced Duffing oscillator
# --------------------------------------------------------------------------
@njit(cache=True)
def duffing_f(x, v, t, delta, alpha, beta, gamma, omega):
    """Forced Duffing vector field on scalars; returns a tuple."""
    return v, -delta * v - alpha * x - beta * x * x * x + gamma * math.cos(omega * t)


@njit(cache=True)
def duffing_rhs(state, t, delta, alpha, beta, gamma, omega):
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
    out[0], out[1] = duffing_f(state[0], state[1], t, delta, alpha, beta, gamma, omega)
    return out


@njit(cache=True)
def duffing_jac_into(state, delta, alpha, beta, J):
    """Write the state Jacobian of :func:`duffing_rhs` into ``J`` (2, 2):
    ``[[0, 1], [-alpha - 3 beta x**2, -delta]]``."""
    x = state[0]
    J[0, 0] = 0.0
    J[0, 1] = 1.0
    J[1, 0] = -alpha - 3.0 * beta * x * x
    J[1, 1] = -delta


@njit(cache=True)
def duffing_jac(state, t, delta, alpha, beta, gamma, omega):
    """Jacobian of :func:`duffing_rhs` with respect to the state, shape (2, 2).

    ``[[0, 1], [-alpha - 3 beta x**2, -delta]]``; it does not depend on ``t``,
    ``gamma`` or ``omega`` (kept in the signature to match the vector field).
    """
    J = np.empty((2, 2))
    duffing_jac_into(state, delta, alpha, beta, J)
    return J


# --------------------------------------------------------------------------
# Mackey-Glass
# --------------------------------------------------------------------------
@njit(cache=True)
def mackey_glass_f(x, x_tau, beta, gamma, n):
    """Mackey-Glass right-hand side ``beta x_tau / (1 + x_tau**n) - gamma x`` (per time unit)."""
    return beta * x_tau / (1.0 + x_tau ** n) - gamma * x


# --------------------------------------------------------------------------
# Hénon map
# --------------------------------------------------------------------------
@njit(cache=True)
def henon_f(x, y, a, b):
    """Hénon map on scalars; returns a tuple."""
    return 1.0 - a * x * x + y, b * x


@njit(cache=True)
def henon_map(state, a, b):
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
    out[0], out[1] = henon_f(state[0], state[1], a, b)
    return out


@njit(cache=True)
def henon_jac_into(state, a, b, J):
    """Write the Jacobian of :func:`henon_map` into ``J`` (2, 2): ``[[-2 a x, 1], [b, 0]]``."""
    J[0, 0] = -2.0 * a * state[0]
    J[0, 1] = 1.0
    J[1, 0] = b
    J[1, 1] = 0.0


@njit(cache=True)
def henon_jac(state, a, b):
    """Jacobian of :func:`henon_map`, shape (2, 2): ``[[-2 a x, 1], [b, 0]]``."""
    J = np.empty((2, 2))
    henon_jac_into(state, a, b, J)
    return J


# --------------------------------------------------------------------------
# Logistic map
# --------------------------------------------------------------------------
@njit(cache=True)
def logistic_f(x, r):
    """Logistic map on a scalar."""
    return r * x * (1.0 - x)


@njit(cache=True)
def logistic_map(state, r):
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
    out[0] = logistic_f(state[0], r)
    return out


@njit(cache=True)
def logistic_jac_into(state, r, J):
    """Write the Jacobian of :func:`logistic_map` into ``J`` (1, 1): ``[[r (1 - 2 x)]]``."""
    J[0, 0] = r * (1.0 - 2.0 * state[0])


@njit(cache=True)
def logistic_jac(state, r):
    """Jacobian of :func:`logistic_map`, shape (1, 1): ``[[r (1 - 2 x)]]``."""
    J = np.empty((1, 1))
    logistic_jac_into(state, r, J)
    return J


# --------------------------------------------------------------------------
# Dispatch by system id (parameters packed in an array)
# --------------------------------------------------------------------------
@njit(cache=True)
def flow_field_into(sid, x, t, p, out):
    """Vector field of flow ``sid`` (:data:`LORENZ`, :data:`ROSSLER`, :data:`DUFFING`, :data:`CHEN`, :data:`CHUA`,
    :data:`THOMAS`, :data:`HALVORSEN`, :data:`LORENZ96`) at (x, t) into ``out``.

    Parameters
    ----------
    sid : int
        Flow id.
    x : ndarray (D,)
        State.
    t : float
        Time (only the Duffing drive depends on it).
    p : ndarray
        Parameters in the order of the generator's signature.
    out : ndarray (D,)
        Receives the vector field, per time unit.
    """
    if sid == LORENZ:
        out[0], out[1], out[2] = lorenz_f(x[0], x[1], x[2], p[0], p[1], p[2])
    elif sid == ROSSLER:
        out[0], out[1], out[2] = rossler_f(x[0], x[1], x[2], p[0], p[1], p[2])
    elif sid == DUFFING:
        out[0], out[1] = duffing_f(x[0], x[1], t, p[0], p[1], p[2], p[3], p[4])
    elif sid == CHEN:
        out[0], out[1], out[2] = chen_f(x[0], x[1], x[2], p[0], p[1], p[2])
    elif sid == CHUA:
        out[0], out[1], out[2] = chua_f(x[0], x[1], x[2], p[0], p[1], p[2], p[3])
    elif sid == THOMAS:
        out[0], out[1], out[2] = thomas_f(x[0], x[1], x[2], p[0])
    elif sid == HALVORSEN:
        out[0], out[1], out[2] = halvorsen_f(x[0], x[1], x[2], p[0])
    else:
        lorenz96_rhs_into(x, p[0], out)


@njit(cache=True)
def flow_jac_into(sid, x, p, J):
    """Jacobian of the vector field of flow ``sid`` at ``x`` into ``J`` (D, D); the same writers as
    :func:`lorenz_jac`, :func:`rossler_jac`, :func:`duffing_jac` and the ``*_jac`` of the further flows."""
    if sid == LORENZ:
        lorenz_jac_into(x, p[0], p[1], p[2], J)
    elif sid == ROSSLER:
        rossler_jac_into(x, p[0], p[1], p[2], J)
    elif sid == DUFFING:
        duffing_jac_into(x, p[0], p[1], p[2], J)
    elif sid == CHEN:
        chen_jac_into(x, p[0], p[1], p[2], J)
    elif sid == CHUA:
        chua_jac_into(x, p[0], p[1], p[2], p[3], J)
    elif sid == THOMAS:
        thomas_jac_into(x, p[0], J)
    elif sid == HALVORSEN:
        halvorsen_jac_into(x, p[0], J)
    else:
        lorenz96_jac_into(x, p[0], J)


@njit(cache=True)
def map_step_into(sid, x, p):
    """Apply map ``sid`` (:data:`HENON`, :data:`LOGISTIC`, :data:`IKEDA`, :data:`TINKERBELL`, :data:`LOZI`,
    :data:`BURGERS`, :data:`DUFFING_MAP`, :data:`HENON3`) once to ``x`` in place.

    Parameters
    ----------
    sid : int
        Map id.
    x : ndarray (D,)
        Iterate; replaced by its image.
    p : ndarray
        Parameters in the order of the generator's signature.
    """
    if sid == HENON:
        x[0], x[1] = henon_f(x[0], x[1], p[0], p[1])
    elif sid == LOGISTIC:
        x[0] = logistic_f(x[0], p[0])
    elif sid == IKEDA:
        x[0], x[1] = ikeda_f(x[0], x[1], p[0], p[1], p[2])
    elif sid == TINKERBELL:
        x[0], x[1] = tinkerbell_f(x[0], x[1], p[0], p[1], p[2], p[3])
    elif sid == LOZI:
        x[0], x[1] = lozi_f(x[0], x[1], p[0], p[1])
    elif sid == BURGERS:
        x[0], x[1] = burgers_f(x[0], x[1], p[0], p[1])
    elif sid == DUFFING_MAP:
        x[0], x[1] = duffing_map_f(x[0], x[1], p[0], p[1])
    else:
        x[0], x[1], x[2] = henon3_f(x[0], x[1], x[2], p[0], p[1])


@njit(cache=True)
def map_jac_into(sid, x, p, J):
    """Jacobian of map ``sid`` at ``x`` into ``J`` (D, D); the same writers as the ``*_jac`` functions."""
    if sid == HENON:
        henon_jac_into(x, p[0], p[1], J)
    elif sid == LOGISTIC:
        logistic_jac_into(x, p[0], J)
    elif sid == IKEDA:
        ikeda_jac_into(x, p[0], p[1], p[2], J)
    elif sid == TINKERBELL:
        tinkerbell_jac_into(x, p[0], p[1], p[2], p[3], J)
    elif sid == LOZI:
        lozi_jac_into(x, p[0], p[1], J)
    elif sid == BURGERS:
        burgers_jac_into(x, p[0], p[1], J)
    elif sid == DUFFING_MAP:
        duffing_map_jac_into(x, p[0], p[1], J)
    else:
        henon3_jac_into(x, p[0], p[1], J)
