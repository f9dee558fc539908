"""`lwbench verify`: the analytic count against the built module, fvcore and the torch-side counter."""

from __future__ import annotations

from typing import Annotated

import typer

from lwbench.cli.options import FormatOpt, OutputOpt, ResolutionOpt, WidthOpt, console


def verify(
    nets: Annotated[list[str] | None, typer.Argument(help="Zoo names or YAML paths.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every network in configs/ (a broken file is reported, "
                                       "the rest still run).")] = False,
    width: WidthOpt = None,
    resolution: ResolutionOpt = None,
    no_fvcore: Annotated[bool, typer.Option("--no-fvcore", help="Skip the fvcore pass (it runs the real model "
                                            "once; the other checks run on the meta device).")] = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Check every layer two independent ways: params == built module; conv/linear madds == fvcore
    (by_module, joined on layer name); params, madds, mac_elems == the torch-side counter (aten ops).
    Lists fvcore's unsupported ops and ops lwbench has no rule for. Exit 1 on any mismatch or error."""
    from rich.text import Text

    from lwbench.report.emit import resolve_format
    from lwbench.report.tables.verify import diff_table
    from lwbench.verify import verify as run_verify

    kind = resolve_format(fmt, output)
    names = _names(nets, all_, width, resolution)
    con = console(stderr=kind != "table" and not output)  # keep stdout clean for the machine-readable export
    shown: list = []                                      # what the table shows, for `-f table -o FILE`

    def show(*items) -> None:
        for item in items:
            con.print(item, soft_wrap=True)
            shown.append(item)

    def on_result(res) -> None:
        show(Text(res.summary_line(), style="green" if res.ok else "bold red"))
        if res.mismatches and kind == "table":
            show(diff_table(res))

    results = run_verify(names, fvcore=not no_fvcore, width=width, resolution=resolution, on_result=on_result)
    bad = [r for r in results if not r.ok]
    show(Text(f"{len(results) - len(bad)}/{len(results)} networks agree"
              + (f"; differ or failed: {', '.join(r.model for r in bad)}" if bad else ""),
              style="bold red" if bad else "bold green"))
    if kind != "table" or output:
        _export(kind, output, results, names, len(bad), shown)
    if bad:
        raise typer.Exit(1)


def _names(nets, all_: bool, width, resolution) -> list[str]:
    """The networks to check; unknown names are a usage error (exit 2) before anything runs."""
    from lwbench.errors import InputError
    from lwbench.verify import all_names, load_net, zoo

    names = list(nets or [])
    if all_:
        names += [n for n in all_names() if n not in names]
    if not names:
        raise InputError("verify: name at least one network (or --all); `lwbench list` shows the zoo")
    known = zoo()[0]
    for n in names:
        if n in known or all_:
            continue
        load_net(n, width, resolution, known)
    return names


def _export(kind: str, output: str | None, results, names: list[str], failed: int, shown: list) -> None:
    """CSV/JSON/Markdown of every checked row with the machine block (torch and fvcore versions matter here:
    verify has loaded torch); a table written to a file is what the terminal showed."""
    from lwbench.report.emit import emit
    from lwbench.report.write import machine_block

    if kind == "table":
        emit(kind, output=output, table=lambda rows: shown)
        return
    machine = machine_block()
    rows = [row for r in results for row in r.rows]
    checks = [{k: v for k, v in r.to_dict().items() if k != "rows"} for r in results]
    emit(kind, rows, output=output, machine=machine, meta={"lwbench verify": " ".join(names), "networks_failed": failed},
         title="lwbench verify: analytic vs torch-side counter vs fvcore",
         document={"machine": machine, "checks": checks, "rows": rows} if kind == "json" else None)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
