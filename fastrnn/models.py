"""Recurrent models: parameters, initialisation, free running, save/load (DESIGN §1-2).

Every model has M latent units, N observations and K >= 0 external inputs, reads out through x = B z, and names the
Numba kernels (:mod:`fastrnn.kernels`) that define its step; training, generation and Jacobians all use those kernels.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from . import validation
from .kernels import gru as _k_gru
from .kernels import lstm as _k_lstm
from .kernels import plrnn as _k_plrnn
from .kernels import tanhrnn as _k_tanhrnn
from .kernels._common import block_weight_grads as _block_weight_grads
from .kernels._common import gate_blocks as _gate_blocks
from .kernels._common import serial_blas as _serial_blas
from .kernels._common import sweep_chunks as _sweep_chunks
from .kernels._common import workspace as _workspace

_FORMAT_VERSION = 1


class RNNModel:
    """Base class. Subclasses define ``kind``, ``_param_names``, ``_kernels``, ``_init_params`` and ``_loss_grad``."""

    kind = "RNNModel"
    _param_names: tuple = ()
    _kernels = None

    def __init__(self, n_latent, n_obs, n_inputs=0, *, dtype=np.float64, rng=None):
        self.n_latent = validation.check_int(n_latent, "n_latent", minimum=1)
        self.n_obs = validation.check_int(n_obs, "n_obs", minimum=1)
        self.n_inputs = validation.check_int(n_inputs, "n_inputs", minimum=0)
        self.dtype = validation.check_dtype(dtype)
        rng = validation.check_rng(rng)
        self._p = {k: np.ascontiguousarray(v, dtype=self.dtype) for k, v in self._init_params(rng).items()}
        if self.n_inputs == 0:
            self._p.pop(self._input_param, None)
        self._empty_in = np.zeros((self._input_rows, 0), dtype=self.dtype)

    # ---------------------------------------------------------------- parameters
    @property
    def params(self) -> dict:
        """The live parameter arrays by name (write into them in place to change the model)."""
        return {k: self._p[k] for k in self.param_names}

    @property
    def param_names(self) -> tuple:
        return tuple(k for k in self._param_names if k in self._p)

    @property
    def state_dim(self) -> int:
        """Dimension D of the state the map acts on (M here; 2M for the LSTM's (h, c))."""
        return self.n_latent

    @property
    def n_params(self) -> int:
        return int(sum(v.size for v in self._p.values()))

    def _input_matrix(self):
        return self._p.get(self._input_param, self._empty_in)

    def copy(self):
        """A deep copy (same kind, shapes, dtype and values)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._p = {k: v.copy() for k, v in self._p.items()}
        return new

    def astype(self, dtype):
        """A copy with parameters converted to ``dtype`` (float32 or float64)."""
        new = self.copy()
        new.dtype = validation.check_dtype(dtype)
        new._p = {k: v.astype(new.dtype) for k, v in self._p.items()}
        new._empty_in = self._empty_in.astype(new.dtype)
        return new

    def set_params(self, **arrays):
        """Copy new values into the parameters (shapes must match; values are converted to the model's dtype)."""
        for name, value in arrays.items():
            if name not in self._p:
                raise KeyError(f"{self.kind} has no parameter {name!r}; its parameters are {self.param_names}")
            arr = validation.as_float_array(value, name, self.dtype)
            if arr.shape != self._p[name].shape:
                raise ValueError(f"{name} must have shape {self._p[name].shape}, got {arr.shape}")
            self._p[name][...] = arr

    def __repr__(self):
        return (f"{self.kind}(n_latent={self.n_latent}, n_obs={self.n_obs}, n_inputs={self.n_inputs}, "
                f"dtype={self.dtype.name})")

    # ---------------------------------------------------------------- free running
    def _check_inputs_series(self, inputs, n_rows, name="inputs"):
        if self.n_inputs == 0:
            if inputs is not None and np.size(inputs) > 0:
                raise ValueError(f"{name} were given but the model has n_inputs=0; build the model with "
                                 f"n_inputs={np.shape(inputs)[-1]} or drop {name}")
            return np.zeros((n_rows, 0), dtype=self.dtype)
        if inputs is None:
            raise ValueError(f"the model has n_inputs={self.n_inputs}: pass {name} of shape ({n_rows}, {self.n_inputs})")
        s = validation.as_float_array(inputs, name, self.dtype, ndim=2)
        if s.shape != (n_rows, self.n_inputs):
            raise ValueError(f"{name} must have shape ({n_rows}, {self.n_inputs}), got {s.shape}")
        return s

    def _initial_state(self, x0=None, z0=None, rng=None) -> np.ndarray:
        """Initial state (D,) as float64: from ``z0``, from ``x0`` through pinv(B), or random if both are None."""
        if x0 is not None and z0 is not None:
            raise ValueError("pass either x0 (an observation) or z0 (a latent state), not both")
        if z0 is not None:
            z = validation.as_float_array(z0, "z0", np.float64, ndim=1)
            if z.shape != (self.state_dim,):
                raise ValueError(f"z0 must have shape ({self.state_dim},), got {z.shape}")
            return z
        if x0 is not None:
            x = validation.as_float_array(x0, "x0", np.float64, ndim=1)
            if x.shape != (self.n_obs,):
                raise ValueError(f"x0 must have shape ({self.n_obs},), got {x.shape}")
            return self._state_from_latent(np.linalg.pinv(self._p["B"].astype(np.float64)) @ x)
        return self._state_from_latent(validation.check_rng(rng).standard_normal(self.n_latent))

    def _state_from_latent(self, z):
        return z

    def _readout_state(self, states):
        return states

    def _run(self, state, S):
        """Free run from ``state`` (D,) with S (n, K): returns states (n + 1, D) in the model's dtype."""
        Z = np.empty((S.shape[0] + 1, self.state_dim), dtype=self.dtype)
        self._kernels.run(*self._kernel_params(), np.ascontiguousarray(state, dtype=self.dtype), S, Z)
        return Z

    def generate(self, n_steps, x0=None, z0=None, inputs=None, rng=None):
        """Run the model freely.

        Parameters
        ----------
        n_steps : int
            Number of rows returned (row 0 is the initial state, row t the state after t steps).
        x0 : array (N,), optional
            Initial observation; the initial latent state is pinv(B) x0 (as in training, z_0 = z~_0).
        z0 : array (state_dim,), optional
            Initial latent state (for the LSTM, the concatenated (h, c)). If neither x0 nor z0 is given, a standard
            normal latent state drawn from ``rng`` is used.
        inputs : array (n_steps, K), optional
            External inputs, required when K > 0; row t drives the step into row t (row 0 is unused), as in training.
        rng : seed or Generator, optional

        Returns
        -------
        X : ndarray (n_steps, N)
            Observations B z_t.
        Z : ndarray (n_steps, M)
            Latent states (for the LSTM, h).
        """
        n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
        S = self._check_inputs_series(inputs, n_steps)
        state = self._initial_state(x0, z0, rng)
        Z = self._readout_state(self._run(state, np.ascontiguousarray(S[1:])))
        return Z @ self._p["B"].T, Z

    def _jacobians(self, state, n_steps, inputs=None):
        """Jacobians along a free orbit: J[k] = dF/dz at z_k (float64), and states (n_steps + 1, D), states[0] = state.

        ``inputs`` (n_steps, K): inputs[k] drives the step z_k -> z_{k+1}.
        """
        n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
        S = self._check_inputs_series(inputs, n_steps)
        D = self.state_dim
        J = np.empty((n_steps, D, D), dtype=self.dtype)
        Z = np.empty((n_steps + 1, D), dtype=self.dtype)
        self._kernels.jacobians(*self._kernel_params(), np.ascontiguousarray(state, dtype=self.dtype), S, J, Z)
        return J.astype(np.float64, copy=False), Z.astype(np.float64, copy=False)

    # ---------------------------------------------------------------- persistence
    def save(self, path):
        """Save to an ``.npz`` file (written atomically; no pickling). Load with :func:`fastrnn.load`."""
        path = os.fspath(path)
        meta = {
            "__kind__": np.array(self.kind),
            "__dtype__": np.array(self.dtype.name),
            "__shape__": np.array([self.n_latent, self.n_obs, self.n_inputs], dtype=np.int64),
            "__format__": np.array(_FORMAT_VERSION, dtype=np.int64),
        }
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".fastrnn-", suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **meta, **self._p)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def load(path) -> RNNModel:
    """Load a model saved with ``model.save(path)``; the round trip is exact (kind, shapes, dtype, values)."""
    with np.load(os.fspath(path), allow_pickle=False) as f:
        keys = set(f.files)
        for k in ("__kind__", "__dtype__", "__shape__"):
            if k not in keys:
                raise ValueError(f"{path} is not a fastrnn model file (missing {k}); save models with model.save(path)")
        kind = str(f["__kind__"])
        if kind not in MODELS:
            raise ValueError(f"{path} holds an unknown model kind {kind!r}; known kinds: {sorted(MODELS)}")
        M, N, K = (int(v) for v in f["__shape__"])
        model = MODELS[kind](M, N, K, dtype=str(f["__dtype__"]), rng=0)
        for name in model.param_names:
            if name not in keys:
                raise ValueError(f"{path} lacks parameter {name!r} of a {kind}")
            arr = f[name]
            if arr.shape != model._p[name].shape or arr.dtype != model.dtype:
                raise ValueError(f"{path}: parameter {name} has shape {arr.shape} and dtype {arr.dtype}, expected "
                                 f"{model._p[name].shape} and {model.dtype}")
            model._p[name][...] = arr
    return model


def _spectral_scale(W, target):
    """Scale W so that its spectral radius is ``target``."""
    rho = np.max(np.abs(np.linalg.eigvals(W)))
    return W * (target / rho) if rho > 0 else W


class PLRNN(RNNModel):
    """Piecewise-linear RNN: z_t = A * z_{t-1} + W relu(z_{t-1}) + h + C s_t, x_t = B z_t.

    Parameters
    ----------
    n_latent, n_obs, n_inputs : int
        M latent units, N observations, K >= 0 external inputs (C exists only when K > 0).
    dtype : np.float32 or np.float64
    rng : seed or Generator

    Notes
    -----
    Initialisation: A = 0.9 (slow linear memory, all units), W off-diagonal N(0, 1/M) rescaled so that the linear part
    A + W has spectral radius 0.95 with W's diagonal zero (it is never trained), h = 0, B ~ N(0, 1/M) (so pinv(B) maps
    standardised data to latent states of order one), C ~ N(0, 0.01/K). The model starts close to a stable linear
    system, in the spirit of the identity-like initialisations of Talathi & Vartak (2016) and Le et al. (2015): its
    free runs neither explode nor die out at the start of training, so loss gradients are informative.
    """

    kind = "PLRNN"
    _param_names = ("A", "W", "h", "B", "C")
    _input_param = "C"
    _input_rows = property(lambda self: self.n_latent)
    _kernels = _k_plrnn

    def _init_params(self, rng):
        M, N, K = self.n_latent, self.n_obs, self.n_inputs
        A = np.full(M, 0.9)
        W = rng.normal(0.0, 1.0 / np.sqrt(M), (M, M))
        np.fill_diagonal(W, 0.0)
        # shrink W geometrically until the linear part diag(A) + W has spectral radius <= 0.95
        while M > 1 and np.max(np.abs(np.linalg.eigvals(np.diag(A) + W))) > 0.95:
            W *= 0.9
        return {
            "A": A,
            "W": W,
            "h": np.zeros(M),
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
            "C": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (M, K)),
        }

    def _kernel_params(self):
        p = self._p
        return p["A"], p["W"], p["h"], self._input_matrix()

    def _loss_grad(self, X, S, alpha, mask, Zt):
        p = self._p
        A, W, h, B = p["A"], p["W"], p["h"], p["B"]
        C = self._input_matrix()
        nb, T1, N = X.shape
        M, K, T = self.n_latent, self.n_inputs, T1 - 1
        dt = self.dtype
        # time-major work arrays (reused between calls): every step is one (nb, M) x (M, M) product for the batch
        Z, RZ, ZF, GF, R, GZt = _workspace("PLRNN", dt, [(T1, nb, M), (T, nb, M), (T, nb, M), (T, nb, M),
                                                         (T, nb, N), (nb, T1, M)])
        scale = 2.0 / (nb * T * N)
        gA = np.zeros(M)
        gh = np.zeros(M)
        gW = np.empty((M, M), dt)
        gB = np.empty((N, M), dt)
        k, Wt, Ct = self._kernels, np.ascontiguousarray(W.T), np.ascontiguousarray(C.T)
        chunks = _sweep_chunks(nb, T, M)
        with _serial_blas():
            if chunks == 1:
                losses = k.forward(A, Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, RZ, ZF, R)
                k.backward(A, W, B, alpha, mask, Z, RZ, ZF, R, scale, GF, GZt, gA, gW, gh, gB)
            else:
                losses = k.forward_parallel(A, Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, RZ, ZF, R, chunks)
                k.backward_parallel(A, W, B, alpha, mask, Z, RZ, ZF, R, scale, GF, GZt, gA, gW, gh, gB, chunks)
        loss = float(losses.sum()) / (nb * T * N)
        grads = {"A": gA.astype(dt), "W": gW, "h": gh.astype(dt), "B": gB}
        if K:
            grads["C"] = GF.reshape(-1, M).T @ np.ascontiguousarray(S[:, 1:].transpose(1, 0, 2)).reshape(-1, K)
        return loss, grads, GZt


