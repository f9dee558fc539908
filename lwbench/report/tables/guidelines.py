"""The tables of `lwbench guidelines`: one rich / Markdown table per guideline (G1-G4 rows beside the paper's
figures, the madds spread, the verdict), the Figure 2 breakdown table, and the texts of the csv / json / md
exports. Formatting only: the rows, spreads, verdicts and the thresholds the captions state
(result["limits"]) come from lwbench.guidelines."""

from __future__ import annotations

import math
from collections.abc import Mapping

from lwbench.vocab import category_key  # a category's column stem: element-wise -> element_wise_ms, _pct

FIG2_CATEGORIES = ("conv", "element-wise", "shuffle", "concat/split", "other")


def speed_unit(device: str) -> str:
    """CPU speeds in images/s (the paper's ARM unit), CUDA speeds in batches/s (its GPU unit)."""
    return "batches_per_s" if device.startswith("cuda") else "images_per_s"


def export_rows(rows: list[dict], with_samples: bool = False) -> list[dict]:
    """Rows for files: `speed` (internal, unit-less name) is dropped, images_per_s / batches_per_s carry it;
    the raw samples go to JSON only."""
    drop = ("speed",) if with_samples else ("speed", "samples_ms")
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def _f(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"


def _ratio(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _speed_text(r: dict) -> str:
    if r.get("speed") is None:
        return "error" if r.get("error") else "-"
    spread = r.get("iqr_pct")
    mark = ("*" if r.get("noisy") else "") + ("†" if r.get("contended") else "")
    return f"{_f(r['speed'])} ±{spread / 2:.1f}%{mark}" if spread is not None else _f(r["speed"])


def _spread_line(exp, result: Mapping) -> str:
    limits = result["limits"]
    parts = [f"{k.split(' ', 1)[1]} {v:.2%}" for k, v in result["spreads"].items()
             if k.split(" ", 1)[0] == exp.guideline]
    return (f"madds spread (max/min - 1, limit {limits['madds_spread']:.0%}): " + ", ".join(parts)
            + f". * noisy: IQR/median > 10%. † contended: the process got < {limits['cpu_share']:.0%} of its threads' "
            "CPU time (other load on the cores).")


def table_rows(exp, rows: list[dict]) -> list[list[str]]:
    """The human cells of one guideline's table (shared by the rich table and Markdown)."""
    from lwbench.report.human import si

    out = []
    for r in rows:
        if r["guideline"] != exp.guideline:
            continue
        out.append([r["scale"], r["setting"] + (" (ref)" if r["reference"] else ""), r["channels"], si(r["madds"]),
                    si(r["mac_elems"]), _speed_text(r), _ratio(r.get("ratio")),
                    _f(r.get("paper_gpu_batches_per_s")), _ratio(r.get("paper_gpu_ratio")),
                    _f(r.get("paper_arm_images_per_s")), _ratio(r.get("paper_arm_ratio"))])
    return out


def table_header(device: str) -> list[str]:
    unit = "images/s" if speed_unit(device) == "images_per_s" else "batches/s"
    return ["scale", "setting", "channels", "madds", "mac_elems", f"{unit} median ±IQR/2", "ratio",
            "paper GPU batches/s", "ratio", "paper ARM images/s", "ratio"]


def title(exp, rows: list[dict], device: str) -> str:
    mine = [r for r in rows if r["guideline"] == exp.guideline]
    r0 = mine[0] if mine else {}
    return (f"{exp.guideline} (Table {exp.table}): {exp.title}. Input {r0.get('input', '?')}, "
            f"{exp.blocks} blocks, the paper's {str(r0.get('channel_setup', '')).upper()} channels, "
            f"{device}, threads {r0.get('threads', '-')}")


def rich_table(exp, result: Mapping, device: str):
    from rich.table import Table

    t = Table(title=title(exp, result["rows"], device), title_justify="left",
              caption=_spread_line(exp, result) + "\n" + result["verdicts"].get(exp.guideline, ""),
              caption_justify="left")
    for i, h in enumerate(table_header(device)):
        t.add_column(h, justify="left" if i < 3 else "right", no_wrap=i in (1, 2))
    for cells in table_rows(exp, result["rows"]):
        t.add_row(*cells)
    return t


def _md_preamble(exps: list, result: Mapping, device: str, machine: Mapping | None) -> str:
    """The readable part of the Markdown export: a heading, the machine and duration, one table per guideline
    with its spreads and verdict, the glossary; the export's rows follow it (markdown / export)."""
    out = ["", "# ShuffleNet V2 guidelines G1-G4 on this machine", ""]
    if machine:
        out += [f"Machine: {machine.get('cpu_model')}, {machine.get('cores_logical')} logical cores, "
                f"torch {((machine.get('torch') or {}).get('version'))}, lwbench {machine.get('lwbench')} "
                f"({machine.get('git_commit')}), {machine.get('date_utc')}. Command: `{machine.get('command')}`", ""]
    if result.get("duration_s") is not None:
        out += [f"Duration: {result['duration_s']:.1f} s wall, of which {result.get('measured_s') or 0:.1f} s "
                "in measured runs.", ""]
    for exp in exps:
        if not any(r["guideline"] == exp.guideline for r in result["rows"]):
            continue
        out += [f"## {title(exp, result['rows'], device)}", ""]
        head = table_header(device)
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|")
        out += ["| " + " | ".join(c.replace("|", "/") for c in cells) + " |" for cells in table_rows(exp, result["rows"])]
        out += ["", _spread_line(exp, result), "", f"**{result['verdicts'].get(exp.guideline, '')}**", ""]
    out += ["madds = multiply-adds; mac = memory access cost (ShuffleNet V2: input + output feature maps + "
            "weights, elements). ratio = speed / the reference row's speed. A verdict counts an ordering as "
            "within noise when the medians differ by no more than the mean of the two IQRs.", ""]
    # the export's rows, the columns of the CSV and JSON (docs/schema.md), which `lwbench compare/plot` load
    out += ["## Rows (the columns of the CSV and JSON exports)", "", ""]
    return "\n".join(out)


def _durations(result: Mapping) -> dict:
    return {k: result[k] for k in ("duration_s", "measured_s") if result.get(k) is not None}


def export(kind: str, exps: list, result: Mapping, device: str, machine: Mapping | None,
           meta: Mapping | None = None) -> tuple[list[dict], dict]:
    """(rows, keywords) for lwbench.report.emit.emit / render: csv with `# key: value` lines (machine, config,
    budget, duration_s, measured_s, madds_spread G? x?, verdict G?); json {machine, config, budget, duration_s,
    measured_s, spreads, verdicts, rows} (rows with samples_ms); md: `<!-- key: json -->` comments, the readable
    tables, then the export's rows; table: one rich table per guideline."""
    meta = {**(meta or {}), **_durations(result)}
    machine = dict(machine or {})
    rows = export_rows(result["rows"])
    if kind == "csv":
        meta.update({f"madds_spread {k}": f"{v:.4%}" for k, v in result.get("spreads", {}).items()})
        meta.update({f"verdict {k}": v for k, v in result.get("verdicts", {}).items()})
        return rows, {"machine": machine, "meta": meta}
    if kind == "json":
        return rows, {"document": {"machine": machine, **meta, "spreads": result.get("spreads", {}),
                                   "verdicts": result.get("verdicts", {}),
                                   "rows": export_rows(result["rows"], with_samples=True)}}
    if kind == "md":
        return rows, {"machine": machine, "meta": {k: v for k, v in meta.items() if v is not None},
                      "preamble": _md_preamble(exps, result, device, machine)}
    return rows, {"table": lambda _rows: [rich_table(exp, result, device) for exp in exps]}


def render(kind: str, exps: list, result: Mapping, device: str, machine: Mapping | None,
           meta: Mapping | None = None) -> str:
    """The text of a guidelines export (see `export`)."""
    from lwbench.report.emit import render as emit_render

    rows, how = export(kind, exps, result, device, machine, meta)
    return emit_render(kind, rows, **how)


def markdown(exps: list, result: Mapping, device: str, machine: Mapping | None = None,
             meta: Mapping | None = None) -> str:
    return render("md", exps, result, device, machine, meta)


BREAKDOWN_TITLE = "ShuffleNet V2 Fig. 2: share of time per op category"


def export_breakdown(kind: str, rows: list[dict], machine: Mapping | None, meta: Mapping | None = None):
    """(rows, keywords) for lwbench.report.emit: Figure 2's rows as csv (`# machine:` …), json ({machine, …,
    rows}), md (`<!-- machine: … -->`, one table) or the rich table."""
    if kind == "table":
        return rows, {"table": breakdown_table}
    return rows, {"machine": dict(machine or {}), "meta": dict(meta or {}), "title": BREAKDOWN_TITLE}


def render_breakdown(kind: str, rows: list[dict], machine: Mapping | None, meta: Mapping | None = None) -> str:
    from lwbench.report.emit import render as emit_render

    rows, how = export_breakdown(kind, rows, machine, meta)
    return emit_render(kind, rows, **how)


BREAKDOWN_CAPTIONS = {
    "torch": "torch: per-layer medians from forward hooks, shares of their sum (layers ms); forward = the unhooked "
             "median. conv: conv2d and linear; element-wise: batch norm (not folded), activations, add, mul; other: "
             "pooling, flatten",
    "onnxruntime": "onnxruntime: ORT's per-node kernel medians joined to the layers (as `profile --time --runtime "
                   "onnxruntime`), shares of their sum (layers ms = kernel ms); forward = the median without the "
                   "profiler. A fused node counts in its main layer's category (FusedConv: conv), so fused batch "
                   "norms and activations cost no element-wise time; ORT own: layout reorders, copies, Q/DQ; fused: "
                   "share of the time in nodes covering several layers (groups/layers)",
}


def breakdown_table(rows: list[dict]):
    from rich.table import Table

    runtimes = list(dict.fromkeys(str(r.get("runtime") or "torch") for r in rows))
    ort = "onnxruntime" in runtimes
    t = Table(title=f"{BREAKDOWN_TITLE} on this device", title_justify="left",
              caption="; ".join(BREAKDOWN_CAPTIONS.get(k, k) for k in runtimes), caption_justify="left")
    cols = ["model", "runtime", "device", "batch", "threads", "forward ms", "layers ms", *FIG2_CATEGORIES]
    cols += ["ORT own", "unattributed", "fused"] if ort else []
    for i, c in enumerate(cols):
        t.add_column(c, justify="left" if i < 3 else "right")
    for r in rows:
        cells = [r["model"], str(r.get("runtime") or "torch"), r["device"], str(r["batch"]), str(r["threads"] or "-"),
                 _f(r["forward_median_ms"]), _f(r["layers_total_ms"]),
                 *[f"{r[category_key(c) + '_pct']:.1f}%" for c in FIG2_CATEGORIES]]
        if ort:
            cells += [_pct(r.get("ort_own_pct")), _pct(r.get("unattributed_pct")),
                      f"{_pct(r.get('fused_pct'))} ({r['fused_groups']}/{r['fused_layers']})"
                      if r.get("fused_groups") is not None else ""]
        t.add_row(*cells)
    return t


def _pct(v) -> str:
    return "" if v is None or v != v else f"{float(v):.1f}%"
