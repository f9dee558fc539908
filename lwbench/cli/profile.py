"""`lwbench profile`: per-layer params, madds (multiply-adds) and mac (memory access cost)."""

from __future__ import annotations

from typing import Annotated

import typer

from lwbench.cli.options import BatchOpt, DType, DTypeOpt, FormatOpt, OutputOpt, ResolutionOpt, WidthOpt

NetsArg = Annotated[list[str] | None, typer.Argument(help="Zoo names or YAML paths.", show_default=False)]
FoldBnOpt = Annotated[bool, typer.Option("--fold-bn", help="Report BN folded into the preceding conv.")]
SummaryOpt = Annotated[bool, typer.Option("--summary", help="One row per network instead of per layer.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every network of the zoo (implies --summary).")]
TimeOpt = Annotated[bool, typer.Option("--time", help="Also measure each layer (torch; forward hooks) and the "
                                       "end-to-end latency; adds time %, GFLOP/s, GB/s and a by-category table. "
                                       "Timed in --dtype: float32, bfloat16 or float16 (parameters and input "
                                       "cast; int8 is refused: it needs a quantised model).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="With --time: cpu or cuda.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=1, help="With --time: intra-op threads.")]
MinTimeOpt = Annotated[float, typer.Option("--min-time", help="With --time: measure at least this long (s).")]
ProfTargetOpt = Annotated[str, typer.Option("--target", help="With --time: where to measure: local, or an SSH "
                                            "target (ssh://[user@]host[:port][?python=PATH] or an ssh config "
                                            "alias), with --runtime onnxruntime: the per-layer times come from "
                                            "ONNX Runtime's profiler on the target (docs/targets.md).")]
SortOpt = Annotated[str | None, typer.Option("--sort", help="Sort by this column (params, madds, mac_elems, "
                                             "mac_bytes, model, …): networks with --summary/--all, else the "
                                             "layers of each network.")]
DescOpt = Annotated[bool, typer.Option("--desc", help="With --sort: largest first.")]
PlotOpt = Annotated[str | None, typer.Option("--plot", help="Also draw each layer's madds share vs mac share, "
                                             "and with --time vs time share (PATH.png, .svg or .pdf; one "
                                             "network).")]
ModuleOpt = Annotated[str | None, typer.Option("--module", help="Also count any nn.Module: package.module:factory "
                                               "(torch-side counter, the ops that run).")]
InputOpt = Annotated[str | None, typer.Option("--input", help="With --module: input shape per image "
                                              "(default 3x224x224).")]
ProfRuntimeOpt = Annotated[str, typer.Option("--runtime", help="With --time: torch (forward hooks) or onnxruntime "
                                             "(ORT's profiler, per fused node; --dtype float32 or int8).")]
OrtOptOpt = Annotated[str, typer.Option("--ort-opt", help="With --time --runtime onnxruntime: disable, basic, "
                                        "extended or all.")]


def profile(nets: NetsArg = None, width: WidthOpt = None, resolution: ResolutionOpt = None, batch: BatchOpt = 1,
            dtype: DTypeOpt = DType.float32, fold_bn: FoldBnOpt = False, fmt: FormatOpt = None,
            output: OutputOpt = None, summary: SummaryOpt = False, all_: AllOpt = False, time_: TimeOpt = False,
            device: DeviceOpt = "cpu", threads: ThreadsOpt = None, min_time: MinTimeOpt = 1.0, sort: SortOpt = None,
            desc: DescOpt = False, plot: PlotOpt = None, module: ModuleOpt = None, input_: InputOpt = None,
            target: ProfTargetOpt = "local", runtime: ProfRuntimeOpt = "torch", ort_opt: OrtOptOpt = "all") -> None:
    """Count every layer analytically (no torch): params, madds, mac_elems, mac_bytes; a totals line."""
    from lwbench.report.emit import resolve_format
    from lwbench.spec.zoo import index

    names = list(nets or [])
    if all_:
        names += [n for n in index() if n not in names]
        summary = True
    kind = resolve_format(fmt, output)
    _check_args(names, module, input_, time_, fold_bn, width, resolution)
    if target.strip() != "local" and not time_:
        from lwbench.errors import InputError

        raise InputError(f"profile --target {target}: a target is where --time measures; the counts are exact "
                         "anywhere (add --time)")
    if plot:
        _check_plot(plot, len(names) + bool(module), summary)
    if time_:
        _profile_time(names, width, resolution, batch, dtype, fold_bn, summary, sort, device, threads, min_time,
                      kind, output, plot, (runtime, ort_opt), target)
        return
    profiles = _count(names, width, resolution, batch, dtype.value, fold_bn, module, input_)
    if plot:
        from lwbench.report.plots import layer_shares

        layer_shares(profiles[0].to_frame(), plot)
    if summary:
        _summary(profiles, sort, desc, kind, output)
        return
    if sort:
        from dataclasses import replace

        from lwbench.report.sorting import sort_rows

        profiles = [replace(p, layers=sort_rows(p.layers, sort, desc)) for p in profiles]
    from lwbench.report.emit import emit
    from lwbench.report.exports import layers_how

    emit(kind, output=output, **layers_how(profiles, _machine(kind)))


