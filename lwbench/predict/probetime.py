"""Timing one probe with the preempted calls set apart.

The probe runs through `lwbench.measure.timer.autorange` (the warm-up and auto-ranging rules of every lwbench
timing) with a `run_once` that reads the thread's CPU clock around the wall clock: a call whose thread got less
than 90% of the wall time on the CPU was preempted (another process took the core), and its sample says more
about the other load than about the layer. The record keeps every sample's statistics (as `bench` reports them)
and, beside them, the median of the calls that were not preempted (`clean_median_ms`, `clean_n`), which the fit
uses when there are enough of them. With more than one thread (worker threads' CPU is not the caller's) every
call counts as clean only by the process CPU share, so nothing is set apart. A long probe on a loaded machine
may have no clean call at all: then the median of the calls' CPU time (the time the layer computed, without the
time it waited for the core) stands in.

Shipped to remote targets (lwbench.targets.bundle: `calibrate --target`): the standard library only at module
level, lwbench.measure.timer (shipped too) and the runtime inside the functions.
"""

from __future__ import annotations

import time

CLEAN_CPU_RATIO = 0.9
MIN_CLEAN = 5


def time_probe(model, x, cfg, device: str = "cpu", threads: int = 1, dtype: str = "float32"):
    """(Timing, clean: dict) of model(x): Timing as time_module gives it (cpu_share in extra), clean = the
    median over the calls not preempted."""
    import torch

    from lwbench.measure.timer import cast, set_threads, time_module

    if device != "cpu" or (threads or 1) > 1:
        t = time_module(model, x, device=device, threads=threads, cfg=cfg, dtype=dtype)
        return t, {"clean_median_ms": None, "clean_n": 0}
    set_threads(threads)
    with torch.inference_mode():
        fn, xx = cast(model, x, device, dtype)
        return autorange_clean(lambda: fn(xx), cfg)


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
    median (`clean`), this process and the deciles of its samples. Also built on remote targets (this module
    is shipped: lwbench.targets.bundle)."""
    import os

    from lwbench.measure.timer import percentile

    s = sorted(t.samples_ms)
    stats = {k: v for k, v in t.stats().items() if k != "compile_s"}
    return {"id": probe_id, "group": group, "timing": stats, "cpu_share": share, **clean, "worker": os.getpid(),
            "deciles_ms": [percentile(s, q) for q in range(0, 101, 10)]}


STATISTICS = ("median", "min")


def check_statistic(stat: str) -> str:
    from lwbench.errors import InputError

    if stat not in STATISTICS:
        raise InputError(f"--statistic {stat}: expected {' or '.join(STATISTICS)}")
    return stat


def probe_ms(rec: dict, less_layout: bool = False, stat: str = "median") -> float:
    """The time the fit uses for a probe record. `median` (the default): the median of its clean calls when it has
    enough; else (a long probe on a loaded machine: every call preempted) the median CPU time of its calls, the
    time it computed; else the median of all its calls. `min`: its fastest call (the uncontended cost; on a
    shared VM whose speed drifts, the statistic that repeats: results/README.md "Predicted latency"). ONNX
    Runtime, `less_layout`: less the layout conversions its profiler timed around the lone layer, `layout_ms`, at
    most 80% of the time; lwbench.predict.layout."""
    layout = (rec.get("layout_ms") or 0.0) if less_layout else 0.0   # ORT's NCHWc conversions around a lone layer
    if stat == "min":
        ms = rec["timing"]["min_ms"]
    else:
        ms = next((rec[k] for k in ("clean_median_ms", "cpu_median_ms") if rec.get(k) is not None),
                  rec["timing"]["median_ms"])
    return max(0.2 * ms, ms - layout)
