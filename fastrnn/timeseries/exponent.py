r"""The largest Lyapunov exponent of a measured series (Rosenstein and Kantz methods): :func:`max_lyapunov`, its
result :class:`LyapunovEstimate` (per step and per time unit, with its interval and quality), and
:func:`plot_divergence`."""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..preprocessing import zscore
from ..validation import check_float, check_int
from ._series import as_series, optional_int
from .divergence import NOISE_MIN_SAMPLES, noise_level
from .curves import MULTI_REFS, candidate_dimensions, curve_family, curve_length, e2_flatness, min_reference
from .embedding import embed_array, estimate_delay, oscillation_period_steps
from .figure import plot_divergence
from .neighbours import theiler_window
from .quality import (MIN_R2, MIN_RISE, WEAK_R2, WEAK_RISE, CurveFit, LyapunovWarning, NoScalingRegionError,
                      before_shoulder, consensus, later_rise, passed_over_note, quality_notes, shoulder, shoulder_note,
                      still_rising_note)
from .resampling import MISSED_REGIONS, N_RESAMPLES, curve_bootstrap
from .scaling import fit_line, scaling_region

__all__ = ["FINE_STEP", "MAP_STEP", "NOISE_MIN", "LyapunovEstimate", "finely_sampled", "map_like", "max_lyapunov", "median_step",
           "plot_divergence"]

#: median step between consecutive z-scored samples below which a series counts as a finely sampled flow
FINE_STEP = 0.1
#: ... at or above which it counts as a map (or a coarsely sampled flow), read with Kantz's method by default
MAP_STEP = 0.3
#: estimated observation noise (standard deviation, z-scored units) from which the noise floor is subtracted by
#: default: 0.5 % of the signal's spread; noise-free flows of the validation panel read at most 0.004 (the
#: structure-function fit's own error), 1 % noise reads 0.010
NOISE_MIN = 0.005
#: Cao's E2 within this of 1 (d <= 5) at the chosen delay: a warning (the series may be stochastic)
E2_FLAT = 0.1
#: ... within this of 1 at the estimated delay and at delay 1: overwhelming evidence, the series is refused
E2_REFUSE = 0.05


