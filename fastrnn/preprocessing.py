"""Preprocessing of measured and simulated series: the one z-score of fastrnn.

Issue 13 adds detrending, cycle removal and nonlinear noise reduction here.
"""
from __future__ import annotations

import numpy as np

__all__ = ["zscore"]


def zscore(x, mean=None, std=None, *, return_stats=False):
    """Standardise the columns of ``x`` (time along axis 0): (x - mean) / std.

    Parameters
    ----------
    x : ndarray (T,) or (T, N)
    mean, std : array-like (N,), optional
        The statistics to use (e.g. those of the training data, to scale test data the same way); by default the
        column means and standard deviations (ddof 0) of ``x``.
    return_stats : bool
        Also return the mean and standard deviation used.

    Returns
    -------
    z : ndarray, same shape as ``x``
    mean, std : ndarray (N,)
        Only with ``return_stats=True``.

    Raises
    ------
    ValueError
        If a column has zero standard deviation (a constant column cannot be standardised: drop it).
    """
    x = np.asarray(x)
    mean = x.mean(axis=0) if mean is None else np.asarray(mean)
    std = x.std(axis=0) if std is None else np.asarray(std)
    if np.any(std == 0):
        bad = np.flatnonzero(np.atleast_1d(std == 0)).tolist()
        raise ValueError(f"column(s) {bad} are constant and cannot be standardised; drop them")
    z = (x - mean) / std
    return (z, mean, std) if return_stats else z
