"""Issue #15: a sweep grid's torch-factory network (`module: file.py:factory`) is timed as well as counted: the
torch worker builds it by calling the factory, the onnxruntime worker exports that module (torch.onnx.export) and
checks ORT's output against torch's. Fresh worker processes (the CLI path); no timing asserted."""

from __future__ import annotations

import json
import textwrap

import pytest

from lwbench.cli import main
from lwbench.measure.jobs import Job, run_jobs

FACTORY = textwrap.dedent("""
    import torch
    from torch import nn

    def build():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(8, 10))

    def broken():
        raise RuntimeError("no such variant")
""")
TIMER = {"warmup_s": 0.0, "warmup_runs": 1, "min_runs": 3, "min_time_s": 0.0, "max_time_s": 2.0}


@pytest.fixture()
def factory(tmp_path):
    p = tmp_path / "tinyfac.py"
    p.write_text(FACTORY)
    return p


def _rows(store):
    return [json.loads(ln) for ln in store.read_text().splitlines() if ln.strip()]


def test_worker_times_a_module_factory(factory):
    res = run_jobs([Job(net=f"module:{factory}:build", resolution=16, batch=2, threads=1, timer=TIMER)])[0]
    assert res.ok, res.error
    assert res.timing["n"] >= 3 and res.timing["median_ms"] > 0 and res.cores


def test_a_failing_factory_or_a_width_is_one_line(factory):
    bad, width = run_jobs([Job(net=f"module:{factory}:broken", resolution=16, timer=TIMER),
                           Job(net=f"module:{factory}:build", width=0.5, timer=TIMER)])
    assert bad.error_kind == "config" and "the factory raised RuntimeError: no such variant" in bad.error
    assert width.error_kind == "config" and "no width multiplier" in width.error


def test_sweep_times_module_networks_and_counts_them(factory, tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(textwrap.dedent(f"""
        networks:
          - module: {factory.name}:build
        resolution: [16, 24]
        batch: [1]
        threads: [1]
        timer: {json.dumps(TIMER)}
    """))
    store = tmp_path / "s.jsonl"
    assert main(["sweep", str(grid), "--store", str(store)]) == 0
    rows = [r for r in _rows(store) if r.get("kind") in ("analytic", "timing")]
    timing = [r for r in rows if r["kind"] == "timing"]
    analytic = {r["resolution"]: r for r in rows if r["kind"] == "analytic"}
    assert sorted(r["resolution"] for r in timing) == [16, 24] and set(analytic) == {16, 24}
    for r in timing:
        assert r["status"] == "ok", r.get("error")
        assert r["median_ms"] > 0 and r["runtime"] == "torch"
        # the counts beside the latency are the analytic job's (the torch-side counter on the factory's module)
        assert r["madds"] == analytic[r["resolution"]]["madds"] > 0
    # hand count at 16x16: conv 3->8 3x3 (8*27*256 = 55,296) + linear 8x10 (80) multiply-adds
    assert analytic[16]["madds"] == 8 * 27 * 16 * 16 + 80
    assert main(["sweep", str(grid), "--store", str(store), "--resume"]) == 0
    assert len([r for r in _rows(store) if r.get("kind") == "timing"]) == 2   # nothing run twice


def test_module_points_are_timed_on_every_local_runtime_and_counted_elsewhere(factory, tmp_path):
    from lwbench.sweep.grid import read_grid
    from lwbench.sweep.jobs import expand

    grid = tmp_path / "g.yaml"
    grid.write_text(f"networks:\n  - module: {factory.name}:build\n  - mobilenet_v1_x0_25\n"
                    "resolution: [32]\nruntime: [torch, onnxruntime]\ntarget: [local, 'ssh://u@h']\n")
    g = read_grid(str(grid))
    analytic, timing = expand(g, {(t, rt): "fp" for rt in ("torch", "onnxruntime") for t in ("local", "ssh://u@h")})
    assert len(analytic) == 2
    # the factory file lives here: local only (both runtimes); the zoo network on every target and runtime
    assert sorted((j.spec.startswith("module:"), j.runtime, j.target) for j in timing) == [
        (False, "onnxruntime", "local"), (False, "onnxruntime", "ssh://u@h"), (False, "torch", "local"),
        (False, "torch", "ssh://u@h"), (True, "onnxruntime", "local"), (True, "torch", "local")]


def test_onnxruntime_times_a_factory_checked_against_torch(factory):
    pytest.importorskip("onnxruntime")
    job = Job(net=f"module:{factory}:build", resolution=16, batch=2, threads=1, runtime="onnxruntime", timer=TIMER)
    res = run_jobs([job])[0]
    assert res.ok, res.error
    ex = res.extra
    # torch.onnx.export's graph, run by ORT on the input torch ran: the outputs agree (fp32 tolerance)
    assert ex["valid"] is True and ex["rel_err"] <= ex["tolerance"] and ex["ep"] == "CPUExecutionProvider"
    assert res.timing["n"] >= 3 and res.timing["median_ms"] > 0
    width = run_jobs([Job(net=f"module:{factory}:build", width=0.5, runtime="onnxruntime", timer=TIMER)])[0]
    assert width.error_kind == "config" and "no width multiplier" in width.error
