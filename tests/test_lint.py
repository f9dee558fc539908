"""ruff keeps the heavy imports (torch, pandas, fvcore, matplotlib) out of module level in lwbench/ (TID253)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed (pip install -e '.[dev]')")
def test_ruff_clean():
    p = subprocess.run(["ruff", "check", "lwbench", "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:]
