"""Generators of the further benchmark maps: Ikeda, Tinkerbell, Lozi, Burgers, Duffing (Holmes) and the generalised
(3-D) Hénon map.

They share the conventions and the argument handling of :mod:`fastrnn.systems.generators`: one sample per iteration
(dt = 1 step), the transient in iterations, a random initial condition drawn first from ``rng`` (drawn again, up to
:data:`~fastrnn.systems.generators.MAX_ATTEMPTS` times, should the orbit escape to infinity; a given ``x0`` whose
orbit escapes raises ValueError), noise then standardisation. They iterate with the generic kernel
:func:`fastrnn.systems.integrators.map_orbit`, so ``row[k + 1] = map(row[k])`` exactly.
"""
from __future__ import annotations

import numpy as np

from .. import validation
from .fields import BURGERS, DUFFING_MAP, HENON3, IKEDA, LOZI, TINKERBELL
from .generators import DEFAULT_TRANSIENT, MAX_ATTEMPTS, check_common, finish_orbit, from_random_starts, check_params, \
    transient_samples
from .integrators import map_orbit

__all__ = ["ikeda", "tinkerbell", "lozi", "burgers", "duffing_map", "henon3"]


def _run(sid, name, what, n_steps, x0, transient, standardize, noise, rng, low, high, **params):
    """Validate a map generator's arguments, iterate map ``sid`` and finish the orbit."""
    n_steps, _, noise, standardize, _ = check_common(n_steps, 1.0, noise, standardize)
    values = check_params(**params)
    n_skip = transient_samples(transient, DEFAULT_TRANSIENT[name], 1.0)
    rng = validation.check_rng(rng)
    p = np.array(values, dtype=np.float64)
    shown = ", ".join(f"{k}={v}" for k, v in zip(params, values))
    if x0 is not None:
        x0 = validation.check_point(x0, len(low))
        x, ok = map_orbit(sid, x0, n_steps, n_skip, p)
        if not ok:
            raise ValueError(f"the {what} orbit from x0={x0.tolist()} with {shown} escapes to infinity; choose x0 "
                             "in the basin of the attractor")
    else:
        x = from_random_starts(lambda: rng.uniform(low, high), lambda start: map_orbit(sid, start, n_steps, n_skip, p),
                                f"the {what} orbit with {shown} escaped to infinity from {MAX_ATTEMPTS} random "
                                "initial conditions; choose parameters with a bounded attractor (e.g. the defaults) "
                                "or pass x0")
    return finish_orbit(x, noise, standardize, rng, what)


def ikeda(n_steps, *, u=0.9, a=0.4, b=6.0, x0=None, transient=None, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the Ikeda map (Ikeda 1979; Hammel, Jones & Moloney 1985).

    ``t_k = a - b / (1 + x_k**2 + y_k**2)``, ``x_{k+1} = 1 + u (x_k cos t_k - y_k sin t_k)``,
    ``y_{k+1} = u (x_k sin t_k + y_k cos t_k)``; one sample per iteration.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    u, a, b : float, default 0.9, 0.4, 6
        Dissipation (``|det J| = u**2``), phase offset and phase-shift strength (the defaults are chaotic).
    x0 : array_like, shape (2,), optional
        Initial state; None draws one uniformly from ``[-0.5, 0.5]**2``.
    transient : int, optional
        Iterations discarded before the first returned one; None: 1000.
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 2), float64
        Columns ``(x, y)``; row k is the state after ``transient + k`` iterations.
    """
    return _run(IKEDA, "ikeda", "Ikeda", n_steps, x0, transient, standardize, noise, rng, [-0.5, -0.5], [0.5, 0.5],
                u=u, a=a, b=b)


def tinkerbell(n_steps, *, a=0.9, b=-0.6013, c=2.0, d=0.5, x0=None, transient=None, standardize=False, noise=0.0,
               rng=None):
    r"""Orbit of the Tinkerbell map.

    ``x_{k+1} = x_k**2 - y_k**2 + a x_k + b y_k``, ``y_{k+1} = 2 x_k y_k + c x_k + d y_k``; one sample per iteration.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    a, b, c, d : float, default 0.9, -0.6013, 2, 0.5
        Tinkerbell parameters (the defaults are chaotic).
    x0 : array_like, shape (2,), optional
        Initial state; None draws one uniformly from ``[-0.8, -0.6] x [-0.7, -0.5]`` (around the usual start
        (-0.72, -0.64)); the basin of the attractor is small, so starts far from it escape to infinity.
    transient : int, optional
        Iterations discarded before the first returned one; None: 1000.
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 2), float64
        Columns ``(x, y)``; row k is the state after ``transient + k`` iterations.
    """
    return _run(TINKERBELL, "tinkerbell", "Tinkerbell", n_steps, x0, transient, standardize, noise, rng,
                [-0.8, -0.7], [-0.6, -0.5], a=a, b=b, c=c, d=d)


def lozi(n_steps, *, a=1.7, b=0.5, x0=None, transient=None, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the Lozi (1978) map, the piecewise-linear Hénon map.

    ``x_{k+1} = 1 - a |x_k| + y_k``, ``y_{k+1} = b x_k``; one sample per iteration.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    a, b : float, default 1.7, 0.5
        Lozi parameters (the defaults are chaotic).
    x0 : array_like, shape (2,), optional
        Initial state; None draws one uniformly from ``[-0.5, 0.5] x [-0.2, 0.2]``.
    transient : int, optional
        Iterations discarded before the first returned one; None: 1000.
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 2), float64
        Columns ``(x, y)``; row k is the state after ``transient + k`` iterations.
    """
    return _run(LOZI, "lozi", "Lozi", n_steps, x0, transient, standardize, noise, rng, [-0.5, -0.2], [0.5, 0.2],
                a=a, b=b)


