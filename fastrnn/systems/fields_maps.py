r"""The further benchmark maps and their Jacobians: Ikeda, Tinkerbell, Lozi, Burgers, Duffing (Holmes) and the
generalised (3-D) Hénon map; the one home of their formulas.

As in :mod:`fastrnn.systems.fields`: a scalar form returning a tuple (``ikeda_f``, ``tinkerbell_f``, ``lozi_f``,
``burgers_f``, ``duffing_map_f``, ``henon3_f``), an in-place Jacobian writer (``*_jac_into``) and the array forms
``*_map(state, *params)`` / ``*_jac(state, *params)`` (per iteration, parameters in the order of the generator's
signature). The dispatch by map id lives in :mod:`fastrnn.systems.fields`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["ikeda_f", "ikeda_map", "ikeda_jac", "ikeda_jac_into",
           "tinkerbell_f", "tinkerbell_map", "tinkerbell_jac", "tinkerbell_jac_into",
           "lozi_f", "lozi_map", "lozi_jac", "lozi_jac_into",
           "burgers_f", "burgers_map", "burgers_jac", "burgers_jac_into",
           "duffing_map_f", "duffing_map_map", "duffing_map_jac", "duffing_map_jac_into",
           "henon3_f", "henon3_map", "henon3_jac", "henon3_jac_into"]


# --------------------------------------------------------------------------
# Ikeda map (Ikeda 1979; the form of Hammel, Jones & Moloney 1985)
# --------------------------------------------------------------------------
@njit(cache=True)
def ikeda_f(x, y, u, a, b):
    """Ikeda map on scalars: ``t = a - b / (1 + x**2 + y**2)``,
    ``(1 + u (x cos t - y sin t), u (x sin t + y cos t))``."""
    t = a - b / (1.0 + x * x + y * y)
    c, s = math.cos(t), math.sin(t)
    return 1.0 + u * (x * c - y * s), u * (x * s + y * c)


@njit(cache=True)
def ikeda_map(state, u, a, b):
    """Ikeda map, one iteration.

    Parameters
    ----------
    state : ndarray, shape (2,)
        ``(x, y)``: real and imaginary part of the field in the ring cavity.
    u, a, b : float
        Dissipation (``|det J| = u**2``), phase offset and phase-shift strength.

    Returns
    -------
    ndarray, shape (2,)
        ``(1 + u (x cos t - y sin t), u (x sin t + y cos t))`` with ``t = a - b / (1 + x**2 + y**2)``.
    """
    out = np.empty(2)
    out[0], out[1] = ikeda_f(state[0], state[1], u, a, b)
    return out


@njit(cache=True)
def ikeda_jac_into(state, u, a, b, J):
    """Write the Jacobian of :func:`ikeda_map` into ``J`` (2, 2); with ``P = x cos t - y sin t``,
    ``Q = x sin t + y cos t`` and ``dt/dx = 2 b x / (1 + r**2)**2`` (likewise y):
    ``u [[cos t - Q t_x, -sin t - Q t_y], [sin t + P t_x, cos t + P t_y]]``, determinant ``u**2``."""
    x, y = state[0], state[1]
    r = 1.0 + x * x + y * y
    t = a - b / r
    c, s = math.cos(t), math.sin(t)
    g = 2.0 * b / (r * r)
    tx, ty = g * x, g * y
    P = x * c - y * s
    Q = x * s + y * c
    J[0, 0] = u * (c - Q * tx)
    J[0, 1] = u * (-s - Q * ty)
    J[1, 0] = u * (s + P * tx)
    J[1, 1] = u * (c + P * ty)


@njit(cache=True)
def ikeda_jac(state, u, a, b):
    """Jacobian of :func:`ikeda_map`, shape (2, 2) (determinant ``u**2``)."""
    J = np.empty((2, 2))
    ikeda_jac_into(state, u, a, b, J)
    return J


# --------------------------------------------------------------------------
# Tinkerbell map
# --------------------------------------------------------------------------
@njit(cache=True)
def tinkerbell_f(x, y, a, b, c, d):
    """Tinkerbell map on scalars: ``(x**2 - y**2 + a x + b y, 2 x y + c x + d y)``."""
    return x * x - y * y + a * x + b * y, 2.0 * x * y + c * x + d * y


@njit(cache=True)
def tinkerbell_map(state, a, b, c, d):
    """Tinkerbell map, one iteration.

    Parameters
    ----------
    state : ndarray, shape (2,)
        ``(x, y)``.
    a, b, c, d : float
        Tinkerbell parameters.

    Returns
    -------
    ndarray, shape (2,)
        ``(x**2 - y**2 + a x + b y, 2 x y + c x + d y)``.
    """
    out = np.empty(2)
    out[0], out[1] = tinkerbell_f(state[0], state[1], a, b, c, d)
    return out


@njit(cache=True)
def tinkerbell_jac_into(state, a, b, c, d, J):
    """Write the Jacobian of :func:`tinkerbell_map` into ``J`` (2, 2): ``[[2 x + a, -2 y + b], [2 y + c, 2 x + d]]``."""
    x, y = state[0], state[1]
    J[0, 0] = 2.0 * x + a
    J[0, 1] = -2.0 * y + b
    J[1, 0] = 2.0 * y + c
    J[1, 1] = 2.0 * x + d


@njit(cache=True)
def tinkerbell_jac(state, a, b, c, d):
    """Jacobian of :func:`tinkerbell_map`, shape (2, 2): ``[[2 x + a, -2 y + b], [2 y + c, 2 x + d]]``."""
    J = np.empty((2, 2))
    tinkerbell_jac_into(state, a, b, c, d, J)
    return J


# --------------------------------------------------------------------------
# Lozi map (Lozi 1978)
# --------------------------------------------------------------------------
@njit(cache=True)
def lozi_f(x, y, a, b):
    """Lozi map on scalars: ``(1 - a |x| + y, b x)``."""
    return 1.0 - a * abs(x) + y, b * x


@njit(cache=True)
def lozi_map(state, a, b):
    """Lozi map, one iteration: the piecewise-linear Hénon map.

    Parameters
    ----------
    state : ndarray, shape (2,)
        ``(x, y)``.
    a, b : float
        Lozi parameters.

    Returns
    -------
    ndarray, shape (2,)
        ``(1 - a |x| + y, b x)``.
    """
    out = np.empty(2)
    out[0], out[1] = lozi_f(state[0], state[1], a, b)
    return out


@njit(cache=True)
def lozi_jac_into(state, a, b, J):
    """Write the Jacobian of :func:`lozi_map` into ``J`` (2, 2): ``[[-a sign(x), 1], [b, 0]]``, defined for
    x != 0 (at x = 0, where the map has a kink, the right derivative ``-a`` is used); determinant ``-b``."""
    J[0, 0] = a if state[0] < 0.0 else -a
    J[0, 1] = 1.0
    J[1, 0] = b
    J[1, 1] = 0.0


@njit(cache=True)
def lozi_jac(state, a, b):
    """Jacobian of :func:`lozi_map`, shape (2, 2): ``[[-a sign(x), 1], [b, 0]]`` (x != 0)."""
    J = np.empty((2, 2))
    lozi_jac_into(state, a, b, J)
    return J


# --------------------------------------------------------------------------
# Burgers' map (Whitehead & MacDonald 1984)
# --------------------------------------------------------------------------
@njit(cache=True)
def burgers_f(x, y, a, b):
    """Burgers' map on scalars: ``(a x - y**2, b y + x y)``."""
    return a * x - y * y, b * y + x * y


