"""Numba kernels, one module per model: step, Jacobian, forward and backward (BPTT) over a batch of windows.

Kernels import nothing from the layers above them. Every model module provides the same functions:

``step(params..., z, s, out, buf)``
    one free step ``out = F(z, s)`` (the single definition of the model used by every path);
``run(params..., z0, S, Zout)``
    free run: ``Zout[0] = z0``, ``Zout[k+1] = F(Zout[k], S[k])``;
``jacobians(params..., z0, S, J, Zout)``
    free run that also stores ``J[k] = dF/dz`` at ``Zout[k]``;
``forward(params..., B, X, S, alpha, mask, Zt, ...)``
    sparsely forced forward pass over a batch of windows, storing what ``backward`` needs, returning per-window loss
    sums (float64);
``backward(...)``
    reverse sweep returning the adjoint of each free step and dL/dz~ (the control signal).
Parameter gradients are sums over all (window, time) pairs and are formed afterwards as a few large matrix products in
:mod:`fastrnn.models` (DESIGN §3).
"""
