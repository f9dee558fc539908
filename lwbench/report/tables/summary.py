"""The rich table of `lwbench profile --summary / --all` (one row per network)."""

from __future__ import annotations

from lwbench.report.human import si


def summary_table(rows: list[dict], title: str):
    from rich.table import Table

    t = Table(title=title, caption="madds = multiply-adds; mac = memory access cost")
    cols = ["model", "input", "batch", "dtype", "layers", "params", "madds", "mac_elems", "mac_bytes"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("model", "input", "dtype") else "right")
    for r in rows:
        t.add_row(*[si(r[c]) if c in ("params", "madds", "mac_elems", "mac_bytes") else str(r[c]) for c in cols])
    return t
