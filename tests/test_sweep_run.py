"""Timing jobs through the seam: a job past its timeout is a transient failure, tried again `retries` times and
then one typed error row; a permanent failure (a device that is not there) is one row at once, never retried."""

from __future__ import annotations

from pathlib import Path

from lwbench.cli import main
from lwbench.sweep.store import read_store

TINY = Path(__file__).resolve().parent / "data" / "sweep" / "tiny.yaml"


def _run(tmp_path, extra: str, *args: str) -> list[dict]:
    g = tmp_path / "g.yaml"
    g.write_text(f'networks: ["{TINY}"]\nanalytic: false\nthreads: [1]\n{extra}')
    store = tmp_path / "s.jsonl"
    assert main(["sweep", str(g), "--store", str(store), *args]) == 0
    return read_store(str(store)).rows


def test_a_timeout_is_retried_then_recorded(tmp_path, capsys):
    # a fresh worker cannot even import torch in 0.3 s: every attempt times out
    rows = _run(tmp_path, "timeout_s: 0.3\nretries: 2\n")
    assert len(rows) == 1
    r = rows[0]
    assert (r["status"], r["error_kind"], r["attempts"]) == ("error", "timeout", 3), r
    assert "timed out" in r["error"] and "median_ms" not in r
    assert "timeout: 1" in capsys.readouterr().out


def test_a_permanent_failure_is_not_retried(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        import pytest

        pytest.skip("needs a machine without CUDA")
    rows = _run(tmp_path, "device: cuda\nretries: 5\n", "--in-process")
    assert [(r["status"], r["error_kind"], r["attempts"]) for r in rows] == [("error", "config", 1)], rows
    assert "cuda" in rows[0]["error"].lower()
