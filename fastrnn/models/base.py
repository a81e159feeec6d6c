"""The base class of every model: parameters, copies, free running, Jacobians, the training kernels, save/load.

A model holds plain NumPy arrays and names its kernel module (:mod:`fastrnn.kernels.plrnn`, ...), the one definition
of its step: training (:meth:`RNNModel.loss_grad`), :meth:`RNNModel.generate`, :meth:`RNNModel.jacobians` and the
Lyapunov spectra all call it.
"""
from __future__ import annotations

import json

import numpy as np

from .. import forcing, io, validation
from ..kernels import host
from .orbit import MAX_NORM, check_orbit, first_diverged_row

_FORMAT_VERSION = 1
#: The observation models: "learned" (x = B z, B trained, forcing through pinv(B) on every unit) and "identity"
#: (x = z[:N], B = [I 0] fixed, forcing on the first N units; :class:`RNNModel`).
OBSERVATIONS = ("learned", "identity")


def spectral_scale(W, target):
    """W scaled so that its spectral radius is ``target`` (W unchanged if its spectral radius is 0)."""
    rho = np.max(np.abs(np.linalg.eigvals(W)))
    return W * (target / rho) if rho > 0 else W


def gated_recurrent_init(rng, M, n_blocks, candidate):
    """W (n_blocks M, M) of a gated model: every block N(0, 1/M), the tanh candidate block ``candidate`` rescaled to
    spectral radius 0.9."""
    W = rng.normal(0.0, 1.0 / np.sqrt(M), (n_blocks * M, M))
    rows = slice(candidate * M, (candidate + 1) * M)
    W[rows] = spectral_scale(W[rows], 0.9)
    return W