@njit(cache=True)
def burgers_map(state, a, b):
    """Burgers' map, one iteration (a discretisation of a pair of coupled ODEs modelling fluid turbulence).

    Parameters
    ----------
    state : ndarray, shape (2,)
        ``(x, y)``.
    a, b : float
        Burgers' map parameters.

    Returns
    -------
    ndarray, shape (2,)
        ``(a x - y**2, b y + x y)``.
    """
    out = np.empty(2)
    out[0], out[1] = burgers_f(state[0], state[1], a, b)
    return out


@njit(cache=True)
def burgers_jac_into(state, a, b, J):
    """Write the Jacobian of :func:`burgers_map` into ``J`` (2, 2): ``[[a, -2 y], [y, b + x]]``."""
    J[0, 0] = a
    J[0, 1] = -2.0 * state[1]
    J[1, 0] = state[1]
    J[1, 1] = b + state[0]


@njit(cache=True)
def burgers_jac(state, a, b):
    """Jacobian of :func:`burgers_map`, shape (2, 2): ``[[a, -2 y], [y, b + x]]``."""
    J = np.empty((2, 2))
    burgers_jac_into(state, a, b, J)
    return J


# --------------------------------------------------------------------------
# Duffing (Holmes) map (Holmes 1979)
# --------------------------------------------------------------------------
@njit(cache=True)
def duffing_map_f(x, y, a, b):
    """Duffing map on scalars: ``(y, -b x + a y - y**3)``."""
    return y, -b * x + a * y - y * y * y