def _check_args(names, module, input_, time_, fold_bn, width, resolution) -> None:
    from lwbench.errors import InputError

    if not names and not module:
        raise InputError("profile: name at least one network (or --all, or --module); `lwbench list` shows the zoo")
    if input_ and not module:
        raise InputError("profile --input: goes with --module package.module:factory")
    if module and (time_ or (not names and (fold_bn or width is not None or resolution is not None))):
        raise InputError("profile --module: counts the ops that run at --input; --time, --fold-bn, --width and "
                         "--resolution apply to zoo networks")


def _count(names, width, resolution, batch: int, dtype: str, fold_bn: bool, module, input_) -> list:
    """The analytic profile of each network, then the torch-side count of --module."""
    from lwbench.count import count
    from lwbench.spec import load

    profiles = [count(load(n, width, resolution), batch, dtype, fold_bn) for n in names]
    if module:
        from lwbench.measure.torchcount import profile_factory, warnings_of
        from lwbench.report.console import console

        profiles.append(profile_factory(module, input_, batch, dtype))
        for line in warnings_of(profiles[-1]):    # what the torch-side count could not cover, said out loud
            console(stderr=True).print(f"lwbench: warning: {line}", markup=False, soft_wrap=True)
    return profiles


def _machine(kind: str) -> dict | None:
    """The machine block of an export (a table does not show it)."""
    from lwbench.report.write import machine_block

    return None if kind == "table" else machine_block()


def _summary(profiles, sort: str | None, desc: bool, kind: str, output: str | None) -> None:
    """--summary / --all: one row per network; CSV with a `# machine:` line, JSON `{machine, rows}`, Markdown
    with `<!-- machine: -->`."""
    from lwbench.report.emit import emit
    from lwbench.report.exports import summary_how

    rows = [p.summary() for p in profiles]
    if sort:
        from lwbench.report.sorting import sort_rows

        rows = sort_rows(rows, sort, desc)
    order = f", sorted by {sort}{' (largest first)' if desc else ''}" if sort else ""
    emit(kind, rows, output=output, **summary_how(_machine(kind), f"{len(rows)} networks{order}"))


def _check_plot(path: str, networks: int, summary: bool) -> None:
    """--plot: one network's layers, to a .png/.svg/.pdf; checked before anything is counted or measured."""
    from lwbench.errors import InputError
    from lwbench.report.plots import check_figure_path

    check_figure_path(path, "--plot")
    if summary or networks != 1:
        raise InputError("profile --plot: draws the layers of one network; for the zoo use "
                         "`lwbench bench --all -o b.csv` then `lwbench plot b.csv`")


def _profile_time(names, width, resolution, batch, dtype, fold_bn, summary, sort, device, threads, min_time,
                  kind, output, plot, runtime=("torch", "all"), target: str = "local") -> None:
    """`profile --time`: measure (lwbench.measure.layers), export, and with --plot draw madds vs mac vs time
    shares of the rows just measured (the same function as `lwbench plot --kind layer-shares`)."""
    from lwbench.errors import InputError

    if fold_bn or summary:
        raise InputError("profile --time measures the model as built: drop --fold-bn / --summary / --all")
    if sort:
        raise InputError("profile --time: --sort works on its export: `lwbench profile NET --time -o t.csv`, then "
                         "`lwbench compare t.csv t.csv --sort time_ms_A --desc`, or sort the table in pandas")
    from lwbench.runtimes import check_runtime_name

    remote = target.strip() != "local"
    if remote:
        from lwbench.targets.profile import check_remote_profile

        check_remote_profile(runtime[0], device)
    if check_runtime_name(runtime[0]) == "onnxruntime":
        results = _ort_profile_time(names, width, resolution, batch, dtype.value, device, threads, min_time, kind,
                                    output, runtime[1], target.strip() if remote else None)
    else:
        from lwbench.measure.layers import profile_time_cli
        from lwbench.measure.timer import check_dtype

        check_dtype(dtype.value)  # the model runs in --dtype: its mac_bytes and GB/s describe that run; int8: refused
        results = profile_time_cli(names, width, resolution, batch, dtype.value, device, threads, min_time, kind,
                                   output)
    if plot:
        from lwbench.report.plots import plot_rows

        plot_rows(results[0]["layers"], plot, kind="layer-shares")


def _ort_profile_time(names, width, resolution, batch, dtype, device, threads, min_time, kind, output, ort_opt,
                      target: str | None = None):
    """The onnxruntime path of `profile --time` (lwbench.onnx.profile), checked before anything is exported;
    `target`: measured there (lwbench.targets.profile)."""
    from lwbench.measure.jobs import Job
    from lwbench.onnx.profile import profile_time_cli
    from lwbench.runtimes.ort import check

    for n in names:
        check(Job(net=n, batch=batch, threads=threads, device=device, dtype=dtype, runtime="onnxruntime",
                  options={"ort_opt": ort_opt}, target=target or "local"))
    return profile_time_cli(names, width, resolution, batch, dtype, device, threads, min_time, kind, output, ort_opt,
                            target=target)


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
