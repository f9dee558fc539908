"""The sweep store: append-only, one line per finished job, readable after SIGINT, SIGTERM and SIGKILL of a real
sweep process; a torn last line is skipped and cut off before appending; --resume runs each id once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lwbench.sweep.store import Store, read_store

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "sweep" / "tiny.yaml"


def test_append_read_and_torn_tail(tmp_path):
    p = tmp_path / "s.jsonl"
    with Store(str(p)) as st:
        st.session(note="first")
        st.append({"id": "a", "kind": "analytic", "madds": 1, "x": float("nan")})
        st.append({"id": "b", "kind": "analytic", "madds": 2})
    good = p.read_bytes()
    p.write_bytes(good + b'{"id": "c", "kind": "ana')          # a kill in the middle of a write
    c = read_store(str(p))
    assert [r["id"] for r in c.rows] == ["a", "b"] and c.rows[0]["x"] is None and c.torn_tail == 24
    assert len(c.sessions) == 1 and c.bad_lines == []
    with Store(str(p)) as st:                                  # opening cuts the torn tail only
        assert p.read_bytes() == good
        st.append({"id": "c", "kind": "analytic", "madds": 3})
    assert [r["id"] for r in read_store(str(p)).rows] == ["a", "b", "c"]
    assert p.read_bytes().startswith(good)                     # never rewritten: the old bytes stay as they were


def test_a_second_sweep_on_the_same_store_is_refused(tmp_path):
    from lwbench.errors import InputError

    p = tmp_path / "s.jsonl"
    with Store(str(p)):
        with pytest.raises(InputError, match="another sweep is writing to it"):
            Store(str(p)).__enter__()


def _grid(tmp_path) -> Path:
    g = tmp_path / "g.yaml"
    g.write_text(textwrap.dedent(f"""
        networks: ["{TINY}"]
        width: {{from: 0.25, to: 2.0, step: 0.25}}
        resolution: [16, 20, 24]
        threads: [1]
        cooldown_s: 0.3
        timer: {{warmup_s: 0.01, warmup_runs: 1, min_runs: 3, min_time_s: 0.01, max_time_s: 0.2}}
    """))
    return g


def _sweep(grid: Path, store: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "lwbench", "sweep", str(grid), "--store", str(store),
                             "--in-process", *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _wait_rows(store: Path, kind: str, n: int, proc, limit_s: float = 120) -> None:
    end = time.time() + limit_s
    while time.time() < end:
        if store.exists() and sum(r["kind"] == kind for r in read_store(str(store)).rows) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no {n} {kind} rows in {limit_s} s")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_killed_sweep_keeps_every_finished_row(tmp_path, sig):
    grid, store = _grid(tmp_path), tmp_path / "s.jsonl"
    proc = _sweep(grid, store)
    _wait_rows(store, "timing", 2, proc)
    before = read_store(str(store))
    (os.killpg if sig == signal.SIGKILL else os.kill)(proc.pid, sig)   # SIGKILL: the sweep and any worker
    out, err = proc.communicate(timeout=60)
    after = read_store(str(store))
    assert after.bad_lines == [] and after.torn_tail == 0
    assert [r["id"] for r in after.rows][:len(before.rows)] == [r["id"] for r in before.rows]
    n_timing = sum(r["kind"] == "timing" for r in after.rows)
    assert 2 <= n_timing < 24, n_timing
    assert all(r["status"] == "ok" for r in after.rows)
    if sig != signal.SIGKILL:
        assert proc.returncode == 130 and "interrupted" in err, (proc.returncode, err)
        return
    # the SIGKILL case: --resume finishes exactly the rest, each id once
    proc = _sweep(grid, store, "--resume")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    final = read_store(str(store))
    ids = [r["id"] for r in final.rows]
    assert len(ids) == len(set(ids)) == 24 + 24
    assert f"{24 + 24 - len(after.rows)} new row(s), {len(after.rows)} job(s) done before" in err
    assert json.loads(store.read_text().splitlines()[0])["kind"] == "session"
