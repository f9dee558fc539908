"""`profile --time` on a remote target: per-layer time from ONNX Runtime's profiler on the target, joined to
lwbench's layers on the host exactly as a local `profile --time --runtime onnxruntime` row is.

The target runs the exporter's .onnx file twice, as locally: a plain session timed by lwbench's timer (the
end-to-end latency) and a profiled session timed the same way, whose per-node kernel events and optimised
graph come back (lwbench.targets.runner.ort_node_profile). The host maps the optimised graph onto the layers
(lwbench.onnx.graphmap.map_chain over the export chain + that graph) and takes each node's median over the
measured runs (lwbench.onnx.layers), so one layer row means the same on a board as on the laptop.

Per-layer time needs ONNX Runtime on a target: the torch path runs frozen TorchScript there, whose layers
forward hooks cannot see (`bench --target ... --mode script` times it end to end).
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from lwbench.errors import InputError, LwbenchError


def _timing(doc: dict):
    from lwbench.measure.timer import stats_from_samples

    return stats_from_samples(doc["samples_ms"], doc["timing"]["first_run_ms"] if "timing" in doc
                              else doc["first_run_ms"], None, doc.get("warmup_runs") or 0)


def remote_timed_profile(target, spec: str, width, resolution, profile, threads: int | None = None, cfg=None,
                         ort_opt: str = "all", timeout_s: float = 900.0) -> dict:
    """The result dict of lwbench.onnx.profile.timed_profile ("layers", "by_category", "end_to_end", "hooked",
    "attribution", "facts", "threads"), measured on `target` (an SshTarget) plus its "machine" block."""
    from lwbench.measure.layers import by_category
    from lwbench.measure.timer import TimerConfig
    from lwbench.onnx import layers as L
    from lwbench.onnx.export import chain, export_onnx
    from lwbench.onnx.graphmap import map_chain, read_graph
    from lwbench.spec import load

    cfg = cfg or TimerConfig()
    job = {"net": spec, "width": width, "resolution": resolution, "batch": profile.batch, "threads": threads,
           "dtype": profile.dtype, "runtime": "onnxruntime", "mode": "eager", "timer": cfg.to_dict(),
           "options": {"ort_opt": ort_opt}}
    doc = target.run_doc(job, timeout_s, profile=True)
    if doc.get("error"):
        raise LwbenchError(doc["error"])
    path = export_onnx(load(spec, width, resolution), profile.batch, dtype=profile.dtype,   # cached: the file sent
                       int8_rule=target.int8_rule(job))
    hooked = _timing(doc["profiled"])
    with tempfile.TemporaryDirectory(prefix="lwbench-remote-prof-") as d:
        events, opt = Path(d, "profile.json"), Path(d, "optimized.onnx")
        events.write_text(json.dumps(doc["ort_events"]))
        opt.write_bytes(base64.b64decode(doc["optimized_graph_b64"]))
        runs, meta = L.kernel_runs(str(events))
        graphs = [read_graph(p) for p in chain(path)] + [read_graph(opt)]
    mapping = map_chain(graphs, [r.layer for r in profile.layers])
    rows = L.join(profile, mapping, L.node_medians(runs[-hooked.n:]), meta)
    machine = doc.get("machine") or {}
    facts = {"onnxruntime": doc.get("runtime_version"), "ep": "CPUExecutionProvider", "ort_opt": ort_opt,
             "target": target.name, "cores": doc.get("cores"), "valid": None}
    return {"layers": rows, "by_category": by_category(rows), "end_to_end": _timing(doc), "hooked": hooked,
            "attribution": L.attribution(rows), "facts": facts, "machine": machine,
            "threads": {"threads": doc.get("threads"), "interop_threads": 1}}


def check_remote_profile(runtime: str, device: str) -> None:
    if runtime != "onnxruntime":
        raise InputError(f"profile --time --target: per-layer time on a target comes from ONNX Runtime's profiler; "
                         f"use --runtime onnxruntime (--runtime {runtime} runs frozen TorchScript there: `lwbench "
                         "bench NET --mode script --target ...` times it end to end)")
    if device != "cpu":
        raise InputError(f"--device {device}: SSH targets time on their CPU only")


class RemoteProfiler:
    """An SSH target opened for a `profile --time` run: `timed_profile(...)` has the signature of
    lwbench.onnx.profile.timed_profile; the machine block's `command` and `git_commit` are this host's."""

    def __init__(self, spec: str):
        from lwbench.targets.remote import SshTarget

        self.target = SshTarget(spec)

    def timed_profile(self, spec, width, resolution, profile, device="cpu", threads=None, cfg=None, ort_opt="all"):
        from lwbench.measure.machine import command_line, git_commit

        check_remote_profile("onnxruntime", device)
        res = remote_timed_profile(self.target, spec, width, resolution, profile, threads, cfg, ort_opt)
        res["machine"] = {**res["machine"], "command": command_line(), "git_commit": git_commit()}
        return res

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.target.close()

