"""The rich table of `lwbench profile` (per-layer rows): every layer, a totals line, numbers humanised."""

from __future__ import annotations

from lwbench.count import Profile
from lwbench.report.human import pct, si


def profile_table(p: Profile):
    from rich.table import Table

    tot = p.totals
    t = Table(
        title=f"{p.model}  input {p.input}  batch {p.batch}  {p.dtype}  (bn: {p.bn_policy})",
        caption="madds = multiply-adds (1 multiply-add = 1); mac = memory access cost (ShuffleNet V2): "
        "input + output feature maps + weights, in elements and bytes",
        show_footer=True,
    )
    cols = [("layer", "left", "total"), ("kind", "left", ""), ("in", "left", ""), ("out", "left", ""),
            ("params", "right", si(tot["params"])), ("madds", "right", si(tot["madds"])),
            ("madds %", "right", "100%"), ("mac_elems", "right", si(tot["mac_elems"])),
            ("mac %", "right", "100%"), ("mac_bytes", "right", si(tot["mac_bytes"]))]
    notes = any(r.note for r in p.layers)  # the torch-side count says per row what it could not count
    if notes:
        cols.append(("note", "left", ""))
    for name, just, footer in cols:
        t.add_column(name, justify=just, footer=footer)
    for r in p.layers:
        t.add_row(r.layer, r.kind,
                  r.in_shape, r.out_shape, si(r.params), si(r.madds), pct(r.madds, tot["madds"]),
                  si(r.mac_elems), pct(r.mac_elems, tot["mac_elems"]), si(r.mac_bytes), *([r.note] if notes else []))
    return t
