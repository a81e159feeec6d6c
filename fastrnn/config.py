"""Tunables of the kernels: one home for every threshold, flag set and launch size (DESIGN §2).

This module imports nothing from fastrnn. The Numba kernels read these values when they compile: Numba's on-disk
cache (``fastrnn/kernels/__pycache__``) does not notice an edit here, so clear it after changing a value marked
*compiled*. The others are read at call time and can be changed (or monkeypatched) at run time.
"""

# ---------------------------------------------------------------- Numba
#: Numba fastmath flags of the CPU kernels (compiled): reassociation and contraction only, so NaN/inf semantics are
#: kept and a diverging model yields a non-finite loss that the training loop detects.
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}

# ---------------------------------------------------------------- BLAS (CPU)
#: Multiply-adds (m n k) up to which OpenBLAS stays on one thread (compiled); gradient GEMMs are cut into row chunks
#: under it, because spread over threads the mid-sized products of a step lose more to waking workers than they gain.
BLAS_SERIAL_MNK = 4 * 65536
#: Output entries (m n) from which a gradient GEMM is one BLAS call on BLAS's threads (compiled): M >= 128 gains.
BLAS_THREADED_OUTPUT = 128 * 128
#: Multiply-adds (m n k) up to which OpenBLAS multiplies with its direct small-matrix kernel (compiled, and read at
#: call time by ``gate_blocks``); a step product above it is split into row blocks under it.
BLAS_SMALL_MNK = 786432
#: Multiply-adds below which a step product is a plain loop instead of a BLAS call (compiled).
LOOP_MNK = 8192

# ---------------------------------------------------------------- threads (CPU)
#: Multiply-adds per sweep (batch x T x M^2) below which a sweep runs on one thread (call time).
PARALLEL_MIN_WORK = 250_000_000
#: Multiply-adds per forward sweep (batch x T x M x H) from which the shPLRNN sweeps its windows in groups, on separate
#: threads when cores are idle (:func:`fastrnn.kernels.host.window_groups`; call time). On 2 idle cores the groups
#: were 1.2-1.8x faster from 4e4 multiply-adds (M = 3, H = 16, batch 16, T = 50) to 5e7 (M = 32, H = 512).
SPLIT_MIN_WORK = 100_000
#: Multiply-adds from which a gated model's weight-gradient products run on BLAS's threads when cores are idle
#: (call time).
THREADED_GEMM_MIN = 50_000_000

# ---------------------------------------------------------------- memory (CPU)
#: Bytes of work arrays (per model kind and thread) kept between kernel calls; larger sets are freed (call time).
WORKSPACE_MAX_BYTES = 64 * 2 ** 20

# ---------------------------------------------------------------- CUDA launch geometry
#: Threads per block of the recurrent CUDA kernels, at most (threads; also the length of their loss-reduction buffer,
#: compiled).
CUDA_MAX_THREADS = 256
#: Launch geometry on a GPU: ``warp`` (threads, block sizes are multiples of it), ``max_threads`` (threads per
#: recurrent block), ``tile`` (rows/columns of a product tile), ``threads_1d`` (threads per block of the 1-D kernels),
#: ``target_blocks`` (blocks a reduction aims to launch), ``max_chunks`` (row chunks per reduction, at most).
CUDA_GPU_LAUNCH = dict(warp=32, max_threads=CUDA_MAX_THREADS, tile=16, threads_1d=256, target_blocks=1024,
                       max_chunks=4096)
#: Launch geometry under Numba's CUDA simulator (same keys): one thread per block. The simulator checks the kernels'
#: arithmetic against the CPU; with several threads per block its Python-thread barriers gave wrong results now and
#: then (gradients off by up to 50 %; every time with a 1 us GIL switch interval: benchmarks/cuda_sim_stress.py), in
#: the code before the restructuring too -- NVIDIA/numba-cuda#690 fixed one such simulator race in 2026. Whether the
#: kernels themselves race is for compute-sanitizer --tool racecheck on a GPU (open).
CUDA_SIM_LAUNCH = dict(warp=1, max_threads=1, tile=1, threads_1d=1, target_blocks=2, max_chunks=2)
