"""The package's structure, as docs/architecture.md states it: optional layers stay unimported, modules stay small,
no module imports another's private names, dependencies point down, and model internals stay inside the models."""
import ast
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fastrnn")

# Layers, lowest first. A module may import from its own layer and the layers below, never from a layer above.
LAYERS = [
    {"config", "validation", "io", "_native"},
    {"kernels"},
    {"models", "optim", "forcing", "preprocessing", "systems", "timeseries", "lyapunov", "metrics", "checkpoint",
     "datafiles", "observation", "model_selection"},
    {"training"},
    {"plotting", "testing"},
    {"experiments"},
    {"cli", "cli_options", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _modules():
    for dirpath, _, files in os.walk(ROOT):
        if "__pycache__" in dirpath:
            continue
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, ROOT)
                yield rel, path


def _top(rel):
    """The top-level unit of a module path: 'kernels/cuda/gru.py' -> 'kernels', 'cli.py' -> 'cli'."""
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".py") else first


def _imports(path, rel):
    """(imported top-level unit, imported names) for every fastrnn-internal import of a module."""
    tree = ast.parse(open(path).read())
    pkg = ["fastrnn"] + rel.split(os.sep)[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "fastrnn":
                target = node.module.split(".")
            else:
                continue
            names = [a.name for a in node.names]
            if len(target) == 1:                       # from fastrnn import x, y / from . import x (top level)
                for n in names:
                    yield n, [], node.lineno
            else:
                # a submodule imported by name (from . import _common) is a module, not a private name
                here = os.path.join(ROOT, *target[1:])
                names = [n for n in names if not (os.path.isfile(os.path.join(here, n + ".py"))
                                                  or os.path.isdir(os.path.join(here, n)))]
                yield target[1], names, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "fastrnn" and len(parts) > 1:
                    yield parts[1], [], node.lineno


def test_import_fastrnn_loads_no_optional_layer():
    code = textwrap.dedent("""
        import sys
        import fastrnn
        loaded = [m for m in ("dask", "distributed", "matplotlib", "numba.cuda", "fastrnn.plotting")
                  if m in sys.modules]
        print(",".join(loaded))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_sweep_without_dask_says_how_to_install(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.modules["distributed"] = None          # as if Dask were not installed
        from fastrnn.cli import main
        sys.exit(main(["sweep", "--out", sys.argv[1], "--quiet", "--epochs", "1"]))
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1
    assert "pip install 'fastrnn[sweep]'" in err[0]


def test_no_module_over_700_lines():
    long = {rel: n for rel, path in _modules() if (n := sum(1 for _ in open(path))) > 700}
    assert long == {}


def test_no_private_names_imported_across_modules():
    bad = []
    for rel, path in _modules():
        for unit, names, line in _imports(path, rel):
            bad += [f"{rel}:{line} imports {n}" for n in names if n.startswith("_") and not n.endswith("__")]
            if unit.startswith("_") and not unit.endswith("__") and unit != "_native":
                bad.append(f"{rel}:{line} imports private module {unit}")
    assert bad == []


def test_dependencies_point_down():
    bad = []
    for rel, path in _modules():
        me = _top(rel)
        if me == "__init__":
            continue
        for unit, _, line in _imports(path, rel):
            if unit in RANK and me in RANK and RANK[unit] > RANK[me]:
                bad.append(f"{rel}:{line} ({me}) imports {unit}")
    assert bad == []


def test_model_internals_stay_in_the_models():
    pattern = re.compile(r"\._p\b|\._loss_grad\b|\._jacobians\b|\._initial_state\b|\._kernel_params\b")
    bad = []
    for rel, path in _modules():
        if _top(rel) == "models":
            continue
        for i, line in enumerate(open(path), 1):
            if pattern.search(line.split("#")[0]):
                bad.append(f"{rel}:{i}: {line.strip()}")
    assert bad == []


@pytest.mark.parametrize("name", ["cli.py"])
def test_cli_is_parsing_and_thin_commands(name):
    """cli.py defines no function longer than 45 lines except the parser, and holds no numerical work."""
    tree = ast.parse(open(os.path.join(ROOT, name)).read())
    long = [f.name for f in tree.body if isinstance(f, ast.FunctionDef) and f.name != "build_parser"
            and f.end_lineno - f.lineno > 45]
    assert long == []
