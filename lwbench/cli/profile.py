"""`lwbench profile`: per-layer params, madds (multiply-adds) and mac (memory access cost)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from lwbench.cli.common import BatchOpt, DType, DTypeOpt, FormatOpt, OutputOpt, ResolutionOpt, WidthOpt, console


def profile(
    nets: Annotated[list[str] | None, typer.Argument(help="Zoo names or YAML paths.", show_default=False)] = None,
    width: WidthOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = 1,
    dtype: DTypeOpt = DType.float32,
    fold_bn: Annotated[bool, typer.Option("--fold-bn", help="Report BN folded into the preceding conv.")] = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    summary: Annotated[bool, typer.Option("--summary", help="One row per network instead of per layer.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Every network of the zoo (implies --summary).")] = False,
    time_: Annotated[bool, typer.Option("--time", help="Also measure each layer (torch; forward hooks) and the "
                                        "end-to-end latency; adds time %, GFLOP/s, GB/s and a by-category table.")] = False,
    device: Annotated[str, typer.Option("--device", help="With --time: cpu or cuda.")] = "cpu",
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="With --time: intra-op threads.")] = None,
    min_time: Annotated[float, typer.Option("--min-time", help="With --time: measure at least this long (s).")] = 1.0,
    sort: Annotated[str | None, typer.Option("--sort", help="Sort by this column (params, madds, mac_elems, "
                                             "mac_bytes, model, …): networks with --summary/--all, else the "
                                             "layers of each network.")] = None,
    desc: Annotated[bool, typer.Option("--desc", help="With --sort: largest first.")] = False,
    plot: Annotated[str | None, typer.Option("--plot", help="Also draw each layer's madds share vs mac share "
                                             "(PATH.png or .svg; one network).")] = None,
    module: Annotated[str | None, typer.Option("--module", help="Also count any nn.Module: package.module:factory "
                                               "(torch-side counter, the ops that run).")] = None,
    input_: Annotated[str | None, typer.Option("--input", help="With --module: input shape per image "
                                               "(default 3x224x224).")] = None,
) -> None:
    """Count every layer analytically (no torch): params, madds, mac_elems, mac_bytes; a totals line."""
    from lwbench.count import count
    from lwbench.errors import InputError
    from lwbench.report.write import emit, infer_format, to_csv, to_json, to_markdown
    from lwbench.spec import load
    from lwbench.spec.zoo import index

    names = list(nets or [])
    if all_:
        names += [n for n in index() if n not in names]
        summary = True
    if not names and not module:
        raise InputError("profile: name at least one network (or --all, or --module); `lwbench list` shows the zoo")
    if input_ and not module:
        raise InputError("profile --input: goes with --module package.module:factory")
    if module and (time_ or (not names and (fold_bn or width is not None or resolution is not None))):
        raise InputError("profile --module: counts the ops that run at --input; --time, --fold-bn, --width and "
                         "--resolution apply to zoo networks")
    if time_ and (sort or plot):
        raise InputError("profile --time: --sort and --plot work on its export: `lwbench profile NET --time -o t.csv`, "
                         "then `lwbench plot t.csv` (--kind layer-shares or roofline)")
    if time_:
        if fold_bn or summary:
            raise InputError("profile --time measures the model as built: drop --fold-bn / --summary / --all")
        from lwbench.measure.layers import profile_time_cli

        profile_time_cli(names, width, resolution, batch, dtype.value, device, threads, min_time,
                         fmt.value if fmt else None, output)
        return
    profiles = [count(load(n, width, resolution), batch, dtype.value, fold_bn) for n in names]
    if module:
        from lwbench.torchcount import profile_factory

        profiles.append(profile_factory(module, input_, batch, dtype.value))
    kind = infer_format(fmt.value if fmt else None, output)
    if plot:
        _plot_shares(profiles, plot, summary)
    if sort and not summary:
        from dataclasses import replace

        from lwbench.report.sorting import sort_rows

        profiles = [replace(p, layers=sort_rows(p.layers, sort, desc)) for p in profiles]
    if summary:
        rows = [p.summary() for p in profiles]
        if sort:
            from lwbench.report.sorting import sort_rows

            rows = sort_rows(rows, sort, desc)
        if kind == "table":
            from lwbench.report.tables import summary_table

            order = f", sorted by {sort}{' (largest first)' if desc else ''}" if sort else ""
            console().print(summary_table(rows, f"{len(rows)} networks{order}"))
            return
        text = {"csv": to_csv, "md": to_markdown, "json": to_json}[kind](rows)
        emit(text, output)
        return
    if kind == "table":
        from lwbench.report.tables import profile_table

        con = console()
        for p in profiles:
            con.print(profile_table(p))
        return
    if kind == "json":
        docs = [p.to_dict() for p in profiles]
        emit(to_json(docs[0] if len(docs) == 1 else docs), output)
    elif kind == "csv":
        emit(to_csv([asdict(r) for p in profiles for r in p.layers]), output)
    else:
        emit("\n".join(to_markdown([asdict(r) for r in p.layers], p.model) for p in profiles), output)


def _plot_shares(profiles, path: str, summary: bool) -> None:
    """`--plot`: madds share vs mac share per layer of one network (lwbench/report/plots.py)."""
    from lwbench.errors import InputError
    from lwbench.report.plots import layer_shares

    if summary or len(profiles) != 1:
        raise InputError("profile --plot: draws the layers of one network; for the zoo use "
                         "`lwbench bench --all -o b.csv` then `lwbench plot b.csv`")
    layer_shares(profiles[0].to_frame(), path)


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
