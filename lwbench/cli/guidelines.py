"""`lwbench guidelines`: ShuffleNet V2's G1–G4 experiments (Tables 1–4) measured on this machine, beside the
paper's figures; `--breakdown`: its Figure 2 (share of time per op category). Options -> lwbench.guidelines
-> lwbench.report.emit (the tables and export texts: lwbench.report.tables.guidelines)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated

import typer

from lwbench.cli.options import FormatOpt, OutputOpt, console
from lwbench.guidelines.run import DEFAULT_MIN_TIME, DEFAULT_ROUNDS

WhichArg = Annotated[list[str] | None, typer.Argument(
    help="G1 G2 G3 G4 (default: all four), or guideline YAML files.", show_default=False)]
DeviceOpt = Annotated[str, typer.Option("--device", "-d", help="cpu (speeds in images/s) or cuda (batches/s).")]
ScaleOpt = Annotated[str | None, typer.Option(
    "--scale", help="Columns to run, a comma list of x1, x2, x4 (default: all three; --quick: x1). G1/G2: 1x, 2x, "
    "4x the x1 madds; G3/G4: the paper's three channel settings.", show_default=False)]
ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", "-t", min=1, help="Intra-op threads (inter-op 1). Default on cpu: 1, the paper's ARM setup (one "
    "thread); on cuda: torch's default.")]
BatchOpt = Annotated[int | None, typer.Option(
    "--batch", "-b", min=1, help="Images per batch. Default: the paper's (setup.batch of the file), 1 on cpu (ARM), "
    "8 on cuda (GPU).")]
ChannelsOpt = Annotated[str | None, typer.Option(
    "--channels", help="Which of the paper's channel settings to build: gpu or arm. Default: gpu on cuda, arm on "
    "cpu (the paper's ARM columns are its CPU measurements).")]
QuickOpt = Annotated[bool, typer.Option(
    "--quick", help="Tiny settings for CI: 8x8 input, x1 only (unless --scale), 10 ms per row, batch 1.")]
MinTimeOpt = Annotated[float | None, typer.Option(
    "--min-time", min=0.0, help=f"Measure each row at least this long (s) and 10 runs in all (default "
    f"{DEFAULT_MIN_TIME:g}; --quick: 0.01).")]
RoundsOpt = Annotated[int | None, typer.Option(
    "--rounds", min=1, help="Interleave the rows of each table in this many round-robin slices of --min-time "
    f"(default {DEFAULT_ROUNDS}; --quick: 2), so that drift and other load hit every row alike.")]
BreakdownOpt = Annotated[bool, typer.Option(
    "--breakdown", help="Instead of G1-G4: the paper's Figure 2, the share of time per op category (conv, "
    "element-wise, shuffle, concat/split, other) of shufflenet_v1_g3_x1_0 and mobilenet_v2 on --device.")]
NetOpt = Annotated[list[str] | None, typer.Option("--net", help="With --breakdown: these networks instead (repeat "
                                                  "the option).")]
FromOpt = Annotated[str | None, typer.Option(
    "--from", help="Re-render a CSV or JSON saved by an earlier run (G1-G4 rows, or --breakdown rows) without "
    "measuring; the verdicts are judged again from the saved medians and IQRs.")]
RuntimeOpt = Annotated[str, typer.Option(
    "--runtime", help="What runs each row's network: torch (eager) or onnxruntime (exported, checked against "
    "torch, fused by ORT; --ort-opt its graph optimisation level). With --breakdown: ORT's profiler joined to the "
    "layers, a fused node in its main layer's category (as `lwbench profile NET --time --runtime onnxruntime`).")]
OrtOptOpt = Annotated[str, typer.Option("--ort-opt", help="With --runtime onnxruntime: disable, basic, extended or "
                                        "all.")]
GTargetOpt = Annotated[str, typer.Option(
    "--target", help="Where to time the rows: local, or an SSH target (ssh://[user@]host[:port][?python=PATH] or an "
    "ssh config alias; docs/targets.md): each row's network exported as TorchScript and run frozen there, the "
    "target's machine block in the export.")]
PlotOpt = Annotated[str | None, typer.Option(
    "--plot", help="Also draw the measured speed ratios beside the paper's GPU and ARM ratios (the figure of "
    "`lwbench plot --kind guideline-ratios`) to PATH.png, .svg or .pdf.")]


def guidelines(which: WhichArg = None, device: DeviceOpt = "cpu", scale: ScaleOpt = None, threads: ThreadsOpt = None,
               batch: BatchOpt = None, channels: ChannelsOpt = None, quick: QuickOpt = False,
               min_time: MinTimeOpt = None, rounds: RoundsOpt = None, fmt: FormatOpt = None, output: OutputOpt = None,
               breakdown: BreakdownOpt = False, nets: NetOpt = None, from_csv: FromOpt = None,
               plot: PlotOpt = None, runtime: RuntimeOpt = "torch", ort_opt: OrtOptOpt = "all",
               target: GTargetOpt = "local") -> None:
    """Reproduce ShuffleNet V2's guideline experiments G1-G4 (Ma et al., ECCV 2018, Sec. 2, Tables 1-4).

    Per guideline, one table: every row's setting, channels, madds and mac_elems (analytic), the measured
    speed (median, ±half the IQR), its ratio to the reference row, the paper's GPU and ARM figures and their
    ratios, the madds spread of the rows (above 6% is a configuration error: exit 2) and a one-line verdict:
    does the paper's ordering hold on this device, by how much, and how many of its orderings hold,
    contradict, or are within noise. The planned time is printed before timing starts; the progress shows
    elapsed time and an ETA. Rows are written to --output as each finishes (CSV with `# machine:` comment
    lines, JSON with a "machine" key, or Markdown with a `<!-- machine: -->` comment), with the run's
    duration_s and measured_s.
    """
    from lwbench.errors import InputError
    from lwbench.report.emit import resolve_format
    from lwbench.report.plots import check_figure_path

    kind = resolve_format(fmt, output)
    if plot:
        check_figure_path(plot, "--plot")  # before anything is measured
    if from_csv:
        return _rerender(from_csv, kind, output, plot)
    if breakdown and plot:
        raise InputError("--plot draws the G1-G4 speed ratios; it does not go with --breakdown")
    target = _one_target(target, runtime, breakdown)
    _check_runtime(runtime, ort_opt, device, target)
    if threads is None and device == "cpu":
        threads = 1
    if breakdown:
        return _breakdown(nets, device, threads, batch or 1, min_time, quick, kind, output, (runtime, ort_opt))
    _guidelines(which, device, scale, threads, batch, channels, quick, min_time, rounds, kind, output, plot,
                (runtime, ort_opt), target)


def _check_runtime(runtime: str, ort_opt: str, device: str, target: str = "local") -> None:
    """The device, and --runtime/--ort-opt: one line before anything is measured."""
    from lwbench.measure.timer import check_device
    from lwbench.runtimes import check_runtime_name

    if check_runtime_name(runtime) == "torch":
        if target == "local":
            check_device(device)
        return
    from lwbench.measure.protocol import Job
    from lwbench.runtimes.ort import check

    check(Job(net="guidelines", device=device, runtime="onnxruntime", options={"ort_opt": ort_opt}, target=target))


def _one_target(text: str, runtime: str, breakdown: bool) -> str:
    """--target: one target (local or remote); --breakdown times layers with hooks, locally only."""
    from lwbench.cli.options import targets_of
    from lwbench.errors import InputError

    got = targets_of(text)
    if len(got) != 1:
        raise InputError(f"guidelines --target {text}: one target per run (the verdicts compare rows of one machine)")
    if breakdown and got[0] != "local":
        raise InputError("guidelines --breakdown --target: the breakdown times layers with forward hooks, locally; "
                         "on a target use `lwbench profile NET --time --runtime onnxruntime --target ...`")
    if got[0] != "local":
        from lwbench.targets.export import check_remote

        check_remote(runtime, "script" if runtime == "torch" else "eager", "cpu")
    return got[0]


def _scales(text: str) -> tuple[str, ...]:
    from lwbench.errors import InputError, suggest
    from lwbench.guidelines import SCALES

    got = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    for s in got:
        if s not in SCALES:
            raise InputError(f"--scale: expected x1, x2 or x4{suggest(s, SCALES)}, got {s}")
    if not got:
        raise InputError("--scale: name at least one of x1, x2, x4")
    return tuple(s for s in SCALES if s in got)


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console(stderr=True), transient=False)


class _Sink:
    """The export so far, rewritten atomically through report.emit after every row; a file that existed before
    the run is replaced only once some row was measured (a run that fails throughout keeps the good file)."""

    def __init__(self, kind: str, output: str | None, exps, device: str, machine: dict, meta: dict):
        from pathlib import Path

        self.kind, self.output, self.exps, self.device, self.machine, self.meta = kind, output, exps, device, machine, meta
        self.existed = bool(output) and Path(output).exists()
        self.any_ok = False

    def write(self, result: dict, output: str | None = None) -> None:
        from lwbench.report.emit import emit
        from lwbench.report.tables.guidelines import export

        rows, how = export(self.kind, self.exps, result, self.device, self.machine, self.meta)
        emit(self.kind, rows, output=output, **how)

    def add(self, result: dict, rec: dict) -> None:
        self.any_ok = self.any_ok or not rec.get("error")
        if self.output and (self.any_ok or not self.existed):
            self.write(result, self.output)


def _guidelines(which, device, scale, threads, batch, channels, quick, min_time, rounds, kind, output, plot,
                runtime=("torch", "all"), target: str = "local") -> None:
    from lwbench.errors import InputError
    from lwbench.guidelines import SETUPS, RunConfig, load_all, plan_all

    if channels is not None and channels not in SETUPS:
        raise InputError(f"--channels: expected gpu or arm, got {channels}")
    exps = load_all(list(which) if which else None)
    rc = RunConfig.make(quick, device=device, scales=_scales(scale or ("x1" if quick else "x1,x2,x4")),
                        threads=threads, batch=batch, setup=channels, min_time_s=min_time, rounds=rounds,
                        runtime=runtime[0], ort_opt=runtime[1], target=target)
    planned = plan_all(exps, rc)              # every row counted, every spread checked: a bad file stops here
    config = {"guidelines": [e.guideline for e in exps], "device": device, "scales": list(rc.scales),
              "threads": threads, "batch": batch, "channels": rc.setup, "resolution": rc.resolution, "quick": quick,
              "rounds": rc.rounds, "timer": rc.timer_config().to_dict(), "runtime": rc.runtime,
              "options": {"ort_opt": rc.ort_opt} if rc.runtime == "onnxruntime" else {}, "target": rc.target}
    with _locked(output):
        _measure(exps, rc, planned, config, kind, output, plot)


def _measure(exps, rc, planned, config: dict, kind: str, output: str | None, plot: str | None) -> None:
    from lwbench.guidelines import Budget
    from lwbench.measure.machine import machine_info

    budget = Budget.of(exps, rc)
    err = console(stderr=True)
    err.print(budget.text())
    with _where(rc.target) as targets:
        from lwbench.runtimes import runtime_info

        machine = targets[rc.target].machine() if targets else {**machine_info(), **runtime_info([rc.runtime])}
        sink = _Sink(kind, output, exps, rc.device, machine, {"config": config, "budget": budget.to_dict()})
        result = _run(exps, rc, planned, sink, budget, targets)
    if plot:
        _plot(result["rows"], plot)
    _finish(sink, result, output, kind)
    err.print(f"duration: {result['duration_s']:.1f} s (planned {budget.planned_s:.0f} s of timing; "
              f"{result['measured_s']:.1f} s in measured runs)")


@contextmanager
def _where(target: str):
    """{target: the opened Target} for a remote run (closed at the end: its run directory removed), else {}."""
    if target == "local":
        yield {}
        return
    from lwbench.targets import resolve

    t = resolve(target)
    try:
        yield {target: t}
    finally:
        t.close()


def _run(exps, rc, planned, sink, budget, targets) -> dict:
    import time

    from lwbench.guidelines import LIMITS, run_experiments

    live: dict = {"rows": [], "spreads": {}, "verdicts": {}, "limits": dict(LIMITS)}
    t0 = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("counting", total=budget.rows * budget.rounds)

        def on_row(rec: dict) -> None:
            live["rows"].append(rec)
            live["duration_s"] = round(time.perf_counter() - t0, 3)
            sink.add(live, rec)
            bar.advance(task)

        return run_experiments(exps, rc, on_row=on_row, on_start=lambda label: bar.update(task, description=label),
                               on_tick=lambda: bar.advance(task), planned=planned, targets=targets or None)


def _locked(output: str | None):
    """The output checked writable before anything is measured and locked for the run (report.write.output_lock:
    a second run on the same --output is refused with one line, not left to lose rows)."""
    from contextlib import nullcontext

    from lwbench.report.write import output_lock

    return output_lock(output) if output else nullcontext()


def _finish(sink: _Sink, result: dict, output: str | None, kind: str) -> None:
    """The whole result: the tables on the terminal (also when writing a file), then the export."""
    from lwbench.report.tables.guidelines import rich_table

    if kind == "table" or output:
        con = console()
        for exp in sink.exps:
            con.print(rich_table(exp, result, sink.device))
    if output:
        if sink.any_ok or not sink.existed:
            sink.write(result, output)
            console(stderr=True).print(f"wrote {len(result['rows'])} rows to {output}")
        else:
            console(stderr=True).print(f"no row was measured: {output} is left as it was")
    elif kind != "table":
        sink.write(result, None)


def _plot(rows: list[dict], path: str):
    """The guideline-ratios figure of `lwbench plot`, from the rows as they are exported."""
    from lwbench.report.plots import plot_rows
    from lwbench.report.tables.guidelines import export_rows

    data = plot_rows(export_rows(rows), path, kind="guideline-ratios")
    console(stderr=True).print(f"wrote {path}: guideline-ratios, {len(data)} bars per series")
    return data


def _rerender(path: str, kind: str, output: str | None, plot: str | None) -> None:
    from lwbench.errors import InputError
    from lwbench.guidelines import load_all, read_saved, reverdict
    from lwbench.report.emit import emit
    from lwbench.report.tables.guidelines import export, export_breakdown

    saved = read_saved(path)
    result, machine = saved.result, saved.machine
    if saved.kind == "breakdown":
        if plot:
            raise InputError(f"--plot draws the G1-G4 speed ratios; {path} holds --breakdown rows")
        meta = {k: v for k, v in result.items() if k != "rows"}
        rows, how = export_breakdown(kind, result["rows"], machine, meta)
        return emit(kind, rows, output=output, **how)
    device = str(result["config"].get("device") or result["rows"][0]["device"])
    exps = load_all(list(dict.fromkeys(str(r["guideline"]) for r in result["rows"])))
    result["verdicts"] = reverdict(exps, result, device)
    if plot:
        _plot(result["rows"], plot)
    meta = {k: result[k] for k in ("config", "budget") if result.get(k)}
    rows, how = export(kind, exps, result, device, machine, meta)
    emit(kind, rows, output=output, **how)


def _breakdown(nets, device, threads, batch, min_time, quick, kind, output, runtime=("torch", "all")) -> None:
    import time

    from lwbench.guidelines import breakdown
    from lwbench.measure.machine import machine_info
    from lwbench.report.emit import emit
    from lwbench.report.tables.guidelines import breakdown_table, export_breakdown, render_breakdown
    from lwbench.report.write import atomic_write

    err = console(stderr=True)
    t = (0.01 if quick else DEFAULT_MIN_TIME) if min_time is None else min_time
    t0 = time.perf_counter()
    with _locked(output):
        machine = machine_info()
        if runtime[0] == "onnxruntime":
            from lwbench.runtimes.ort import info

            machine["onnxruntime"] = info()

        def on_row(so_far: list[dict]) -> None:  # each network's row on disk as soon as it is measured
            if output:
                atomic_write(output, render_breakdown(kind, so_far, machine, {"complete": False}))

        how = "profiling every node in onnxruntime" if runtime[0] == "onnxruntime" else "timing every layer"
        with err.status(f"{how} on {device}"):
            rows = breakdown(list(nets) if nets else None, device=device, threads=threads, batch=batch,
                             min_time_s=t, resolution=32 if quick else None, on_skip=lambda msg: err.print(msg),
                             on_row=on_row, runtime=runtime[0], ort_opt=runtime[1])
        meta = {"duration_s": round(time.perf_counter() - t0, 3)}
        if output:
            console().print(breakdown_table(rows))
        rows, how = export_breakdown(kind, rows, machine, meta)
        emit(kind, rows, output=output, **how)


def register(app: typer.Typer) -> None:
    app.command("guidelines")(guidelines)
