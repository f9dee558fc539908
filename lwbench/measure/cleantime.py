"""A call timed with the preempted calls set apart, and a calibration probe's record: the part of
lwbench.predict.probetime that runs wherever a probe is timed (shipped to remote targets by
lwbench.targets.bundle for `calibrate --target`; the standard library only at module level).

`autorange_clean` runs lwbench's autorange (lwbench.measure.timer) with a `run_once` that reads the thread's CPU
clock around the wall clock: a call whose thread got less than CLEAN_CPU_RATIO of the wall time on the CPU was
preempted (another process took the core); `clean_median_ms` is the median of the others when there are at
least MIN_CLEAN, `cpu_median_ms` the median of the calls' CPU time.
"""

from __future__ import annotations

import os
import time

CLEAN_CPU_RATIO = 0.9
MIN_CLEAN = 5


def autorange_clean(call, cfg):
    """lwbench's autorange over call() in this thread, with the thread's CPU clock read around each call's wall
    clock: (Timing with cpu_share, {clean_median_ms, clean_n, cpu_median_ms}). One thread only: the caller's
    thread must be the one computing (torch with 1 thread; ONNX Runtime with 1 intra-op thread runs in it)."""
    from lwbench.measure.timer import autorange, percentile

    cpu: list[float] = []
    wall, thread = time.perf_counter, time.thread_time

    def run_once() -> float:
        c0 = thread()
        t0 = wall()
        call()
        t1 = wall()
        cpu.append((thread() - c0) * 1000.0)
        return (t1 - t0) * 1000.0

    c0, w0 = time.process_time(), wall()
    t = autorange(run_once, cfg)
    share = (time.process_time() - c0) / max(1e-9, wall() - w0)
    t.extra.update(cpu_share=share, threads=1)
    pairs = list(zip(t.samples_ms, cpu[-t.n:]))
    clean = sorted(w for w, c in pairs if c >= CLEAN_CPU_RATIO * w)
    return t, {"clean_median_ms": percentile(clean, 50) if len(clean) >= MIN_CLEAN else None,
               "clean_n": len(clean), "cpu_median_ms": percentile(sorted(c for _, c in pairs), 50)}


def record(probe_id: str, group: str, t, share, clean: dict) -> dict:
    """A probe's record in the partial file: its statistics (as `bench` reports them), CPU share, the clean
    median (`clean`), this process and the deciles of its samples."""
    from lwbench.measure.timer import percentile

    s = sorted(t.samples_ms)
    stats = {k: v for k, v in t.stats().items() if k != "compile_s"}
    return {"id": probe_id, "group": group, "timing": stats, "cpu_share": share, **clean, "worker": os.getpid(),
            "deciles_ms": [percentile(s, q) for q in range(0, 101, 10)], "at": round(time.time(), 1)}
