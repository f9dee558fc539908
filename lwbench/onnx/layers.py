"""Per-layer time in ONNX Runtime: ORT's profiler (per-node kernel times, one event per node per run) joined to
lwbench's layers through `lwbench.onnx.graphmap`.

One row per layer group: the layers one ORT node computes (a FusedConv covering conv + bn + relu is one row
listing the three layers, so the table shows the fusion), merged where nodes share layers (a channel shuffle
is three ORT nodes for one layer). Nodes ORT inserted (ReorderInput/ReorderOutput layout conversions, device
copies), Q/DQ nodes left standing after int8 fusion, and any node the map could not place ("unattributed") are
rows of their own, so the rows add up to every profiled kernel microsecond. Layers ORT eliminated (dropout,
identity; a flatten folded into Gemm) are rows with no time and `ort_ops` "(eliminated)".
"""

from __future__ import annotations

from collections import defaultdict

from lwbench.measure.timer import percentile
from lwbench.onnx.ortcore import kernel_runs  # noqa: F401 - ORT's profile per run (shipped to targets too)

KIND_CATEGORY = {"layout": "layout (ORT)", "transfer": "transfer (ORT)", "quant": "quantize (ORT)",
                 "unattributed": "unattributed"}


def node_medians(runs: list[dict[str, float]]) -> dict[str, float]:
    per: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        for k, v in r.items():
            per[k].append(v)
    return {k: percentile(sorted(v), 50) for k, v in per.items()}


def _group_row(model, lays, prof_rows, nodes, times, meta):
    rs = [prof_rows[x] for x in lays]
    main = max(rs, key=lambda r: r.madds) if any(r.madds for r in rs) else rs[0]
    t = sum(times.get(n, 0.0) for n in nodes) if nodes else None
    return {"model": model, "layer": lays[0], "layers": " ".join(lays), "n_layers": len(lays),
            "kind": "+".join(dict.fromkeys(r.kind for r in rs)), "category": main.category,
            "in_shape": rs[0].in_shape, "out_shape": rs[-1].out_shape, "params": sum(r.params for r in rs),
            "madds": sum(r.madds for r in rs), "mac_elems": sum(r.mac_elems for r in rs),
            "mac_bytes": sum(r.mac_bytes for r in rs), "attribution": "layers",
            "ort_nodes": len(nodes), "ort_ops": "+".join(dict.fromkeys(meta.get(n, {}).get("op", "?") for n in nodes))
            or "(eliminated)", "time_ms": t}


def _own_row(model, name, kind, op, t):
    return {"model": model, "layer": name, "layers": "", "n_layers": 0, "kind": op, "category": KIND_CATEGORY[kind],
            "in_shape": "", "out_shape": "", "params": 0, "madds": 0, "mac_elems": 0, "mac_bytes": 0,
            "attribution": kind, "ort_nodes": 1, "ort_ops": op, "time_ms": t}


def join(profile, mapping: dict, times: dict[str, float], meta: dict[str, dict]) -> list[dict]:
    """Rows (layer groups in network order, then ORT's own nodes) with time beside params, madds and mac."""
    from lwbench.onnx.graphmap import NodeMap, groups

    prof_rows = {r.layer: r for r in profile.layers}
    layers = [r.layer for r in profile.layers]
    model = profile.layers[0].model if profile.layers else ""
    for name in times:      # a profiled node the saved graph does not have: reported, never dropped
        mapping.setdefault(name, NodeMap(name, meta.get(name, {}).get("op", "?"), "unattributed", [], []))
    gs = groups(mapping, layers)
    of = {lay: i for i, g in enumerate(gs) for lay in g}
    nodes_of: dict[int, list[str]] = defaultdict(list)
    rows_own = []
    for name, m in mapping.items():
        if name not in times:
            continue       # in the graph but not executed (constant-folded away)
        if m.kind == "layers":
            nodes_of[of[m.layers[0]]].append(name)
        else:
            rows_own.append(_own_row(model, name, m.kind, meta.get(name, {}).get("op", m.op), times[name]))
    rows = [_group_row(model, g, prof_rows, nodes_of.get(i, []), times, meta) for i, g in enumerate(gs)] + rows_own
    return _shares(rows, profile.totals)


def _shares(rows: list[dict], tot: dict) -> list[dict]:
    tsum = sum(r["time_ms"] or 0.0 for r in rows)
    for r in rows:
        t = r["time_ms"]
        r["time_pct"] = 100.0 * t / tsum if t is not None and tsum else None
        r["madds_pct"] = 100.0 * r["madds"] / tot["madds"] if tot["madds"] else 0.0
        r["mac_pct"] = 100.0 * r["mac_elems"] / tot["mac_elems"] if tot["mac_elems"] else 0.0
        r["gflop_per_s"] = 2.0 * r["madds"] / (t * 1e-3) / 1e9 if t else None
        r["gb_per_s"] = r["mac_bytes"] / (t * 1e-3) / 1e9 if t else None
    return rows


def attribution(rows: list[dict]) -> dict:
    """Kernel time by attribution: ms and share of the profiled total for layers, layout, transfer, quant,
    unattributed (what `coverage` tests read: layers + ORT's own rows = 100%, unattributed ~ 0)."""
    tot = sum(r["time_ms"] or 0.0 for r in rows)
    out = {"kernel_ms": tot}
    for kind in ("layers", "layout", "transfer", "quant", "unattributed"):
        ms = sum(r["time_ms"] or 0.0 for r in rows if r["attribution"] == kind)
        out[f"{kind}_ms"] = ms
        out[f"{kind}_share"] = ms / tot if tot else None
    return out
