"""`lwbench compare`: align the rows of several exports and show values and ratios side by side."""

from __future__ import annotations

from typing import Annotated

import typer

from lwbench.cli.options import FormatOpt, OutputOpt


def compare(
    files: Annotated[list[str], typer.Argument(help="Two or more lwbench exports (CSV, JSON or Markdown); "
                                               "the first is the baseline.", show_default=False)],
    key: Annotated[str, typer.Option("--key", "-k", help="Align on: layer (per-layer rows by name), kind or "
                                     "category (per-layer rows summed), model (networks and configurations), "
                                     "or a comma-separated list of columns. Default: layer for per-layer "
                                     "exports, else model.")] = "auto",
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Column(s) to compare (repeat or "
                                                     "comma-separate): madds, mac_elems, median_ms, "
                                                     "images_per_s, … Default by export kind.")] = None,
    sort: Annotated[str | None, typer.Option("--sort", help="Sort rows by this output column, e.g. "
                                             "median_ms_ratio_B or madds_A.")] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    changed: Annotated[bool, typer.Option("--changed", help="Only rows that differ: a ratio off 1 (beyond "
                                          "--tolerance for measured figures) or absent from a file.")] = False,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, help="Measured figures within this "
                                             "relative difference are not coloured (exact counts always are).")]
    = 0.02,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Compare exports of different networks, machines or lwbench versions: each metric per file, the ratio to
    the first file (green better, red worse: lower latency/madds/mac, higher throughput), rows present in only
    some files flagged. `--output x.csv|json|md` exports the comparison."""
    from lwbench.errors import InputError
    from lwbench.report.compare import compare as run_compare
    from lwbench.report.compare import records
    from lwbench.report.emit import emit, resolve_format
    from lwbench.report.load import load_export
    from lwbench.report.tables.compare import compare_table
    from lwbench.report.write import machine_block

    kind = resolve_format(fmt, output)
    if len(files) < 2:
        raise InputError("compare: give at least two files (a file may be compared with itself)")
    cmp = run_compare([load_export(f) for f in files], key=key, metrics=metric)
    if kind != "table":
        cmp.machine = machine_block()
    cmp = _select(cmp, changed, tolerance, sort, desc)
    if cmp.frame.empty:
        import sys

        print("lwbench compare: no rows differ", file=sys.stderr)
    head = "\n".join(f"- {lab}: `{p}`" for lab, p in cmp.files.items())
    emit(kind, records(cmp.frame), output=output, meta=cmp.comments(), preamble=f"{head}\n\n",
         columns=list(cmp.frame.columns), document=cmp.to_dict() if kind == "json" else None,
         table=lambda rows: compare_table(cmp, tolerance=tolerance))


def _select(cmp, changed: bool, tolerance: float, sort: str | None, desc: bool):
    """--changed (rows that differ) and --sort COLUMN [--desc] on the comparison."""
    from lwbench.errors import InputError, suggest

    if changed:
        from lwbench.report.compare import changed as only_changed

        cmp = only_changed(cmp, tolerance)
    if sort:
        if sort not in cmp.frame.columns:
            raise InputError(f"--sort: no column {sort} in the comparison{suggest(sort, list(cmp.frame.columns))}")
        cmp.frame = cmp.frame.sort_values(sort, ascending=not desc, kind="stable", na_position="last") \
            .reset_index(drop=True)
    return cmp


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
