# Quick start: `make demo` runs the main job, `make test` runs the tests. Each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

CMAKE ?= cmake
NATIVE_BUILD := build/native

.PHONY: demo test bench install native clean

$(STAMP): pyproject.toml CMakeLists.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,plot,sweep]'
	touch $(STAMP)

install: $(STAMP)

# The C core (csrc/ -> fastrnn/libfastrnn_core.so). Rerun after editing csrc/ (test, demo and bench do).
native: $(STAMP)
	@if command -v $(CMAKE) >/dev/null 2>&1; then \
	  test -f $(NATIVE_BUILD)/CMakeCache.txt || \
	    $(CMAKE) -S . -B $(NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Release -DFASTRNN_COPY_TO_SOURCE=ON >/dev/null; \
	  $(CMAKE) --build $(NATIVE_BUILD) >/dev/null; \
	else \
	  $(PY) -m pip install --quiet -e '.[test,plot,sweep]'; \
	fi

demo: native
	$(PY) -m fastrnn demo --out out/demo

# The CUDA kernels are tested under Numba's CUDA simulator in a separate process, so the simulator never leaks into
# the other tests (it must be enabled before numba is imported).
# Both run on every core (pytest-xdist, one worker per core); a test file stays on one worker, so its module
# fixtures are computed once.
XDIST := -n auto --dist loadfile
test: native
	$(PY) -m pytest -q $(XDIST) tests --ignore=tests/test_cuda.py --ignore=tests/test_shplrnn_cuda.py
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -q $(XDIST) tests/test_cuda.py tests/test_shplrnn_cuda.py

# Peers (JAX, PyTorch) for the comparisons; torch pinned to the CPU build (a plain `torch` pulls a multi-GB CUDA one).
bench: native
	@test -f $(VENV)/.peers || { $(PY) -m pip install --quiet -e '.[peers]' 'torch==2.13.0' && touch $(VENV)/.peers; }
	@mkdir -p out
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-group-by=group --benchmark-json=out/bench.json
	$(PY) benchmarks/ratios.py out/bench.json | tee out/bench-ratios.md
	$(PY) benchmarks/compile_time.py | tee out/compile-time.md

clean:
	rm -rf $(VENV) build out .pytest_cache
	rm -f fastrnn/libfastrnn_core.so fastrnn/libfastrnn_core.dylib fastrnn/fastrnn_core.dll
