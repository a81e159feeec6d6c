r"""Gradient checks against finite differences, as a public tool: :func:`gradcheck` and its :class:`GradcheckReport`.

In the spirit of ``torch.autograd.gradcheck`` and ``jax.test_util.check_grads``: the gradients of
:func:`fastrnn.loss_and_grad` (the model's BPTT kernels, or their CUDA twins) are compared with central differences
of the loss in float64, either entry by entry (small cases) or along random directions (long windows), and the worst
relative error of every parameter is reported.  Use it for a new model, a changed kernel, or new forcing options.

This module sits in the layer above :mod:`fastrnn.training` (with :mod:`fastrnn.plotting`); ``import fastrnn`` does
not load it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import forcing, training, validation

__all__ = ["gradcheck", "GradcheckReport", "ParamCheck"]

_METHODS = ("auto", "entries", "directions")


@dataclass(frozen=True)
class ParamCheck:
    """The check of one parameter.

    Attributes
    ----------
    name : str
        Parameter name (a key of ``model.params``).
    max_rel_error : float
        Largest relative error ``|g - d| / (|d| + atol / rtol)`` over the checked entries or directions, with ``g``
        the analytic and ``d`` the finite-difference value (``inf`` if a frozen entry has a non-zero gradient or the
        gradient is missing or misshapen); the check passes iff it is ``<= rtol``, i.e. iff
        ``|g - d| <= atol + rtol |d|`` everywhere (the rule of ``numpy.testing.assert_allclose``).
    max_abs_error : float
        Largest ``|g - d|``.
    worst : tuple or int
        Index of the worst entry (``"entries"``) or number of the worst direction (``"directions"``).
    n_checked : int
        Number of entries or directions compared.
    passed : bool
    """

    name: str
    max_rel_error: float
    max_abs_error: float
    worst: object
    n_checked: int
    passed: bool


@dataclass(frozen=True)
class GradcheckReport:
    """Result of :func:`gradcheck`: one :class:`ParamCheck` per parameter, and the settings it ran with."""

    method: str
    params: dict
    loss: float
    eps: float
    rtol: float
    atol: float

    @property
    def passed(self) -> bool:
        """True iff every parameter passed."""
        return all(c.passed for c in self.params.values())

    @property
    def failed(self) -> tuple:
        """Names of the parameters that failed, in the model's order."""
        return tuple(name for name, c in self.params.items() if not c.passed)

    def __str__(self):
        rows = [f"gradcheck ({self.method}, eps={self.eps:g}, rtol={self.rtol:g}, atol={self.atol:g}): "
                f"{'passed' if self.passed else 'FAILED: ' + ', '.join(self.failed)}"]
        for c in self.params.values():
            rows.append(f"  {c.name:>8}  {c.n_checked:5d} checked  max rel error {c.max_rel_error:.3e}  "
                        f"max abs error {c.max_abs_error:.3e}  worst at {c.worst}  {'ok' if c.passed else 'FAIL'}")
        return "\n".join(rows)


