"""Optional GPU backend: numba.cuda twins of the forward and BPTT kernels of every model (DESIGN §2-3).

Nothing here is imported by ``import fastrnn``: the CUDA modules are loaded only when a caller asks for
``device="cuda"``, through :func:`require` and :func:`session`. Without numba's CUDA target (the ``cuda`` extra,
``pip install 'fastrnn[cuda]'``, installs numba-cuda) or without a GPU, :func:`require` raises
:class:`CudaUnavailableError` saying how to fix it.

Layout of the backend (one thread block per window, every kernel race-free):

``plrnn``, ``tanhrnn``, ``lstm``, ``gru``
    forward and backward kernels per model. Block ``b`` runs window ``b``; thread ``i`` owns latent unit ``i`` (strided
    when M exceeds the block), the state lives in shared memory (double-buffered, one barrier per time step), and the
    forward pass stores what the reverse sweep needs (states, free states, residuals, gate activations). The backward
    pass only propagates the state adjoint and stores the per-step adjoints. Each module's ``loss_grad`` (the host
    glue: buffers, launches, gradient products) has the signature and returns of its CPU twin's.
``_linalg``
    parameter gradients as sums over all (window, time) pairs, formed after the sweep as products of the stored
    arrays (one per parameter, as on the CPU): every block sums its own chunk of rows into its own slot of a partial
    buffer, and a second kernel adds the slots in a fixed order, so results are deterministic and no atomics are used.
``_common``
    what the model kernels share: the control signal, forcing, residuals, loss reduction and forcing adjoint (device
    functions) and the host side of every ``loss_grad``.
``driver``
    :class:`~fastrnn.kernels.cuda.driver.Session`: device buffers, uploads, window gathering for training, the
    reductions, and :meth:`~fastrnn.kernels.cuda.driver.Session.loss_grad`, which calls the model's ``loss_grad``.

The tests run these kernels under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported).
"""
from __future__ import annotations

_INSTALL_HINT = ("pip install 'fastrnn[cuda]'  (numba-cuda), plus the CUDA libraries matching your driver:  "
                 "pip install 'numba-cuda[cu12]'  or  'numba-cuda[cu13]'")


class CudaUnavailableError(RuntimeError):
    """``device="cuda"`` was requested but numba's CUDA target or a CUDA GPU is missing."""


def _import_cuda():
    try:
        from numba import cuda
    except ImportError as exc:  # numba without its CUDA target (numba >= 0.6x without numba-cuda)
        raise CudaUnavailableError(f"device='cuda' needs numba's CUDA target, which could not be imported ({exc}). "
                                   f"Install it with  {_INSTALL_HINT}, or use device='cpu'") from exc
    return cuda


def require():
    """Return the ``numba.cuda`` module, ready for use, or raise :class:`CudaUnavailableError`.

    Raises
    ------
    CudaUnavailableError
        If numba's CUDA target cannot be imported (install the ``cuda`` extra) or no CUDA GPU/driver is usable.
    """
    cuda = _import_cuda()
    try:
        ok = bool(cuda.is_available())
    except Exception as exc:  # a broken driver or binding install can raise instead of returning False
        ok, reason = False, f"{type(exc).__name__}: {exc}"
    else:
        reason = ""
        if not ok:
            try:
                reason = str(cuda.cuda_error() or "").strip()
            except Exception:
                reason = ""
    if not ok:
        detail = f" ({' '.join(reason.split())})" if reason else ""
        raise CudaUnavailableError(
            f"device='cuda' but no usable CUDA GPU was found: numba.cuda.is_available() is False{detail}. Run on a "
            f"machine with an NVIDIA GPU and its driver (check nvidia-smi) and numba's CUDA target installed: "
            f"{_INSTALL_HINT}; "
            f"or use device='cpu'. To run the CUDA kernels without a GPU (slowly, for testing), set "
            f"NUMBA_ENABLE_CUDASIM=1 before numba is imported")
    return cuda


def is_available() -> bool:
    """True if ``device="cuda"`` can run here (numba's CUDA target imports and a GPU, or the simulator, is present)."""
    try:
        require()
    except CudaUnavailableError:
        return False
    return True


def session():
    """A new :class:`~fastrnn.kernels.cuda.driver.Session` (raises :class:`CudaUnavailableError` without CUDA)."""
    require()
    from .driver import Session
    return Session()