class TanhRNN(RNNModel):
    """Elman RNN with tanh: z_t = tanh(W z_{t-1} + h + C s_t), x_t = B z_t.

    Notes
    -----
    Initialisation: W ~ N(0, 1/M) rescaled to spectral radius 0.9 (edge-of-stability reservoirs train best on
    dynamical data and avoid saturated units at the start), h = 0, B ~ N(0, 1/M), C ~ N(0, 0.01/K).
    """

    kind = "TanhRNN"
    _param_names = ("W", "h", "B", "C")
    _input_param = "C"
    _input_rows = property(lambda self: self.n_latent)
    _kernels = _k_tanhrnn

    def _init_params(self, rng):
        M, N, K = self.n_latent, self.n_obs, self.n_inputs
        W = _spectral_scale(rng.normal(0.0, 1.0 / np.sqrt(M), (M, M)), 0.9)
        return {
            "W": W,
            "h": np.zeros(M),
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
            "C": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (M, K)),
        }

    def _kernel_params(self):
        p = self._p
        return p["W"], p["h"], self._input_matrix()

    def _loss_grad(self, X, S, alpha, mask, Zt):
        p = self._p
        W, h, B = p["W"], p["h"], p["B"]
        C = self._input_matrix()
        nb, T1, N = X.shape
        M, K, T = self.n_latent, self.n_inputs, T1 - 1
        dt = self.dtype
        # time-major work arrays (reused between calls): every step is one (nb, M) x (M, M) product for the batch
        Z, ZF, GP, R, GZt = _workspace("TanhRNN", dt, [(T1, nb, M), (T, nb, M), (T, nb, M), (T, nb, N), (nb, T1, M)])
        scale = 2.0 / (nb * T * N)
        gh = np.zeros(M)
        gW = np.empty((M, M), dt)
        gB = np.empty((N, M), dt)
        k, Wt, Ct = self._kernels, np.ascontiguousarray(W.T), np.ascontiguousarray(C.T)
        chunks = _sweep_chunks(nb, T, M)
        with _serial_blas():
            if chunks == 1:
                losses = k.forward(Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, ZF, R)
                k.backward(W, B, alpha, mask, Z, ZF, R, scale, GP, GZt, gW, gh, gB)
            else:
                losses = k.forward_parallel(Wt, h, Ct, B, X, S, alpha, mask, Zt, Z, ZF, R, chunks)
                k.backward_parallel(W, B, alpha, mask, Z, ZF, R, scale, GP, GZt, gW, gh, gB, chunks)
        loss = float(losses.sum()) / (nb * T * N)
        grads = {"W": gW, "h": gh.astype(dt), "B": gB}
        if K:
            grads["C"] = GP.reshape(-1, M).T @ np.ascontiguousarray(S[:, 1:].transpose(1, 0, 2)).reshape(-1, K)
        return loss, grads, GZt