class RNNModel:
    """Base class of the recurrent models (DESIGN §1): M latent units, N observations, K >= 0 inputs, x = B z.

    Subclasses set ``kind``, ``kernel`` (their kernel module: step, Jacobian, free run, sweeps and host glue) and
    ``input_param`` (the name of the input weights, C or U), and define ``_init_params(rng)``.

    Parameters
    ----------
    n_latent : int
        M, latent units (>= 1).
    n_obs : int
        N, observed dimensions (>= 1).
    n_inputs : int
        K, external inputs (>= 0); the input weights exist only when K > 0.
    dtype : np.float32 or np.float64
        Precision of the parameters and of every computation with them.
    rng : seed or Generator, optional
        Drives the initialisation (SPEC 7).
    observation : {"learned", "identity"}
        The observation model (see :data:`OBSERVATIONS`). "learned" (default): x = B z with B trained and the control
        signal z~ = pinv(B) x acting on every unit. "identity" (the setting of generalised teacher forcing, Hess et
        al. 2023): x = z[:N], B = [I 0] fixed (its gradient is 0, :attr:`frozen_entries`), the control matrix
        P = [I 0]^T (z~ = (x, 0)) and forcing acting on the first N units only (partial forcing; the other M - N
        units evolve freely). Needs N <= M; the LSTM's "first N units" are the first N entries of h (the read-out),
        whose cells c are scaled by (1 - alpha) as with the learned observation; the other units of h and c run free.
    """

    kind = "RNNModel"
    kernel = None
    input_param = ""
    observation = "learned"

    def __init__(self, n_latent, n_obs, n_inputs=0, *, dtype=np.float64, rng=None, observation="learned"):
        self.n_latent = validation.check_int(n_latent, "n_latent", minimum=1)
        self.n_obs = validation.check_int(n_obs, "n_obs", minimum=1)
        self.n_inputs = validation.check_int(n_inputs, "n_inputs", minimum=0)
        self.dtype = validation.check_dtype(dtype)
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(map(repr, OBSERVATIONS))}, got {observation!r}")
        if observation == "identity" and self.n_obs > self.n_latent:
            raise ValueError(f"observation='identity' reads x = z[:N] and needs n_obs <= n_latent, got n_obs="
                             f"{self.n_obs} > n_latent={self.n_latent}; use more latent units or the learned B")
        self.observation = observation
        rng = validation.check_rng(rng)
        self._p = {k: np.ascontiguousarray(v, dtype=self.dtype) for k, v in self._init_params(rng).items()}
        if self.n_inputs == 0:
            self._p.pop(self.input_param, None)
        if observation == "identity":
            self._p["B"][...] = np.eye(self.n_obs, self.n_latent)

    def _init_params(self, rng):
        """The initial parameter arrays by name (float64); every model class defines it."""
        raise TypeError(f"{type(self).__name__} defines no _init_params(); build a concrete model (PLRNN, TanhRNN, "
                        f"LSTM, GRU) or subclass RNNModel and define it")

    # ---------------------------------------------------------------- parameters
    @property
    def params(self) -> dict:
        """The live parameter arrays by name (write into them in place to change the model)."""
        return {k: self._p[k] for k in self.param_names}

    @property
    def param_names(self) -> tuple:
        """Names of the parameters, in the kernel module's order (the input weights only when K > 0)."""
        return tuple(k for k in self.kernel.PARAMS if k in self._p)

    @property
    def hyperparams(self) -> dict:
        """The constructor's keyword arguments beyond the sizes and dtype (``observation`` when it is not the
        default; the ShPLRNN also ``n_hidden`` and ``clipped``): saved with the model and passed back by
        :func:`load`."""
        return {} if self.observation == "learned" else {"observation": self.observation}

    @property
    def frozen_entries(self) -> dict:
        """Boolean masks, by parameter name, of the entries training never changes (their gradient is 0 by
        definition): all of B with ``observation="identity"``, none otherwise; the PLRNN also the diagonal of W.
        Used by :func:`fastrnn.testing.gradcheck`."""
        return {"B": np.ones((self.n_obs, self.n_latent), dtype=bool)} if self.observation == "identity" else {}

    def control_matrix(self, ridge=0.0) -> np.ndarray:
        """The control matrix P (M, N) float64 of z~ = P x: pinv(B) (ridge > 0: the ridge inverse,
        :func:`fastrnn.forcing.control_matrix`) for the learned observation, [I 0]^T for the identity observation
        (``ridge`` unused)."""
        if self.observation == "identity":
            return np.eye(self.n_latent, self.n_obs)
        return forcing.control_matrix(self._p["B"].astype(np.float64), ridge)

    def forced_units(self):
        """The units forcing may act on, as a boolean mask (M,): the first N with ``observation="identity"``;
        None (every unit) for the learned observation."""
        if self.observation == "learned":
            return None
        return np.arange(self.n_latent) < self.n_obs

    @property
    def state_dim(self) -> int:
        """Dimension D of the state the map acts on (M here; 2M for the LSTM's (h, c))."""
        return self.n_latent

    @property
    def n_params(self) -> int:
        """Total number of parameter entries."""
        return int(sum(v.size for v in self._p.values()))

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

    # ---------------------------------------------------------------- states
    def state_from_latent(self, z):
        """The full state for a latent vector z (M,): z itself (the LSTM: (h, c) = (z, 0))."""
        return z

    def readout_state(self, states):
        """The latent part of states (..., D) that the observations read (z itself; the LSTM: h)."""
        return states

    def initial_state(self, x0=None, z0=None, rng=None) -> np.ndarray:
        """The initial state of a free run, as float64 (D,).

        Parameters
        ----------
        x0 : array (N,), optional
            An observation: the latent state is the control signal z~_0 = P x0 with P = pinv(B), computed as in
            training (:func:`fastrnn.kernels.host.control_rows`: x0 and P in the model's dtype), so that a free run
            from x0 starts on the same bits as a training window starting at x0 (the LSTM: h = z~_0, c = 0).
        z0 : array (D,), optional
            The state itself (the LSTM: the concatenation (h, c)).
        rng : seed or Generator, optional
            If neither x0 nor z0 is given, the latent state is drawn standard normal from ``rng``.

        Returns
        -------
        ndarray (D,) float64
        """
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
            try:
                P = self.control_matrix()
            except ValueError:          # rank-deficient B: training refuses it, a free run takes the pseudo-inverse
                P = np.linalg.pinv(self._p["B"].astype(np.float64))
            z = host.control_rows(x.astype(self.dtype)[None], P)[0].astype(np.float64)
            return self.state_from_latent(z)
        return self.state_from_latent(validation.check_rng(rng).standard_normal(self.n_latent))

    def _check_inputs_series(self, inputs, n_rows, name="inputs"):
        if self.n_inputs == 0:
            if inputs is not None and np.size(inputs) > 0:
                raise ValueError(f"{name} were given but the model has n_inputs=0; build the model with "
                                 f"n_inputs={np.shape(inputs)[-1]} or drop {name}")
            return np.zeros((n_rows, 0), dtype=self.dtype)
        if inputs is None:
            raise ValueError(f"the model has n_inputs={self.n_inputs}: pass {name} of shape "
                             f"({n_rows}, {self.n_inputs})")
        s = validation.as_float_array(inputs, name, self.dtype, ndim=2)
        if s.shape != (n_rows, self.n_inputs):
            raise ValueError(f"{name} must have shape ({n_rows}, {self.n_inputs}), got {s.shape}")
        return s

    def _check_state(self, state):
        z = validation.as_float_array(state, "state", np.float64, ndim=1, allow_nonfinite=True)
        if z.shape != (self.state_dim,):
            raise ValueError(f"state must have shape ({self.state_dim},), got {z.shape}")
        return z.astype(self.dtype)

    # ---------------------------------------------------------------- free running
    def run(self, state, n_steps, inputs=None):
        """Free run of the full state.

        Parameters
        ----------
        state : array (D,)
            Initial state (cast to the model's dtype).
        n_steps : int
            Number of steps.
        inputs : array (n_steps, K), optional
            ``inputs[k]`` drives the step from state k to state k + 1 (required when K > 0).

        Returns
        -------
        ndarray (n_steps + 1, D)
            The states in the model's dtype, row 0 the initial one.
        """
        n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
        S = self._check_inputs_series(inputs, n_steps)
        return self.kernel.free_run(self.params, self._check_state(state), S)

    def step(self, state, s=None):
        """One free step F(state, s) through the kernels (the step that training, generation and the Jacobians use).

        Parameters
        ----------
        state : array (D,)
        s : array (K,), optional
            The input of the step (required when K > 0).

        Returns
        -------
        ndarray (D,)
            The next state, in the model's dtype.
        """
        S = None if s is None else np.reshape(s, (1, -1))
        return self.run(state, 1, S)[1]

    def generate(self, n_steps, x0=None, z0=None, inputs=None, rng=None, *, on_divergence="raise", max_norm=MAX_NORM):
        """Run the model freely.

        Parameters
        ----------
        n_steps : int
            Number of rows returned (row 0 is the initial state, row t the state after t steps).
        x0 : array (N,), optional
            Initial observation; the initial latent state is z~_0 = pinv(B) x0, as in training
            (:meth:`initial_state`).
        z0 : array (state_dim,), optional
            Initial latent state (for the LSTM, the concatenated (h, c)). If neither x0 nor z0 is given, a standard
            normal latent state drawn from ``rng`` is used.
        inputs : array (n_steps, K), optional
            External inputs, required when K > 0; row t drives the step into row t (row 0 is unused), as in training.
        rng : seed or Generator, optional
        on_divergence : {"raise", "truncate"}
            What happens when the orbit leaves the finite numbers or a state exceeds ``max_norm``: "raise" (default)
            raises :class:`fastrnn.OrbitDivergedError` naming the first bad step (its ``step`` attribute);
            "truncate" returns the rows before it, so ``len(X) < n_steps`` flags the divergence. Either way no inf or
            NaN is returned and no overflow warning is issued.
        max_norm : float
            Bound on |z_i| beyond which a state counts as diverged (default 1e8; states of trained models are of
            order one).

        Returns
        -------
        X : ndarray (n_steps, N)
            Observations B z_t (fewer rows after a divergence with ``on_divergence="truncate"``).
        Z : ndarray (n_steps, M)
            Latent states (for the LSTM, h).

        Raises
        ------
        OrbitDivergedError
            With ``on_divergence="raise"``, if the orbit diverges.
        """
        n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
        if on_divergence not in ("raise", "truncate"):
            raise ValueError(f"on_divergence must be 'raise' or 'truncate', got {on_divergence!r}")
        if not (isinstance(max_norm, (int, float, np.floating)) and max_norm > 0):   # inf allowed: only non-finite
            raise ValueError(f"max_norm must be a positive number (inf: stop only at inf/NaN), got {max_norm!r}")
        S = self._check_inputs_series(inputs, n_steps)
        state = self.initial_state(x0, z0, rng).astype(self.dtype)
        states = self.kernel.free_run(self.params, state, np.ascontiguousarray(S[1:]))
        if on_divergence == "raise":
            check_orbit(states, 0, max_norm)
        else:
            row = first_diverged_row(states, max_norm)
            states = states if row is None else states[:row]
        Z = self.readout_state(states)
        return Z @ self._p["B"].T, Z

    def jacobians(self, state, n_steps, inputs=None):
        """Jacobians of the free step along a free orbit (what :func:`fastrnn.lyapunov_spectrum` multiplies).

        Parameters
        ----------
        state : array (D,)
            The orbit's first state (cast to the model's dtype; the LSTM: (h, c)).
        n_steps : int
            Number of steps (and of Jacobians).
        inputs : array (n_steps, K), optional
            ``inputs[k]`` drives the step z_k -> z_{k+1} (required when K > 0).

        Returns
        -------
        J : ndarray (n_steps, D, D) float64
            J[k] = dF/dz at z_k, computed in the model's dtype.
        states : ndarray (n_steps + 1, D) float64
            The orbit z_0 = state, z_1, ..., z_n: the states of :meth:`run` from the same state.
        """
        n_steps = validation.check_int(n_steps, "n_steps", minimum=1)
        S = self._check_inputs_series(inputs, n_steps)
        Z, J = self.kernel.free_run(self.params, self._check_state(state), S, with_jacobians=True)
        return J.astype(np.float64, copy=False), Z.astype(np.float64, copy=False)

    def step_jacobians(self, states, inputs=None):
        """Jacobians of the free step at given states (not along an orbit): J[r] = dF/dz at ``states[r]``.

        Parameters
        ----------
        states : array (R, D)
            States (the LSTM: (h, c)), cast to the model's dtype.
        inputs : array (R, K), optional
            ``inputs[r]`` drives the step from ``states[r]`` (required when K > 0).

        Returns
        -------
        ndarray (R, D, D) float64
            Computed in the model's dtype by the kernel module's ``state_jacobians`` (one call for all rows), with
            the Jacobian of its free run (:meth:`jacobians`), equal to rounding.
        """
        Z = validation.as_float_array(states, "states", self.dtype, ndim=2)
        if Z.shape[1] != self.state_dim:
            raise ValueError(f"states must have shape (R, {self.state_dim}), got {Z.shape}")
        S = self._check_inputs_series(inputs, Z.shape[0])
        J = self.kernel.state_jacobians(self.params, np.ascontiguousarray(Z), np.ascontiguousarray(S))
        return J.astype(np.float64, copy=False)

    # ---------------------------------------------------------------- training kernels
    def loss_grad(self, X, S, alpha, mask, P, control_grad=True, session=None, cut=None):
        """Loss and gradients of sparsely forced BPTT on a validated batch: one call of the model's kernels.

        Parameters
        ----------
        X : ndarray (nb, T+1, N)
            Observation windows in the model's dtype, C-contiguous (device arrays with ``session``).
        S : ndarray (nb, T+1, K)
            Inputs aligned with X (K may be 0).
        alpha : ndarray (nb, T+1)
            Forcing weights in the model's dtype.
        mask : ndarray (M,)
            Unit mask (1 where forcing acts), in the model's dtype.
        P : ndarray (M, N)
            Control matrix (z~ = P x), float64 (see :func:`fastrnn.forcing.control_matrix`).
        control_grad : bool
            Also return dL/dP.
        session : fastrnn.kernels.cuda.driver.Session, optional
            Run the CUDA twin of the kernels in this session instead of the CPU kernels.
        cut : ndarray (nb, T+1), optional
            Gradient cuts of truncated BPTT: where 1, dL/dz_t is not passed back to z_{t-1} (cut steps unforced,
            ``mask`` all ones; see :func:`fastrnn.kernels.host.backward_alpha`).

        Returns
        -------
        loss : float
            Mean squared free-state prediction error (DESIGN §1).
        grads : dict of str -> ndarray
            dL/dparameter for every parameter (the path through P into B excluded).
        G : ndarray (M, N) float64 or None
            dL/dP, or None if ``control_grad`` is False.
        """
        if session is not None:
            return session.loss_grad(self.kind, self.params, X, S, alpha, mask, P, control_grad, cut=cut)
        return self.kernel.loss_grad(self.params, X, S, alpha, mask, P, control_grad, cut=cut)

    # ---------------------------------------------------------------- persistence
    def save(self, path):
        """Save to an ``.npz`` file (written atomically; no pickling). Load with :func:`fastrnn.load`."""
        meta = {
            "__kind__": np.array(self.kind),
            "__dtype__": np.array(self.dtype.name),
            "__shape__": np.array([self.n_latent, self.n_obs, self.n_inputs], dtype=np.int64),
            "__format__": np.array(_FORMAT_VERSION, dtype=np.int64),
        }
        if self.hyperparams:
            meta["__hyper__"] = np.array(json.dumps(self.hyperparams, sort_keys=True))
        io.atomic_write(path, lambda fh: np.savez(fh, **meta, **self._p))


