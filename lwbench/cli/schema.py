"""`lwbench schema`: the columns of every export (name, unit, type, meaning)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from lwbench.cli.options import OutputOpt


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
    from lwbench.report import schema_doc as D
    from lwbench.report.emit import emit, resolve_format
    from lwbench.report.tables.schema import schema_tables

    if kind is not None:
        S.get_kind(kind)
    out = resolve_format(fmt, output)
    emit(out, D.as_rows(kind) if out == "csv" else [], output=output,
         document=D.as_json(kind) if out == "json" else None, markdown=D.as_markdown(kind) if out == "md" else None,
         table=lambda rows: schema_tables(kind))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
