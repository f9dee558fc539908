"""The worker keeps its C heap mapped (lwbench.measure.heap, issue #18): counted in page faults, never timed."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap

import pytest

from lwbench.measure import heap
from lwbench.measure.timer import TimerConfig, autorange

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# What a forward does to the C heap: several 4 MiB activations alive at once, written, then all freed. With
# glibc's defaults the free space at the top (16 MiB) exceeds the dynamic trim threshold (2 x 4 MiB), so it is
# returned to the kernel and the next "forward" faults every page in again (~4,096 pages).
CHILD = textwrap.dedent("""
    import ctypes, json, resource
    from lwbench.measure.heap import keep_heap
    state = keep_heap()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    size = 4 << 20
    def forward():
        ps = [libc.malloc(size) for _ in range(4)]
        for p in ps:
            ctypes.memset(p, 1, size)
        for p in ps:
            libc.free(p)
    for _ in range(3):
        forward()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        forward()
    print(json.dumps({"state": state, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 10}))
""")


def _child(env_heap: str | None) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k != "LWBENCH_HEAP" and not k.startswith("MALLOC_")}
    if env_heap is not None:
        env["LWBENCH_HEAP"] = env_heap
    p = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_kept_heap_takes_no_page_faults_where_glibc_defaults_refault_every_call():
    trimmed, kept = _child("trim"), _child(None)
    assert trimmed["state"] == "glibc default (LWBENCH_HEAP=trim)"
    assert trimmed["faults"] > 3000          # 16 MiB returned and faulted back in each time: 4,096 pages
    assert kept["state"] == "kept (glibc mmap 32 MiB, trim 1 GiB)"
    assert kept["faults"] < 50               # the heap stays mapped


def test_keep_heap_applies_once_and_honours_the_opt_out(monkeypatch):
    monkeypatch.setattr(heap, "_kept", None)
    monkeypatch.setenv("LWBENCH_HEAP", "trim")
    assert heap.keep_heap() == "glibc default (LWBENCH_HEAP=trim)"
    monkeypatch.delenv("LWBENCH_HEAP")
    assert heap.keep_heap() == "glibc default (LWBENCH_HEAP=trim)"     # decided once per process
    monkeypatch.setattr(heap, "_kept", None)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "0")                   # the caller's own allocator settings win
    assert heap.keep_heap() == "unchanged (malloc settings in the environment)"
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.setattr(heap, "_kept", None)
    assert heap.keep_heap().startswith("kept" if GLIBC else "unchanged")


def test_timer_reports_minor_faults_per_measured_call(monkeypatch):
    """The counter is read right before and after the measured phase (not the warm-up): (f2 - f1) / samples."""
    now = [0.0]
    reads = iter([1000, 1150])

    def run_once() -> float:
        now[0] += 0.01
        return 10.0

    monkeypatch.setattr("lwbench.measure.timer.minor_faults", lambda: next(reads))
    t = autorange(run_once, TimerConfig(warmup_runs=3, warmup_s=0.0, min_runs=15, min_time_s=0.0),
                  clock=lambda: now[0])
    assert t.n == 15 and t.warmup_runs == 3
    assert t.extra["minor_faults_per_run"] == 10.0


def test_torch_result_names_the_heap_state_and_the_faults(tmp_path):
    pytest.importorskip("torch")
    from lwbench.measure.jobs import Job, run_jobs

    net = tmp_path / "tiny.yaml"
    net.write_text("name: tiny_heap\ninput: {channels: 3, resolution: 8}\nlayers:\n"
                   "  - {name: stem, op: conv2d, out: 4, kernel: 3, bias: false}\n")
    res = run_jobs([Job(net=str(net), threads=1, timer={"warmup_s": 0.0, "min_runs": 3, "min_time_s": 0.0})],
                   in_process=True)[0]
    assert res.ok, res.error
    assert res.extra["heap"] == heap.keep_heap()
    assert res.extra["minor_faults_per_run"] >= 0
