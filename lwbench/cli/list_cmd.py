"""`lwbench list`: the zoo with family, source (the paper, shortened in the table, in full in exports), params,
madds and mac."""

from __future__ import annotations

from typing import Annotated

import typer

from lwbench.cli.options import FormatOpt, OutputOpt, console


def list_networks(
    pattern: Annotated[str | None, typer.Argument(help="Only names containing this (glob with * allowed).")] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """List the networks of the zoo: family, source paper, params, madds (multiply-adds) and mac (memory access
    cost) at the native resolution. The table shortens the source to authors and venue; csv/json/md give it in full."""
    import fnmatch

    from lwbench.count import count
    from lwbench.report.write import emit, infer_format, to_csv, to_json, to_markdown
    from lwbench.spec import compile_doc, read_doc
    from lwbench.spec.zoo import index, short_source

    rows = []
    docs: dict = {}
    for name, (file, variant) in index().items():
        if pattern and not fnmatch.fnmatch(name, pattern if "*" in pattern else f"*{pattern}*"):
            continue
        doc = docs.setdefault(file, read_doc(file))
        net = compile_doc(doc, file, variant)
        tot = count(net).totals
        rows.append({"model": name, "family": net.family, "input": "x".join(map(str, net.input_shape)),
                     "params": tot["params"], "madds": tot["madds"], "mac_elems": tot["mac_elems"],
                     "source": " ".join(net.source.split())})
    kind = infer_format(fmt.value if fmt else None, output)
    if kind == "table":
        from rich.table import Table

        from lwbench.report.human import si

        t = Table(title=f"lwbench zoo: {len(rows)} networks (madds = multiply-adds, mac = memory access cost)")
        for col, just in (("model", "left"), ("family", "left"), ("source", "left"), ("input", "left"),
                          ("params", "right"), ("madds", "right"), ("mac_elems", "right")):
            t.add_column(col, justify=just, no_wrap=col != "source")
        for r in rows:
            t.add_row(r["model"], r["family"], short_source(r["source"]), r["input"], si(r["params"]), si(r["madds"]),
                      si(r["mac_elems"]))
        console().print(t)
    else:
        text = {"csv": to_csv, "json": to_json, "md": to_markdown}[kind](rows)
        emit(text, output)


def register(app: typer.Typer) -> None:
    app.command("list")(list_networks)
