"""The part of timing an ONNX Runtime session that runs wherever ORT runs: on this machine, and shipped to a
remote target (lwbench.targets.bundle copies this file byte for byte), so a probe timed on a board is timed
and checked by the very code that times one here.

The standard library only at module level; numpy and onnxruntime are imported inside the functions (a target
has them and nothing of lwbench), lwbench.measure.timer and lwbench.measure.cleantime are shipped beside this.

    check_facts(y, ref, metric, tol)   the output check of lwbench.onnx.run.check_outputs (rel_err, ...)
    runner(sess, x, device)            one inference as a zero-argument callable
    time_session(sess, x, ...)         lwbench's autorange over session runs, with the process CPU share
    kernel_runs(profile_path)          ORT's profiler events per model run (lwbench.onnx.layers joins them)
    profiled_medians(per_run, ...)     per run: the layout conversions' kernel time, every node's, the nodes
    time_probe(sess, x, ref, ...)      a calibration probe: check, time (clean calls apart), layout_ms
    check_input, output_sample, sampled_check   the check of a probe timed on a target (inputs made there)
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

FP32_TOLERANCE = 1e-4


def check_facts(y, ref, metric: str = "rel_err", tol: float = FP32_TOLERANCE) -> dict:
    """max_abs_err, rel_err (max |y − ref| / max |ref|), l2_rel_err (‖y − ref‖ / ‖ref‖), the tolerance used and
    `valid` (`metric` within `tol`). A shape mismatch or a non-finite output is invalid."""
    import numpy as np

    out = {"tolerance_metric": metric, "tolerance": tol}
    y, ref = np.asarray(y, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if y.shape != ref.shape:
        return {**out, "max_abs_err": None, "rel_err": None, "l2_rel_err": None, "valid": False,
                "why": f"output shape {list(y.shape)}, torch's {list(ref.shape)}"}
    diff = np.abs(y - ref)
    scale, norm = float(np.abs(ref).max()), float(np.linalg.norm(ref))
    out.update(max_abs_err=float(diff.max()) if diff.size else 0.0,
               rel_err=float(diff.max() / scale) if scale > 0 else float(diff.max()),
               l2_rel_err=float(np.linalg.norm(y - ref) / norm) if norm > 0 else float(np.linalg.norm(y - ref)))
    finite = bool(np.isfinite(y).all())
    out["valid"] = finite and out[metric] <= tol
    if not out["valid"]:
        out["why"] = "non-finite output" if not finite else f"{metric} {out[metric]:.3g} > tolerance {tol:g}"
    return out


def runner(sess, x, device: str):
    """A zero-argument callable running one inference of `x` on `sess` (CUDA: bound on the device)."""
    name = sess.get_inputs()[0].name
    if not str(device).startswith("cuda"):
        feeds = {name: x}
        return lambda: sess.run(None, feeds)
    import onnxruntime as ort

    dev_id = int(device.split(":", 1)[1]) if ":" in device else 0
    io = sess.io_binding()
    io.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(x, "cuda", dev_id))
    for o in sess.get_outputs():
        io.bind_output(o.name, "cuda", dev_id)

    def run():
        sess.run_with_iobinding(io)
        io.synchronize_outputs()
    return run


def time_session(sess, x, device: str, cfg, threads: int | None):
    """lwbench's autorange over `sess` runs; Timing with extra cpu_share (process CPU time per thread)."""
    from lwbench.measure.timer import autorange

    fn = runner(sess, x, device)
    clock = time.perf_counter

    def run_once() -> float:
        t = clock()
        fn()
        return (clock() - t) * 1000.0

    c0, w0 = time.process_time(), time.perf_counter()
    t = autorange(run_once, cfg)
    cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
    t.extra["cpu_share"] = cpu_s / wall_s / max(1, threads or 1) if wall_s > 0 else None
    return t


