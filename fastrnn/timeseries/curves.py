r"""The family of divergence curves behind one Lyapunov estimate: the embedding dimensions around the automatic
one, Kantz's radii, the curve length, and one fit per curve (all counts in steps).

Dimensions (:func:`candidate_dimensions`).  Cao's ``E1(d)`` is computed up to ``max_dim``.  Cao's dimension
``m_cao`` is the first ``d`` with ``E1(d) >= 0.9``; under observation noise ``E1`` approaches 1 slowly and this
overshoots (7 for 3-D flows), so the *knee* ``m_knee`` is also read: the first ``d`` at which ``E1`` has done 90 %
of its rise from ``E1(1)`` to its largest value (where it "stops changing").  The curves are computed for
``d = min(m_knee, m_cao) - 1 .. min(m_cao + 1, m_knee + 2)`` (at least 1, at most ``max_dim``, at most six of them, the largest
dropped first).  Cao's ``E2(d)`` stays near 1 for every ``d <= 5`` for stochastic data (:func:`e2_flatness`, the
largest ``|E2(d) - 1|``; the test is not applied to multivariate series).  It is also near 1 for a deterministic
series embedded with a delay longer than its predictability horizon (a map whose slow lobe switching gives a long
autocorrelation, a low-passed map), so :func:`max_lyapunov` reads it at the estimated delay *and* at delay 1.

Radii (:func:`auto_radii`).  For Kantz's method with ``radius="auto"``: ``r8``, ``2 r8`` and ``4 r8``, with ``r8`` the
median distance of the reference points to their 8th nearest neighbour in that embedding.  With several radii each
neighbourhood holds at most the 32 nearest neighbours inside the radius (:func:`capped_balls`; one search serves
all radii), on at most 3000 reference points.

Length (:func:`curve_length`).  One probe curve (the automatic dimension, at most 4000 reference points) is
computed up to a quarter of the delay vectors; the curve is then cut a margin after its first saturation
(:func:`~fastrnn.timeseries.scaling.first_saturation` of the curve smoothed over one oscillation period).
"""
from __future__ import annotations

import numpy as np

from .dimension import cao
from .divergence import divergence_curve, divergence_from_sets
from .neighbours import nearest_valid, neighbour_sets, reference_points
from .scaling import first_saturation, smooth, smoothing_width

__all__ = ["candidate_dimensions", "e2_flatness", "auto_radii", "capped_balls", "min_reference", "curve_length", "curve_family",
           "PROBE_REFS", "KANTZ_REFS", "BALL_CAP", "MULTI_REFS"]

PROBE_REFS = 4000  # reference points of the probe curve that fixes the curve length
KANTZ_REFS = 3000  # reference points of each radius curve of Kantz's method with several radii
BALL_CAP = 32  # most neighbours per reference point inside a radius (the nearest ones) with several radii
MULTI_REFS = 20000  # reference points per curve when several dimensions are computed and n_ref is not given
_MAX_CURVES = 6


