"""The rich tables of `lwbench schema`: one per export kind, every column with unit, type and meaning."""

from __future__ import annotations


def schema_tables(kind: str | None) -> list:
    """A table for `kind`, or one per export kind."""
    from rich.table import Table

    from lwbench.report import schema as S

    out = []
    for name in [kind] if kind else list(S.KINDS):
        k = S.KINDS[name]
        t = Table(title=f"{name}: {k.title}", caption=k.doc, caption_justify="left")
        for col in ("column", "unit", "type", "req", "better", "meaning"):
            t.add_column(col, overflow="fold", ratio=4 if col == "meaning" else None)
        for c in k.columns:
            t.add_row(c.name, c.unit, c.type, "yes" if c.required else "", c.better, c.meaning)
        out.append(t)
    return out
