"""Per-layer measured time joined to the analytic rows by layer name (`lwbench profile NET --time`).

Attribution: forward pre/post hooks on every IR leaf module (the built model's module names are the IR
layer names, so the join is exact). Each hook reads the clock (and synchronises the GPU first on CUDA), so
a layer's time is its own kernels plus a little hook overhead. The per-layer figure is the median over the
measured iterations (warm-up by count and time as for end-to-end timing).

The end-to-end latency is measured separately, without hooks, by `time_module`; the hooked sum is reported
beside it so the attribution overhead is visible. Percentages of time are of the hooked sum (they add up to
100%), like Figure 2 of ShuffleNet V2 (Ma et al., ECCV 2018), which splits run time by operator type.

Achieved throughput per layer: GFLOP/s = 2·madds / time (one multiply-add = 2 floating-point operations);
GB/s = mac_bytes / time (the ShuffleNet V2 memory access cost in bytes over the time).
"""

from __future__ import annotations

import time
from collections import defaultdict

from lwbench.count import Profile
from lwbench.measure.timer import TimerConfig, Timing, autorange, percentile

CATEGORY_ORDER = ("conv", "depthwise", "pointwise", "linear", "element-wise", "shuffle", "concat/split", "pooling",
                  "other")


def _median(xs: list[float]) -> float:
    return percentile(sorted(xs), 50)


def layer_samples(model, x, names: list[str], cfg: TimerConfig | None = None, device: str = "cpu",
                  clock=time.perf_counter) -> tuple[dict[str, list[float]], Timing]:
    """{layer: [ms per measured iteration]} and the Timing of the hooked forward (its overhead included)."""
    import torch

    cfg = cfg or TimerConfig()
    cuda = str(device).startswith("cuda")
    model.eval()
    modules = dict(model.named_modules())
    wanted = [n for n in names if n in modules]
    current: dict[str, float] = {}
    starts: dict[str, float] = {}
    iters: list[dict[str, float]] = []

    def pre(name):
        def hook(mod, args):
            if cuda:
                torch.cuda.synchronize()
            starts[name] = clock()
        return hook

    def post(name):
        def hook(mod, args, out):
            if cuda:
                torch.cuda.synchronize()
            current[name] = current.get(name, 0.0) + (clock() - starts[name]) * 1000.0
        return hook

    handles = []
    for n in wanted:
        handles.append(modules[n].register_forward_pre_hook(pre(n)))
        handles.append(modules[n].register_forward_hook(post(n)))

    def run_once() -> float:
        current.clear()
        if cuda:
            torch.cuda.synchronize()
        t = clock()
        model(x)
        if cuda:
            torch.cuda.synchronize()
        ms = (clock() - t) * 1000.0
        iters.append(dict(current))
        return ms

    try:
        with torch.inference_mode():
            timing = autorange(run_once, cfg, clock)
    finally:
        for h in handles:
            h.remove()
    measured = iters[-timing.n:]
    out: dict[str, list[float]] = defaultdict(list)
    for it in measured:
        for n, ms in it.items():
            out[n].append(ms)
    return dict(out), timing


def join(profile: Profile, samples: dict[str, list[float]]) -> list[dict]:
    """The analytic rows with time_ms, time_pct, madds_pct, mac_pct, gflop_per_s, gb_per_s added."""
    tot = profile.totals
    times = {r.layer: _median(samples[r.layer]) if samples.get(r.layer) else None for r in profile.layers}
    tsum = sum(t for t in times.values() if t)
    rows = []
    for r in profile.layers:
        t = times[r.layer]
        rows.append({
            "model": r.model, "layer": r.layer, "kind": r.kind, "category": r.category, "in_shape": r.in_shape,
            "out_shape": r.out_shape, "params": r.params, "madds": r.madds, "mac_elems": r.mac_elems,
            "mac_bytes": r.mac_bytes, "time_ms": t,
            "time_pct": 100.0 * t / tsum if t is not None and tsum else None,
            "madds_pct": 100.0 * r.madds / tot["madds"] if tot["madds"] else 0.0,
            "mac_pct": 100.0 * r.mac_elems / tot["mac_elems"] if tot["mac_elems"] else 0.0,
            "gflop_per_s": 2.0 * r.madds / (t * 1e-3) / 1e9 if t else None,
            "gb_per_s": r.mac_bytes / (t * 1e-3) / 1e9 if t else None,
        })
    return rows


