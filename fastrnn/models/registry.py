"""The model registry: every model kind, its class, and the names and aliases users may call it by."""
from __future__ import annotations

from .gru import GRU
from .lstm import LSTM
from .plrnn import PLRNN
from .shplrnn import ShPLRNN
from .tanhrnn import TanhRNN

#: Model kind -> class, in the order the library lists them.
MODELS = {cls.kind: cls for cls in (PLRNN, TanhRNN, LSTM, GRU, ShPLRNN)}

#: Lower-case names and aliases -> model kind.
ALIASES = {"plrnn": "PLRNN", "tanhrnn": "TanhRNN", "tanh": "TanhRNN", "rnn": "TanhRNN", "lstm": "LSTM", "gru": "GRU",
           "shplrnn": "ShPLRNN", "shallow-plrnn": "ShPLRNN"}


def model_kind(name) -> str:
    """Canonical model kind ("PLRNN", "TanhRNN", "LSTM", "GRU", "ShPLRNN") for a case-insensitive name or alias.

    Parameters
    ----------
    name : str
        A kind or alias (see :data:`ALIASES`), any case, surrounding white space ignored.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if isinstance(name, str):
        kind = ALIASES.get(name.strip().lower())
        if kind is not None:
            return kind
    raise ValueError(f"unknown model {name!r}; choose one of PLRNN, TanhRNN, LSTM, GRU, ShPLRNN")


def model_class(name) -> type:
    """The model class (a subclass of :class:`~fastrnn.models.RNNModel`) for a name or alias (:func:`model_kind`)."""
    return MODELS[model_kind(name)]
