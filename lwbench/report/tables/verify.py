"""The rich table of `lwbench verify`: the layers that differ."""

from __future__ import annotations

MAX_DIFF_ROWS = 40


def diff_table(res):
    """The layers of one network whose counts differ between the analytic count and another counter."""
    from rich.table import Table

    t = Table(title=f"{res.model}: layers that differ", title_justify="left")
    for c, just in (("layer", "left"), ("kind", "left"), ("quantity", "left"), ("counter", "left"),
                    ("analytic", "right"), ("other", "right"), ("diff", "right")):
        t.add_column(c, justify=just)
    for m in res.mismatches[:MAX_DIFF_ROWS]:
        other = m.get(m["counter"])
        diff = m["diff"]
        t.add_row(m["layer"], m["kind"], m["quantity"], m["counter"], _fmt(m["analytic"]), _fmt(other),
                  f"{diff:+,}" if isinstance(diff, int) else "")
    if len(res.mismatches) > MAX_DIFF_ROWS:
        t.caption = f"... and {len(res.mismatches) - MAX_DIFF_ROWS} more (--format csv/json lists every layer)"
    return t


def _fmt(v) -> str:
    return f"{v:,}" if isinstance(v, int) else str(v)