def load(path) -> RNNModel:
    """Load a model saved with ``model.save(path)``; the round trip is exact (kind, shapes, dtype, values).

    Parameters
    ----------
    path : str or path
        An ``.npz`` file written by :meth:`RNNModel.save`.

    Returns
    -------
    RNNModel
        A PLRNN, TanhRNN, LSTM, GRU or ShPLRNN (with its ``n_hidden`` and ``clipped``).

    Raises
    ------
    ValueError
        If the file is no fastrnn model file, holds an unknown kind or lacks or mis-shapes a parameter.
    """
    import os

    from .registry import MODELS

    with np.load(os.fspath(path), allow_pickle=False) as f:
        keys = set(f.files)
        for k in ("__kind__", "__dtype__", "__shape__"):
            if k not in keys:
                raise ValueError(f"{path} is not a fastrnn model file (missing {k}); save models with model.save(path)")
        kind = str(f["__kind__"])
        if kind not in MODELS:
            raise ValueError(f"{path} holds an unknown model kind {kind!r}; known kinds: {sorted(MODELS)}")
        M, N, K = (int(v) for v in f["__shape__"])
        hyper = json.loads(str(f["__hyper__"])) if "__hyper__" in keys else {}
        model = MODELS[kind](M, N, K, dtype=str(f["__dtype__"]), rng=0, **hyper)
        for name in model.param_names:
            if name not in keys:
                raise ValueError(f"{path} lacks parameter {name!r} of a {kind}")
            arr = f[name]
            if arr.shape != model._p[name].shape or arr.dtype != model.dtype:
                raise ValueError(f"{path}: parameter {name} has shape {arr.shape} and dtype {arr.dtype}, expected "
                                 f"{model._p[name].shape} and {model.dtype}")
            model._p[name][...] = arr
    return model
