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

Package layout
--------------
:mod:`~fastrnn.systems.fields`
    The vector fields, maps and Jacobians as ``@njit(cache=True)`` functions (``lorenz_rhs``, ``lorenz_jac``, ...,
    ``henon_map``, ``logistic_jac``), for variational equations and tests.
:mod:`~fastrnn.systems.integrators`
    The Numba orbit integrators (RK4, the Mackey-Glass history buffer, the map iterations).
:mod:`~fastrnn.systems.generators`
    The generators above and their shared argument handling, noise and standardisation.
:mod:`~fastrnn.systems.registry`
    :data:`SYSTEMS` (name -> :class:`SystemInfo` ``(generator, dt, has_inputs)``), :data:`MAPS` and
    :func:`system_series`, the standardised series of a system by name.
:mod:`~fastrnn.systems.reference`
    :func:`lyapunov_spectrum`, reference spectra from the tangent dynamics.
"""
from __future__ import annotations

from . import fields, generators, integrators, reference, registry
from .generators import duffing, henon, logistic, lorenz, mackey_glass, rossler
from .reference import lyapunov_spectrum
from .registry import MAPS, SYSTEMS, SystemInfo, system_series

__all__ = ["lorenz", "rossler", "duffing", "mackey_glass", "henon", "logistic", "lyapunov_spectrum",
           "SYSTEMS", "MAPS", "SystemInfo", "system_series"]
