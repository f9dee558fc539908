"""`lwbench plot`: figures from exported files (latency vs madds, layer shares, roofline)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer


class PlotKind(str, Enum):
    auto = "auto"
    latency_vs_madds = "latency-vs-madds"
    layer_shares = "layer-shares"
    roofline = "roofline"
    guideline_ratios = "guideline-ratios"


class Group(str, Enum):
    layer = "layer"
    kind = "kind"
    category = "category"


FileArg = Annotated[str, typer.Argument(help="An lwbench export (CSV, JSON or Markdown).", show_default=False)]
FigureOpt = Annotated[str, typer.Option("--output", "-o", help="The figure: PATH.png, .svg or .pdf.")]
KindOpt = Annotated[PlotKind, typer.Option("--kind", help="latency-vs-madds (bench export: one point per "
                                           "network), layer-shares (per-layer export: madds/mac/time share "
                                           "per layer), roofline (per-layer export with time: `profile --time`), "
                                           "guideline-ratios (`lwbench guidelines` export: measured vs paper "
                                           "speed ratios). auto: by the file's kind.")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="The network to plot when the file holds "
                                              "several (layer-shares, roofline).")]
YOpt = Annotated[str, typer.Option("--y", help="latency-vs-madds: the y column (median_ms, min_ms, p90_ms, "
                                   "images_per_s, batches_per_s).")]
JoinOpt = Annotated[str | None, typer.Option("--join", help="latency-vs-madds: a summary export "
                                             "(`profile --all -o zoo.csv`) whose madds to use.")]
GroupOpt = Annotated[Group, typer.Option("--group", help="layer-shares: bars per layer, kind or category.")]
PeakFlopsOpt = Annotated[float | None, typer.Option("--peak-gflops", help="roofline: peak compute (GFLOP/s); "
                                                    "measured with a matmul when not given.")]
PeakGbsOpt = Annotated[float | None, typer.Option("--peak-gbs", help="roofline: peak memory bandwidth (GB/s); "
                                                  "measured with a copy when not given.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="roofline: where to measure the peaks "
                                               "(default: the device of the timed run, else cpu).")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=1, help="roofline: threads for the peaks "
                                                "(default: the file's timer threads, else torch's).")]
DataOpt = Annotated[str | None, typer.Option("--data", help="Also write the plotted numbers (CSV/JSON/MD).")]


def plot(file: FileArg, output: FigureOpt, kind: KindOpt = PlotKind.auto, model: ModelOpt = None,
         y: YOpt = "median_ms", join: JoinOpt = None, group: GroupOpt = Group.layer,
         peak_gflops: PeakFlopsOpt = None, peak_gbs: PeakGbsOpt = None, device: DeviceOpt = None,
         threads: ThreadsOpt = None, data: DataOpt = None) -> None:
    """Draw a figure from an export: latency against madds for the zoo (ShuffleNet V2 Fig. 1(c)(d)), madds vs
    mac vs time shares per layer, or a per-layer roofline under the device's measured peaks."""
    import sys

    from lwbench.report import plots
    from lwbench.report.emit import resolve_format
    from lwbench.report.load import load_export

    plots.check_figure_path(output, "--output")
    data_fmt = resolve_format(None, data, "--data") if data else None
    ex = load_export(file)
    k = plots.auto_kind(ex.kind, ex.frame.columns) if kind is PlotKind.auto else kind.value
    note, peaks = "", None
    if k == "latency-vs-madds":
        summary = load_export(join, "summary").frame if join else None
        out = plots.latency_vs_madds(ex.frame, output, y=y, summary=summary)
    elif k == "guideline-ratios":
        out = plots.guideline_ratios(ex.frame, output)
    elif k == "layer-shares":
        _need_layers(ex, k)
        out = plots.layer_shares(ex.frame, output, model=model, group=group.value)
    else:
        out, peaks, note = _roofline(ex, output, model, peak_gflops, peak_gbs, device, threads)
    if data:
        _write_data(data_fmt, data, out, k, file, output, peaks)
    print(f"wrote {output}: {k}, {len(out)} points{note}", file=sys.stderr)


def _roofline(ex, output: str, model, peak_gflops, peak_gbs, device, threads):
    """The roofline under the given peaks, or peaks measured (report.peaks) where a peak is not given.
    Returns the plotted data, the peaks block of --data, and a note on the peaks measured."""
    from lwbench.report import plots

    _need_layers(ex, "roofline")
    cache, pk, note = None, None, ""
    if peak_gflops is None or peak_gbs is None:
        from lwbench.report.peaks import measure_peaks

        run = _timed_run(ex, model)
        device = device or run.get("device") or "cpu"
        pk = measure_peaks(device, threads or run.get("threads"), dtype=run.get("dtype") or "float32")
        peak_gflops = peak_gflops or pk.peak_gflops
        peak_gbs = peak_gbs or pk.peak_gbs
        cache = pk.cache_gbs
        note = (f" (peaks measured on {device}: {pk.peak_gflops:.1f} GFLOP/s {pk.dtype} matmul n={pk.matmul_n}, "
                f"{pk.peak_gbs:.1f} GB/s {pk.copy_mib} MiB copy" +
                (f", {pk.cache_gbs:.1f} GB/s 1 MiB copy)" if pk.cache_gbs else ")"))
    out = plots.roofline(ex.frame, output, peak_gflops, peak_gbs, model=model, cache_gbs=cache)
    peaks = {"peak_gflops": peak_gflops, "peak_gbs": peak_gbs, "measured": pk.to_dict() if pk else None}
    return out, peaks, note


def _write_data(fmt: str, data: str, out, k: str, file: str, figure: str, peaks: dict | None) -> None:
    """--data: the plotted numbers with the machine block, what was plotted from where (and the peaks)."""
    from lwbench.report.compare import records
    from lwbench.report.emit import emit
    from lwbench.report.write import machine_block

    meta = {"plot": k, "source": file, "figure": figure, **({"peaks": peaks} if peaks else {})}
    emit(fmt, records(out), output=data, machine=machine_block(), meta=meta, title=f"{k} of {file}")


def _timed_run(ex, model: str | None) -> dict:
    """The end-to-end block of a `profile --time` export (device, threads, dtype) for the plotted network."""
    name = model or str(ex.frame["model"].iloc[0])
    docs = [ex.meta.get(f"end_to_end {name}"), ex.meta.get("end_to_end")]
    docs += [p.get("end_to_end") for p in ex.meta.get("profiles", []) if isinstance(p, dict)]
    for d in docs:
        if isinstance(d, dict) and d.get("model", name) == name:
            return d
    return {}


def _need_layers(ex, k: str) -> None:
    from lwbench.errors import InputError

    if ex.kind != "layers":
        raise InputError(f"plot --kind {k}: needs a per-layer export (`lwbench profile NET -o x.csv`), "
                         f"{ex.path} is a {ex.kind} export")


def register(app: typer.Typer) -> None:
    app.command("plot")(plot)
