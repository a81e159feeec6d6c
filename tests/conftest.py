import numpy as np
import pytest

import fastrnn as fr

MODEL_KINDS = ["PLRNN", "TanhRNN", "LSTM", "GRU"]


def make_model(kind, M, N, K, dtype=np.float64, seed=0, scale=1.0):
    """A random model with moderately large parameters so that every term of the gradient matters.

    B is redrawn until cond(B) <= 20: an ill-conditioned B makes z~ = pinv(B) x huge, far outside the range the
    states live in ((-1, 1) for the tanh and gated models), where central differences lose their digits.
    """
    model = getattr(fr, kind)(M, N, K, dtype=dtype, rng=seed)
    rng = np.random.default_rng(seed + 100)
    for name, v in model.params.items():
        if name == "A":
            v[...] = rng.uniform(0.3, 0.95, v.shape)
        elif name == "B":
            v[...] = rng.normal(0, 1.0, v.shape)
            while np.linalg.cond(v) > 20.0:
                v[...] = rng.normal(0, 1.0, v.shape)
        else:
            v[...] = rng.normal(0, scale / np.sqrt(max(v.shape[-1], 1)), v.shape)
    if "A" in model.params:
        np.fill_diagonal(model.params["W"], 0.0)
    return model


@pytest.fixture(params=MODEL_KINDS)
def kind(request):
    return request.param


def run_cli(argv, capsys):
    """``fastrnn.cli.main(argv)`` -> (exit status, stdout, stderr lines); argparse's SystemExit counts as an exit
    status."""
    from fastrnn.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()]