@dataclass(frozen=True, eq=False)
class LyapunovEstimate:
    """Largest Lyapunov exponent estimated from a time series (result of :func:`max_lyapunov`).

    The estimate is the consensus of several divergence curves (embedding dimensions ``m`` and, for Kantz's
    method, radii ``epsilon``); the fields ``divergence`` .. ``n_reference`` describe the *representative* curve,
    the one whose slope is the consensus (the median of the curves that agree), so ``fitted_line()`` is its fit.

    Attributes
    ----------
    lambda_max : float
        Estimate per time unit (``per_step / dt``).
    per_step : float
        Estimate per step (sample): the slope of the representative curve's fitted line.
    dt : float
        Sampling interval in time units.
    divergence : numpy.ndarray, shape (max_steps + 1,)
        Mean log-divergence ``S(k)`` (natural log of a distance between z-scored delay vectors) at step ``k`` of
        the representative curve.
    steps : numpy.ndarray, shape (max_steps + 1,)
        ``0 .. max_steps``.
    fit_range : tuple of int
        ``(start, stop)``: the line was fitted to ``divergence[start:stop]`` (steps ``start .. stop - 1``).
    intercept : float
        Intercept of the fitted line ``S(k) = intercept + per_step * k``.
    r2 : float
        Coefficient of determination of the fit (against the raw curve).
    stderr : float
        Standard error of ``lambda_max`` (per time unit) from the least-squares fit; it measures how straight
        the curve is over the fit range, not the bias of the method (see ``lambda_low`` / ``lambda_high``).
    dim, lag, theiler : int
        Embedding of the representative curve (number of delays, delay in steps) and Theiler window in steps.
    method : str
        ``"rosenstein"`` or ``"kantz"``.
    n_neighbors : int
        Neighbours per reference point (``0`` when a radius was used).
    radius : float or None
        Neighbourhood radius (z-scored units) if one was used.
    n_reference : int
        Number of reference points that entered the representative curve at step 0.
    lambda_low, lambda_high : float
        Interval of ``lambda_max`` per time unit: the spread of the slopes of the curves that agree, each
        widened by the spread of the slopes over the thirds of its fit range, widened to the block bootstrap's
        interval (``resampled``) where that is wider, and, where the curve has a shoulder or bends throughout (the
        warnings say so), to the slope of the earlier rise or of the rise after the fit.  It measures the spread
        over embeddings and the record's own sampling uncertainty, not the method's bias (observation noise, a
        curve without a straight stretch), which every embedding and every resample share.
    curves : tuple of CurveFit
        Every curve computed (``m``, ``epsilon``, slope per step, fit range, R^2, e-folds, credibility, the curve).
    consensus : tuple of int
        Positions in ``curves`` of the curves that agree (the representative among them).
    warnings : list of str
        Human-readable reasons to check the estimate (also issued as :class:`LyapunovWarning`); empty if none.
    period : float or None
        Oscillation period of the series in steps (first peak of its autocorrelation,
        :func:`~fastrnn.timeseries.embedding.oscillation_period_steps`; None if not oscillatory): the smoothing
        width of the curves where it is at least 4 steps.
    noise_sd : numpy.ndarray or None
        The observation-noise standard deviation per column (z-scored units) whose floor was subtracted from the
        curves' squared distances, or None if none was.
    transverse : bool
        Whether the separations were measured across the flow.
    resampled : tuple of float or None
        ``(low, median, high)`` per time unit: the central 90 % and the median of the representative curve's
        slopes over block-bootstrap resamples of its reference points, the scaling region chosen anew on each
        (:mod:`fastrnn.timeseries.resampling`): the sampling uncertainty of one finite record, including an
        unstable choice of the region.  None where the record is too short for enough blocks.
    n_blocks : int
        Blocks of reference points of that bootstrap (0 if none).
    """

    lambda_max: float
    per_step: float
    dt: float
    divergence: np.ndarray
    steps: np.ndarray
    fit_range: tuple
    intercept: float
    r2: float
    stderr: float
    dim: int
    lag: int
    theiler: int
    method: str
    n_neighbors: int
    radius: float | None
    n_reference: int
    lambda_low: float = float("nan")
    lambda_high: float = float("nan")
    curves: tuple = ()
    consensus: tuple = ()
    warnings: list = field(default_factory=list)
    period: float | None = None
    noise_sd: np.ndarray | None = None
    transverse: bool = False
    resampled: tuple | None = None
    n_blocks: int = 0

    @property
    def time(self) -> np.ndarray:
        """Steps converted to time units (``steps * dt``)."""
        return self.steps * self.dt

    @property
    def spread(self) -> float:
        """Relative width of the interval, ``(lambda_high - lambda_low) / lambda_max``."""
        return (self.lambda_high - self.lambda_low) / self.lambda_max

    def fitted_line(self) -> tuple:
        """``(k, S_fit)``: the steps of the fit range and the fitted line on them."""
        k = np.arange(self.fit_range[0], self.fit_range[1])
        return k, self.intercept + self.per_step * k

    def plot(self, ax=None):
        """Plot the divergence curves with the fit and the interval (see :func:`plot_divergence`)."""
        return plot_divergence(self, ax=ax)

    def __repr__(self):
        return (
            f"LyapunovEstimate(lambda_max={self.lambda_max:.6g} per time unit "
            f"[{self.lambda_low:.4g}, {self.lambda_high:.4g}], per_step={self.per_step:.6g}, dt={self.dt:g}, "
            f"fit_range={self.fit_range}, r2={self.r2:.4f}, dim={self.dim}, lag={self.lag}, "
            f"theiler={self.theiler}, method={self.method!r}, curves={len(self.consensus)}/{len(self.curves)} "
            f"agree, warnings={len(self.warnings)})"
        )


