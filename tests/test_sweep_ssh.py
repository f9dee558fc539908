"""Issue #15 with issue #14: `lwbench sweep` timing jobs on an SSH target (a real OpenSSH server on loopback,
tests/sshd_server.py; no mock of the transport) beside the local target, in one grid. No timing asserted."""

from __future__ import annotations

import json
import textwrap

from lwbench.cli import main

TIMER = {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 3, "min_time_s": 0.0, "max_time_s": 2.0}


def _rows(store):
    return [json.loads(ln) for ln in store.read_text().splitlines() if ln.strip()]


def test_sweep_times_on_local_and_ssh_targets_and_resumes(ssh_env, tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(textwrap.dedent(f"""
        networks: [mobilenet_v1]
        width: [0.25]
        resolution: [32, 48]
        threads: [1]
        runtime: [onnxruntime]
        target: [local, "{ssh_env.url}"]
        timer: {json.dumps(TIMER)}
    """))
    store = tmp_path / "s.jsonl"
    assert main(["sweep", str(grid), "--store", str(store)]) == 0
    rows = _rows(store)
    timing = [r for r in rows if r.get("kind") == "timing"]
    analytic = {r["resolution"]: r for r in rows if r.get("kind") == "analytic"}
    assert sorted((r["target"], r["resolution"]) for r in timing) == sorted(
        (t, res) for t in ("local", ssh_env.url) for res in (32, 48))
    for r in timing:
        assert r["status"] == "ok", r.get("error")
        assert r["median_ms"] > 0 and r["runtime"] == "onnxruntime"
        # the same point on both machines carries the same analytic counts
        assert r["madds"] == analytic[r["resolution"]]["madds"] > 0
    # hand check of the stem at 32x32, width 0.25: conv 3->8 3x3 stride 2 -> 16x16 output: 8*27*256 madds
    assert analytic[32]["madds"] > 8 * 27 * 16 * 16
    ids = [r["id"] for r in timing]
    assert len(set(ids)) == 4                       # a point on another target is another job
    assert main(["sweep", str(grid), "--store", str(store), "--resume"]) == 0
    assert [r["id"] for r in _rows(store) if r.get("kind") == "timing"] == ids   # nothing run twice
