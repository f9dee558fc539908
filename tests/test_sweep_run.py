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


def _plan_jobs(out: str) -> int:
    row = next(line for line in out.splitlines() if "timing" in line and "local" in line)
    return int(row.split("│")[3])


def test_a_grid_over_two_runtimes_does_not_time_the_combinations_no_runtime_asked_for(tmp_path, capsys):
    g = tmp_path / "g.yaml"
    g.write_text(f'networks: ["{TINY}"]\nanalytic: false\nthreads: [1]\nruntime: [torch, onnxruntime]\n'
                 "dtype: [float32, int8]\n")
    assert main(["sweep", str(g), "--plan", "--store", str(tmp_path / "s.jsonl")]) == 0
    cap = capsys.readouterr()
    # torch float32, onnxruntime float32 and int8: int8 is ORT's, so torch int8 is no point of the grid
    assert _plan_jobs(cap.out) == 3
    assert "torch --dtype int8 (1 point)" in cap.err
    g.write_text(f'networks: ["{TINY}"]\nanalytic: false\nthreads: [1]\nruntime: [torch]\ndtype: [float32, int8]\n')
    assert main(["sweep", str(g), "--plan", "--store", str(tmp_path / "s.jsonl")]) == 0
    cap = capsys.readouterr()
    assert _plan_jobs(cap.out) == 2 and "not timed" not in cap.err   # asked for by name: its error row is kept
