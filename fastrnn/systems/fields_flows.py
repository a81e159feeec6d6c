r"""Vector fields and Jacobians of the further benchmark flows: Chen, Chua (piecewise linear), Thomas, Halvorsen and
Lorenz-96; the one home of their formulas.

As in :mod:`fastrnn.systems.fields`: the 3-D flows have a scalar form returning a tuple (``chen_f``, ``chua_f``,
``thomas_f``, ``halvorsen_f``), an in-place Jacobian writer (``*_jac_into``) and array forms
``*_rhs(state, *params)`` / ``*_jac(state, *params)`` (per time unit, parameters in the order of the generator's
signature). Lorenz-96 has ``N`` variables and is written on arrays only (``lorenz96_rhs_into``, ``lorenz96_rhs``,
``lorenz96_jac_into``, ``lorenz96_jac``). The dispatch by system id lives in :mod:`fastrnn.systems.fields`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["chen_f", "chen_rhs", "chen_jac", "chen_jac_into",
           "chua_g", "chua_slope", "chua_f", "chua_rhs", "chua_jac", "chua_jac_into",
           "thomas_f", "thomas_rhs", "thomas_jac", "thomas_jac_into",
           "halvorsen_f", "halvorsen_rhs", "halvorsen_jac", "halvorsen_jac_into",
           "lorenz96_rhs_into", "lorenz96_rhs", "lorenz96_jac_into", "lorenz96_jac"]


# --------------------------------------------------------------------------
# Chen (Chen & Ueta 1999)
# --------------------------------------------------------------------------
@njit(cache=True)
def chen_f(x, y, z, a, b, c):
    """Chen vector field on scalars: ``(a (y - x), (c - a) x - x z + c y, x y - b z)``."""
    return a * (y - x), (c - a) * x - x * z + c * y, x * y - b * z


@njit(cache=True)
def chen_rhs(state, a, b, c):
    """Chen vector field, per time unit.

    Parameters
    ----------
    state : ndarray, shape (3,)
        ``(x, y, z)``.
    a, b, c : float
        Chen parameters.

    Returns
    -------
    ndarray, shape (3,)
        ``(a (y - x), (c - a) x - x z + c y, x y - b z)``.
    """
    out = np.empty(3)
    out[0], out[1], out[2] = chen_f(state[0], state[1], state[2], a, b, c)
    return out


@njit(cache=True)
def chen_jac_into(state, a, b, c, J):
    """Write the Jacobian of :func:`chen_rhs` into ``J`` (3, 3):
    ``[[-a, a, 0], [c - a - z, c, -x], [y, x, -b]]`` (trace ``c - a - b``)."""
    x, y, z = state[0], state[1], state[2]
    J[0, 0] = -a
    J[0, 1] = a
    J[0, 2] = 0.0
    J[1, 0] = c - a - z
    J[1, 1] = c
    J[1, 2] = -x
    J[2, 0] = y
    J[2, 1] = x
    J[2, 2] = -b


@njit(cache=True)
def chen_jac(state, a, b, c):
    """Jacobian of :func:`chen_rhs`, shape (3, 3): ``[[-a, a, 0], [c - a - z, c, -x], [y, x, -b]]``."""
    J = np.empty((3, 3))
    chen_jac_into(state, a, b, c, J)
    return J


# --------------------------------------------------------------------------
# Chua's circuit, piecewise-linear (Matsumoto, Chua & Komuro 1985)
# --------------------------------------------------------------------------
@njit(cache=True)
def chua_g(x, m0, m1):
    """Chua diode ``g(x) = m1 x + (m0 - m1) (|x + 1| - |x - 1|) / 2`` (slope m0 for |x| < 1, m1 outside)."""
    return m1 * x + 0.5 * (m0 - m1) * (abs(x + 1.0) - abs(x - 1.0))


@njit(cache=True)
def chua_slope(x, m0, m1):
    """``g'(x)``: m0 for |x| < 1, m1 for |x| >= 1 (at the break points |x| = 1, where g has a kink, the outer
    slope; the Jacobian is defined almost everywhere)."""
    return m0 if abs(x) < 1.0 else m1


@njit(cache=True)
def chua_f(x, y, z, alpha, beta, m0, m1):
    """Chua vector field on scalars: ``(alpha (y - x - g(x)), x - y + z, -beta y)``."""
    return alpha * (y - x - chua_g(x, m0, m1)), x - y + z, -beta * y


@njit(cache=True)
def chua_rhs(state, alpha, beta, m0, m1):
    """Piecewise-linear Chua vector field, per time unit.

    Parameters
    ----------
    state : ndarray, shape (3,)
        ``(x, y, z)``: the two capacitor voltages and the inductor current (dimensionless).
    alpha, beta : float
        Capacitance ratio and inductance parameter.
    m0, m1 : float
        Inner and outer slopes of the Chua diode :func:`chua_g`.

    Returns
    -------
    ndarray, shape (3,)
        ``(alpha (y - x - g(x)), x - y + z, -beta y)``.
    """
    out = np.empty(3)
    out[0], out[1], out[2] = chua_f(state[0], state[1], state[2], alpha, beta, m0, m1)
    return out


@njit(cache=True)
def chua_jac_into(state, alpha, beta, m0, m1, J):
    """Write the Jacobian of :func:`chua_rhs` into ``J`` (3, 3):
    ``[[-alpha (1 + g'(x)), alpha, 0], [1, -1, 1], [0, -beta, 0]]`` with ``g'`` from :func:`chua_slope`."""
    J[0, 0] = -alpha * (1.0 + chua_slope(state[0], m0, m1))
    J[0, 1] = alpha
    J[0, 2] = 0.0
    J[1, 0] = 1.0
    J[1, 1] = -1.0
    J[1, 2] = 1.0
    J[2, 0] = 0.0
    J[2, 1] = -beta
    J[2, 2] = 0.0


@njit(cache=True)
def chua_jac(state, alpha, beta, m0, m1):
    """Jacobian of :func:`chua_rhs`, shape (3, 3), defined for |x| != 1 (see :func:`chua_slope`)."""
    J = np.empty((3, 3))
    chua_jac_into(state, alpha, beta, m0, m1, J)
    return J


# --------------------------------------------------------------------------
# Thomas' cyclically symmetric attractor (Thomas 1999)
# --------------------------------------------------------------------------
@njit(cache=True)
def thomas_f(x, y, z, b):
    """Thomas vector field on scalars: ``(sin y - b x, sin z - b y, sin x - b z)``."""
    return math.sin(y) - b * x, math.sin(z) - b * y, math.sin(x) - b * z


@njit(cache=True)
def thomas_rhs(state, b):
    """Thomas' cyclically symmetric vector field, per time unit.

    Parameters
    ----------
    state : ndarray, shape (3,)
        ``(x, y, z)``.
    b : float
        Damping.

    Returns
    -------
    ndarray, shape (3,)
        ``(sin y - b x, sin z - b y, sin x - b z)``.
    """
    out = np.empty(3)
    out[0], out[1], out[2] = thomas_f(state[0], state[1], state[2], b)
    return out


@njit(cache=True)
def thomas_jac_into(state, b, J):
    """Write the Jacobian of :func:`thomas_rhs` into ``J`` (3, 3):
    ``[[-b, cos y, 0], [0, -b, cos z], [cos x, 0, -b]]`` (trace ``-3 b``)."""
    J[0, 0] = -b
    J[0, 1] = math.cos(state[1])
    J[0, 2] = 0.0
    J[1, 0] = 0.0
    J[1, 1] = -b
    J[1, 2] = math.cos(state[2])
    J[2, 0] = math.cos(state[0])
    J[2, 1] = 0.0
    J[2, 2] = -b


@njit(cache=True)
def thomas_jac(state, b):
    """Jacobian of :func:`thomas_rhs`, shape (3, 3): ``[[-b, cos y, 0], [0, -b, cos z], [cos x, 0, -b]]``."""
    J = np.empty((3, 3))
    thomas_jac_into(state, b, J)
    return J


# --------------------------------------------------------------------------
# Halvorsen's cyclically symmetric attractor (Sprott 2010)
# --------------------------------------------------------------------------
@njit(cache=True)
def halvorsen_f(x, y, z, a):
    """Halvorsen vector field on scalars:
    ``(-a x - 4 y - 4 z - y**2, -a y - 4 z - 4 x - z**2, -a z - 4 x - 4 y - x**2)``."""
    return (-a * x - 4.0 * y - 4.0 * z - y * y, -a * y - 4.0 * z - 4.0 * x - z * z,
            -a * z - 4.0 * x - 4.0 * y - x * x)


@njit(cache=True)
def halvorsen_rhs(state, a):
    """Halvorsen vector field, per time unit.

    Parameters
    ----------
    state : ndarray, shape (3,)
        ``(x, y, z)``.
    a : float
        Damping.

    Returns
    -------
    ndarray, shape (3,)
        ``(-a x - 4 y - 4 z - y**2, -a y - 4 z - 4 x - z**2, -a z - 4 x - 4 y - x**2)``.
    """
    out = np.empty(3)
    out[0], out[1], out[2] = halvorsen_f(state[0], state[1], state[2], a)
    return out


@njit(cache=True)
def halvorsen_jac_into(state, a, J):
    """Write the Jacobian of :func:`halvorsen_rhs` into ``J`` (3, 3):
    ``[[-a, -4 - 2 y, -4], [-4, -a, -4 - 2 z], [-4 - 2 x, -4, -a]]`` (trace ``-3 a``)."""
    J[0, 0] = -a
    J[0, 1] = -4.0 - 2.0 * state[1]
    J[0, 2] = -4.0
    J[1, 0] = -4.0
    J[1, 1] = -a
    J[1, 2] = -4.0 - 2.0 * state[2]
    J[2, 0] = -4.0 - 2.0 * state[0]
    J[2, 1] = -4.0
    J[2, 2] = -a


@njit(cache=True)
def halvorsen_jac(state, a):
    """Jacobian of :func:`halvorsen_rhs`, shape (3, 3)."""
    J = np.empty((3, 3))
    halvorsen_jac_into(state, a, J)
    return J


# --------------------------------------------------------------------------
# Lorenz-96 (Lorenz 1996), N variables on a ring
# --------------------------------------------------------------------------
@njit(cache=True)
def lorenz96_rhs_into(state, F, out):
    """Write the Lorenz-96 vector field ``(x_{i+1} - x_{i-2}) x_{i-1} - x_i + F`` (indices mod N) into ``out``."""
    N = state.shape[0]
    for i in range(N):
        out[i] = (state[(i + 1) % N] - state[(i - 2) % N]) * state[(i - 1) % N] - state[i] + F


@njit(cache=True)
def lorenz96_rhs(state, F):
    """Lorenz-96 vector field, per time unit.

    Parameters
    ----------
    state : ndarray, shape (N,)
        ``(x_0, ..., x_{N-1})`` on a ring (N >= 4).
    F : float
        Forcing.

    Returns
    -------
    ndarray, shape (N,)
        ``dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F``, indices modulo N.
    """
    out = np.empty(state.shape[0])
    lorenz96_rhs_into(state, F, out)
    return out


@njit(cache=True)
def lorenz96_jac_into(state, F, J):
    """Write the Jacobian of :func:`lorenz96_rhs` into ``J`` (N, N): row i has ``-1`` at i, ``x_{i-1}`` at i+1,
    ``-x_{i-1}`` at i-2 and ``x_{i+1} - x_{i-2}`` at i-1 (indices mod N, distinct for N >= 4; trace ``-N``)."""
    N = state.shape[0]
    for i in range(N):
        for j in range(N):
            J[i, j] = 0.0
        J[i, i] = -1.0
        J[i, (i + 1) % N] = state[(i - 1) % N]
        J[i, (i - 2) % N] = -state[(i - 1) % N]
        J[i, (i - 1) % N] = state[(i + 1) % N] - state[(i - 2) % N]


@njit(cache=True)
def lorenz96_jac(state, F):
    """Jacobian of :func:`lorenz96_rhs`, shape (N, N); it does not depend on ``F``."""
    J = np.empty((state.shape[0], state.shape[0]))
    lorenz96_jac_into(state, F, J)
    return J