def gradcheck(model, X, alpha, inputs=None, *, ridge=0.0, control_grad=True, unit_mask=None,
              initial_state="control", device="cpu", method="auto", eps=1e-6, rtol=1e-6, atol=1e-8,
              max_entries=64, n_directions=4, max_window=64, reference=None, rng=0, raise_exception=False):
    r"""Check the gradients of :func:`fastrnn.loss_and_grad` against central finite differences in float64.

    The analytic gradient ``g`` is that of ``fastrnn.loss_and_grad(model, X, alpha, inputs, ridge=ridge,
    control_grad=control_grad, unit_mask=unit_mask, device=device, initial_state=initial_state)``.  The finite
    differences are taken of the loss ``L`` of the same batch computed by the model's forward sweep alone on the CPU
    (``model.kernel.forward_states``: the loss of ``loss_and_grad``, bit for bit; with ``control_grad=False`` the
    control matrix ``P`` is frozen at the current ``B``, as that gradient treats ``z~ = P x`` as data), or of
    ``reference(model)`` if given.  The model is not changed (a copy is perturbed).

    ``method="entries"``: for every parameter, every entry (or, above ``max_entries`` entries, a random subset of
    ``max_entries`` of them drawn with ``rng``) gets ``d_i = (L(p + eps e_i) - L(p - eps e_i)) / (2 eps)``, two loss
    evaluations per entry.  ``method="directions"`` (the dot-product test, for long windows and large models): for
    every parameter, ``n_directions`` random unit directions ``v`` (standard normal, normalised, drawn with ``rng``)
    get ``d = (L(p + eps v) - L(p - eps v)) / (2 eps)``, compared with ``g . v`` - one scalar and two forward passes
    per direction, whatever the size of the parameter.  ``"auto"``: entries when the windows have ``T <=
    max_window`` steps, else directions.

    Entries that training never changes (``model.frozen_entries``: the PLRNN's W diagonal) are not perturbed; their
    gradient must be exactly 0.

    Parameters
    ----------
    model : fastrnn model (PLRNN, TanhRNN, LSTM, GRU, ...)
        In float64 (``model.astype(np.float64)``): float32 has too few digits for central differences.
    X, alpha, inputs, ridge, control_grad, unit_mask, initial_state, device
        As for :func:`fastrnn.loss_and_grad` (any forcing pattern, per-window alpha, unit masks, inputs).
    method : {"auto", "entries", "directions"}
    eps : float
        Finite-difference step (default 1e-6).
    rtol, atol : float
        Tolerances: a value passes iff ``|g - d| <= atol + rtol |d|`` (defaults 1e-6 and 1e-8).  The rounding
        error of a central difference is about ``1e-16 |L| / eps``: for a large loss (an exploding model, long
        windows without forcing) raise ``atol`` above it or ``eps``.
    max_entries : int
        Largest number of entries checked per parameter by ``"entries"`` (default 64).
    n_directions : int
        Random directions per parameter for ``"directions"`` (default 4).
    max_window : int
        Largest window length ``T`` for which ``"auto"`` checks entries (default 64).
    reference : callable, optional
        ``reference(model) -> float``, a loss whose finite differences are taken instead (e.g. a loop reference;
        called on the perturbed copy).
    rng : None, int or numpy.random.Generator
        Draws the entry subsets and the directions (default 0: reproducible).
    raise_exception : bool
        If True, raise an ``AssertionError`` naming the failing parameters instead of returning a failed report.

    Returns
    -------
    GradcheckReport
        ``report.passed``, ``report.failed`` (names) and ``report.params[name]`` (:class:`ParamCheck`).

    Raises
    ------
    AssertionError
        With ``raise_exception=True``, if a parameter fails; the message names it and its worst error.
    """
    if getattr(model, "params", None) is None or getattr(model, "kernel", None) is None:
        raise TypeError(f"model must be a fastrnn model (PLRNN, TanhRNN, ...), got {type(model).__name__}")
    if np.dtype(model.dtype) != np.float64:
        raise ValueError(f"gradcheck needs a float64 model (central differences lose their digits in float32), got "
                         f"{np.dtype(model.dtype).name}; pass model.astype(np.float64)")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}")
    eps = validation.check_float(eps, "eps", minimum=0.0, strict_min=True)
    rtol = validation.check_float(rtol, "rtol", minimum=0.0, strict_min=True)
    atol = validation.check_float(atol, "atol", minimum=0.0)
    max_entries = validation.check_int(max_entries, "max_entries", minimum=1)
    n_directions = validation.check_int(n_directions, "n_directions", minimum=1)
    max_window = validation.check_int(max_window, "max_window", minimum=1)
    if reference is not None and not callable(reference):
        raise TypeError(f"reference must be a callable reference(model) -> float, got {type(reference).__name__}")
    gen = validation.check_rng(rng)

    # the public entry point validates every argument and gives the analytic gradient
    loss, grads = training.loss_and_grad(model, X, alpha, inputs=inputs, ridge=ridge, control_grad=control_grad,
                                         unit_mask=unit_mask, device=device, initial_state=initial_state)
    work = model.copy()
    f = reference if reference is not None else _forward_loss(work, X, alpha, inputs, ridge, control_grad,
                                                              unit_mask, initial_state)
    T = np.shape(X)[-2] - 1
    if method == "auto":
        method = "entries" if T <= max_window else "directions"
    frozen = model.frozen_entries
    checks = {}
    for name, p in work.params.items():
        g = grads.get(name)
        if g is None or np.shape(g) != p.shape:
            checks[name] = ParamCheck(name, np.inf, np.inf, "missing" if g is None else f"shape {np.shape(g)}", 0,
                                      False)
            continue
        g = np.asarray(g, dtype=np.float64)
        fixed = np.asarray(frozen.get(name, np.zeros(p.shape, bool)), dtype=bool)
        if np.any(g[fixed] != 0.0):
            bad = tuple(int(i) for i in np.argwhere(fixed & (g != 0.0))[0])
            checks[name] = ParamCheck(name, np.inf, float(np.abs(g[fixed]).max()), bad, int(fixed.sum()), False)
            continue
        free = np.flatnonzero(~fixed.reshape(-1))
        if free.size == 0:
            checks[name] = ParamCheck(name, 0.0, 0.0, None, 0, True)
            continue
        if method == "entries":
            idx = free if free.size <= max_entries else np.sort(gen.choice(free, max_entries, replace=False))
            d = np.array([_central(work, f, name, _unit(p.size, i), eps) for i in idx])
            a = g.reshape(-1)[idx]
            where = [tuple(int(j) for j in np.unravel_index(i, p.shape)) for i in idx]
        else:
            dirs = []
            for _ in range(n_directions):
                v = np.zeros(p.size)
                v[free] = gen.standard_normal(free.size)
                dirs.append(v / np.linalg.norm(v))
            d = np.array([_central(work, f, name, v, eps) for v in dirs])
            a = np.array([float(g.reshape(-1) @ v) for v in dirs])
            where = list(range(n_directions))
        err = np.abs(a - d)
        rel = np.where(np.isfinite(err), err / (np.abs(d) + atol / rtol), np.inf)
        k = int(np.argmax(rel))
        checks[name] = ParamCheck(name, float(rel[k]), float(err.max()), where[k], int(err.size),
                                  bool(rel[k] <= rtol))
    report = GradcheckReport(method, checks, float(loss), eps, rtol, atol)
    if raise_exception and not report.passed:
        worst = "; ".join(f"{n}: max rel error {checks[n].max_rel_error:.3e} at {checks[n].worst}"
                          for n in report.failed)
        raise AssertionError(f"gradcheck failed for parameter(s) {', '.join(report.failed)} of the {model.kind} "
                             f"({worst}); tolerances rtol={rtol:g}, atol={atol:g}\n{report}")
    return report


