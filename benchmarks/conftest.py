"""Benchmarks live in ``bench_*.py`` files so that ``make test`` (which runs ``tests/``) never collects them.

``pytest benchmarks`` collects them through the hook below; run the suite with ``make bench``.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))   # the shared helpers (_cases, _peers) import as plain modules


def pytest_collect_file(file_path, parent):
    # files named on the command line are collected by pytest itself; collecting them here too would run them twice
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
