"""ShuffleNet V2's Figure 2: the share of forward time per op category (conv, element-wise, shuffle,
concat/split, other), measured on this device: with forward hooks on every layer module (torch), or from ONNX
Runtime's profiler joined to the layers (`--runtime onnxruntime`: the join of `profile --time --runtime
onnxruntime`, lwbench.onnx.profile), where a node ORT fused (FusedConv = conv + bn + relu) counts in the
category of its main layer, and ORT's own nodes (layout reorders, copies, Q/DQ) and anything unattributed are
categories of their own, so the shares still add up to every profiled kernel microsecond."""

from __future__ import annotations

from collections.abc import Callable

from lwbench.report.tables.guidelines import FIG2_CATEGORIES
from lwbench.vocab import category_key

FIG2_NETS = ("shufflenet_v1_g3_x1_0", "mobilenet_v2")
# lwbench.count categories -> the paper's Figure 2 categories (conv includes linear: both are GEMMs)
_FIG2 = {"conv": "conv", "pointwise": "conv", "depthwise": "conv", "linear": "conv",
         "element-wise": "element-wise", "shuffle": "shuffle", "concat/split": "concat/split"}


def fig2_category(category: str) -> str:
    return _FIG2.get(category, "other")


ORT_OWN = ("layout (ORT)", "transfer (ORT)", "quantize (ORT)")   # lwbench.onnx.layers.KIND_CATEGORY's own rows
ORT_EXTRA = ("ort_own", "unattributed")                         # their columns (<key>_ms, <key>_pct)


def breakdown(names: list[str] | None, device: str = "cpu", threads: int | None = None, batch: int = 1,
              min_time_s: float = 1.0, resolution: int | None = None,
              on_skip: Callable[[str], None] | None = None,
              on_row: Callable[[list[dict]], None] | None = None, runtime: str = "torch",
              ort_opt: str = "all") -> list[dict]:
    """The paper's Figure 2: share of forward time per op category (conv, element-wise, shuffle, concat/split,
    other), measured on this device by `lwbench.measure.layers` (forward hooks on every layer module, whose
    names are the IR layer names). Each layer's time is its median over the measured runs; shares are of the
    sum over layers. The unhooked forward (median) is reported beside it, so the hooks' overhead is visible.
    Batch norm is a separate element-wise layer here (not folded), as in an unfused inference graph.
    Every network is loaded before any is timed: a name not in configs/ is skipped with `on_skip`'s line, and
    when no name is found the run is one InputError (nothing to measure is not a success). `on_row(rows so far)`
    is called after each network (the CLI writes its --output there, so an interrupted run keeps them).
    `runtime` "onnxruntime": each network exported, checked against torch and profiled by ORT (`ort_opt` its
    graph optimisation level); shares are of the summed kernel time (see `_breakdown_ort`).
    """
    from lwbench.errors import InputError, UnknownNameError
    from lwbench.spec import load

    nets, missing = [], []
    for name in names or FIG2_NETS:
        try:
            nets.append((name, load(name, resolution=resolution)))
        except UnknownNameError as e:
            missing.append((name, e))
    if missing and not nets:
        raise InputError("--net: " + "; ".join(str(e) for _, e in missing))
    for name, _ in missing:
        if on_skip:
            on_skip(f"breakdown: {name} is not in configs/ (skipped)")
    rows: list[dict] = []
    for spec, net in nets:
        rows.append(_breakdown_ort(spec, net, device, threads, batch, min_time_s, resolution, ort_opt)
                    if runtime == "onnxruntime" else _breakdown_one(net, device, threads, batch, min_time_s))
        if on_row:
            on_row(list(rows))
    return rows


def _breakdown_one(net, device: str, threads: int | None, batch: int, min_time_s: float) -> dict:
    from lwbench.count import count
    from lwbench.measure.layers import timed_profile

    prof = count(net, batch=batch)
    res = timed_profile(net, prof, device=device, threads=threads, cfg=_cfg(min_time_s))
    per = dict.fromkeys(FIG2_CATEGORIES, 0.0)
    for r in res["layers"]:
        per[fig2_category(r["category"])] += r["time_ms"] or 0.0
    row = {"model": net.name, "runtime": "torch", "device": device, "batch": batch, "threads": threads}
    return _shares(row, res, per, prof.totals["madds"])


def _cfg(min_time_s: float):
    from lwbench.measure.timer import TimerConfig

    return TimerConfig(min_time_s=min_time_s, warmup_s=min(0.3, min_time_s), max_time_s=max(10.0, min_time_s))


def _shares(row: dict, res: dict, per: dict[str, float], madds: int) -> dict:
    """The row's runs, latencies, and per category (`per`: name -> ms) its time and share of their sum."""
    total = sum(per.values())
    row.update({"runs": res["hooked"].n, "forward_median_ms": res["end_to_end"].median_ms,
                "hooked_median_ms": res["hooked"].median_ms, "layers_total_ms": total})
    for c, ms in per.items():
        key = category_key(c)
        row[f"{key}_ms"] = ms
        row[f"{key}_pct"] = 100 * ms / total if total else 0.0
    row["madds"] = madds
    return row


def ort_category(category: str) -> str:
    """A row of the ORT join -> its Figure 2 category, or "ort_own" / "unattributed" for ORT's own nodes."""
    if category in ORT_OWN:
        return "ort_own"
    return "unattributed" if category == "unattributed" else fig2_category(category)


def _breakdown_ort(spec: str, net, device: str, threads: int | None, batch: int, min_time_s: float,
                   resolution: int | None, ort_opt: str) -> dict:
    """Figure 2 on ONNX Runtime: lwbench.onnx.profile.timed_profile (the export checked against torch, ORT's
    per-node kernel medians joined to the layer groups). A group's time counts in its main layer's category (the
    one with the most madds: a FusedConv's conv), so a fused bn + relu costs no element-wise time, as on ORT."""
    from lwbench.count import count
    from lwbench.onnx.profile import timed_profile

    prof = count(net, batch=batch)
    res = timed_profile(spec, None, resolution, prof, device, threads, _cfg(min_time_s), ort_opt)
    per = dict.fromkeys((*FIG2_CATEGORIES, *ORT_EXTRA), 0.0)
    fused = [r for r in res["layers"] if r["n_layers"] > 1 and r["time_ms"] is not None]
    for r in res["layers"]:
        per[ort_category(r["category"])] += r["time_ms"] or 0.0
    row = {"model": net.name, "runtime": "onnxruntime", "ort_opt": ort_opt, "ep": res["facts"]["ep"],
           "device": device, "batch": batch, "threads": threads}
    row = _shares(row, res, per, prof.totals["madds"])
    row.update({"fused_groups": len(fused), "fused_layers": sum(r["n_layers"] for r in fused),
                "fused_pct": 100 * sum(r["time_ms"] for r in fused) / row["layers_total_ms"]
                if row["layers_total_ms"] else 0.0, "rel_err": res["facts"].get("rel_err")})
    return row