def kernel_runs(profile_path: str) -> tuple[list[dict[str, float]], dict[str, dict]]:
    """Per model run: {node: kernel ms}; and {node: {"op", "provider"}} from an ORT profile JSON."""
    with open(profile_path, encoding="utf-8") as f:
        events = json.load(f)
    runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                  key=lambda e: e["ts"])
    nodes = sorted((e for e in events if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time")),
                   key=lambda e: e["ts"])
    out: list[dict[str, float]] = [defaultdict(float) for _ in runs]
    meta: dict[str, dict] = {}
    i = 0
    for e in nodes:
        while i < len(runs) and e["ts"] > runs[i]["ts"] + runs[i]["dur"]:
            i += 1
        if i == len(runs):
            break
        name = e["name"][: -len("_kernel_time")]
        out[i][name] += e["dur"] / 1000.0
        args = e.get("args", {})
        meta.setdefault(name, {"op": args.get("op_name", ""), "provider": args.get("provider", "")})
    return [dict(r) for r in out], meta


def profiled_medians(per_run: list[dict[str, float]], meta: dict[str, dict], ops, runs: int) -> dict:
    """Over the last `runs` model runs: the median per run of the kernel time of the nodes whose op is in `ops`
    (ORT's layout conversions: lwbench.onnx.graphmap.LAYOUT_OPS), `layout_ms`; of every node's, `kernels_ms`;
    and the nodes timed per run, `nodes` (0 when there is no run)."""
    from lwbench.measure.timer import percentile

    ops, last = set(ops), per_run[-runs:]
    lay = sorted(sum(ms for n, ms in r.items() if meta.get(n, {}).get("op") in ops) for r in last)
    tot = sorted(sum(r.values()) for r in last)
    return {"layout_ms": percentile(lay, 50) if lay else 0.0, "kernels_ms": percentile(tot, 50) if tot else 0.0,
            "nodes": max((len(r) for r in last), default=0)}


def profiled_kernels(profiled, x, ops, runs: int = 25) -> dict:
    """`profiled(prefix)`: a second session with ORT's profiler on (files under `prefix`); run `runs` + 2 times on
    `x`: profiled_medians. Every node's profiled time holds the profiler's own cost (a few µs, lwbench.predict
    .fitcal.profiler_cost): `kernels_ms` and `nodes` measure it on the identity chains."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lwbench-ortprof-") as d:
        sess = profiled(f"{d}/p")
        feeds = {sess.get_inputs()[0].name: x}
        for _ in range(runs + 2):
            sess.run(None, feeds)
        per_run, meta = kernel_runs(sess.end_profiling())
    return profiled_medians(per_run, meta, ops, runs)


def profile_runs(median_ms: float) -> int:
    """About 50 ms of profiled runs, 5 to 25."""
    return int(min(25, max(5, 50.0 / max(1e-3, median_ms))))


CHECK_SEED = 1234
CHECK_SAMPLE = 512


def check_input(shape, seed: int = CHECK_SEED):
    """A seeded float32 input of `shape`, uniform in [-√3, √3) (unit variance), made by integer hashing
    (splitmix64 of the element index): the same bits on every machine and numpy version, so a target makes the
    very input the host computed torch's reference on without it being sent (a calibration's inputs are 2.5 GB).
    """
    import math

    import numpy as np

    n = math.prod(int(d) for d in shape)
    z = np.arange(n, dtype=np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % (1 << 64))
    z = z * np.uint64(0x9E3779B97F4A7C15)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return ((u * 2.0 - 1.0) * math.sqrt(3.0)).astype(np.float32).reshape([int(d) for d in shape])


def sample_positions(n: int, k: int = CHECK_SAMPLE):
    """`k` positions spread evenly over a flattened output of `n` elements, first and last included (integer
    arithmetic: the same on every machine)."""
    import numpy as np

    k = max(1, min(int(n), int(k)))
    return (np.arange(k, dtype=np.int64) * max(0, int(n) - 1)) // max(1, k - 1)


def output_sample(y, k: int = CHECK_SAMPLE) -> dict:
    """What a target sends back of a probe's output for the host's check: its shape, whether every element is
    finite, and its values at sample_positions (float32, base64)."""
    import base64

    import numpy as np

    y = np.asarray(y, dtype=np.float32)
    flat = y.reshape(-1)
    return {"check_shape": list(y.shape), "check_finite": bool(np.isfinite(flat).all()),
            "check_sample_b64": base64.b64encode(flat[sample_positions(flat.size, k)].tobytes()).decode()}


def sampled_check(doc: dict, ref_shape, ref_sample, tol: float = FP32_TOLERANCE) -> dict:
    """check_facts of the output sample a target sent (output_sample) against torch's output (shape `ref_shape`)
    at the same positions, `ref_sample`; a non-finite output anywhere is invalid."""
    import base64

    import numpy as np

    if list(doc.get("check_shape") or []) != list(ref_shape):
        return {"valid": False, "rel_err": None, "why": f"output shape {doc.get('check_shape')}, torch's "
                f"{list(ref_shape)}"}
    y = np.frombuffer(base64.b64decode(doc["check_sample_b64"]), dtype=np.float32)
    facts = check_facts(y, np.asarray(ref_sample, dtype=np.float32), "rel_err", tol)
    if not doc.get("check_finite", False):
        facts.update(valid=False, why="non-finite output")
    return {**facts, "check_sampled": int(y.size)}


def time_probe(sess, x, ref, device: str, threads: int, cfg, profiled, layout_ops):
    """(Timing, facts) of one calibration probe's session: its output on `x` checked against torch's `ref`
    (ValueError beyond FP32_TOLERANCE; `ref` None, on a target: the output_sample goes into facts for the host
    to check), timed by lwbench's autorange (one thread on the CPU: the calls another
    process preempted set apart, lwbench.measure.cleantime.autorange_clean), and `layout_ms` from a profiled
    second session (`profiled(prefix)`, profiled_kernels). facts: clean_median_ms, clean_n (and cpu_median_ms
    with one thread), rel_err, layout_ms, profiled (kernels_ms, nodes): what lwbench.predict.calibrate records
    beside the timing."""
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    if ref is None:
        chk = output_sample(y)
    else:
        chk = check_facts(y, ref, "rel_err", FP32_TOLERANCE)
        if not chk["valid"]:
            raise ValueError(f"onnxruntime output differs from torch's ({chk['why']})")
        chk = {"rel_err": chk["rel_err"]}
    if device == "cpu" and threads == 1:   # ORT runs in this thread: preempted calls set apart
        from lwbench.measure.cleantime import autorange_clean

        t, clean = autorange_clean(runner(sess, x, device), cfg)
    else:
        t, clean = time_session(sess, x, device, cfg, threads), {"clean_median_ms": None, "clean_n": 0}
    prof = profiled_kernels(profiled, x, layout_ops, profile_runs(t.median_ms))
    return t, {**clean, **chk, "layout_ms": prof["layout_ms"],
               "profiled": {"kernels_ms": prof["kernels_ms"], "nodes": prof["nodes"]}}
