"""What benchmarks/timer_fidelity.py and benchmarks/timer_factors.py share: the model as the worker builds it,
the independent references (torch.utils.benchmark, a timm-style loop; for ONNX Runtime an InferenceSession made
here, timed onnxruntime_perf_test's way and timeit's way), the CLI path (run_jobs on a fresh
LocalTarget worker), and the bookkeeping every figure carries (CPU share, minor page faults per call, load).

Each measurement returns a dict: ms (the method's headline, milliseconds per call), share (process CPU time /
wall time, per thread, while it ran; for the CLI the worker's own cpu_share), faults (minor page faults per
call, lwbench.measure.heap), calls. Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLEAN_SHARE = 0.95     # a round is clean when every method's process got >= 95% of a core per thread
# the machine is contended when the 1-minute load exceeds what this benchmark's own single busy process puts
# on it (1.0) by half a core: a quiet 2-core machine running a 1-thread benchmark reads 1.0-1.1, not < 1.0
CONTENDED_LOAD = 1.5


def load1() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


class Meter:
    """CPU share, minor faults and user/system CPU time of this process over a `with` block, per `calls` calls
    (system time is where the kernel zeroes and maps faulted pages: contention inflates it far less than wall)."""

    def __enter__(self) -> Meter:
        from lwbench.measure.timer import minor_faults

        self._f0, self._t0, self._w0 = minor_faults(), os.times(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        from lwbench.measure.timer import minor_faults

        t1 = os.times()
        self.faults = (minor_faults() or 0) - (self._f0 or 0)
        self.user, self.sys = t1.user - self._t0.user, t1.system - self._t0.system
        self.cpu, self.wall = self.user + self.sys, time.perf_counter() - self._w0

    def result(self, ms: float, calls: int, threads: int = 1) -> dict:
        n = max(1, calls)
        return {"ms": ms, "share": self.cpu / self.wall / threads if self.wall > 0 else None,
                "faults": self.faults / n, "calls": calls, "sys_ms": self.sys / n * 1e3, "user_ms": self.user / n * 1e3}


def case(name: str, batch: int = 1):
    """(model, x) exactly as the worker makes them: lwbench.load, lwbench.build (seed 0), example_input."""
    import lwbench
    from lwbench.build import example_input

    net = lwbench.load(name)
    model = lwbench.build(net).eval()
    return model, example_input(net, batch)


def torch_ref(model, x, min_time: float, threads: int = 1) -> dict:
    """torch.utils.benchmark: Timer("model(x)", num_threads).adaptive_autorange under inference_mode; median of
    its blocks' means (max_run_time 3 x min_time); faults per call over its calibration and blocks."""
    import torch
    from torch.utils.benchmark import Timer

    with torch.inference_mode():
        model(x)                       # the first call (allocations) is never among Timer's blocks either
    with torch.inference_mode(), Meter() as m:
        r = Timer("model(x)", globals={"model": model, "x": x}, num_threads=threads).adaptive_autorange(
            min_run_time=min_time, max_run_time=3 * min_time)
    return m.result(r.median * 1e3, sum(r.number_per_run for _ in r.raw_times), threads)


def timm_loop(model, x, warm: int = 10, iters: int = 50, threads: int = 1) -> dict:
    """timm's benchmark.py way: `warm` untimed calls, then `iters` calls timed as one block; the mean."""
    import torch

    torch.set_num_threads(threads)
    with torch.inference_mode():
        for _ in range(warm):
            model(x)
        with Meter() as m:
            t0 = time.perf_counter()
            for _ in range(iters):
                model(x)
            dt = time.perf_counter() - t0
    return m.result(dt / iters * 1e3, iters, threads)


def inproc(model, x, cfg=None, threads: int = 1) -> dict:
    """lwbench's timer in this process (lwbench.measure.time_module): the median of per-call samples."""
    from lwbench.measure import TimerConfig, time_module

    with Meter() as m:
        t = time_module(model, x, device="cpu", threads=threads, cfg=cfg or TimerConfig())
    calls = t.n + t.warmup_runs
    return {"ms": t.median_ms, "share": t.extra.get("cpu_share"), "faults": t.extra.get("minor_faults_per_run"),
            "calls": t.n, "sys_ms": m.sys / calls * 1e3, "user_ms": m.user / calls * 1e3}


