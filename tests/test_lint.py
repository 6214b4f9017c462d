"""Lint as a test, so that CI fails on what `make lint` would reject.

The tools are the venv's own (next to the running interpreter), the versions pinned in
requirements/dev.in, with the same arguments as the Makefile's `lint` target.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTHON_PATHS = ["plugins", "dags", "tests", "benchmarks"]


def _tool(name: str) -> str:
    path = BIN / name
    if not path.is_file():
        pytest.fail(f"{name} is not installed next to {sys.executable}; run `make install`")
    return str(path)


def _run(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, (
        f"{' '.join(args)} (in {cwd}) exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )


def test_ruff_check() -> None:
    _run([_tool("ruff"), "check", *PYTHON_PATHS], REPO)


def test_ruff_format() -> None:
    _run([_tool("ruff"), "format", "--check", *PYTHON_PATHS], REPO)


def test_sqlfluff_models() -> None:
    _run([_tool("sqlfluff"), "lint", "models", "--templater", "jinja"], REPO / "dbt_project")
