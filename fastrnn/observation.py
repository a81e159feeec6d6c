"""The observation pipeline of a model: from the columns of a measured series to the vectors the model observes.

An :class:`Observation` is one JSON-able record of everything between a data file and a model:

1. **columns**: the columns of the file used (0-based; all by default);
2. **preprocessing steps** in the format of :func:`fastrnn.preprocessing.preprocess` (``detrend``,
   ``remove_cycle``, ``denoise``), in the units of the data;
3. **z-score** with the statistics of the training data (:func:`fastrnn.preprocessing.zscore`), per column;
4. **delay embedding** (:func:`fastrnn.timeseries.delay_embed`) with ``dim`` delays of ``lag`` samples, so that a
   scalar (or low-dimensional) measurement becomes a state the model can reconstruct.

:meth:`Observation.fit` is called once, on the training data: it resolves ``"auto"`` embedding parameters (lag by
:func:`fastrnn.timeseries.estimate_delay`, dimension by :func:`fastrnn.timeseries.estimate_dimension`, Cao's rule that
:func:`fastrnn.timeseries.max_lyapunov` also starts from) and the z-score statistics, and records them resolved.
:meth:`Observation.apply` then applies the same pipeline, unchanged, to new data (no refitting); :meth:`to_dict` /
:meth:`from_dict` store it in a model's metadata.

Lengths. Embedding shortens a series by the embedding window ``(dim - 1) * lag`` samples: row ``t`` of the output
is ``(z_t, z_{t+lag}, ..., z_{t+(dim-1) lag})`` (for several columns, block ``k`` holds all columns at
``t + k lag``), so a segment of ``T`` samples gives ``T - (dim - 1) * lag`` rows and needs more than ``(dim - 1) *
lag`` samples. A series with gaps is passed as a list of its finite segments (:func:`fastrnn.datafiles.finite_segments`);
every segment is preprocessed and embedded on its own, never across a gap.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from . import preprocessing
from .preprocessing import PREPROCESS_STEPS, preprocess, zscore
from .timeseries import delay_embed, estimate_delay, estimate_dimension
from .validation import check_bool, check_int

__all__ = ["OBSERVATION_VERSION", "Observation", "parse_embed"]

#: version of the :meth:`Observation.to_dict` format
OBSERVATION_VERSION = 1

_KEYS = {"version", "columns", "steps", "standardize", "embed", "mean", "std", "n_columns", "dim", "lag"}


def parse_embed(spec):
    """An embedding request from its text or Python form.

    Parameters
    ----------
    spec : None, "none", "auto", "M,LAG", (M, LAG) or {"dim": M, "lag": LAG}
        ``None``/``"none"``: no embedding; ``"auto"``: both estimated at :meth:`Observation.fit`; ``"M,LAG"`` or a
        pair: ``M`` delays (>= 1) of ``LAG`` samples (>= 1); either may be ``"auto"`` (``"auto,5"``: the dimension
        estimated at lag 5).

    Returns
    -------
    None or dict
        ``{"dim": int or "auto", "lag": int or "auto"}``.

    Raises
    ------
    ValueError
        For anything else, saying which forms are accepted.
    """
    hint = "use 'none', 'auto' or 'M,LAG' (M delays >= 1 of LAG samples >= 1, e.g. '3,5'; either may be 'auto')"
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("none", "")):
        return None
    if isinstance(spec, str):
        text = spec.strip().lower()
        parts = ["auto", "auto"] if text == "auto" else [p.strip() for p in text.split(",")]
    elif isinstance(spec, dict):
        unknown = set(spec) - {"dim", "lag"}
        if unknown:
            raise ValueError(f"embed has unknown keys {sorted(unknown)}; {hint}")
        parts = [spec.get("dim", "auto"), spec.get("lag", "auto")]
    elif isinstance(spec, (list, tuple)):
        parts = list(spec)
    else:
        raise ValueError(f"embed={spec!r} is not an embedding; {hint}")
    if len(parts) != 2:
        raise ValueError(f"embed={spec!r} is not an embedding; {hint}")
    out = {}
    for name, v in zip(("dim", "lag"), parts):
        if isinstance(v, str) and v.strip().lower() == "auto":
            out[name] = "auto"
            continue
        try:
            iv = int(v) if not isinstance(v, str) else int(v.strip())
        except (TypeError, ValueError):
            raise ValueError(f"embed={spec!r}: {name} {v!r} is not an integer; {hint}") from None
        if isinstance(v, float) and v != iv:
            raise ValueError(f"embed={spec!r}: {name} {v!r} is not an integer; {hint}")
        if iv < 1:
            raise ValueError(f"embed={spec!r}: {name} must be >= 1, got {iv}; {hint}")
        out[name] = iv
    return out


def _check_steps(steps):
    """The preprocessing steps as a list of plain dicts, each op and keyword checked against its function."""
    if steps is None:
        return []
    if not isinstance(steps, (list, tuple)):
        raise ValueError(f"steps must be a list of {{'op': name, ...}} dicts, got {type(steps).__name__}")
    out = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("op") not in PREPROCESS_STEPS:
            raise ValueError(f"steps[{i}] = {step!r} is not a preprocessing step; use {{'op': name, ...}} with name "
                             f"one of {', '.join(PREPROCESS_STEPS)}")
        fn = getattr(preprocessing, step["op"])
        allowed = {p for p in inspect.signature(fn).parameters if p != "x" and not p.startswith("return_")}
        unknown = sorted(set(step) - allowed - {"op"})
        if unknown:
            raise ValueError(f"steps[{i}] ({step['op']}) has unknown option(s) {unknown}; {step['op']} accepts "
                             f"{', '.join(sorted(allowed))}")
        out.append(dict(step))
    return out


def _check_columns(columns):
    if columns is None:
        return None
    if isinstance(columns, (int, np.integer)):
        columns = [columns]
    if not isinstance(columns, (list, tuple)) or not columns:
        raise ValueError(f"columns must be None (all), an int or a non-empty list of ints, got {columns!r}")
    out = [check_int(c, "column", minimum=0) for c in columns]
    if len(set(out)) != len(out):
        raise ValueError(f"columns {out} name a column twice; list each column once")
    return out


class Observation:
    """The observation pipeline: columns -> preprocessing -> z-score -> delay embedding (see the module docstring).

    Parameters
    ----------
    columns : None, int or list of int
        Columns of the data used, 0-based (default: all).
    steps : list of dict
        Preprocessing steps in the format of :func:`fastrnn.preprocessing.preprocess`, applied in order, e.g.
        ``[{"op": "detrend", "method": "linear"}, {"op": "remove_cycle", "period": 365.25}]``.
    embed : None, "auto", "M,LAG", (M, LAG) or dict
        Delay embedding (:func:`parse_embed`): ``M`` delays of ``LAG`` samples; ``"auto"`` resolves both at
        :meth:`fit`. None: the columns themselves (the same as ``(1, 1)``).
    standardize : bool
        z-score each column with the training data's mean and standard deviation (default True).

    Attributes
    ----------
    dim, lag : int or None
        The embedding, resolved (None before :meth:`fit` when requested as ``"auto"``).
    mean, std : ndarray (C,) or None
        The z-score statistics of the training data (None before :meth:`fit`, or without standardisation).
    n_columns : int or None
        Number of columns of the data the pipeline was fitted on.

    Examples
    --------
    >>> obs = Observation(steps=[{"op": "detrend", "method": "linear"}], embed="auto")
    >>> y_train = obs.fit(x_train).apply(x_train)        # doctest: +SKIP
    >>> y_test = Observation.from_dict(obs.to_dict()).apply(x_test)   # doctest: +SKIP
    """

    def __init__(self, columns=None, steps=(), embed=None, *, standardize=True):
        self.columns = _check_columns(columns)
        self.steps = _check_steps(list(steps) if isinstance(steps, tuple) else steps)
        self.embed = parse_embed(embed)
        self.standardize = check_bool(standardize, "standardize")
        self.dim = 1 if self.embed is None else (None if self.embed["dim"] == "auto" else self.embed["dim"])
        self.lag = 1 if self.embed is None else (None if self.embed["lag"] == "auto" else self.embed["lag"])
        self.mean = self.std = None
        self.n_columns = None
        self.fitted = False

    # ------------------------------------------------------------------ properties
    @property
    def window(self) -> int:
        """The embedding window ``(dim - 1) * lag`` in samples: the rows each segment loses to the embedding."""
        self._require_fitted("window")
        return (self.dim - 1) * self.lag

    def n_obs(self) -> int:
        """Number of columns of the output (``dim`` times the number of columns used)."""
        self._require_fitted("n_obs")
        used = self.n_columns if self.columns is None else len(self.columns)
        return self.dim * used

    def describe(self) -> str:
        """One line: columns, steps, standardisation and embedding."""
        cols = "all columns" if self.columns is None else f"column(s) {', '.join(map(str, self.columns))}"
        parts = [cols] + [s["op"] + (f" {s['method']}" if "method" in s else "") for s in self.steps]
        if self.standardize:
            parts.append("z-score")
        if self.embed is not None:
            dim = self.dim if self.dim is not None else "auto"
            lag = self.lag if self.lag is not None else "auto"
            parts.append(f"delay embedding dim={dim}, lag={lag}")
        return " -> ".join(parts)

    def __repr__(self):
        return f"Observation({self.describe()}{'' if self.fitted else ', not fitted'})"

    # ------------------------------------------------------------------ fit and apply
    def fit(self, x):
        """Fit the pipeline to training data: the z-score statistics and any ``"auto"`` embedding parameter.

        Parameters
        ----------
        x : array_like (T,) or (T, N), or list of them
            The training series, or its finite segments (a series with gaps); finite values only. The z-score
            statistics are those of all rows of all segments after preprocessing; ``"auto"`` embedding parameters
            are estimated on the longest segment.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a column out of range, NaN/inf (split a series with gaps into its segments first), a series too
            short for a preprocessing step or for the embedding, or a constant column.
        """
        self.n_columns, self.fitted = None, False
        self.dim = 1 if self.embed is None else (None if self.embed["dim"] == "auto" else self.embed["dim"])
        self.lag = 1 if self.embed is None else (None if self.embed["lag"] == "auto" else self.embed["lag"])
        segs = self._segments(x, fitting=True)
        pre = [self._preprocess(s) for s in segs]
        if self.standardize:
            rows = np.concatenate(pre, axis=0)
            std = rows.std(axis=0)
            if np.any(std == 0):
                bad = np.flatnonzero(std == 0).tolist()
                raise ValueError(f"column(s) {bad} of the selected data are constant after preprocessing and cannot "
                                 f"be standardised; drop them with columns=... or standardize=False")
            self.mean, self.std = rows.mean(axis=0), std
            pre = [zscore(p, self.mean, self.std) for p in pre]
        longest = max(pre, key=len)
        if self.lag is None:
            self.lag = estimate_delay(longest)
        if self.dim is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # max_dim returned: recorded like any value
                self.dim = estimate_dimension(longest, self.lag)
        for s in pre:
            self._check_length(len(s))
        self.fitted = True
        return self

    def apply(self, x, *, embed=True):
        """Apply the fitted pipeline, unchanged, to a series (no refitting: the training statistics are used).

        Parameters
        ----------
        x : array_like (T,) or (T, N), or list of them
            A series with the columns of the training data, or its finite segments (each processed on its own).
        embed : bool
            False: stop before the embedding (the preprocessed and z-scored columns, ``T`` rows), e.g. to estimate
            lambda_max of the measured series.

        Returns
        -------
        ndarray (T - (dim - 1) lag, dim C), or a list of them for a list of segments
            Row ``t`` is ``(z_t, z_{t+lag}, ..., z_{t+(dim-1) lag})``, ``z`` the preprocessed, z-scored columns.

        Raises
        ------
        ValueError
            If the pipeline is not fitted, the data have other columns than the training data, a segment is not
            longer than the embedding window ``(dim - 1) lag``, or the data hold NaN/inf.
        """
        self._require_fitted("apply")
        embed = check_bool(embed, "embed")
        many = isinstance(x, (list, tuple))
        out = []
        for s in self._segments(x, fitting=False):
            z = self._preprocess(s)
            if self.standardize:
                z = zscore(z, self.mean, self.std)
            if embed:
                self._check_length(len(z))
                z = delay_embed(z, self.dim, self.lag)
            out.append(z)
        return out if many else out[0]

    def fit_apply(self, x, **kwargs):
        """:meth:`fit` on ``x``, then :meth:`apply` to it."""
        return self.fit(x).apply(x, **kwargs)

    def align_inputs(self, s):
        """External inputs cut to the rows of the embedded series: row ``t`` gets ``s[t + (dim - 1) lag]``, the input
        at the time of the newest coordinate of that row (the one a step of the model predicts).

        Parameters
        ----------
        s : ndarray (T, K) or list of them (one per segment, as the data), or None

        Returns
        -------
        ndarray (T - (dim - 1) lag, K), list of them, or None
        """
        if s is None:
            return None
        w = self.window
        if isinstance(s, (list, tuple)):
            return [np.asarray(v)[w:] for v in s]
        return np.asarray(s)[w:]

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        """The pipeline as a JSON-able dict (the fitted values resolved), for a model's metadata."""
        self._require_fitted("to_dict")
        return {
            "version": OBSERVATION_VERSION,
            "columns": None if self.columns is None else list(self.columns),
            "n_columns": int(self.n_columns),
            "steps": [dict(s) for s in self.steps],
            "standardize": self.standardize,
            "mean": None if self.mean is None else [float(v) for v in self.mean],
            "std": None if self.std is None else [float(v) for v in self.std],
            "embed": None if self.embed is None else dict(self.embed),
            "dim": int(self.dim),
            "lag": int(self.lag),
        }

    @classmethod
    def from_dict(cls, d):
        """A fitted pipeline from :meth:`to_dict`'s output (applies exactly as the one it was saved from).

        Raises
        ------
        ValueError
            For a dict that is not such a record (unknown keys or version, missing statistics).
        """
        if not isinstance(d, dict):
            raise ValueError(f"an observation record must be a dict from Observation.to_dict(), got "
                             f"{type(d).__name__}")
        unknown = sorted(set(d) - _KEYS)
        missing = sorted({"dim", "lag", "n_columns"} - set(d))
        if unknown or missing or d.get("version") != OBSERVATION_VERSION:
            raise ValueError(f"not an observation record of version {OBSERVATION_VERSION} (unknown keys {unknown}, "
                             f"missing {missing}, version {d.get('version')!r}); write it with "
                             f"Observation.to_dict()")
        obs = cls(d.get("columns"), d.get("steps") or [], d.get("embed"), standardize=d.get("standardize", True))
        obs.dim = check_int(d["dim"], "dim", minimum=1)
        obs.lag = check_int(d["lag"], "lag", minimum=1)
        obs.n_columns = check_int(d["n_columns"], "n_columns", minimum=1)
        if obs.standardize:
            if d.get("mean") is None or d.get("std") is None:
                raise ValueError("the observation record standardises but holds no mean/std; write it with "
                                 "Observation.to_dict() after fit()")
            obs.mean, obs.std = np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64)
        obs.fitted = True
        return obs

    # ------------------------------------------------------------------ helpers
    def _require_fitted(self, what):
        if not self.fitted:
            raise ValueError(f"Observation.{what}: the pipeline is not fitted; call fit(x_train) first (or load a "
                             f"fitted one with Observation.from_dict)")

    def _check_length(self, n):
        window = (self.dim - 1) * self.lag
        if n <= window:
            raise ValueError(f"a series (or segment) of {n} samples is too short for the delay embedding with "
                             f"dim={self.dim} and lag={self.lag}: it needs more than (dim - 1) * lag = {window} "
                             f"samples; use a longer series or a smaller dim or lag")

    def _segments(self, x, *, fitting):
        """The input as a list of float64 (T, N) arrays with the selected columns."""
        items = list(x) if isinstance(x, (list, tuple)) else [x]
        if not items:
            raise ValueError("no data: pass a (T, N) series or a non-empty list of segments")
        out = []
        for i, v in enumerate(items):
            arr = np.asarray(v, dtype=np.float64)
            if arr.ndim == 1:
                arr = arr[:, None]
            where = "x" if len(items) == 1 else f"segment {i}"
            if arr.ndim != 2 or arr.shape[0] == 0:
                raise ValueError(f"{where} has shape {arr.shape}; expected (T,) or (T, N) with time along axis 0")
            n_cols = arr.shape[1]
            if fitting and self.n_columns is None:
                self.n_columns = n_cols
            if n_cols != self.n_columns:
                raise ValueError(f"{where} has {n_cols} column(s) but the pipeline was fitted on data with "
                                 f"{self.n_columns}; pass data with the training data's columns")
            if self.columns is not None:
                bad = [c for c in self.columns if c >= n_cols]
                if bad:
                    raise ValueError(f"column(s) {bad} out of range: the data have {n_cols} column(s) (0-based "
                                     f"indices 0..{n_cols - 1}); choose a column that exists")
                arr = arr[:, self.columns]
            if not np.isfinite(arr).all():
                raise ValueError(f"{where} holds NaN or infinite values; split a series with gaps into its finite "
                                 f"segments (fastrnn.datafiles.finite_segments) and pass the list")
            out.append(arr)
        return out

    def _preprocess(self, arr):
        return preprocess(arr, self.steps) if self.steps else arr