@contextlib.contextmanager
def environ(**env: str | None) -> Iterator[None]:
    """Set (str) or unset (None) environment variables for the block; the worker inherits them."""
    old = {k: os.environ.get(k) for k in env}
    try:
        for k, v in env.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        yield
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def cli(name: str, timer: dict | None = None, threads: int = 1, runtime: str = "torch", dtype: str = "float32",
        **env: str | None) -> dict:
    """The CLI path: lwbench.measure.jobs.run_jobs on a LocalTarget, a fresh `python -m lwbench.measure.worker`
    (what `lwbench bench NET -t THREADS [--runtime onnxruntime --dtype D]` runs, less its progress bar); `env`
    for the worker. onnxruntime: `onnx_file` is the .onnx file the worker timed (ort_opt=all, the default)."""
    from lwbench.measure.jobs import Job, run_jobs

    opts = {"ort_opt": "all"} if runtime == "onnxruntime" else {}
    with environ(**env):
        res = run_jobs([Job(net=name, threads=threads, timer=timer or {}, runtime=runtime, dtype=dtype,
                            options=opts)])[0]
    if res.error:
        raise SystemExit(f"{name}: the worker failed: {res.error}")
    return {"ms": res.timing["median_ms"], "mean_ms": res.timing.get("mean_ms"), "share": res.cpu_share, "faults": res.extra.get("minor_faults_per_run"),
            "calls": res.timing["n"], "heap": res.extra.get("heap"), "onnx_file": res.extra.get("onnx_file"),
            "onnx_sha256": res.extra.get("onnx_sha256"), "ep": res.extra.get("ep")}


# --- ONNX Runtime: an independent InferenceSession, as onnxruntime_perf_test and timeit would time it ----------

ORT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
              "all": "ORT_ENABLE_ALL"}


def ort_session(path: str, threads: int = 1, opt: str = "all"):
    """(session, feeds) made here with onnxruntime's own API, not lwbench.onnx.session: the CLI's settings written
    out again (intra-op `threads`, inter-op 1, ORT_SEQUENTIAL, graph optimisation `opt`, CPUExecutionProvider) and
    a seeded N(0, 1) input of the graph's input shape (latency does not depend on the values)."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_LEVELS[opt])
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    return sess, {inp.name: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}


def ort_perf(path: str, min_time: float, threads: int = 1, warm: int = 10, min_runs: int = 20) -> dict:
    """onnxruntime_perf_test's way (`-t SECONDS`): a new session, `warm` untimed runs, then runs timed one by one
    until both `min_runs` runs and `min_time` seconds; the median of the per-run times."""
    sess, feeds = ort_session(path, threads)
    for _ in range(warm):
        sess.run(None, feeds)
    times: list[float] = []
    clock = time.perf_counter
    with Meter() as m:
        end = clock() + min_time
        while len(times) < min_runs or clock() < end:
            t = clock()
            sess.run(None, feeds)
            times.append(clock() - t)
    return m.result(statistics.median(times) * 1e3, len(times), threads)


def ort_timeit(path: str, min_time: float, threads: int = 1) -> dict:
    """timeit's way: a new session, `Timer.autorange()` (calls per block so a block takes >= 0.2 s; also the
    warm-up), then blocks of that many calls (gc off, as timeit does) until `min_time` seconds; the median of
    the block means."""
    import math
    import timeit

    sess, feeds = ort_session(path, threads)
    tm = timeit.Timer(lambda: sess.run(None, feeds))
    number, took = tm.autorange()
    repeat = max(3, math.ceil(min_time / max(took, 1e-9)))
    with Meter() as m:
        blocks = tm.repeat(repeat=repeat, number=number)
    return m.result(statistics.median(blocks) / number * 1e3, repeat * number, threads)


def cpu_ms(m: dict) -> float:
    """ms x CPU share: the CPU time per call, the figure other load inflates least (wall ms when no share)."""
    return m["ms"] * (m["share"] if m["share"] else 1.0)


def spread(xs: Sequence[float]) -> float:
    """Round-to-round spread: (p75 - p25) / median of per-round values."""
    from lwbench.measure.timer import percentile

    s = sorted(xs)
    med = statistics.median(s)
    return (percentile(s, 75) - percentile(s, 25)) / med if med else float("nan")


def clean_rounds(rounds: list[dict], methods: Sequence[str]) -> tuple[list[dict], int]:
    """(rounds to use, number of clean rounds): the rounds in which every method got its CPU (share >=
    CLEAN_SHARE); all rounds when fewer than 3 are clean."""
    ok = [r for r in rounds if all((r[m]["share"] or 0) >= CLEAN_SHARE for m in methods)]
    return (ok if len(ok) >= 3 else rounds), len(ok)


def fmt(x, nd: int = 3) -> str:
    return "" if x is None else f"{x:.{nd}f}"


def write_csv(path: str, rows: list[dict], method: str, load_before) -> None:
    """The rows with the machine block and the run's load as leading `# key: value` lines, atomically."""
    from lwbench.measure import machine_info
    from lwbench.report.write import atomic_write, to_csv

    atomic_write(path, to_csv(rows, comments={"machine": machine_info(), "load_average_1min":
                                              f"{load_before} before, {load1()} after", "method": method}))