def _gated_recurrent_init(rng, M, n_blocks, candidate):
    """W (n_blocks M, M): every block N(0, 1/M), the tanh candidate block rescaled to spectral radius 0.9."""
    W = rng.normal(0.0, 1.0 / np.sqrt(M), (n_blocks * M, M))
    rows = slice(candidate * M, (candidate + 1) * M)
    W[rows] = _spectral_scale(W[rows], 0.9)
    return W


def _gated_operands(W, U, N, n_gates):
    """Gradient buffers (gb float64 accumulator, gW, gB) and the weight layouts a gated model's kernels take: W in
    row blocks Wb, their transposes Wtb (one block, or one per gate at large M: ``_common.gate_blocks``) and U^T."""
    M = W.shape[1]
    nblk = _gate_blocks(M, n_gates)
    Wb = W.reshape(nblk, n_gates * M // nblk, M)
    return (np.zeros(n_gates * M), np.empty_like(W), np.empty((N, M), W.dtype), Wb,
            np.ascontiguousarray(Wb.transpose(0, 2, 1)), np.ascontiguousarray(U.T))


class LSTM(RNNModel):
    """Long short-term memory network (Hochreiter & Schmidhuber 1997, with forget gate), read out through h.

    State (h, c), gates a = W h + U s_t + b in block order i, f, g, o::

        c_t = σ(a_f) ⊙ c_{t-1} + σ(a_i) ⊙ tanh(a_g),   h_t = σ(a_o) ⊙ tanh(c_t),   x_t = B h_t

    Parameters
    ----------
    n_latent, n_obs, n_inputs : int
        M hidden units (the state has 2M entries, h and c), N observations, K >= 0 external inputs (U exists only
        when K > 0).
    dtype : np.float32 or np.float64
    rng : seed or Generator

    Notes
    -----
    Parameters: W (4M, M), U (4M, K), b (4M,), B (N, M), blocks in the order i, f, g, o.

    Forcing acts on h as on z in the other models and shrinks the cell state, c_t = (1 - α_t m) c_f,t; a window starts
    at h_0 = z~_0, c_0 = 0. :attr:`state_dim` is 2M: ``z0`` of :meth:`generate` and the states and Jacobians of the
    Lyapunov code are the concatenation (h, c), and the Jacobians are (2M, 2M). :meth:`generate` returns h.

    Initialisation: every gate block of W ~ N(0, 1/M), the candidate block g rescaled to spectral radius 0.9 (as
    the TanhRNN), forget-gate bias 1 and the other biases 0 (Gers et al. 2000; Jozefowicz et al. 2015: the cell
    keeps about 73 % of its content per step at the start, so gradients reach back over many steps), U ~ N(0, 0.01/K),
    B ~ N(0, 1/M). The free run is bounded for any parameters: |h| < 1 and |c_t| <= max(|c_0|, 1 / (1 - f_max)) with
    f_max < 1 the largest forget gate along the orbit.
    """

    kind = "LSTM"
    _param_names = ("W", "U", "b", "B")
    _input_param = "U"
    _input_rows = property(lambda self: 4 * self.n_latent)
    _kernels = _k_lstm

    @property
    def state_dim(self) -> int:
        """2M: the state is (h, c)."""
        return 2 * self.n_latent

    def _init_params(self, rng):
        M, N, K = self.n_latent, self.n_obs, self.n_inputs
        b = np.zeros(4 * M)
        b[M:2 * M] = 1.0
        return {
            "W": _gated_recurrent_init(rng, M, 4, candidate=2),
            "U": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (4 * M, K)),
            "b": b,
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
        }

    def _state_from_latent(self, z):
        return np.concatenate([z, np.zeros_like(z)])

    def _readout_state(self, states):
        return states[:, :self.n_latent]

    def _kernel_params(self):
        p = self._p
        return p["W"], self._input_matrix(), p["b"]

    def _loss_grad(self, X, S, alpha, mask, Zt):
        p = self._p
        W, b, B = p["W"], p["b"], p["B"]
        U = self._input_matrix()
        nb, T1, N = X.shape
        M, K, T = self.n_latent, self.n_inputs, T1 - 1
        dt = self.dtype
        # time-major work arrays (reused between calls): every step is one (nb, M) x (M, 4M) product for the batch
        H, C, HF, G, TC, R, GH, GZt = _workspace("LSTM", dt, [(T1, nb, M), (T1, nb, M), (T, nb, M), (4, T, nb, M),
                                                              (T, nb, M), (T, nb, N), (T, nb, M), (nb, T1, M)])
        scale = 2.0 / (nb * T * N)
        gb, gW, gB, Wb, Wtb, Ut = _gated_operands(W, U, N, 4)
        k = self._kernels
        with _serial_blas():
            losses = k.forward(Wtb, b, Ut, B, X, S, alpha, mask, Zt, H, C, HF, G, TC, R)
            k.backward(Wb, B, alpha, mask, H, C, HF, G, TC, R, scale, GH, GZt, gb, gB)
        _block_weight_grads(G.reshape(4, T * nb, M), H[:T].reshape(T * nb, M), gW)
        loss = float(losses.sum()) / (nb * T * N)
        grads = {"W": gW, "b": gb.astype(dt), "B": gB}
        if K:
            S2 = np.ascontiguousarray(S[:, 1:].transpose(1, 0, 2)).reshape(-1, K)
            grads["U"] = np.concatenate([G[j].reshape(-1, M).T @ S2 for j in range(4)])
        return loss, grads, GZt