def burgers(n_steps, *, a=0.75, b=1.75, x0=None, transient=None, standardize=False, noise=0.0, rng=None):
    r"""Orbit of Burgers' map (Whitehead & MacDonald 1984).

    ``x_{k+1} = a x_k - y_k**2``, ``y_{k+1} = b y_k + x_k y_k``; one sample per iteration. The line ``y = 0`` is
    invariant (orbits on it converge to the origin), so start off it.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    a, b : float, default 0.75, 1.75
        Burgers' map parameters (the defaults are chaotic).
    x0 : array_like, shape (2,), optional
        Initial state; None draws one uniformly from ``[-0.5, 0] x [0.1, 0.5]``.
    transient : int, optional
        Iterations discarded before the first returned one; None: 1000.
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 2), float64
        Columns ``(x, y)``; row k is the state after ``transient + k`` iterations.
    """
    return _run(BURGERS, "burgers", "Burgers", n_steps, x0, transient, standardize, noise, rng, [-0.5, 0.1], [0.0, 0.5],
                a=a, b=b)


def duffing_map(n_steps, *, a=2.75, b=0.2, x0=None, transient=None, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the Duffing (Holmes 1979 cubic) map.

    ``x_{k+1} = y_k``, ``y_{k+1} = -b x_k + a y_k - y_k**3``; one sample per iteration (``det J = b``).

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    a, b : float, default 2.75, 0.2
        Duffing map parameters (the defaults are chaotic).
    x0 : array_like, shape (2,), optional
        Initial state; None draws one uniformly from ``[-1, 1]**2``.
    transient : int, optional
        Iterations discarded before the first returned one; None: 1000.
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 2), float64
        Columns ``(x, y)``; row k is the state after ``transient + k`` iterations.
    """
    return _run(DUFFING_MAP, "duffing_map", "Duffing map", n_steps, x0, transient, standardize, noise, rng,
                [-1.0, -1.0], [1.0, 1.0], a=a, b=b)


def henon3(n_steps, *, a=1.76, b=0.1, x0=None, transient=None, standardize=False, noise=0.0, rng=None):
    r"""Orbit of the generalised Hénon map (Baier & Klein 1990), 3-D and hyperchaotic.

    ``x_{k+1} = a - y_k**2 - b z_k``, ``y_{k+1} = x_k``, ``z_{k+1} = y_k``; one sample per iteration
    (``det J = -b``; two positive Lyapunov exponents at the defaults).

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    a, b : float, default 1.76, 0.1
        Parameters.
    x0 : array_like, shape (3,), optional
        Initial state; None draws one uniformly from ``[-0.5, 0.5]**3``.
    transient : int, optional
        Iterations discarded before the first returned one; None: 1000.
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 3), float64
        Columns ``(x, y, z)``; row k is the state after ``transient + k`` iterations.
    """
    return _run(HENON3, "henon3", "generalised Hénon", n_steps, x0, transient, standardize, noise, rng,
                [-0.5, -0.5, -0.5], [0.5, 0.5, 0.5], a=a, b=b)