@njit(cache=True)
def duffing_map_map(state, a, b):
    """Duffing (Holmes cubic) map, one iteration.

    Parameters
    ----------
    state : ndarray, shape (2,)
        ``(x, y)``.
    a, b : float
        Duffing map parameters (``det J = b``).

    Returns
    -------
    ndarray, shape (2,)
        ``(y, -b x + a y - y**3)``.
    """
    out = np.empty(2)
    out[0], out[1] = duffing_map_f(state[0], state[1], a, b)
    return out


@njit(cache=True)
def duffing_map_jac_into(state, a, b, J):
    """Write the Jacobian of :func:`duffing_map_map` into ``J`` (2, 2): ``[[0, 1], [-b, a - 3 y**2]]``."""
    J[0, 0] = 0.0
    J[0, 1] = 1.0
    J[1, 0] = -b
    J[1, 1] = a - 3.0 * state[1] * state[1]


@njit(cache=True)
def duffing_map_jac(state, a, b):
    """Jacobian of :func:`duffing_map_map`, shape (2, 2): ``[[0, 1], [-b, a - 3 y**2]]``."""
    J = np.empty((2, 2))
    duffing_map_jac_into(state, a, b, J)
    return J


# --------------------------------------------------------------------------
# Generalised Hénon map (Baier & Klein 1990), 3-D and hyperchaotic
# --------------------------------------------------------------------------
@njit(cache=True)
def henon3_f(x, y, z, a, b):
    """Generalised Hénon map on scalars: ``(a - y**2 - b z, x, y)``."""
    return a - y * y - b * z, x, y


@njit(cache=True)
def henon3_map(state, a, b):
    """Generalised (3-D) Hénon map of Baier & Klein, one iteration.

    Parameters
    ----------
    state : ndarray, shape (3,)
        ``(x, y, z)``.
    a, b : float
        Parameters (``det J = -b``).

    Returns
    -------
    ndarray, shape (3,)
        ``(a - y**2 - b z, x, y)``.
    """
    out = np.empty(3)
    out[0], out[1], out[2] = henon3_f(state[0], state[1], state[2], a, b)
    return out


@njit(cache=True)
def henon3_jac_into(state, a, b, J):
    """Write the Jacobian of :func:`henon3_map` into ``J`` (3, 3): ``[[0, -2 y, -b], [1, 0, 0], [0, 1, 0]]``."""
    J[0, 0] = 0.0
    J[0, 1] = -2.0 * state[1]
    J[0, 2] = -b
    J[1, 0] = 1.0
    J[1, 1] = 0.0
    J[1, 2] = 0.0
    J[2, 0] = 0.0
    J[2, 1] = 1.0
    J[2, 2] = 0.0


@njit(cache=True)
def henon3_jac(state, a, b):
    """Jacobian of :func:`henon3_map`, shape (3, 3): ``[[0, -2 y, -b], [1, 0, 0], [0, 1, 0]]``."""
    J = np.empty((3, 3))
    henon3_jac_into(state, a, b, J)
    return J
