"""`lwbench schema`: the columns of every export (name, unit, type, meaning)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from lwbench.cli.options import OutputOpt, console


class SchemaFormat(str, Enum):
    table = "table"
    md = "md"
    json = "json"
    csv = "csv"


def schema(
    kind: Annotated[str | None, typer.Argument(help="layers, summary, timing, guidelines, breakdown, verify, "
                                               "compare or plot (default: all).", show_default=False)] = None,
    fmt: Annotated[SchemaFormat | None, typer.Option("--format", "-f", help="table (default), md, json or csv.")]
    = None,
    output: OutputOpt = None,
) -> None:
    """Print the export schema: for each kind of export, every column with its unit, type and meaning.
    docs/schema.md is `lwbench schema --format md`."""
    from lwbench.report import schema as S
    from lwbench.report.write import emit, file_format, to_csv, to_json

    if kind is not None:
        S.get_kind(kind)
    out = file_format(fmt.value if fmt else None, output)
    if out == "md":
        emit(S.as_markdown(kind), output)
    elif out == "json":
        emit(to_json(S.as_json(kind)), output)
    elif out == "csv":
        emit(to_csv(S.as_rows(kind)), output)
    else:
        from rich.table import Table

        con = console()
        for name in [kind] if kind else list(S.KINDS):
            k = S.KINDS[name]
            t = Table(title=f"{name}: {k.title}", caption=k.doc, caption_justify="left")
            for col in ("column", "unit", "type", "req", "better", "meaning"):
                t.add_column(col, overflow="fold", ratio=4 if col == "meaning" else None)
            for c in k.columns:
                t.add_row(c.name, c.unit, c.type, "yes" if c.required else "", c.better, c.meaning)
            con.print(t)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
