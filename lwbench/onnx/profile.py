"""`lwbench profile NET --time --runtime onnxruntime`: ORT's per-node kernel times joined to the layers (one row per
fused group; ORT's own nodes as rows), beside madds and mac, and per op category (ShuffleNet V2, Fig. 2).

The end-to-end latency is timed on a plain session (lwbench's timer); a second session with ORT's profiler on
runs the same warm-up and auto-range, and each node's time is the median over the measured runs (the profiler's
overhead shows as the difference between `profiled_median_ms` and the end-to-end median).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from lwbench.measure.layers import by_category
from lwbench.measure.timer import TimerConfig


def timed_profile(spec: str, width, resolution, profile, device: str = "cpu", threads: int | None = None,
                  cfg: TimerConfig | None = None, ort_opt: str = "all") -> dict:
    """{"layers", "by_category", "end_to_end", "hooked" (the profiled Timing), "attribution", "facts", "threads"}."""
    from lwbench.measure.protocol import Job
    from lwbench.onnx import layers as L
    from lwbench.onnx.export import chain
    from lwbench.onnx.graphmap import map_chain, read_graph
    from lwbench.onnx.run import time_session
    from lwbench.onnx.session import session
    from lwbench.runtimes.ort import prepare

    cfg = cfg or TimerConfig()
    job = Job(net=spec, width=width, resolution=resolution, batch=profile.batch, threads=threads, device=device,
              dtype=profile.dtype, runtime="onnxruntime", options={"ort_opt": ort_opt})
    net, sess, x, facts = prepare(job)
    if not facts["valid"]:
        from lwbench.errors import LwbenchError

        raise LwbenchError(f"profile --time --runtime onnxruntime {net.name}: the ONNX graph's output differs from "
                           f"torch's ({facts['why']}); not timed")
    e2e = time_session(sess, x, device, cfg, threads)
    with tempfile.TemporaryDirectory(prefix="lwbench-ort-") as d:
        psess = session(facts["onnx_file"], device, threads, ort_opt, profile_prefix=f"{d}/prof",
                        optimized_path=f"{d}/optimized.onnx")
        hooked = time_session(psess, x, device, cfg, threads)
        runs, meta = L.kernel_runs(psess.end_profiling())
        graphs = [read_graph(p) for p in chain(facts["onnx_file"])] + [read_graph(Path(d) / "optimized.onnx")]
    mapping = map_chain(graphs, [r.layer for r in profile.layers])
    rows = L.join(profile, mapping, L.node_medians(runs[-hooked.n:]), meta)
    return {"layers": rows, "by_category": by_category(rows), "end_to_end": e2e, "hooked": hooked,
            "attribution": L.attribution(rows), "facts": facts,
            "threads": {"threads": threads, "interop_threads": 1}}


def layer_table(res: dict):
    from rich.markup import escape
    from rich.table import Table

    from lwbench.report.human import si

    e2e, rows, f = res["end_to_end"], res["layers"], res["facts"]
    att = res["attribution"]
    title = (f"{res['model']}  onnxruntime {f['onnxruntime']} {f['ep']} ort_opt={f['ort_opt']} {res['dtype']}  "
             f"threads {res['threads']['threads']}  batch {res['batch']}  end-to-end median {e2e.median_ms:.3f} ms "
             f"(IQR {e2e.iqr_ms:.3f}, n {e2e.n}{', noisy' if e2e.noisy else ''}); kernels {att['kernel_ms']:.3f} ms: "
             f"layers {100 * (att['layers_share'] or 0):.1f}%, ORT layout {100 * (att['layout_share'] or 0):.1f}%, "
             f"quantize {100 * (att['quant_share'] or 0):.1f}%, unattributed {100 * (att['unattributed_share'] or 0):.2f}%")
    t = Table(title=escape(title), caption="one row per ORT-fused group of layers (ORT's own nodes after); time: median "
              "kernel time over the profiled runs; GFLOP/s = 2·madds/time; GB/s = mac_bytes/time")
    for c in ("layer", "layers", "ort ops", "category", "madds", "madds %", "mac %", "time ms", "time %", "GFLOP/s",
              "GB/s"):
        t.add_column(c, justify="left" if c in ("layer", "ort ops", "category") else "right")

    def g(v, d=2):
        return "" if v is None else f"{v:.{d}f}"

    for r in rows:
        t.add_row(escape(r["layer"]), str(r["n_layers"]), escape(r["ort_ops"]), r["category"], si(r["madds"]),
                  g(r["madds_pct"], 1), g(r["mac_pct"], 1), g(r["time_ms"], 3), g(r["time_pct"], 1),
                  g(r["gflop_per_s"], 1), g(r["gb_per_s"], 2))
    return t


def _timing_doc(res: dict) -> dict:
    e2e = res["end_to_end"]
    return {"model": res["model"], "device": res["device"], "batch": res["batch"], "dtype": res["dtype"],
            "runtime": "onnxruntime", **res["threads"], **e2e.stats(), "profiled_median_ms": res["hooked"].median_ms,
            **res["attribution"], **{k: v for k, v in res["facts"].items() if k != "providers_available"}}


def profile_time_cli(specs: list[str], width, resolution, batch: int, dtype: str, device: str, threads: int | None,
                     min_time: float, fmt: str | None, output: str | None, ort_opt: str = "all",
                     target: str | None = None) -> list[dict]:
    """Measure each network, then the table (layers and categories), CSV (rows; timing and categories as `#`
    comments), JSON or Markdown, with the machine block (onnxruntime facts included). `target`: an SSH target
    spec; measured there (lwbench.targets.profile), the machine block then being the target's."""
    from contextlib import nullcontext

    from lwbench.count import count
    from lwbench.measure.machine import machine_info
    from lwbench.report.emit import emit
    from lwbench.report.tables.layer_time import category_table
    from lwbench.runtimes.ort import info
    from lwbench.spec import load

    cfg = TimerConfig(min_time_s=min_time, max_time_s=max(10.0, min_time))
    results = []
    with _opened(target) if target else nullcontext() as remote:
        measure = remote.timed_profile if remote else timed_profile
        for s in specs:
            net = load(s, width, resolution)
            res = measure(s, width, resolution, count(net, batch, dtype), device, threads, cfg, ort_opt)
            res.update(model=net.name, device=device, batch=batch, dtype=dtype)
            results.append(res)
    machine = results[-1]["machine"] if target else {**machine_info(), "onnxruntime": info()}
    kind = fmt or "table"
    if kind == "table":
        emit("table", output=output, table=lambda _rows: [t for r in results for t in (layer_table(r),
                                                                                    category_table(r))])
        return results
    meta = {"timer": cfg.to_dict()}
    for r in results:
        meta[f"end_to_end {r['model']}"] = _timing_doc(r)
        meta[f"by_category {r['model']}"] = r["by_category"]
    docs = [{"machine": machine, "timer": cfg.to_dict(), "end_to_end": _timing_doc(r), "layers": r["layers"],
             "by_category": r["by_category"]} for r in results]
    sections = [s for r in results for s in ((f"{r['model']}: onnxruntime per layer group", r["layers"]),
                                             (f"{r['model']} by op category", r["by_category"]))]
    emit(kind, [row for r in results for row in r["layers"]], output=output, machine=machine,
         meta=meta if kind == "csv" else {"timer": cfg.to_dict()}, document=docs[0] if len(docs) == 1 else docs,
         sections=sections if kind == "md" else None)
    return results


def _opened(target: str):
    from lwbench.targets.profile import RemoteProfiler

    return RemoteProfiler(target)

