"""The ``fastrnn`` command line's shared option groups and argument types (argparse only; the commands are in
:mod:`fastrnn.cli`).

The training options (model size and budget), the preprocessing options (``--detrend``, ``--cycle``, ``--denoise``;
the same for ``fastrnn lyapunov``, ``train`` and ``demo``) and the observation options (``--column``, ``--embed``)
are defined here once, with the argument types that turn a word into a model kind, a baseline or a list.
"""
from __future__ import annotations

import argparse

__all__ = ["add_column_option", "add_observation_options", "add_preprocessing_options", "add_training_options",
           "baseline_name", "int_list", "model_name", "name_list"]


def model_name(text):
    from .models import model_kind
    try:
        return model_kind(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def baseline_name(text):
    from .experiments.spec import parse_baseline
    try:
        return parse_baseline(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def int_list(text):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def name_list(text):
    """A comma-separated list of names (argparse type)."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return tuple(names)


def add_training_options(p, *, defaults, note="(default %(default)s)"):
    g = p.add_argument_group("training")
    g.add_argument("--n-latent", type=int, default=defaults.get("n_latent"), metavar="M",
                   help=f"latent units M {note if defaults.get('n_latent') is None else '(default %(default)s)'}")
    g.add_argument("--seq-len", type=int, default=defaults.get("seq_len"), metavar="T",
                   help="window length in steps (default %(default)s)")
    g.add_argument("--batch-size", type=int, default=defaults.get("batch_size"), help="windows per batch "
                   "(default %(default)s)")
    g.add_argument("--batches-per-epoch", type=int, default=defaults.get("batches_per_epoch"),
                   help="(default %(default)s)")
    g.add_argument("--epochs", type=int, default=defaults.get("n_epochs"), help=f"epochs {note}")
    g.add_argument("--lr", type=float, default=defaults.get("lr"), help=f"initial Adam step size {note}")
    g.add_argument("--lr-end", type=float, default=defaults.get("lr_end"),
                   help="decay the step size geometrically to this value over training (default: constant)")
    g.add_argument("--dtype", choices=("float32", "float64"), default=defaults.get("dtype", "float64"),
                   help="model precision (default %(default)s; float32 trains the tanh RNN, LSTM and GRU 2-4x "
                        "faster)")


def add_preprocessing_options(p, before):
    """The preprocessing group (fastrnn.preprocessing), shared by lyapunov, train and demo."""
    g = p.add_argument_group(f"preprocessing of data, applied in this order {before} (fastrnn.preprocessing)")
    g.add_argument("--detrend", choices=("linear", "polynomial", "moving_average"), default=None,
                   help="remove a trend: a straight line, a polynomial (--detrend-order) or a centred moving average "
                   "(--detrend-window)")
    g.add_argument("--detrend-order", type=int, default=2, metavar="K", help="polynomial degree (default 2)")
    g.add_argument("--detrend-window", type=int, default=None, metavar="W", help="moving-average window (samples)")
    g.add_argument("--cycle", type=float, default=None, metavar="P",
                   help="remove the mean cycle of period P samples (e.g. 365.25 for a yearly cycle in daily data)")
    g.add_argument("--denoise", choices=("schreiber", "projective"), default=None,
                   help="nonlinear noise reduction: Schreiber's locally constant or the locally projective method")
    g.add_argument("--denoise-dim", type=int, default=None, metavar="M", help="embedding dimension (default 7)")
    g.add_argument("--denoise-lag", type=int, default=None, metavar="L", help="embedding lag in samples (default 1)")
    g.add_argument("--denoise-radius", type=float, default=None, metavar="R",
                   help="neighbourhood radius in the data's units (default: from the estimated noise level)")
    g.add_argument("--denoise-q", type=int, default=None, metavar="Q", help="projective: manifold dimension "
                   "(default 2)")
    g.add_argument("--denoise-iter", dest="denoise_n_iter", type=int, default=None, metavar="N",
                   help="iterations (default 3 schreiber, 4 projective)")
    return g


def add_column_option(p, help_text):
    """``--column C[,C...]`` (also ``--columns``): 0-based columns of a data file, as ``args.column``."""
    p.add_argument("--column", "--columns", dest="column", type=int_list, default=None, metavar="C[,C...]",
                   help=help_text)


def add_observation_options(p, *, embed_default, embed_note="(default %(default)s)"):
    """The observation pipeline (fastrnn.observation) of train and demo: columns, preprocessing, embedding."""
    g = add_preprocessing_options(p, "after choosing the columns, then z-score and delay embedding")
    add_column_option(g, "columns of the data file used, 0-based (default: all)")
    g.add_argument("--embed", default=embed_default, metavar="auto|M,LAG|none",
                   help="delay embedding as the model's observation space: M delays of LAG samples, 'auto' (lag "
                   "from the mutual information, dimension by Cao's rule, recorded resolved) or 'none' "
                   f"{embed_note}; it shortens each series or segment by (M - 1) * LAG samples")

