"""Results do not depend on the process's history: a process that compiles the Numba kernels and a process that
loads the very same kernels from Numba's on-disk cache compute the same bits (training steps and free runs).

A resumed checkpoint, a Dask worker and a rerun of the demo all load cached kernels, so an uninterrupted run and a
resumed one agree only if this holds.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import fastrnn as fr

    kind, out = sys.argv[1], sys.argv[2]
    x = fr.systems.lorenz(3000, rng=0, standardize=True)
    res = {}
    for dtype in (np.float32, np.float64):
        m = getattr(fr, kind)(50, 3, dtype=dtype, rng=0)    # the demo's size (the PLRNN agrees at M = 12)
        opt = fr.Adam(m.params, lr=1e-2)
        rng = np.random.default_rng(1)
        for _ in range(3):
            st = rng.integers(0, 2000, 4)
            loss, g = fr.loss_and_grad(m, np.stack([x[s:s + 301] for s in st]), fr.forcing.interval(300, 25))
            opt.step(g)
        name = np.dtype(dtype).name
        res[name + "_loss"] = np.array(loss)
        for k, v in g.items():
            res[f"{name}_{k}"] = v
        res[name + "_gen"] = m.generate(200, x0=x[0])[0]
    np.savez(out, **res)
""")


def _run(kind, cache_dir, out):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), NUMBA_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", SCRIPT, kind, str(out)], env=env, check=True, timeout=600)
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["PLRNN", "TanhRNN", "LSTM", "GRU"])
def test_compiled_and_cached_kernels_compute_the_same_bits(kind, tmp_path):
    cache = tmp_path / "numba-cache"                      # empty: the first process compiles and writes the cache
    fresh = _run(kind, cache, tmp_path / "fresh.npz")
    assert os.listdir(cache)                              # the second process loads what the first one wrote
    cached = _run(kind, cache, tmp_path / "cached.npz")
    differ = sorted(k for k in fresh if not np.array_equal(fresh[k], cached[k]))
    assert differ == []
