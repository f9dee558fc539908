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


def _md_comments(meta: Mapping) -> list[str]:
    """`<!-- key: json -->` lines (docs/schema.md: Markdown exports carry the machine block so)."""
    from lwbench.report.write import machine_comment

    return [machine_comment(v, k) for k, v in meta.items() if v is not None]


def markdown(exps: list, result: Mapping, device: str, machine: Mapping | None = None,
             meta: Mapping | None = None) -> str:
    """The tables, spreads and verdicts as Markdown; the machine block, `meta` (config, budget) and the
    duration as `<!-- key: json -->` comments at the top."""
    out = _md_comments({"machine": dict(machine or {}), **(meta or {}), **_durations(result)})
    out += ["", "# ShuffleNet V2 guidelines G1-G4 on this machine", ""]
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
    from lwbench.report.write import to_markdown

    # the export's rows, the columns of the CSV and JSON (docs/schema.md), which `lwbench compare/plot` load
    out += ["## Rows (the columns of the CSV and JSON exports)", "", to_markdown(export_rows(result["rows"]))]
    return "\n".join(out)


def _durations(result: Mapping) -> dict:
    return {k: result[k] for k in ("duration_s", "measured_s") if result.get(k) is not None}


def render(kind: str, exps: list, result: Mapping, device: str, machine: Mapping,
           meta: Mapping | None = None) -> str:
    """The text of a guidelines result as csv (`# key: value` lines: machine, config, budget, duration_s,
    measured_s, madds_spread G? x?, verdict G?), json ({machine, config, budget, spreads, verdicts,
    duration_s, measured_s, rows}: rows with samples_ms) or md."""
    from lwbench.report.write import to_csv, to_json

    meta = dict(meta or {})
    if kind == "csv":
        comments = {"machine": machine, **meta, **_durations(result)}
        comments.update({f"madds_spread {k}": f"{v:.4%}" for k, v in result.get("spreads", {}).items()})
        comments.update({f"verdict {k}": v for k, v in result.get("verdicts", {}).items()})
        return to_csv(export_rows(result["rows"]), comments)
    if kind == "json":
        return to_json({"machine": machine, **meta, **_durations(result), "spreads": result.get("spreads", {}),
                        "verdicts": result.get("verdicts", {}),
                        "rows": export_rows(result["rows"], with_samples=True)})
    return markdown(exps, result, device, machine, meta)


def render_breakdown(kind: str, rows: list[dict], machine: Mapping, meta: Mapping | None = None) -> str:
    """Figure 2's rows as csv (`# machine:` …), json ({machine, …, rows}) or md (`<!-- machine: … -->`)."""
    from lwbench.report.write import to_csv, to_json, to_markdown

    meta = {"machine": dict(machine or {}), **(meta or {})}
    if kind == "csv":
        return to_csv(rows, meta)
    if kind == "json":
        return to_json({**meta, "rows": rows})
    return "\n".join(_md_comments(meta)) + "\n\n" + to_markdown(rows, "ShuffleNet V2 Fig. 2: share of time per op "
                                                                   "category")


def breakdown_table(rows: list[dict]):
    from rich.table import Table

    t = Table(title="ShuffleNet V2 Fig. 2: share of time per op category on this device", title_justify="left",
              caption="per-layer medians from forward hooks, shares of their sum (layers ms); forward = the "
              "unhooked median. conv: conv2d and linear; element-wise: batch norm (not folded), activations, add, "
              "mul; other: pooling, flatten",
              caption_justify="left")
    cols = ["model", "device", "batch", "threads", "forward ms", "layers ms", *FIG2_CATEGORIES]
    for i, c in enumerate(cols):
        t.add_column(c, justify="left" if i < 2 else "right")
    for r in rows:
        t.add_row(r["model"], r["device"], str(r["batch"]), str(r["threads"] or "-"), _f(r["forward_median_ms"]),
                  _f(r["layers_total_ms"]),
                  *[f"{r[category_key(c) + '_pct']:.1f}%" for c in FIG2_CATEGORIES])
    return t