class GRU(RNNModel):
    """Gated recurrent unit (Cho et al. 2014) in PyTorch's convention, one bias per block.

    Blocks r, u, n of W, U and b::

        r = σ(W_r z + U_r s + b_r),  u = σ(W_u z + U_u s + b_u),  n = tanh(U_n s + b_n + r ⊙ (W_n z))
        z_t = (1 - u) ⊙ n + u ⊙ z_{t-1},  x_t = B z_t

    Parameters
    ----------
    n_latent, n_obs, n_inputs : int
        M latent units, N observations, K >= 0 external inputs (U exists only when K > 0).
    dtype : np.float32 or np.float64
    rng : seed or Generator

    Notes
    -----
    Parameters: W (3M, M), U (3M, K), b (3M,), B (N, M), blocks in the order r, u, n.

    Initialisation: every block of W ~ N(0, 1/M), the candidate block n rescaled to spectral radius 0.9 (as the
    TanhRNN), update-gate bias 1 and the other biases 0 (the GRU's counterpart of the LSTM's forget-gate bias 1: a
    unit keeps about 73 % of its state per step at the start), U ~ N(0, 0.01/K), B ~ N(0, 1/M). The free run is
    bounded for any parameters: z_t is a convex combination of z_{t-1} and n in (-1, 1), so
    |z_t| <= max(|z_0|, 1) entrywise.
    """

    kind = "GRU"
    _param_names = ("W", "U", "b", "B")
    _input_param = "U"
    _input_rows = property(lambda self: 3 * self.n_latent)
    _kernels = _k_gru

    def _init_params(self, rng):
        M, N, K = self.n_latent, self.n_obs, self.n_inputs
        b = np.zeros(3 * M)
        b[M:2 * M] = 1.0
        return {
            "W": _gated_recurrent_init(rng, M, 3, candidate=2),
            "U": rng.normal(0.0, 0.1 / np.sqrt(max(K, 1)), (3 * M, K)),
            "b": b,
            "B": rng.normal(0.0, 1.0 / np.sqrt(M), (N, M)),
        }

    def _kernel_params(self):
        p = self._p
        return p["W"], self._input_matrix(), p["b"]

    def _loss_grad(self, X, S, alpha, mask, Zt):
        p = self._p
        W, b, B = p["W"], p["b"], p["B"]
        U = self._input_matrix()
        nb, T1, N = X.shape
        M, K, T = self.n_latent, self.n_inputs, T1 - 1
        dt = self.dtype
        # time-major work arrays (reused between calls): every step is one (nb, M) x (M, 3M) product for the batch
        Z, ZF, G, Q, R, GF, GZt = _workspace("GRU", dt, [(T1, nb, M), (T, nb, M), (3, T, nb, M), (T, nb, M),
                                                         (T, nb, N), (T, nb, M), (nb, T1, M)])
        scale = 2.0 / (nb * T * N)
        gb, gW, gB, Wb, Wtb, Ut = _gated_operands(W, U, N, 3)
        k = self._kernels
        with _serial_blas():
            losses = k.forward(Wtb, b, Ut, B, X, S, alpha, mask, Zt, Z, ZF, G, Q, R)
            k.backward(Wb, B, alpha, mask, Z, ZF, G, Q, R, scale, GF, GZt, gb, gB)
        _block_weight_grads(G.reshape(3, T * nb, M), Z[:T].reshape(T * nb, M), gW)
        loss = float(losses.sum()) / (nb * T * N)
        grads = {"W": gW, "b": gb.astype(dt), "B": gB}
        if K:
            S2 = np.ascontiguousarray(S[:, 1:].transpose(1, 0, 2)).reshape(-1, K)
            grads["U"] = np.concatenate([G[0].reshape(-1, M).T @ S2, G[1].reshape(-1, M).T @ S2,
                                         Q.reshape(-1, M).T @ S2])
        return loss, grads, GZt


MODELS = {cls.kind: cls for cls in (PLRNN, TanhRNN, LSTM, GRU)}
