"""Provoke the open CUDA-simulator race: run loss_and_grad on the simulated GPU with a 1 us GIL switch interval and
compare with the CPU kernels. Run: NUMBA_ENABLE_CUDASIM=1 python benchmarks/cuda_sim_stress.py GRU LSTM PLRNN TanhRNN

Prints, per model, the outputs that differed from the CPU in any of 6 repeats (an empty list: none). With the default
interval the same comparison fails only now and then (tests/test_cuda.py runs with a long interval, see there).
"""
import os
import sys

sys.setswitchinterval(1e-6)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import numpy as np  # noqa: E402

import fastrnn as fr  # noqa: E402
from conftest import make_model  # noqa: E402
from fastrnn import forcing  # noqa: E402

T, NB, M, N = 8, 5, 3, 2
X = np.random.default_rng(2).normal(size=(NB, T + 1, N))
alpha, mask = forcing.interval(T, 3), np.array([True, False, True])
for kind in sys.argv[1:] or ["GRU", "LSTM", "PLRNN", "TanhRNN"]:
    model = make_model(kind, M, N, 0, seed=1)
    lc, gc = fr.loss_and_grad(model, X, alpha, unit_mask=mask)
    bad = set()
    for _ in range(6):
        lg, gg = fr.loss_and_grad(model, X, alpha, unit_mask=mask, device="cuda")
        if not np.isclose(lg, lc, rtol=1e-10):
            bad.add("loss")
        bad |= {k for k in gc if not np.allclose(gg[k], gc[k], rtol=1e-10, atol=1e-12)}
    print(kind, "differs from the CPU in:", sorted(bad))
