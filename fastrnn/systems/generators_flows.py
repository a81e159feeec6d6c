"""Generators of the further benchmark flows: Chen, Chua (piecewise linear), Thomas, Halvorsen and Lorenz-96.

They share the conventions and the argument handling of :mod:`fastrnn.systems.generators` (validation, transient in
time units, random initial condition drawn first from ``rng``, noise then standardisation) and integrate with the
generic N-dimensional RK4 kernel :func:`fastrnn.systems.integrators.flow_orbit`.
"""
from __future__ import annotations

import numpy as np

from .. import validation
from .fields import CHEN, CHUA, HALVORSEN, LORENZ96, THOMAS
from .generators import DEFAULT_TRANSIENT, finish_orbit, setup_flow, diverged_error
from .integrators import flow_orbit

__all__ = ["chen", "chua_pwl", "thomas", "halvorsen", "lorenz96"]


def _run(sid, name, what, n_steps, dt, noise, standardize, substeps, transient, rng, x0, low, high, **params):
    """Validate (as :func:`~fastrnn.systems.generators.setup_flow`), integrate flow ``sid`` and finish the orbit."""
    s = setup_flow(n_steps, dt, noise, standardize, substeps, transient, DEFAULT_TRANSIENT[name], rng, x0,
                    low, high, **params)
    x, ok = flow_orbit(sid, s.x0, s.n_steps, s.n_skip, s.dt, s.substeps, np.array(s.params, dtype=np.float64))
    if not ok:
        raise diverged_error(what)
    return finish_orbit(x, s.noise, s.standardize, s.rng, what)


def chen(n_steps, *, dt=0.01, a=35.0, b=3.0, c=28.0, x0=None, transient=None, substeps=5, standardize=False,
         noise=0.0, rng=None):
    r"""Orbit of the Chen (Chen & Ueta 1999) system.

    ``dx/dt = a (y - x)``, ``dy/dt = (c - a) x - x z + c y``, ``dz/dt = x y - b z``, integrated by RK4 with internal
    step ``dt / substeps``.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    dt : float, default 0.01
        Time units per sample.
    a, b, c : float, default 35, 3, 28
        Chen parameters (the defaults are chaotic, a double-scroll attractor).
    x0 : array_like, shape (3,), optional
        Initial state at time 0; None draws one uniformly from ``[-10, 10] x [-10, 10] x [10, 30]``.
    transient : int, optional
        Samples discarded before the first returned one; None: 50 time units (5000 samples at the default dt).
    substeps : int, default 5
        RK4 steps per sample (internal step 0.002 time units at the default dt).
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 3), float64
        Columns ``(x, y, z)``; row k is the state at time ``(transient + k) dt``.
    """
    return _run(CHEN, "chen", "Chen", n_steps, dt, noise, standardize, substeps, transient, rng, x0,
                [-10.0, -10.0, 10.0], [10.0, 10.0, 30.0], a=a, b=b, c=c)


def chua_pwl(n_steps, *, dt=0.05, alpha=9.0, beta=100.0 / 7.0, m0=-8.0 / 7.0, m1=-5.0 / 7.0, x0=None, transient=None,
             substeps=5, standardize=False, noise=0.0, rng=None):
    r"""Orbit of Chua's circuit with the piecewise-linear Chua diode (the double scroll).

    ``dx/dt = alpha (y - x - g(x))``, ``dy/dt = x - y + z``, ``dz/dt = -beta y`` with
    ``g(x) = m1 x + (m0 - m1) (|x + 1| - |x - 1|) / 2``, integrated by RK4 with internal step ``dt / substeps``.
    The vector field is continuous but has kinks at ``|x| = 1``; the fixed-step RK4 is only first-order accurate
    across them, so orbits converge more slowly in the step than for smooth flows.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    dt : float, default 0.05
        Time units per sample.
    alpha, beta : float, default 9, 100/7
        Capacitance ratio and inductance parameter.
    m0, m1 : float, default -8/7, -5/7
        Inner (|x| < 1) and outer slopes of the diode (Matsumoto, Chua & Komuro 1985).
    x0 : array_like, shape (3,), optional
        Initial state at time 0; None draws one uniformly from ``[-0.5, 0.5]**3``.
    transient : int, optional
        Samples discarded before the first returned one; None: 500 time units (10000 samples at the default dt).
    substeps : int, default 5
        RK4 steps per sample (internal step 0.01 time units at the default dt).
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 3), float64
        Columns ``(x, y, z)``; row k is the state at time ``(transient + k) dt``.
    """
    return _run(CHUA, "chua_pwl", "Chua", n_steps, dt, noise, standardize, substeps, transient, rng, x0,
                [-0.5, -0.5, -0.5], [0.5, 0.5, 0.5], alpha=alpha, beta=beta, m0=m0, m1=m1)


