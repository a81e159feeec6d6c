"""Numba kernels, one module per model: the model's one definition (DESIGN §2).

Kernels import nothing from the layers above them (only :mod:`fastrnn.config`). Every model module (:mod:`.plrnn`,
:mod:`.tanhrnn`, :mod:`.lstm`, :mod:`.gru`, :mod:`.shplrnn`) provides:

``step_rows(...)``
    the free step for a block of rows, the single definition of the model: the training sweep calls it for the
    windows of a batch, the free run and the Jacobians for one row, so all evaluate the same floating-point
    operations (float32 included: the rational tanh and sigmoid of :mod:`._common` everywhere);
``run`` / ``jacobians`` (Numba)
    the free run of one row, with the Jacobians J[k] = dF/dz along it;
``forward`` / ``backward`` (Numba)
    the sparsely forced sweeps over a batch of windows in time-major work arrays;
``KIND``, ``PARAMS``
    the model kind and its parameter names;
``free_run(params, z0, S, with_jacobians=False)``
    host glue of the free run: states (n+1, D) (and J);
``loss_grad(params, X, S, alpha, mask, P, control_grad)``
    host glue of training: (loss, grads, dL/dP or None); the CUDA twin :mod:`fastrnn.kernels.cuda.<model>` has the
    same signature (plus an optional ``session``) and returns;
``forward_states(params, X, S, alpha, mask, P)``
    the forward pass of ``loss_grad`` alone: (loss, forced states, free states).

:mod:`.shplrnn` has two variants (plain and clipped): its host functions take ``clipped=False`` as a last argument,
and its :data:`~.shplrnn.PLAIN` and :data:`~.shplrnn.CLIPPED` bind it with the interface above.

Shared pieces: :mod:`._common` (Numba building blocks: activations, step and gradient products, forcing, residuals)
and :mod:`.host` (work arrays, BLAS threads, control signal z~ = P x, gradient assembly). Parameter gradients are
sums over all (window, time) pairs, formed after the sweep as a few large matrix products (DESIGN §3).
"""
