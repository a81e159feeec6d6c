"""Orbit integrators of the benchmark systems: Numba kernels that the generators call.

Fixed-step classical RK4 for the flows (Lorenz and Rössler through one 3-D kernel, :func:`flow3_orbit`, the forced
Duffing oscillator with its explicit time), RK4 with a ring-buffer history and cubic Hermite interpolation of the
delayed values for the Mackey-Glass delay equation, and plain iteration with degeneracy checks for the maps. The
further systems go through two generic kernels that dispatch on the system id: :func:`flow_orbit` (RK4 in N
dimensions, the same stage arithmetic as the tangent integrator :func:`fastrnn.systems.reference.flow_tangent_chunk`)
and :func:`map_orbit`. Each kernel computes ``n_skip`` discarded then ``n_out`` stored samples; the vector fields come
from :mod:`fastrnn.systems.fields`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .fields import (LORENZ, duffing_f, flow_field_into, henon_f, logistic_f, lorenz_f, mackey_glass_f,
                     map_step_into, rossler_f)

__all__ = ["flow3_f", "flow3_orbit", "duffing_orbit", "mackey_glass_delayed", "mackey_glass_orbit", "mackey_glass_tangent", "henon_orbit",
           "logistic_orbit", "flow_orbit", "map_orbit"]


@njit(cache=True, inline="always")
def flow3_f(system, x, y, z, p0, p1, p2):
    """Vector field of the autonomous 3-D flow ``system`` (LORENZ or ROSSLER) with its three parameters."""
    if system == LORENZ:
        return lorenz_f(x, y, z, p0, p1, p2)
    return rossler_f(x, y, z, p0, p1, p2)


@njit(cache=True)
def flow3_orbit(system, x0, n_out, n_skip, dt, substeps, p0, p1, p2):
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
            a1, b1, c1 = flow3_f(system, x, y, z, p0, p1, p2)
            a2, b2, c2 = flow3_f(system, x + hh * a1, y + hh * b1, z + hh * c1, p0, p1, p2)
            a3, b3, c3 = flow3_f(system, x + hh * a2, y + hh * b2, z + hh * c2, p0, p1, p2)
            a4, b4, c4 = flow3_f(system, x + h * a3, y + h * b3, z + h * c3, p0, p1, p2)
            x += h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
            y += h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
            z += h / 6.0 * (c1 + 2.0 * c2 + 2.0 * c3 + c4)
    return out


@njit(cache=True)
def duffing_orbit(x0, n_out, n_skip, dt, substeps, delta, alpha, beta, gamma, omega):
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
            a1, b1 = duffing_f(x, v, t, delta, alpha, beta, gamma, omega)
            a2, b2 = duffing_f(x + hh * a1, v + hh * b1, t + hh, delta, alpha, beta, gamma, omega)
            a3, b3 = duffing_f(x + hh * a2, v + hh * b2, t + hh, delta, alpha, beta, gamma, omega)
            a4, b4 = duffing_f(x + h * a3, v + h * b3, t + h, delta, alpha, beta, gamma, omega)
            x += h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
            v += h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return out


@njit(cache=True)
def mackey_glass_delayed(xs, ds, size, x0, h, j, frac):
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


@njit(inline="always", cache=True)
def _mg_offsets(q):
    """Grid offsets ``f`` (relative to ``i - m``) and fractions ``r`` of the delayed positions of the RK4 stages
    c = 0, 1/2, 1: ``(f0, f5, f1, r0, r5, r1)``."""
    f0 = math.floor(0.0 - q)
    f5 = math.floor(0.5 - q)
    f1 = math.floor(1.0 - q)
    return int(f0), int(f5), int(f1), (0.0 - q) - f0, (0.5 - q) - f5, (1.0 - q) - f1


@njit(inline="always", cache=True)
def _mg_start(x0, size, m, q, h, beta, gamma, n):
    """Ring buffers of values and derivatives with grid point 0 (constant history ``x0``) filled in."""
    xs = np.empty(size)
    ds = np.empty(size)
    f0i, _, _, r0, _, _ = _mg_offsets(q)
    xs[0] = x0
    xd = mackey_glass_delayed(xs, ds, size, x0, h, -m + f0i, r0)
    ds[0] = mackey_glass_f(x0, xd, beta, gamma, n)
    return xs, ds


@njit(inline="always", cache=True)
def _mg_step(xs, ds, size, x0, h, i, m, f5i, r5, f1i, r1, beta, gamma, n):
    """One RK4 step from grid point ``i`` (its value ``xs[i % size]``); stores grid point ``i + 1`` and returns
    ``(x_new, xd5, xd1)``, the delayed values of the half and the full stage."""
    x = xs[i % size]
    base = i - m
    k1 = ds[i % size]
    xd5 = mackey_glass_delayed(xs, ds, size, x0, h, base + f5i, r5)
    k2 = mackey_glass_f(x + 0.5 * h * k1, xd5, beta, gamma, n)
    k3 = mackey_glass_f(x + 0.5 * h * k2, xd5, beta, gamma, n)
    xd1 = mackey_glass_delayed(xs, ds, size, x0, h, base + f1i, r1)
    k4 = mackey_glass_f(x + h * k3, xd1, beta, gamma, n)
    x = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    slot = (i + 1) % size
    xs[slot] = x
    # derivative at the new grid point: its delayed value is the c = 1 one
    ds[slot] = mackey_glass_f(x, xd1, beta, gamma, n)
    return x, xd5, xd1


@njit(cache=True)
def mackey_glass_orbit(x0, n_out, n_skip, substeps, h, m, q, beta, gamma, n):
    """RK4 orbit of the Mackey-Glass DDE on the grid ``t_i = i h``.

    The delay is ``tau = (m + q) h`` with integer ``m >= 1`` and ``0 <= q < 1``.
    A stage at grid position ``i + c`` (c = 0, 1/2, 1) needs the solution at
    ``i + c - m - q``, which is at most ``i``, so it is always known.  Every
    ``substeps`` grid steps a sample is stored.
    """
    size = m + 3  # holds grid points i - m - 1 .. i + 1
    out = np.empty(n_out)
    _, f5i, f1i, _, r5, r1 = _mg_offsets(q)
    xs, ds = _mg_start(x0, size, m, q, h, beta, gamma, n)
    x = x0
    total = (n_skip + n_out - 1) * substeps
    for i in range(total + 1):
        if i % substeps == 0:
            k = i // substeps
            if k >= n_skip:
                out[k - n_skip] = x
        if i == total:
            break
        x, _, _ = _mg_step(xs, ds, size, x0, h, i, m, f5i, r5, f1i, r1, beta, gamma, n)
    return out


@njit(inline="always", cache=True)
def _hill_slope(u, n):
    """Derivative of ``u / (1 + u**n)`` with respect to ``u``."""
    un = u ** n
    return (1.0 + un - n * un) / ((1.0 + un) * (1.0 + un))


@njit(cache=True)
def mackey_glass_tangent(x0, n_skip, n_avg, n_frame, renorm, h, m, q, beta, gamma, n, V):
    """Leading Lyapunov exponents of the Mackey-Glass scheme of :func:`mackey_glass_orbit` (per time unit).

    The orbit is the one of :func:`mackey_glass_orbit` (RK4 on the grid ``t_i = i h``, constant history ``x0``);
    the tangent vectors are its exact linearisation: every stage, the Hermite interpolation of the delayed value
    and the stored derivatives are differentiated, so each tangent lives in the same ring buffers (values and
    derivatives, ``2 (m + 3)`` numbers) as the orbit.  ``V`` (k, 2 (m + 3)) holds the k initial tangent vectors
    (overwritten).  The tangents start after ``n_skip`` grid steps; every ``renorm`` grid steps they are
    orthonormalised (modified Gram-Schmidt over the buffer slots still in use), and the logs of the norms are
    summed after a further ``n_frame`` grid steps, over ``n_avg`` grid steps.  Returns the k exponents, or NaN
    where the orbit left the finite numbers.
    """
    size = m + 3
    k_vec = V.shape[0]
    _, f5i, f1i, _, r5, r1 = _mg_offsets(q)
    xs, ds = _mg_start(x0, size, m, q, h, beta, gamma, n)
    sums = np.zeros(k_vec)
    total = n_skip + n_frame + n_avg
    for i in range(total):
        dx_slot = i % size  # the tangent reads grid point i and its delayed positions before the step
        x_new, xd5, xd1 = _mg_step(xs, ds, size, x0, h, i, m, f5i, r5, f1i, r1, beta, gamma, n)
        base = i - m
        slot = (i + 1) % size
        if i >= n_skip:
            g5 = beta * _hill_slope(xd5, n)
            g1 = beta * _hill_slope(xd1, n)
            j5 = base + f5i
            j1 = base + f1i
            for v in range(k_vec):
                dx = V[v, dx_slot]
                dk1 = V[v, size + dx_slot]
                vals = V[v, :size]
                ders = V[v, size:]
                # the delayed tangent values: the same Hermite interpolation, on the tangent's buffers (the
                # constant initial history does not move: 0 before grid point 0)
                dd5 = mackey_glass_delayed(vals, ders, size, 0.0, h, j5, r5)
                dd1 = mackey_glass_delayed(vals, ders, size, 0.0, h, j1, r1)
                dk2 = -gamma * (dx + 0.5 * h * dk1) + g5 * dd5
                dk3 = -gamma * (dx + 0.5 * h * dk2) + g5 * dd5
                dk4 = -gamma * (dx + h * dk3) + g1 * dd1
                dx_new = dx + h / 6.0 * (dk1 + 2.0 * dk2 + 2.0 * dk3 + dk4)
                V[v, slot] = dx_new
                V[v, size + slot] = -gamma * dx_new + g1 * dd1
        if not math.isfinite(x_new):
            return np.full(k_vec, np.nan)
        done = i + 1 - n_skip
        if done > 0 and (done % renorm == 0 or i + 1 == total):
            stale = (i + 2) % size  # the slot of grid point i + 1 - m - 2, no longer part of the state
            for v in range(k_vec):
                V[v, stale] = 0.0
                V[v, size + stale] = 0.0
                for u in range(v):
                    dot = 0.0
                    for c in range(2 * size):
                        dot += V[v, c] * V[u, c]
                    for c in range(2 * size):
                        V[v, c] -= dot * V[u, c]
                nrm = 0.0
                for c in range(2 * size):
                    nrm += V[v, c] * V[v, c]
                nrm = math.sqrt(nrm)
                if done > n_frame:
                    sums[v] += math.log(nrm)
                for c in range(2 * size):
                    V[v, c] /= nrm
    return sums / (n_avg * h)


@njit(cache=True)
def henon_orbit(x0, n_out, n_skip, a, b):
    """Hénon orbit; returns (orbit, ok) with ok False if it left the finite numbers."""
    out = np.empty((n_out, 2))
    x, y = x0[0], x0[1]
    for k in range(n_skip + n_out):
        if k >= n_skip:
            out[k - n_skip, 0] = x
            out[k - n_skip, 1] = y
        if k == n_skip + n_out - 1:
            break
        x, y = henon_f(x, y, a, b)
        if not (math.isfinite(x) and math.isfinite(y)):
            return out, False
    return out, True


@njit(cache=True)
def logistic_orbit(x0, n_out, n_skip, r):
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
        xn = logistic_f(x, r)
        if not (0.0 <= xn <= 1.0):
            return out, False
        if xn == x and abs(r * (1.0 - 2.0 * x)) > 1.0:
            return out, False
        if xn == 0.0 and r > 1.0:
            return out, False
        x = xn
    return out, True


@njit(cache=True)
def flow_orbit(sid, x0, n_out, n_skip, dt, substeps, p):
    """RK4 orbit of flow ``sid`` in D = ``len(x0)`` dimensions (the further flows: Chen, Chua, Thomas, Halvorsen,
    Lorenz-96), vector field from :func:`~fastrnn.systems.fields.flow_field_into` with parameters ``p``.

    Returns ``(orbit, ok)``: ``n_skip`` discarded then ``n_out`` stored samples of shape (n_out, D); ok is False
    (and the orbit incomplete) as soon as the state stops being finite. Substep ``j`` of sample ``k`` starts at
    time ``k dt + j h``.
    """
    D = x0.shape[0]
    out = np.empty((n_out, D))
    h = dt / substeps
    hh = 0.5 * h
    x = x0.copy()
    xs = np.empty(D)
    k1 = np.empty(D)
    k2 = np.empty(D)
    k3 = np.empty(D)
    k4 = np.empty(D)
    for k in range(n_skip + n_out):
        if k >= n_skip:
            for a in range(D):
                out[k - n_skip, a] = x[a]
        if k == n_skip + n_out - 1:
            break
        for j in range(substeps):
            t = k * dt + j * h
            flow_field_into(sid, x, t, p, k1)
            for a in range(D):
                xs[a] = x[a] + hh * k1[a]
            flow_field_into(sid, xs, t + hh, p, k2)
            for a in range(D):
                xs[a] = x[a] + hh * k2[a]
            flow_field_into(sid, xs, t + hh, p, k3)
            for a in range(D):
                xs[a] = x[a] + h * k3[a]
            flow_field_into(sid, xs, t + h, p, k4)
            for a in range(D):
                x[a] += h / 6.0 * (k1[a] + 2.0 * k2[a] + 2.0 * k3[a] + k4[a])
        for a in range(D):
            if not math.isfinite(x[a]):
                return out, False
    return out, True


@njit(cache=True)
def map_orbit(sid, x0, n_out, n_skip, p):
    """Orbit of map ``sid`` (:func:`~fastrnn.systems.fields.map_step_into`); returns ``(orbit, ok)`` with ok False
    if the orbit left the finite numbers (escaped to infinity)."""
    D = x0.shape[0]
    out = np.empty((n_out, D))
    x = x0.copy()
    for k in range(n_skip + n_out):
        if k >= n_skip:
            for a in range(D):
                out[k - n_skip, a] = x[a]
        if k == n_skip + n_out - 1:
            break
        map_step_into(sid, x, p)
        for a in range(D):
            if not math.isfinite(x[a]):
                return out, False
    return out, True