def _unit(n, i):
    v = np.zeros(n)
    v[i] = 1.0
    return v


def _central(model, f, name, v, eps):
    """(f(p + eps v) - f(p - eps v)) / (2 eps) for the parameter ``name`` of ``model`` (restored afterwards)."""
    p = model.params[name]
    flat = p.reshape(-1)  # a view: the parameters are C-contiguous
    old = flat.copy()
    try:
        flat[...] = old + eps * v
        fp = float(f(model))
        flat[...] = old - eps * v
        fm = float(f(model))
    finally:
        flat[...] = old
    return (fp - fm) / (2.0 * eps)


def _forward_loss(model, X, alpha, inputs, ridge, control_grad, unit_mask, initial_state):
    """The loss of ``loss_and_grad`` from the forward sweep alone, as a function of ``model``'s current parameters.

    The arguments were validated by ``loss_and_grad``; here they only take the kernels' layout (float64, 3-D,
    C-contiguous), with ``initial_state="zero"`` done as ``loss_and_grad`` defines it (x_0 replaced by 0).
    """
    Xc = np.array(X, dtype=np.float64, order="C", copy=True)
    Xc = Xc[None] if Xc.ndim == 2 else Xc
    nb, T1, _ = Xc.shape
    if initial_state == "zero":
        Xc[:, 0] = 0.0
    K = model.n_inputs
    S = np.zeros((nb, T1, 0)) if K == 0 else np.array(inputs, dtype=np.float64, order="C").reshape(nb, T1, K)
    a = forcing.check_alpha(alpha, T1 - 1, nb, np.float64)
    mask = training.forcing_mask(model, unit_mask).astype(np.float64)
    P0 = model.control_matrix(ridge)

    def loss(m):
        P = P0 if not control_grad else m.control_matrix(ridge)
        return m.kernel.forward_states(m.params, Xc, S, a, mask, P)[0]

    return loss