def thomas(n_steps, *, dt=0.1, b=0.18, x0=None, transient=None, substeps=5, standardize=False, noise=0.0, rng=None):
    r"""Orbit of Thomas' cyclically symmetric attractor (Thomas 1999).

    ``dx/dt = sin y - b x``, ``dy/dt = sin z - b y``, ``dz/dt = sin x - b z``, integrated by RK4 with internal step
    ``dt / substeps``.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    dt : float, default 0.1
        Time units per sample.
    b : float, default 0.18
        Damping (chaotic below about 0.208186; the sum of the Lyapunov exponents is ``-3 b``).
    x0 : array_like, shape (3,), optional
        Initial state at time 0; None draws one uniformly from ``[-1, 1]**3``.
    transient : int, optional
        Samples discarded before the first returned one; None: 1000 time units (10000 samples at the default dt).
    substeps : int, default 5
        RK4 steps per sample (internal step 0.02 time units at the default dt).
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 3), float64
        Columns ``(x, y, z)``; row k is the state at time ``(transient + k) dt``.
    """
    return _run(THOMAS, "thomas", "Thomas", n_steps, dt, noise, standardize, substeps, transient, rng, x0,
                [-1.0, -1.0, -1.0], [1.0, 1.0, 1.0], b=b)


def halvorsen(n_steps, *, dt=0.01, a=1.27, x0=None, transient=None, substeps=5, standardize=False, noise=0.0,
              rng=None):
    r"""Orbit of Halvorsen's cyclically symmetric attractor (Sprott 2010).

    ``dx/dt = -a x - 4 y - 4 z - y**2``, ``dy/dt = -a y - 4 z - 4 x - z**2``, ``dz/dt = -a z - 4 x - 4 y - x**2``,
    integrated by RK4 with internal step ``dt / substeps``.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    dt : float, default 0.01
        Time units per sample.
    a : float, default 1.27
        Damping (the sum of the Lyapunov exponents is ``-3 a``).
    x0 : array_like, shape (3,), optional
        Initial state at time 0; None draws one uniformly from ``[-6, -4] x [-1, 1] x [-1, 1]``.
    transient : int, optional
        Samples discarded before the first returned one; None: 100 time units (10000 samples at the default dt).
    substeps : int, default 5
        RK4 steps per sample (internal step 0.002 time units at the default dt).
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, 3), float64
        Columns ``(x, y, z)``; row k is the state at time ``(transient + k) dt``.
    """
    return _run(HALVORSEN, "halvorsen", "Halvorsen", n_steps, dt, noise, standardize, substeps, transient, rng, x0,
                [-6.0, -1.0, -1.0], [-4.0, 1.0, 1.0], a=a)


def lorenz96(n_steps, *, N=5, dt=0.05, F=8.0, x0=None, transient=None, substeps=5, standardize=False, noise=0.0,
             rng=None):
    r"""Orbit of the Lorenz-96 model (Lorenz 1996) with ``N`` variables on a ring.

    ``dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F`` for ``i = 0 .. N-1``, indices modulo N, integrated by RK4 with
    internal step ``dt / substeps``.

    Parameters
    ----------
    n_steps : int
        Number of returned samples T (>= 1).
    N : int, default 5
        Number of variables (>= 4).
    dt : float, default 0.05
        Time units per sample (Lorenz's "6 hours").
    F : float, default 8
        Forcing (chaotic at N = 5; the sum of the Lyapunov exponents is ``-N``).
    x0 : array_like, shape (N,), optional
        Initial state at time 0; None draws one uniformly from ``[F - 1, F + 1]**N`` (around the unstable
        equilibrium ``x_i = F``).
    transient : int, optional
        Samples discarded before the first returned one; None: 100 time units (2000 samples at the default dt).
    substeps : int, default 5
        RK4 steps per sample (internal step 0.01 time units at the default dt).
    standardize, noise, rng
        See :func:`~fastrnn.systems.generators.lorenz`.

    Returns
    -------
    ndarray, shape (n_steps, N), float64
        Columns ``(x_0, ..., x_{N-1})``; row k is the state at time ``(transient + k) dt``.
    """
    N = validation.check_int(N, "N", minimum=4)
    F = validation.check_float(F, "F")
    return _run(LORENZ96, "lorenz96", "Lorenz-96", n_steps, dt, noise, standardize, substeps, transient, rng, x0,
                [F - 1.0] * N, [F + 1.0] * N, F=F)
