"""The rich table of `lwbench list` (the zoo)."""

from __future__ import annotations

from lwbench.report.human import si

COLUMNS = (("model", "left"), ("family", "left"), ("source", "left"), ("input", "left"), ("params", "right"),
           ("madds", "right"), ("mac_elems", "right"))


def zoo_table(rows: list[dict]):
    """One line per network; the source shortened to authors and venue (exports keep it whole)."""
    from rich.table import Table

    from lwbench.spec.zoo import short_source

    t = Table(title=f"lwbench zoo: {len(rows)} networks (madds = multiply-adds, mac = memory access cost)")
    for col, just in COLUMNS:
        t.add_column(col, justify=just, no_wrap=col != "source")
    for r in rows:
        t.add_row(r["model"], r["family"], short_source(r["source"]), r["input"], si(r["params"]), si(r["madds"]),
                  si(r["mac_elems"]))
    return t
