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
Lyapunov exponents (ours, from the linearised scheme, :func:`lyapunov_spectrum`):
about (0.0051, 0, -0.039) per time unit at tau = 17 (tau_pred = ln 2 / 0.0051 =
136 time units); tau = 30: (0.0071, 0.0030, 0, ...), two positive; tau = 10 is
periodic.

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

Further systems (issue 13)
--------------------------
Systems with known Lyapunov spectra, for validating lambda_max-from-data and for benchmarking. Each has its
field/map and analytic Jacobian, a generator with the shared keywords above and a reference spectrum by name
(:func:`lyapunov_spectrum`). "Ours" is :func:`lyapunov_spectrum` at the defaults (rng=0; flows 1e5 samples unless
stated, maps 2e6 iterations); the statistical error of a run of T time units is roughly ``1/sqrt(T)`` relative.

Chen (Chen & Ueta 1999), :func:`chen`, 3 columns::

    dx/dt = a (y - x),   dy/dt = (c - a) x - x z + c y,   dz/dt = x y - b z

defaults a=35, b=3, c=28; dt=0.01, substeps=5; transient 50 time units.  Spectrum: literature (2.0232, 0, -12.0227)
(RK4 with h = 0.001, lyapunov-spectrum site; Sprott gives 2.0272), sum ``c - a - b = -10``; ours (2.048, 0.001,
-12.049).

Chua's circuit, piecewise-linear diode (Matsumoto, Chua & Komuro 1985, "the double scroll"), :func:`chua_pwl`::

    dx/dt = alpha (y - x - g(x)),   dy/dt = x - y + z,   dz/dt = -beta y
    g(x) = m1 x + (m0 - m1) (|x + 1| - |x - 1|) / 2