def max_lyapunov(x, *, dt=1.0, dim=None, lag=None, method="auto", theiler=None, max_steps=None,
                 fit_range="auto", n_neighbors=None, radius=None, tolerance=0.1, n_ref=None, agree=0.15,
                 along_flow=None, transverse=None, noise_floor=None):
    r"""Largest Lyapunov exponent of a measured time series (Rosenstein or Kantz method), the consensus of the
    divergence curves of several embeddings, with its interval and quality.

    Procedure:

    1. Each column is z-scored.  The delay (:func:`estimate_delay`) is estimated if not given.  With ``dim=None``
       the curves are computed for several numbers of delays around the automatic one, read off Cao's
       statistics (:func:`fastrnn.timeseries.curves.candidate_dimensions`: from one below the point where
       ``E1`` stops changing to two above it, at most one above Cao's dimension).  Cao's ``E2`` is read at
       the delay and at delay 1: within 0.05 of 1 at both (stochastic) the series is refused, within 0.1 it is
       a warning; flat only at the estimated delay, delay 1 is used.  With no credible curve, a weak one
       (R^2 >= 0.8, >= 0.2 e-folds, ending after one embedding window) gives the estimate, with a warning,
       unless it lies past a rise 1.5x steeper (the shoulder test): that is the slow approach to saturation,
       and the series is refused.  A ``(T, D)`` series is embedded as one joint state (all columns delayed together; ``dim=1`` is
       the measured state).
    2. For every reference vector ``y_i`` the neighbours ``U_i`` are found with a KD-tree (exact; temporal
       neighbours with ``|i - j| <= theiler`` and exact duplicates are excluded).  ``method="rosenstein"``: the
       single nearest neighbour.  ``method="kantz"``: the ``n_neighbors`` nearest (default 8), or all within
       ``radius`` (one radius, several, or ``"auto"``: three radii from the neighbour distances).
       ``method="auto"`` (default): Kantz with ``radius="auto"`` for a map or a coarsely sampled series
       (:func:`map_like`: the median step between consecutive z-scored samples is at least :data:`MAP_STEP`;
       the curve then lasts a few steps, and the single nearest neighbour is the one observation noise brought
       closest, which flattens its start), Rosenstein otherwise.  For a finely sampled flow
       (:func:`finely_sampled`, median step below :data:`FINE_STEP`) each neighbour is followed at the fraction
       of a sample that removes its separation along the flow (``along_flow``): that separation does not grow
       (exponent 0) and, left in, flattens the start of the curve (Rössler x: -15 % without, -6 % with it).
    3. The divergence curve is ``S(k) = < ln( mean_{j in U_i} ||y_{i+k} - y_{j+k}|| ) >_i``, ``k = 0 ..
       max_steps`` (Euclidean norm).  Its length follows a probe curve to its first saturation.  In a finely
       sampled series with observation noise (:func:`~fastrnn.timeseries.noise_level` at least
       :data:`NOISE_MIN`), the noise's mean contribution is subtracted from every squared distance and the
       separation is measured across the flow (``noise_floor``, ``transverse``).
    4. On every curve the scaling region is the first linear rise after the noise transient and before the
       first saturation, read on the curve smoothed over one oscillation period (the first autocorrelation peak) and fitted over whole periods
       (:func:`fastrnn.timeseries.scaling.scaling_region`).  A curve is credible if its fit has R^2 >= 0.9 and
       rises by at least one e-fold.
    5. The estimate is the median slope of the largest group of credible curves that agree within ``agree``
       (relative); its interval spans their slopes (:func:`fastrnn.timeseries.quality.consensus`), widened to
       the central 90 % of the representative curve's slopes over 200 block-bootstrap resamples of its reference
       points, the scaling region chosen anew on each (:mod:`fastrnn.timeseries.resampling`; the record's own
       sampling uncertainty, which the spread over embeddings does not see).  Where the curve rose much faster
       before the region (a shoulder) or keeps rising after it at a lower slope (no single straight stretch), the
       interval reaches to that earlier or later slope and a warning says so (a shoulder: 1.5x the slope,
       over at least half an e-fold and half the region's rise; a bend: 1.5x the region's e-folds still to
       come; :func:`fastrnn.timeseries.quality.shoulder`, :func:`~fastrnn.timeseries.quality.later_rise`).
       Reasons to doubt it (a short region, disagreeing curves, a curve that did not saturate, ...) are returned in
       ``warnings`` and issued as :class:`LyapunovWarning`.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, D)
        Series sampled every ``dt`` time units.
    dt : float, optional
        Sampling interval in time units (default 1, i.e. results per step).
    dim : int or sequence of int, optional
        Number(s) of delays; default several around the automatic one (see above).  One int: only that curve.
    lag : int, optional
        Delay in steps; default :func:`estimate_delay`.
    method : {"auto", "rosenstein", "kantz"}
        See step 2; the method used is in the result's ``method``.
    theiler : int, optional
        Theiler window in steps; default the mean period (:func:`mean_period`) of the series, rounded up.
    max_steps : int, optional
        Length of the divergence curves in steps.  Default: a margin after the first saturation of a probe
        curve (at the automatic dimension, 4000 reference points), at most a quarter of the delay vectors.
    fit_range : "auto" or (int, int)
        ``"auto"`` or ``(start, stop)``: fit ``S(k)`` for ``start <= k < stop`` (at least 3 steps) on every
        curve; an explicit range is never refused (weak fits give warnings instead).
    n_neighbors : int, optional
        Neighbours per reference point (Kantz only; default 8).
    radius : float, sequence of float or "auto", optional
        Kantz with epsilon-balls (z-scored units) instead of a fixed number of neighbours; several radii give
        several curves per dimension; ``"auto"`` uses ``r8 * (1, 2, 4)`` (``r8``: median distance to the 8th
        nearest neighbour).  Several radii use at most 3000 reference points per curve.
    tolerance : float, optional
        Relative slope tolerance of the scaling region's thirds (default 0.1).
    n_ref : int, optional
        At most this many reference points per curve, evenly spaced in time.  Default: all for a single curve,
        at most 20000 when several dimensions are compared.
    agree : float, optional
        Relative tolerance within which the slopes of different curves agree (default 0.15).
    along_flow : bool, optional
        Follow each neighbour at its fractional along-flow shift
        (:func:`~fastrnn.timeseries.divergence.divergence_from_sets`); default: for finely sampled series,
        unless ``transverse``.
    transverse : bool, optional
        Measure every separation across the reference trajectory's local direction, at every step (flows only;
        :func:`~fastrnn.timeseries.divergence.divergence_from_sets`).  It removes a phase lag that builds up
        between the two trajectories, which keeps the plain curve of a phase-coherent oscillator below
        ``lambda_max`` (Rössler x at dt 0.2, 10^4 samples: -15 % plain, +4 % transverse).  Default: on when a
        noise floor is subtracted (see ``noise_floor``), off otherwise; on noise-free series of the validation
        panel it corrects Chua (+53 -> +8 %), Lorenz-96 (+33 -> +9 %) and subsampled Duffing (-71 -> -11 %), but
        reads Lorenz +15 % (plain -5 %), Chen and Halvorsen +8..11 % (``docs/lyapunov_panel.md``).
    noise_floor : None, False, float or sequence of float
        Observation noise: every squared neighbour distance is reduced by the mean that independent noise adds
        to it (``2 sigma^2`` per delay coordinate) before its log is taken.  ``None`` (default): ``sigma`` per
        column is estimated by :func:`~fastrnn.timeseries.noise_level` (the structure function for a finely
        sampled series, the local interpolation otherwise), and the floor is subtracted (with ``transverse``)
        when it is at least :data:`NOISE_MIN` in some column; a
        float or one value per column: that standard deviation, in z-scored units; ``False``: never.  The
        values used are the result's ``noise_sd``.  On the panel's finely sampled flows at 2 and 5 % noise
        every estimate moved towards the reference (Rössler 2 %: -38 -> -18 %, 5 %: -50 -> -24 %; Lorenz 5 %:
        -18 -> +6 %); plain subtraction without the transverse distance over-corrects the start of the curve
        (Lorenz 2 %: +46 %).  On coarsely sampled series and maps (the interpolation estimate) the panel's 5 %
        row went from 8 to 13 of 17 within 20 %, and Lorenz x at 12-25 samples per period with 2-5 % noise from
        +18..+33 % to -10..-6 %.

    Returns
    -------
    LyapunovEstimate
        ``lambda_max`` per time unit, its interval ``lambda_low .. lambda_high``, ``per_step``, every curve and
        its fit, the representative curve's fit range and quality, the embedding, and ``warnings``.

    Raises
    ------
    NoScalingRegionError
        (a ``ValueError``) When no curve has a credible scaling region: stochastic, periodic or quasi-periodic
        signals, a curve that does not rise, a fit with R^2 < 0.9 or under one e-fold; the message says what to
        try.
    ValueError
        For a series too short for the embedding, a constant series, NaN/inf, or invalid arguments.

    Warns
    -----
    LyapunovWarning
        For each entry of ``LyapunovEstimate.warnings``.

    Notes
    -----
    For an exponent per time unit of a flow, pass the true ``dt``.  Accuracy on the benchmark systems, with
    and without observation noise: ``docs/lyapunov_panel.md`` (``benchmarks/lyapunov_panel.py``).
    """
    if method not in ("auto", "rosenstein", "kantz"):
        raise ValueError(f"method must be 'auto', 'rosenstein' or 'kantz', got {method!r}")
    if along_flow is not None and not isinstance(along_flow, (bool, np.bool_)):
        raise TypeError(f"along_flow must be None (automatic), True or False, got {along_flow!r}")
    if transverse is not None and not isinstance(transverse, (bool, np.bool_)):
        raise TypeError(f"transverse must be None (automatic), True or False, got {transverse!r}")
    dt = check_float(dt, "dt", minimum=0.0, strict_min=True)
    tolerance = check_float(tolerance, "tolerance", minimum=0.0, strict_min=True)
    agree = check_float(agree, "agree", minimum=0.0, strict_min=True)
    arr = as_series(x, min_length=16)
    z = zscore(arr)  # as_series refuses constant columns, so the z-score is defined
    dims = _check_dims(dim)
    lag = optional_int(lag, "lag", 1)
    theiler = theiler_window(theiler, z)
    max_steps = optional_int(max_steps, "max_steps", 2)
    n_ref = optional_int(n_ref, "n_ref", 2)
    step = median_step(z)
    fine = finely_sampled(z, step)
    if method == "auto":
        # a finely sampled flow: Rosenstein with the along-flow correction; a map or a coarsely sampled series
        # (curves of a few steps, where the single nearest neighbour is the one noise brought closest): Kantz's
        # average over neighbourhoods of three radii
        method = "kantz" if (n_neighbors is None or n_neighbors > 1) and map_like(z, step) else "rosenstein"
        if method == "kantz" and n_neighbors is None and radius is None:
            radius = "auto"
    noise_sd = _noise_floor(noise_floor, z, fine)
    across = (noise_sd is not None) if transverse is None else bool(transverse)
    flow = (fine and not across) if along_flow is None else bool(along_flow)
    k_nb, radii = _neighbourhood(method, n_neighbors, radius)
    fit_range = _check_fit_range(fit_range, max_steps)
    explicit = fit_range != "auto"

    auto_lag = lag is None
    if auto_lag:
        lag = estimate_delay(arr)
    period = oscillation_period_steps(z)
    notes = []
    if dims is None:
        dims, m_auto, dim_notes, flat = candidate_dimensions(z, lag, theiler)
        notes += [n for n in dim_notes if "never reached" in n]
        if flat <= E2_FLAT and not explicit:
            flat_1 = flat if lag == 1 else e2_flatness(z, 1, theiler)
            if flat <= E2_REFUSE and flat_1 <= E2_REFUSE:
                raise NoScalingRegionError(
                    f"the series looks stochastic: Cao's E2(d) stays within {max(flat, flat_1):.3f} of 1 for d <= 5 "
                    f"at delay {lag} and at delay 1 (future values are not predictable from neighbours), so there "
                    f"is no positive Lyapunov exponent to read off. If the signal is chaotic but very noisy, try a "
                    f"low-pass filter or a longer, cleaner recording; to inspect the curve anyway, pass dim and "
                    f"fit_range=(start, stop)."
                )
            if auto_lag and lag > 1 and flat_1 > E2_FLAT:
                notes.append(f"Cao's E2 stays within {flat:.2f} of 1 at the estimated delay {lag} (the samples "
                             f"that far apart look independent) but not at delay 1 ({flat_1:.2f}): the estimated "
                             f"delay exceeds the predictability horizon, so delay 1 was used")
                lag = 1
                dims, m_auto, dim_notes, flat = candidate_dimensions(z, lag, theiler)
            else:
                notes.append(f"the series may be stochastic: Cao's E2(d) stays within {max(flat, flat_1):.2f} "
                             f"of 1 for d <= 5 at delay {lag} and at delay 1; a positive slope of noise is not "
                             f"an exponent - check with surrogate data and LyapunovEstimate.plot()")
    else:
        m_auto = dims[(len(dims) - 1) // 2]
    n_steps, saturated = _curve_steps(z, m_auto, lag, theiler, k_nb, radii, period, max_steps, fit_range)
    refs = n_ref if n_ref is not None else (MULTI_REFS if len(dims) > 1 or len(radii) > 1 else None)
    family = curve_family(z, dims, lag, theiler, k_nb, radii, n_steps, refs, flow, across, noise_sd)
    family = [c for c in family if c["n_used"] >= 2]
    if not family:
        raise ValueError(
            f"x ({z.shape[0]} samples) is too short for this embedding and Theiler window ({theiler} steps): fewer "
            f"than 2 reference points have neighbours outside it; use a longer series, a smaller theiler window "
            f"or a larger radius"
        )
    fits = [_fit_curve(c, period, tolerance, fit_range, (c["dim"] - 1) * lag) for c in family]
    weak = []
    try:
        index, members, low, high = consensus(fits, agree=agree)
    except NoScalingRegionError:
        # a weak region must end after the noise transient, about one embedding window ((dim - 1) * lag steps,
        # until the noise on every delay coordinate is renewed): before it the rise is noise decorrelating
        weak = [] if explicit else [i for i, f in enumerate(fits) if f.r2 >= WEAK_R2 and f.rise >= WEAK_RISE
                                    and f.slope > 0 and f.fit_range[1] > (f.dim - 1) * lag]
        if not explicit and not weak:
            raise _no_region_error(fits) from None
        if weak:
            index = max(weak, key=lambda i: (fits[i].rise, -i))
            members, low, high = _weak_interval(fits, weak, index)
            notes.append(f"no curve has a credible scaling region (R^2 >= {MIN_R2}, >= {MIN_RISE:g} e-fold); the "
                         f"estimate is the weak region of {fits[index].label()} ({fits[index].rise:.2f} e-folds, "
                         f"R^2 {fits[index].r2:.2f}), likely biased low - treat it as a rough value")
        else:
            index = _closest_dim(fits, m_auto)
            members, low, high = [index], fits[index].slope_low, fits[index].slope_high
            notes.append(f"the fit on fit_range={fit_range} is weak ({fits[index].note or 'not credible'}); the number "
                         f"is what the range gives, not a credible exponent")
    rep = fits[index]
    window = (rep.dim - 1) * lag
    # a shoulder: the curve rose much faster before the region (explicit ranges are read as given)
    early = None if explicit else shoulder(rep, period, window)
    if weak and early is not None:
        # a weak region past a much steeper rise is the slow approach to saturation, not the exponent
        raise _no_region_error(fits, f"the best weak region ({rep.label()}, steps {rep.fit_range[0]} to "
                                     f"{rep.fit_range[1] - 1}) lies past a rise {early / rep.slope:.1f}x steeper")

    def slope_of(y):  # every resampled curve is read exactly as the curve itself
        return _fit_curve({**family[index], "curve": y}, period, tolerance, fit_range, window).slope

    resampled, n_blocks, missed = curve_bootstrap(family[index], theiler, slope_of)
    if resampled is not None:
        low, high = min(low, resampled[0]), max(high, resampled[2])
        if missed > MISSED_REGIONS * N_RESAMPLES:
            notes.append(f"the scaling region is unstable: {missed} of {N_RESAMPLES} block-bootstrap resamples of "
                         f"the representative curve ({rep.label()}) have none - the curve's shape depends on which "
                         f"stretches the record holds; use a longer series")
    if not explicit:
        # a shoulder or a curve that bends throughout: the reading depends on the window, and the interval spans
        # the slope of the earlier rise / of the rise after the fit (or of the stretch a moved fit passed over)
        if rep.passed_over is not None:
            later, later_notes = rep.passed_over[2], [passed_over_note(rep, dt)]
        else:
            rise = later_rise(rep, period)
            later, later_notes = (None, []) if rise is None else (rise[1], [still_rising_note(rep, rise[0])])
        high = high if early is None else max(high, early)
        low = low if later is None else min(low, later)
        notes += quality_notes(fits, index, members, low, high, saturated, n_steps)
        notes += [] if early is None else [shoulder_note(rep, early, dt)]
        notes += later_notes
    for msg in notes:
        warnings.warn(f"max_lyapunov: {msg}", LyapunovWarning, stacklevel=2)
    steps = np.arange(n_steps + 1)
    steps.setflags(write=False)
    per_step = rep.slope
    return LyapunovEstimate(
        lambda_max=per_step / dt,
        per_step=per_step,
        dt=dt,
        divergence=rep.divergence,
        steps=steps,
        fit_range=rep.fit_range,
        intercept=rep.intercept,
        r2=rep.r2,
        stderr=rep.stderr / dt,
        dim=rep.dim,
        lag=int(lag),
        theiler=int(theiler),
        method=method,
        n_neighbors=rep.n_neighbors,
        radius=rep.radius,
        n_reference=rep.n_reference,
        lambda_low=low / dt,
        lambda_high=high / dt,
        curves=tuple(fits),
        consensus=tuple(sorted(members)),
        warnings=list(notes),
        period=None if period is None else float(period),
        noise_sd=noise_sd,
        transverse=across,
        resampled=None if resampled is None else tuple(v / dt for v in resampled),
        n_blocks=n_blocks,
    )


def _noise_floor(noise_floor, z, fine):
    """The noise standard deviation per column whose floor the curves subtract, or None."""
    if noise_floor is None:
        if not fine and z.shape[0] <= NOISE_MIN_SAMPLES:
            return None  # too short to estimate; the checks that follow say why it is too short
        sd = noise_level(z, method="structure" if fine else "interpolation")
        return sd if float(sd.max()) >= NOISE_MIN else None
    if isinstance(noise_floor, (bool, np.bool_)):
        if not noise_floor:
            return None
        raise TypeError("noise_floor must be None (automatic), False or the noise standard deviation (z-scored "
                        "units, a float or one per column), got True")
    sd = np.atleast_1d(np.asarray(noise_floor, dtype=np.float64))
    if sd.ndim != 1 or sd.size not in (1, z.shape[1]) or not np.all(np.isfinite(sd)) or np.any(sd < 0):
        raise ValueError(f"noise_floor must be a finite standard deviation >= 0 in z-scored units (a float or one "
                         f"per column of x, {z.shape[1]}), got {noise_floor!r}")
    sd = np.broadcast_to(sd, (z.shape[1],)).copy()
    return sd if float(sd.max()) > 0.0 else None


def median_step(z):
    """The median absolute step between consecutive samples of the z-scored (T, D) series ``z``, averaged over the
    columns, in standard deviations: about ``2 pi / P`` for a sine of ``P`` samples per period, about 1 for a map."""
    return float(np.mean(np.median(np.abs(np.diff(z, axis=0)), axis=0)))


def finely_sampled(z, step=None):
    """Whether the z-scored (T, D) series ``z`` is sampled finely enough to be treated as a flow: its
    :func:`median_step` (or ``step``, if given) is below :data:`FINE_STEP` (a sine needs about 60 samples per
    period; maps jump by about one standard deviation)."""
    return (median_step(z) if step is None else step) < FINE_STEP


def map_like(z, step=None):
    """Whether the z-scored (T, D) series ``z`` jumps like a map: its :func:`median_step` (or ``step``, if given) is
    at least :data:`MAP_STEP` (a sine sampled with fewer than about 20 samples per period)."""
    return (median_step(z) if step is None else step) >= MAP_STEP


def _check_dims(dim):
    """None, or the checked list of numbers of delays (increasing, unique)."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple, np.ndarray)):
        if len(dim) == 0:
            raise ValueError("dim is an empty sequence; give at least one number of delays or None")
        return sorted({check_int(d, "dim", minimum=1) for d in dim})
    return [check_int(dim, "dim", minimum=1)]


def _curve_steps(z, m, lag, theiler, k_nb, radii, period, max_steps, fit_range):
    """Curve length in steps and whether the probe curve saturated (True when the length is given)."""
    Y = embed_array(z, m, lag)
    n_vec = Y.shape[0]
    need = min_reference(theiler, k_nb)

    def too_short(n_steps):
        return ValueError(
            f"x has {z.shape[0]} samples, too short for the embedding (dim={m}, lag={lag}), a Theiler window of "
            f"{theiler} steps and max_steps={n_steps}: at least {(m - 1) * lag + n_steps + need} samples are "
            f"needed; use a longer series or smaller dim/lag/theiler/max_steps"
        )

    n_min = max(20, 10 * lag)
    if isinstance(fit_range, tuple):
        n_min = max(n_min, fit_range[1] - 1)
    if max_steps is not None:
        n_steps = max(max_steps, fit_range[1] - 1) if isinstance(fit_range, tuple) else max_steps
        if n_vec - n_steps < need:
            raise too_short(n_steps)
        return n_steps, True
    n_min = min(n_min, max(2, n_vec // 4))
    if n_min < 2 or n_vec - n_min < need:
        raise too_short(max(n_min, 2))
    probe_radius = None if radii == [None] or radii == ["auto"] else float(np.median(radii))
    n_steps, saturated = curve_length(Y, theiler, max(k_nb, 1) if probe_radius is None else 0, probe_radius,
                                      period, n_min)
    if isinstance(fit_range, tuple):
        n_steps = max(n_steps, fit_range[1] - 1)
        if n_vec - n_steps < need:
            raise too_short(n_steps)
    return n_steps, saturated


def _fit_curve(c, period, tolerance, fit_range, window):
    """The :class:`CurveFit` of one curve of :func:`~fastrnn.timeseries.curves.curve_family`."""
    y = c["curve"]
    y.setflags(write=False)
    base = dict(dim=c["dim"], radius=c["radius"], n_neighbors=c["n_neighbors"], divergence=y,
                n_reference=c["n_used"])
    nan = float("nan")
    if isinstance(fit_range, tuple):
        start, stop = fit_range
        if not np.all(np.isfinite(y[start:stop])):
            raise ValueError("the divergence curve is undefined on fit_range; choose another range")
        k = np.arange(start, stop, dtype=float)
        slope, intercept, r2, stderr = fit_line(k, y[start:stop])
        L = stop - start
        thirds = [fit_line(k[i:j], y[start + i: start + j])[0] for i, j in ((0, L // 3), (L // 3, 2 * L // 3),
                                                                         (2 * L // 3, L)) if j - i >= 2]
        credible = slope > 0 and r2 >= MIN_R2
        return CurveFit(slope=slope, fit_range=(int(start), int(stop)), intercept=intercept, r2=r2, stderr=stderr,
                        rise=slope * (L - 1), slope_low=min(thirds + [slope]), slope_high=max(thirds + [slope]),
                        credible=bool(credible), note="" if credible else f"R^2 {r2:.2f} or slope <= 0", **base)
    if not np.all(np.isfinite(y)):
        return CurveFit(slope=nan, fit_range=(0, 0), intercept=nan, r2=nan, stderr=nan, rise=nan, slope_low=nan,
                        slope_high=nan, credible=False, note="undefined points (no neighbour pairs at some step)",
                        **base)
    region, why = scaling_region(y, period=period, tolerance=tolerance, look=max(3, window))
    passed = None
    first = None if region is None else before_shoulder(y, region, period, window)
    if first is not None:
        passed, region = (region.start, region.stop, region.slope), first
    if region is None:
        return CurveFit(slope=nan, fit_range=(0, 0), intercept=nan, r2=nan, stderr=nan, rise=nan, slope_low=nan,
                        slope_high=nan, credible=False, note=why, **base)
    problems = [why] if why else []
    if not region.slope > 0:
        problems.append("the fitted slope is not positive")
    if region.r2 < MIN_R2:
        problems.append(f"R^2 {region.r2:.2f} < {MIN_R2}")
    if region.rise < MIN_RISE:
        problems.append(f"the region rises by only {region.rise:.2f} e-folds")
    note = "; ".join(problems)
    if not problems and region.tolerance > tolerance:
        note = f"linear only within a slope tolerance of {region.tolerance:g}"
    return CurveFit(slope=region.slope, fit_range=(region.start, region.stop), intercept=region.intercept,
                    r2=region.r2, stderr=region.stderr, rise=region.rise, slope_low=region.slope_low,
                    slope_high=region.slope_high, credible=not problems, note=note, passed_over=passed, **base)


def _weak_interval(fits, weak, index):
    """Members and per-step interval of a weak estimate: every weak curve's slope and thirds (a wide interval)."""
    low = min(min(fits[i].slope, fits[i].slope_low) for i in weak)
    high = max(max(fits[i].slope, fits[i].slope_high) for i in weak)
    return [index], low, high


def _closest_dim(fits, m):
    """Position of the first curve with dimension closest to ``m`` among those with a finite slope."""
    ok = [i for i, f in enumerate(fits) if np.isfinite(f.slope)] or list(range(len(fits)))
    return min(ok, key=lambda i: (abs(fits[i].dim - m), i))


def _no_region_error(fits, also=None):
    """The :class:`NoScalingRegionError` that lists why every curve failed (and ``also``) and what to try."""
    why = "; ".join(f"{f.label()}: {f.note}" for f in fits) + ("" if also is None else f"; {also}")
    return NoScalingRegionError(
        f"no credible scaling region in the divergence curves ({why}). A careful analyst would not read an "
        f"exponent here: the series may have no positive Lyapunov exponent (noise, a periodic or quasi-periodic "
        f"signal), or it is too short or too noisy for the divergence to rise along a clear exponential stretch. "
        f"Try a longer or less noisy series, method='kantz' with radius='auto', another dim or lag; inspect the "
        f"curves with fit_range=(start, stop) and LyapunovEstimate.plot()."
    )


def _neighbourhood(method, n_neighbors, radius):
    """Checked ``(k_nb, radii)``: neighbours per reference point (0 with radii) and ``[None]``, a list of radii,
    or ``["auto"]``."""
    if radius is not None:
        if method != "kantz":
            raise ValueError("radius is only used by method='kantz'; drop it or set method='kantz'")
        if n_neighbors is not None:
            raise ValueError("give either n_neighbors or radius, not both")
        if isinstance(radius, str):
            if radius != "auto":
                raise ValueError(f"radius must be a number, a sequence of numbers or 'auto', got {radius!r}")
            return 0, ["auto"]
        if isinstance(radius, (list, tuple, np.ndarray)):
            if len(radius) == 0:
                raise ValueError("radius is an empty sequence")
            return 0, sorted(check_float(r, "radius", minimum=0.0, strict_min=True) for r in radius)
        return 0, [check_float(radius, "radius", minimum=0.0, strict_min=True)]
    if n_neighbors is not None:
        n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=1)
        if method == "rosenstein" and n_neighbors != 1:
            raise ValueError("method='rosenstein' uses exactly one neighbour; use method='kantz' for more")
    k_nb = 1 if method == "rosenstein" else (n_neighbors or 8)
    return k_nb, [None]


def _check_fit_range(fit_range, max_steps):
    """``"auto"`` or the checked ``(start, stop)`` in steps."""
    if isinstance(fit_range, str) and fit_range == "auto":
        return fit_range
    try:
        start, stop = (int(v) for v in fit_range)
        ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in fit_range)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TypeError(f"fit_range must be 'auto' or a pair of ints (start, stop), got {fit_range!r}")
    if start < 0 or stop - start < 3:
        raise ValueError(f"fit_range=(start, stop) needs 0 <= start and stop - start >= 3, got {fit_range!r}")
    if max_steps is not None and stop > max_steps + 1:
        raise ValueError(f"fit_range stop={stop} exceeds max_steps + 1 = {max_steps + 1}")
    return (start, stop)