def by_category(rows: list[dict]) -> list[dict]:
    """One row per op category (ShuffleNet V2 Fig. 2 style): layers, madds, mac, time and their shares."""
    groups: dict[str, dict] = {}
    for r in rows:
        g = groups.setdefault(r["category"], {"category": r["category"], "layers": 0, "madds": 0, "mac_elems": 0,
                                              "mac_bytes": 0, "time_ms": 0.0})
        g["layers"] += 1
        for k in ("madds", "mac_elems", "mac_bytes"):
            g[k] += r[k]
        g["time_ms"] += r["time_ms"] or 0.0
    tm = sum(g["time_ms"] for g in groups.values())
    tmadds = sum(g["madds"] for g in groups.values())
    tmac = sum(g["mac_elems"] for g in groups.values())
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    out = []
    for g in sorted(groups.values(), key=lambda g: (order.get(g["category"], len(order)), g["category"])):
        t = g["time_ms"]
        out.append({**g, "time_pct": 100.0 * t / tm if tm else None,
                    "madds_pct": 100.0 * g["madds"] / tmadds if tmadds else 0.0,
                    "mac_pct": 100.0 * g["mac_elems"] / tmac if tmac else 0.0,
                    "gflop_per_s": 2.0 * g["madds"] / (t * 1e-3) / 1e9 if t else None,
                    "gb_per_s": g["mac_bytes"] / (t * 1e-3) / 1e9 if t else None})
    return out


def timed_profile(net, profile: Profile, device: str = "cpu", threads: int | None = None,
                  cfg: TimerConfig | None = None) -> dict:
    """Per-layer times (hooks) and the end-to-end latency (no hooks) of `net` at the profile's batch, run in
    the profile's dtype (float32, bfloat16 or float16; int8 is refused: it would need a quantised model).

    Returns {"layers": rows, "by_category": rows, "end_to_end": Timing, "hooked": Timing, "threads": {...}}."""
    from lwbench.build import build, example_input
    from lwbench.errors import LwbenchError
    from lwbench.measure.timer import cast, check_device, check_dtype, run_failure, set_threads, time_module

    cfg = cfg or TimerConfig()
    check_dtype(profile.dtype)
    check_device(device)
    threads_now = set_threads(threads)
    try:
        model, x = cast(build(net), example_input(net, profile.batch), device, profile.dtype)
        e2e = time_module(model, x, device=device, threads=threads, cfg=cfg, dtype=profile.dtype)
        samples, hooked = layer_samples(model, x, [r.layer for r in profile.layers], cfg, device)
    except LwbenchError:
        raise
    except (RuntimeError, MemoryError) as e:   # torch's OutOfMemoryError and kernel failures are RuntimeErrors
        raise run_failure(e, f"profile --time {net.name}", profile.batch, device) from e
    finally:
        _release(device)
    rows = join(profile, samples)
    return {"layers": rows, "by_category": by_category(rows), "end_to_end": e2e, "hooked": hooked,
            "threads": threads_now}


def _release(device: str) -> None:
    """Give cached GPU memory back after a run (so an OOM row does not starve the next one)."""
    if str(device).startswith("cuda"):
        try:
            import torch

            torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - best effort
            pass


def profile_time_cli(names: list[str], width, resolution, batch: int, dtype: str, device: str,
                     threads: int | None, min_time: float, fmt: str, output: str | None) -> list[dict]:
    """`lwbench profile NET --time`: per-layer time joined to the counts, a by-category summary, the machine
    block, exported through report.emit as `fmt` (table, csv, json, md; report.exports.layer_time_how). Returns
    the results (one per network: "layers" rows, "by_category", …), e.g. for `profile --time --plot`.

    With --output the file is checked writable and locked before the first network is measured, and rewritten
    (atomically) after each network, so an interrupted run over several networks keeps those it finished."""
    from contextlib import ExitStack

    from lwbench.count import count
    from lwbench.measure.machine import machine_info
    from lwbench.measure.timer import check_device
    from lwbench.report.emit import emit, render
    from lwbench.report.exports import layer_time_how
    from lwbench.report.write import atomic_write, output_lock
    from lwbench.spec import load

    check_device(device)
    cfg = TimerConfig(min_time_s=min_time, max_time_s=max(10.0, min_time))
    nets = [load(n, width, resolution) for n in names]  # a wrong name or file fails before anything is measured
    results: list[dict] = []
    with ExitStack() as hold:
        if output:
            hold.enter_context(output_lock(output))  # checks it writable too: before anything is measured
        machine = machine_info()
        for net in nets:
            prof = count(net, batch, dtype)
            res = timed_profile(net, prof, device, threads, cfg)
            res.update(device=device, batch=batch, dtype=dtype,
                       layer_sum_ms=sum(r["time_ms"] or 0.0 for r in res["layers"]))
            results.append(res)
            if output:
                atomic_write(output, render(fmt, **layer_time_how(results, machine, cfg.to_dict())))
        if not output:
            emit(fmt, **layer_time_how(results, machine, cfg.to_dict()))
    return results
