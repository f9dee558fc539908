"""`lwbench list`: the zoo with family, source (the paper, shortened in the table, in full in exports), params,
madds and mac."""

from __future__ import annotations

from typing import Annotated

import typer

from lwbench.cli.options import FormatOpt, OutputOpt


def list_networks(
    pattern: Annotated[str | None, typer.Argument(help="Only names containing this (glob with * allowed).")] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """List the networks of the zoo: family, source paper, params, madds (multiply-adds) and mac (memory access
    cost) at the native resolution. The table shortens the source to authors and venue; csv/json/md give it in full.
    A zoo file that cannot be read is one warning line on stderr; the other networks are still listed."""
    import fnmatch
    import sys
    from dataclasses import asdict

    from lwbench.count import count
    from lwbench.errors import LwbenchError, one_line
    from lwbench.report.emit import emit, resolve_format
    from lwbench.report.rows import ZooRow
    from lwbench.report.tables.zoo import zoo_table
    from lwbench.spec import compile_doc, read_doc
    from lwbench.spec.zoo import errors, index

    kind = resolve_format(fmt, output)
    rows = []
    docs: dict = {}
    problems = list(errors())  # files that could not be read at all
    for name, (file, variant) in index().items():
        if pattern and not fnmatch.fnmatch(name, pattern if "*" in pattern else f"*{pattern}*"):
            continue
        try:
            doc = docs.setdefault(file, read_doc(file))
            net = compile_doc(doc, file, variant)
        except LwbenchError as e:
            problems.append(f"{name}: {e}")
            continue
        tot = count(net).totals
        rows.append(asdict(ZooRow(model=name, family=net.family, input="x".join(map(str, net.input_shape)),
                                  params=tot["params"], madds=tot["madds"], mac_elems=tot["mac_elems"],
                                  source=" ".join(net.source.split()))))
    for p in problems:
        print(f"lwbench: warning: {one_line(p)} (not listed)", file=sys.stderr)
    emit(kind, rows, output=output, table=zoo_table)


def register(app: typer.Typer) -> None:
    app.command("list")(list_networks)
