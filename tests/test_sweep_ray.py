"""`lwbench sweep --ray` on a real local Ray cluster (ray.cluster_utils.Cluster): a head without a timer slot and
two nodes with one `lwbench_timer` each. Timing jobs record their host, start and end: no two overlap on one
host, every job finishes although a node is removed mid-run, --resume then runs nothing, each id is in the
store once, and the same sweep without Ray gives the same rows. One cluster for the whole module."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lwbench.sweep.store import read_store

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "sweep" / "tiny.yaml"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = ENV["PYTHONPATH"]           # the raylets' workers import this checkout
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    a = c.add_node(num_cpus=1, resources={"lwbench_timer": 1}, labels={"lwbench_host": "host-a"})
    b = c.add_node(num_cpus=1, resources={"lwbench_timer": 1}, labels={"lwbench_host": "host-b"})
    c.wait_for_nodes()
    try:
        yield c, a, b
    finally:
        c.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _grid(tmp_path) -> Path:
    g = tmp_path / "g.yaml"
    g.write_text(textwrap.dedent(f"""
        networks: ["{TINY}"]
        width: [0.5, 1.0, 1.5]
        resolution: [16, 24]
        threads: [1]
        timer: {{warmup_s: 0.01, warmup_runs: 1, min_runs: 3, min_time_s: 0.4, max_time_s: 0.6}}
    """))
    return g


def _sweep(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lwbench", "sweep", *args, "--in-process"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc, timeout=240) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (out[-2000:], err[-2000:])
    return err


def _key(r: dict) -> tuple:
    return r["kind"], r["network"], r["width"], r["resolution"], r["batch"], r["dtype"], r.get("threads")


def test_ray_sweep_survives_a_lost_node_resumes_and_matches_local(cluster, tmp_path):
    c, a, b = cluster
    grid, store = _grid(tmp_path), tmp_path / "ray.jsonl"
    proc = _sweep(str(grid), "--store", str(store), "--ray", c.address)
    end = time.time() + 180
    while not any(r["kind"] == "timing" for r in read_store(str(store)).rows):
        assert proc.poll() is None and time.time() < end, proc.communicate()
        time.sleep(0.05)
    c.remove_node(b)                                         # mid-run: its job in flight is lost and re-queued
    _finish(proc)
    rows = read_store(str(store)).rows
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 12
    timing = [r for r in rows if r["kind"] == "timing"]
    assert len(timing) == 6 and all(r["status"] == "ok" and r["n"] >= 3 for r in timing), timing
    assert {r["host"] for r in timing} <= {"host-a", "host-b"} and "host-a" in {r["host"] for r in timing}
    for host in {r["host"] for r in timing}:
        spans = sorted((r["start_unix"], r["end_unix"]) for r in timing if r["host"] == host)
        assert all(s2 >= e1 for (_, e1), (s2, _) in zip(spans, spans[1:])), (host, spans)   # no overlap

    err = _finish(_sweep(str(grid), "--store", str(store), "--ray", c.address, "--resume"))
    assert "0 new row(s), 12 job(s) done before" in err, err
    assert [r["id"] for r in read_store(str(store)).rows] == ids

    local = tmp_path / "local.jsonl"
    _finish(_sweep(str(grid), "--store", str(local)))
    lrows = read_store(str(local)).rows
    assert sorted(map(_key, lrows)) == sorted(map(_key, rows))
    counts = ("model", "input", "params", "madds", "mac_elems")
    by = {_key(r): r for r in rows}
    for r in lrows:
        assert {k: r.get(k) for k in counts} == {k: by[_key(r)].get(k) for k in counts}
        if r["kind"] == "analytic":
            assert r["id"] == by[_key(r)]["id"] and r == {**by[_key(r)], "time_unix": r["time_unix"]}


def test_a_host_appearing_twice_is_refused(cluster, tmp_path):
    c, a, _ = cluster
    twin = c.add_node(num_cpus=0, resources={"lwbench_timer": 1}, labels={"lwbench_host": "host-a"})
    try:
        c.wait_for_nodes()
        p = _sweep(str(_grid(tmp_path)), "--plan", "--ray", c.address)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "host host-a appears twice" in lines[0], err
    finally:
        c.remove_node(twin)
