"""`lwbench verify`: the analytic count against the built module, fvcore and the torch-side counter."""

from __future__ import annotations

from typing import Annotated

import typer

from lwbench.cli.options import FormatOpt, OutputOpt, ResolutionOpt, WidthOpt, console

MAX_DIFF_ROWS = 40


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
    from lwbench.errors import InputError
    from lwbench.report.write import emit, infer_format, machine_block, machine_comment, to_csv, to_json, to_markdown
    from lwbench.verify import all_names, load_net, verify, zoo

    names = list(nets or [])
    if all_:
        names += [n for n in all_names() if n not in names]
    if not names:
        raise InputError("verify: name at least one network (or --all); `lwbench list` shows the zoo")
    known = zoo()[0]
    for n in names:  # unknown names are a usage error (exit 2) before anything runs
        if n in known or all_:
            continue
        load_net(n, width, resolution, known)
    kind = infer_format(fmt.value if fmt else None, output)
    to_stderr = kind != "table" and not output  # keep stdout clean for the machine-readable export
    con = console(stderr=to_stderr)

    def show(res) -> None:
        style = "green" if res.ok else "bold red"
        con.print(res.summary_line(), style=style, markup=False, soft_wrap=True)
        if res.mismatches and kind == "table":
            con.print(_diff_table(res))

    results = verify(names, fvcore=not no_fvcore, width=width, resolution=resolution, on_result=show)
    bad = [r for r in results if not r.ok]
    con.print(f"{len(results) - len(bad)}/{len(results)} networks agree"
              + (f"; differ or failed: {', '.join(r.model for r in bad)}" if bad else ""),
              style="bold red" if bad else "bold green", markup=False, soft_wrap=True)
    if kind != "table":
        machine = machine_block()  # torch and fvcore versions matter here: verify has loaded torch
        if kind == "json":
            emit(to_json({"machine": machine, "checks": [{k: v for k, v in r.to_dict().items() if k != "rows"}
                                                         for r in results],
                          "rows": [row for r in results for row in r.rows]}), output)
        else:
            rows = [row for r in results for row in r.rows]
            if kind == "csv":
                emit(to_csv(rows, {"machine": machine, "lwbench verify": " ".join(names),
                                   "networks_failed": len(bad)}), output)
            else:
                emit(machine_comment(machine) + "\n"
                     + to_markdown(rows, "lwbench verify: analytic vs torch-side counter vs fvcore"), output)
    if bad:
        raise typer.Exit(1)


def _diff_table(res):
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


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
