"""The rich table of `lwbench compare`: values per file, ratios to the first coloured by which way is better."""

from __future__ import annotations

import math

from lwbench.report.compare import Comparison, records, summary_ratios, unit_of, verdict
from lwbench.report.schema import better


def compare_table(cmp: Comparison, tolerance: float = 0.02, count_tolerance: float = 0.0):
    """A rich table: keys, each metric per file, ratios to A coloured green (better) / red (worse), and the
    rows present in only some files flagged. Exact counts colour at any difference; measured figures
    (float metrics) only beyond `tolerance`."""
    from rich.table import Table
    from rich.text import Text

    style = {"better": "green", "worse": "red", "same": ""}
    t = Table(title="lwbench compare: " + "  ".join(f"{lab} = {p}" for lab, p in cmp.files.items()),
              caption=_caption(cmp, tolerance), show_footer=True)
    geo = summary_ratios(cmp)
    hows = sorted({how for _, how in geo.values()})
    for k in cmp.keys:
        t.add_column(k, footer=" / ".join(hows) if k == cmp.keys[0] else "")
    for m in cmp.metrics:
        for lab in cmp.labels:
            t.add_column(f"{m} {lab}", justify="right")
        for lab in cmp.labels[1:]:
            col = cmp.ratio_col(m, lab)
            t.add_column(f"{m} {lab}/{cmp.labels[0]}", justify="right", footer=_fmt_ratio(geo[col][0]))
    t.add_column("in")
    n_all = len(cmp.labels)
    for row in records(cmp.frame):
        cells: list = [str(row[k]) for k in cmp.keys]
        for m in cmp.metrics:
            exact = all(isinstance(row[cmp.value_col(m, lab)], int) or row[cmp.value_col(m, lab)] is None
                        for lab in cmp.labels)
            tol = count_tolerance if exact else tolerance
            cells += [_fmt(row[cmp.value_col(m, lab)]) for lab in cmp.labels]
            for lab in cmp.labels[1:]:
                r = row[cmp.ratio_col(m, lab)]
                cells.append(Text(_fmt_ratio(r), style=style[verdict(m, r, tol)]))
        present = row["present"].split(",")
        cells.append(Text("all" if len(present) == n_all else "only " + "+".join(present), style=""
                          if len(present) == n_all else "yellow"))
        t.add_row(*cells)
    return t


def _caption(cmp: Comparison, tolerance: float) -> str:
    ways = [f"{m}: {better(m)} is better" for m in cmp.metrics if better(m)]
    line = f"ratio = X / {cmp.labels[0]}; green better, red worse ({'; '.join(ways)})"
    if any(not unit_of(m).endswith(("adds", "elements", "bytes", "parameters")) for m in cmp.metrics):
        line += f"; measured figures within ±{tolerance:.0%} are not coloured"
    parts = [line, "total = ratio of the sums over the common rows; geomean = geometric mean of the ratios"]
    for c, vals in cmp.constants.items():
        if len({str(v) for v in vals.values()}) > 1:
            parts.append(f"{c}: " + ", ".join(f"{lab}={v}" for lab, v in vals.items()))
    for lab, mach in cmp.machines.items():
        parts.append(f"{lab}: {machine_line(mach)}")
    only = (cmp.frame["present"] != ",".join(cmp.labels)).sum()
    if only:
        parts.append(f"{only} rows are not in every file (yellow)")
    return "\n".join(parts)


def machine_line(m: dict) -> str:
    """A one-line digest of a machine block (whatever keys it has)."""
    def pick(*names):
        for n in names:
            v = m.get(n)
            if isinstance(v, dict):
                v = v.get("name") or v.get("model") or v.get("version")
            if v:
                return str(v)
        return ""

    bits = [pick("cpu_model", "cpu", "processor"), pick("gpu", "gpu_name"),
            "torch " + pick("torch_version", "torch") if pick("torch_version", "torch") else "",
            "lwbench " + pick("lwbench_version", "lwbench") if pick("lwbench_version", "lwbench") else "",
            pick("git_commit", "commit")[:10], pick("date_utc", "date", "timestamp")]
    return ", ".join(b for b in bits if b) or "machine block present"


def _fmt(v) -> str:
    from lwbench.report.human import si

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return si(v)
    if isinstance(v, float):
        return si(v, 2) if abs(v) >= 1000 else f"{v:.4g}"
    return str(v)


def _fmt_ratio(r) -> str:
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "–"
    if math.isinf(r):
        return "∞"
    return f"{r:.3f}×"
