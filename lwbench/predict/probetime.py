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

The clean-call timing and a probe's record are lwbench.measure.cleantime (shipped to remote targets for
`calibrate --target`: the same code times a probe there).
"""

from __future__ import annotations

from lwbench.measure.cleantime import CLEAN_CPU_RATIO, MIN_CLEAN, autorange_clean, record  # noqa: F401


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


# Each layer of a synthetic network is timed inside it too (forward hooks: lwbench.measure.layers), once the network
# is timed without hooks: what each layer costs among the others, which the context model is fitted to by
# category (lwbench.predict.context, the `layers:` forms). Half a second at least, 20 calls.
TIMER_LAYERS = {"warmup_runs": 3, "warmup_s": 0.1, "min_runs": 20, "min_time_s": 0.5, "max_time_s": 1.5,
                "max_runs": 2000}


def layer_times(model, x, names: list[str], threads: int = 1) -> dict:
    """Each named layer's time inside the network (the forward hooks of `lwbench profile --time`): {"timer",
    "layers": {name: [median ms, min ms]}, "hooked": {"median_ms", "min_ms"}} (the hooked forward's own time, the
    hooks' cost included)."""
    import torch

    from lwbench.measure.layers import layer_samples
    from lwbench.measure.timer import TimerConfig, percentile, set_threads

    set_threads(threads)
    with torch.inference_mode():
        samples, t = layer_samples(model, x, names, TimerConfig(**TIMER_LAYERS))
    layers = {n: [percentile(sorted(v), 50), min(v)] for n, v in samples.items() if v}
    return {"timer": TIMER_LAYERS, "layers": layers, "hooked": {"median_ms": t.median_ms, "min_ms": t.min_ms}}


def layer_ms(rec: dict, stat: str = "median") -> dict[str, float] | None:
    """{layer: ms inside the network} of a synthetic network's record (`layer_times`), or None (not measured: a
    calibration made before, or ONNX Runtime)."""
    got = (rec.get("in_network") or {}).get("layers")
    if not got:
        return None
    i = 1 if stat == "min" else 0
    return {n: float(v[i]) for n, v in got.items()}


STATISTICS = ("median", "min")


def check_statistic(stat: str) -> str:
    from lwbench.errors import InputError

    if stat not in STATISTICS:
        raise InputError(f"--statistic {stat}: expected {' or '.join(STATISTICS)}")
    return stat


def probe_ms(rec: dict, less_layout: bool = False, stat: str = "median", profiler_ms: float = 0.0,
             per_node_ms: float | None = None, fixed_ms: float = 0.0) -> float:
    """The time the fit uses for a probe record. `median` (the default): the median of its clean calls when it has
    enough; else (a long probe on a loaded machine: every call preempted) the median CPU time of its calls, the
    time it computed; else the median of all its calls. `min`: its fastest call (the uncontended cost; on a
    shared VM whose speed drifts, the statistic that repeats: results/README.md "Predicted latency"). ONNX
    Runtime, `less_layout`: less the layout conversions its profiler timed around the lone layer, `layout_ms`, at
    most 80% of the time; lwbench.predict.layout. `profiler_ms`: what ORT's profiler itself added to those
    conversions' times (its per-node cost times their count, lwbench.predict.fitcal.profiler_cost), given back.
    With `per_node_ms` (that per-node cost) and a record of the profiled session's kernel time (`profiled`,
    calibrations since it was recorded), the conversions are taken out as their share of the profiled kernels
    (each less per_node_ms) times the timed call less `fixed_ms`, not as profiled µs: the profiled session runs
    at another moment than the timed one and, for `min`, gives a typical run, not the fastest (on G's run-5
    calibration a 640x55x55 depthwise probe read 1.02 ms at its fastest, 1.41 at its median, 0.81 ms of
    profiled conversions in 1.24 of kernels: less 0.81 its fastest left 0.21 ms to the layer, its share 0.35)."""
    layout = max(0.0, (rec.get("layout_ms") or 0.0) - profiler_ms) if less_layout else 0.0
    if stat == "min":
        ms = rec["timing"]["min_ms"]
    else:
        ms = next((rec[k] for k in ("clean_median_ms", "cpu_median_ms") if rec.get(k) is not None),
                  rec["timing"]["median_ms"])
    if layout and per_node_ms is not None and (rec.get("profiled") or {}).get("kernels_ms"):
        ker = rec["profiled"]["kernels_ms"] - per_node_ms * rec["profiled"]["nodes"]
        if ker > layout:
            layout = max(0.0, ms - fixed_ms) * layout / ker
    return max(0.2 * ms, ms - layout)