defaults alpha=9, beta=100/7, m0=-8/7, m1=-5/7; dt=0.05, substeps=5; transient 500 time units.  The field has kinks
at ``|x| = 1`` and its Jacobian is defined almost everywhere (the outer slope m1 is used at ``|x| = 1``); the RK4
orbit is only first order across the kinks.  Spectrum: Sprott (2003) (0.3271, 0, -2.5197); ours over 2e4 time units
(0.3278, -0.0007, -2.5201); the sum is the mean of the piecewise-constant divergence ``-alpha (1 + g'(x)) - 1``.
The name is "chua_pwl" (the piecewise-linear variant; the smooth cubic one is not included).

Thomas' cyclically symmetric attractor (Thomas 1999), :func:`thomas`::

    dx/dt = sin y - b x,   dy/dt = sin z - b y,   dz/dt = sin x - b z

default b=0.18 (chaotic below about 0.208186); dt=0.1, substeps=5; transient 1000 time units.  Spectrum: Sprott,
"Elegant Chaos" (2010) (0.0349, 0, -0.5749); ours (0.0345, 0.0001, -0.5746); sum ``-3 b``.  Slow: one Lyapunov
time is about 290 samples.

Halvorsen's cyclically symmetric attractor (Sprott 2010), :func:`halvorsen`::

    dx/dt = -a x - 4 y - 4 z - y**2   (and cyclically x -> y -> z -> x)

default a=1.27; dt=0.01, substeps=5; transient 100 time units.  Spectrum: Sprott, "Elegant Chaos" (2010)
(0.7899, 0, -4.6007); ours (0.7892, -0.0002, -4.5990); sum ``-3 a``.

Lorenz-96 (Lorenz 1996), :func:`lorenz96`, ``N`` columns (keyword ``N``, default 5, at least 4)::

    dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F,   indices modulo N

default N=5, F=8 (chaotic); dt=0.05, substeps=5; transient 100 time units; random x0 around the unstable
equilibrium ``x_i = F``.  Spectrum (N=5, F=8): ours (0.472, 0.000, -0.519, -1.305, -3.648) over 5000 time units, sum
``-N``; we found no published value for N=5 (the literature studies N = 36 or 40), so the test checks the tangent
value against the separation of two nearby orbits.  N=6: ours (0.934, 0, -0.144, -0.749, -1.432, -4.609).

Ikeda map (Ikeda 1979), :func:`ikeda`::

    t = a - b / (1 + x**2 + y**2)
    x' = 1 + u (x cos t - y sin t),   y' = u (x sin t + y cos t)

defaults u=0.9, a=0.4, b=6; transient 1000.  Spectrum: Sprott (2003) (0.5076, -0.7183), lyapunov-spectrum site
(0.50752, -0.71824); ours (0.5078, -0.7185); sum ``2 ln u`` (``|det J| = u**2``).

Tinkerbell map, :func:`tinkerbell`::

    x' = x**2 - y**2 + a x + b y,   y' = 2 x y + c x + d y

defaults a=0.9, b=-0.6013, c=2, d=0.5; random x0 near (-0.72, -0.64) (the basin is small); transient 1000.
Spectrum: (0.19978, -0.50018) (Dobriyanchik 2024); ours (0.1997, -0.5003).

Lozi map (Lozi 1978), :func:`lozi`, the piecewise-linear Hénon map::

    x' = 1 - a |x| + y,   y' = b x

defaults a=1.7, b=0.5; transient 1000.  Jacobian ``[[-a sign x, 1], [b, 0]]`` (x != 0).  Spectrum: Sprott (2003)
(0.47023, -1.16338); ours (0.4703, -1.1635); sum ``ln b``.

Burgers' map (Whitehead & MacDonald 1984), :func:`burgers`::

    x' = a x - y**2,   y' = b y + x y

defaults a=0.75, b=1.75; transient 1000.  Spectrum: ours (0.1211, -0.2216) (no published value verified; checked
against two nearby orbits).

Duffing (Holmes 1979 cubic) map, :func:`duffing_map`::

    x' = y,   y' = -b x + a y - y**3

defaults a=2.75, b=0.2; transient 1000.  Spectrum: ours (0.4770, -2.0864), sum ``ln b`` (no published value verified;
checked against two nearby orbits).

Generalised Hénon map (Baier & Klein 1990), :func:`henon3`, 3 columns, hyperchaotic::

    x' = a - y**2 - b z,   y' = x,   z' = y

defaults a=1.76, b=0.1; transient 1000.  Spectrum: ours (0.2242, 0.1871, -2.7139), two positive exponents, sum
``ln b`` (no published value verified; checked against two nearby orbits).

The paper's systems (issue 15)
------------------------------
:data:`PAPER_SYSTEMS` and :func:`paper_series` give the data sets of the sparse-forcing paper (Mikhaeil, Monfared &
Durstewitz 2022, "On the difficulty of learning chaotic dynamics with RNNs") as named settings of the generators
above, 10^5 samples each by default:

================  ======================================================================================  ==========
name              system, parameters, sampling interval dt (time units per sample), observed columns      scaling
================  ======================================================================================  ==========
``lorenz``        Lorenz, sigma = 10, rho = 38 (sic, the paper's value), beta = 8/3; dt = 0.01; (x, y, z)   global
``lorenz2d``      the same Lorenz observed in (y, z) only                                                  global
``rossler``       Rössler, a = 0.15, b = 0.2, c = 10; dt = 0.1 (Rosenstein et al. 1993's benchmark,        columns
                  lambda_max = 0.090 per time unit, so tau_pred = ln 2 / (0.090 * 0.1) = 77 steps)
``duffing``       x'' + 0.1 x' - x + x^3 = 0.35 cos(1.4 t); dt = 0.1773; (x, x', drive): the drive as a    columns
                  third *observed* column, as the paper did
``duffing_input`` the same oscillator observed in (x, x'), the drive an external input (as a forced        columns
                  system should be modelled)
``mackey_glass``  Mackey-Glass, beta = 0.2, gamma = 0.1, n = 10, delay 17; dt = 1 (fastrnn's defaults)      columns
================  ======================================================================================  ==========

"global" is one z-score over all entries of the observed array jointly (one mean, one standard deviation: the
published Lorenz data file's scaling, which keeps the columns' relative sizes); "columns" z-scores each column (and
the Duffing input) on its own. :class:`PaperSeries` records the statistics, so the raw orbit is ``x * std + mean``.

Package layout
--------------
:mod:`~fastrnn.systems.fields`
    The vector fields, maps and Jacobians as ``@njit(cache=True)`` functions (``lorenz_rhs``, ``lorenz_jac``, ...,
    ``henon_map``, ``logistic_jac``), for variational equations and tests, the system ids and the dispatchers;
    it re-exports those of the further flows (:mod:`~fastrnn.systems.fields_flows`) and maps
    (:mod:`~fastrnn.systems.fields_maps`).
:mod:`~fastrnn.systems.integrators`
    The Numba orbit integrators (RK4, the Mackey-Glass history buffer, the map iterations, the generic N-D RK4 and
    map kernels of the further systems).
:mod:`~fastrnn.systems.generators`
    The first six generators and their shared argument handling, noise and standardisation;
    :mod:`~fastrnn.systems.generators_flows` and :mod:`~fastrnn.systems.generators_maps` hold the further ones.
:mod:`~fastrnn.systems.registry`
    :data:`SYSTEMS` (name -> :class:`SystemInfo` ``(generator, dt, has_inputs)``), :data:`MAPS` and
    :func:`system_series`, the standardised series of a system by name.
:mod:`~fastrnn.systems.reference`
    :func:`lyapunov_spectrum`, reference spectra from the tangent dynamics.
:mod:`~fastrnn.systems.paper`
    :data:`PAPER_SYSTEMS` and :func:`paper_series`, the paper's data sets and their scaling; :func:`gtf_benchmark`,
    the generalised-teacher-forcing benchmark settings (Lorenz-63 with 5 % observation noise).
"""
from __future__ import annotations

from . import (fields, fields_flows, fields_maps, generators, generators_flows, generators_maps, integrators, paper,
               reference, registry)
from .generators import duffing, henon, logistic, lorenz, mackey_glass, rossler
from .generators_flows import chen, chua_pwl, halvorsen, lorenz96, thomas
from .generators_maps import burgers, duffing_map, henon3, ikeda, lozi, tinkerbell
from .paper import GTF_BENCHMARKS, PAPER_SYSTEMS, GTFBenchmark, PaperSeries, PaperSystem, gtf_benchmark, paper_series
from .reference import lyapunov_spectrum
from .registry import MAPS, SYSTEMS, SystemInfo, system_series

__all__ = ["lorenz", "rossler", "duffing", "mackey_glass", "henon", "logistic",
           "chen", "chua_pwl", "thomas", "halvorsen", "lorenz96",
           "ikeda", "tinkerbell", "lozi", "burgers", "duffing_map", "henon3",
           "lyapunov_spectrum", "SYSTEMS", "MAPS", "SystemInfo", "system_series",
           "PAPER_SYSTEMS", "PaperSeries", "PaperSystem", "paper_series", "GTF_BENCHMARKS", "GTFBenchmark",
           "gtf_benchmark"]