def candidate_dimensions(z, lag, theiler, max_dim=10):
    """Embedding dimensions to compute curves for, read off Cao's statistics of the z-scored (T, D) array ``z``.

    Returns
    -------
    dims : list of int
        Increasing.
    m_cao : int
        Cao's dimension (``max_dim`` if ``E1`` never reaches 0.9).
    notes : list of str
        Human-readable remarks (no Cao dimension found; the knee lies below Cao's dimension).
    stochastic : float
        :func:`e2_flatness` at ``lag`` (``inf`` for ``D > 1``, where Cao's E2 test does not apply).
    """
    T = z.shape[0]
    max_dim = min(max_dim, (T - 2 * theiler - 12) // lag - 1)
    if max_dim < 1:
        raise ValueError(
            f"x has {T} samples, too short to estimate the embedding dimension with lag={lag} and a Theiler window "
            f"of {theiler} steps; use a longer series or pass dim and theiler"
        )
    E1, E2 = cao(z, lag, max_dim=max_dim, theiler=theiler)
    notes = []
    hit = np.nonzero(E1 >= 0.9)[0]
    if hit.size:
        m_cao = int(hit[0]) + 1
    else:
        m_cao = int(max_dim)
        notes.append(f"Cao's E1 never reached 0.9 up to dimension {max_dim}; the data may be noisy or "
                     f"high-dimensional")
    top = float(np.max(E1))
    knee_hit = np.nonzero(E1 >= E1[0] + 0.9 * (top - E1[0]))[0]
    m_knee = int(knee_hit[0]) + 1 if knee_hit.size else m_cao
    if m_knee < m_cao:
        notes.append(f"Cao's E1 stops changing at dimension {m_knee} but reaches 0.9 only at {m_cao} (typical of "
                     f"observation noise); curves from dimension {max(1, m_knee - 1)} were compared")
    lo = max(1, min(m_knee, m_cao) - 1)
    # under noise E1 creeps towards 1 long after the knee; dimensions far past it only add noise coordinates
    # (which flatten the start of the divergence curve), so the range ends two past the knee
    hi = min(max_dim, m_cao + 1, m_knee + 2)
    dims = list(range(lo, hi + 1))[:_MAX_CURVES]
    # E2 is Cao's test for a scalar series; for a multivariate state its next-delay coordinates are redundant
    stochastic = float(np.max(np.abs(E2[: min(5, E2.size)] - 1.0))) if z.shape[1] == 1 else float("inf")
    return dims, m_cao, notes, stochastic


def e2_flatness(z, lag, theiler, max_dim=5):
    """Largest ``|E2(d) - 1|`` over ``d = 1 .. max_dim`` (Cao's test of determinism) of the z-scored (T, 1) array
    ``z`` at delay ``lag`` (steps): small (about ``3 / sqrt(T)``) for white or linearly correlated noise, of
    order 1 for deterministic data embedded with a delay inside its predictability horizon."""
    max_dim = max(1, min(max_dim, (z.shape[0] - 2 * theiler - 12) // lag - 1))
    _, E2 = cao(z, lag, max_dim=max_dim, theiler=theiler)
    return float(np.max(np.abs(E2 - 1.0)))


def auto_radii(Y, n, theiler, n_ref):
    """Kantz radii ``r8 * (1, 2, 4)`` for the delay vectors ``Y`` (first ``n`` usable), ``r8`` the median distance
    of at most ``n_ref`` evenly spaced reference points to their 8th nearest neighbour outside the Theiler window."""
    q = reference_points(n, min(n_ref, 2000))
    _, dist = nearest_valid(Y, q, 8, theiler, n_tree=n)
    d8 = dist[:, -1]
    d8 = d8[np.isfinite(d8)]
    if d8.size == 0:
        return []
    r8 = float(np.median(d8))
    return [r8, 2.0 * r8, 4.0 * r8]


def capped_balls(Y, n, queries, theiler, radii, cap=BALL_CAP):
    """Kantz neighbourhoods for several radii from one search: the at most ``cap`` nearest neighbours (outside the
    Theiler window, among ``Y[:n]``) of each reference point that lie within each radius, in compressed rows."""
    idx, dist = nearest_valid(Y, queries, cap, theiler, n_tree=n)
    out = []
    for r in radii:
        sel = (idx >= 0) & (dist <= r)
        counts = sel.sum(axis=1)
        has = counts > 0
        ref = np.asarray(queries, dtype=np.int64)[has]
        indices = np.ascontiguousarray(idx[has][sel[has]]).astype(np.int64)
        indptr = np.concatenate([[0], np.cumsum(counts[has])]).astype(np.int64)
        out.append((ref, indptr, indices))
    return out


def min_reference(theiler, k_nb):
    """Fewest delay vectors that must remain as reference points and neighbours after ``n_steps``."""
    return 2 * theiler + max(k_nb, 1) + 10


def curve_length(Y, theiler, k_nb, radius, period, n_min):
    """Curve length in steps: the first saturation of a probe curve plus a margin, at most a quarter of the
    delay vectors.

    Returns
    -------
    n_steps : int
    saturated : bool
        Whether the probe curve saturated before the cap.
    """
    n_vec = Y.shape[0]
    cap = max(2, n_vec // 4)
    n_probe = max(2, min(cap, n_vec - min_reference(theiler, k_nb)))
    if n_probe < min(n_min, cap):
        return n_probe, False
    y, n_used = divergence_curve(Y, n_probe, theiler, k_nb, radius, PROBE_REFS)
    if n_used < 2 or not np.all(np.isfinite(y)):
        return min(n_probe, max(n_min, 2)), False
    w = smoothing_width(period, y.size)
    ys = smooth(y, w)
    k_lo = int(np.argmin(ys[: n_probe // 2 + 1]))
    k_sat, _ = first_saturation(ys, k_lo)
    saturated = k_sat < n_probe - w
    n_steps = k_sat + max(k_sat // 2, 2 * w, 10)
    return int(min(n_probe, max(n_steps, n_min))), bool(saturated)


def curve_family(z, dims, lag, theiler, k_nb, radii, n_steps, n_ref, along_flow=False, transverse=False,
                 noise_sd=None):
    """Divergence curves for every dimension in ``dims`` and every radius.

    Parameters
    ----------
    z : numpy.ndarray, shape (T, D)
        The z-scored series.
    dims : list of int
    lag, theiler : int
        Steps.
    k_nb : int
        Nearest neighbours (when a radius entry is None).
    radii : list
        ``[None]`` (nearest neighbours), a list of floats, or ``["auto"]`` (:func:`auto_radii` per dimension).
    n_steps : int
        Curve length.
    n_ref : int or None
        Reference points per curve.
    along_flow : bool
        Follow each neighbour at the fractional shift that removes its separation along the flow
        (:func:`~fastrnn.timeseries.divergence.divergence_from_sets`; for finely sampled flows).
    transverse : bool
        Measure every separation across the reference trajectory's local direction (flows; same function).
    noise_sd : numpy.ndarray, optional
        Noise standard deviation per column of ``z``: each curve subtracts the noise floor ``2 m sum(noise_sd**2)``
        of its ``m`` delays (less one coordinate's share when ``transverse``) from every squared distance.

    Returns
    -------
    list of dict
        One per curve: ``dim``, ``radius``, ``n_neighbors``, ``curve``, ``n_used``, the neighbour sets ``sets``
        (``ref, indptr, indices``) and ``divergence``, the curve of a subset of them with this curve's settings
        (``divergence(ref, indptr, indices) -> (curve, n_used)``, for
        :func:`~fastrnn.timeseries.resampling.block_curves`); dimensions too long for the series are skipped.
    """
    from .embedding import embed_array

    out = []
    for m in dims:
        Y = embed_array(z, m, lag)
        floor = 0.0
        if noise_sd is not None:
            var = float(np.sum(np.square(noise_sd)))
            floor = 2.0 * var * m - (2.0 * var / len(noise_sd) if transverse else 0.0)
        n = Y.shape[0] - n_steps
        if n < min_reference(theiler, k_nb):
            continue
        if radii == [None] or (len(radii) == 1 and radii != ["auto"] and n_ref is None):
            queries = reference_points(n, n_ref)
            sets = [neighbour_sets(Y, n, queries, theiler, k_nb, radii[0])]
            rs = list(radii)
        else:
            rs = auto_radii(Y, n, theiler, n_ref or n) if radii == ["auto"] else list(radii)
            if not rs:
                continue
            queries = reference_points(n, KANTZ_REFS if n_ref is None else n_ref)
            sets = capped_balls(Y, n, queries, theiler, rs)
        def divergence(ref, indptr, indices, Y=Y, floor=floor):
            return divergence_from_sets(Y, ref, indptr, indices, n_steps, along_flow, transverse, floor)

        for r, (ref, indptr, indices) in zip(rs, sets):
            y, n_used = divergence(ref, indptr, indices)
            out.append({"dim": int(m), "radius": r, "n_neighbors": 0 if r is not None else int(k_nb),
                        "curve": y, "n_used": int(n_used), "sets": (ref, indptr, indices),
                        "divergence": divergence})
    return out
