"""Shared helpers for tests: compile small in-memory YAML networks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def yaml_net(tmp_path):
    """yaml_net(text) -> (Net, path): writes the YAML text to a temp file and loads it."""
    from lwbench.spec import load

    def make(text: str, name: str = "net.yaml", **kw):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return load(str(path), **kw), path

    return make
