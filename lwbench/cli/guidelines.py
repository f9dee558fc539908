"""`lwbench guidelines`: ShuffleNet V2's G1–G4 experiments (Tables 1–4) measured on this machine, beside the
paper's figures; `--breakdown`: its Figure 2 (share of time per op category)."""

from __future__ import annotations

from typing import Annotated

import typer

from lwbench.cli.common import FormatOpt, OutputOpt, console
from lwbench.guidelines import DEFAULT_MIN_TIME, DEFAULT_ROUNDS


def guidelines(
    which: Annotated[list[str] | None, typer.Argument(
        help="G1 G2 G3 G4 (default: all four), or guideline YAML files.", show_default=False)] = None,
    device: Annotated[str, typer.Option("--device", "-d", help="cpu (speeds in images/s) or cuda (batches/s).")] = "cpu",
    scale: Annotated[str | None, typer.Option("--scale", help="Columns to run, a comma list of x1, x2, x4 "
                                              "(default: all three; --quick: x1). G1/G2: 1x, 2x, 4x the x1 madds; "
                                              "G3/G4: the paper's three channel settings.", show_default=False)] = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", "-t", min=1, help="Intra-op threads (inter-op 1). Default on cpu: 1, the paper's ARM "
        "setup (one thread); on cuda: torch's default.")] = None,
    batch: Annotated[int | None, typer.Option(
        "--batch", "-b", min=1, help="Images per batch. Default: the paper's, 1 on cpu (ARM), 8 on cuda (GPU).")] = None,
    channels: Annotated[str | None, typer.Option(
        "--channels", help="Which of the paper's channel settings to build: gpu or arm. Default: gpu on cuda, "
        "arm on cpu (the paper's ARM columns are its CPU measurements).")] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Tiny settings for CI: 8x8 input, x1 only (unless --scale), 10 ms per row, batch 1.")] = False,
    min_time: Annotated[float | None, typer.Option(
        "--min-time", min=0.0, help=f"Measure each row at least this long (s) and 10 runs in all (default "
        f"{DEFAULT_MIN_TIME:g}; --quick: 0.01).")] = None,
    rounds: Annotated[int | None, typer.Option(
        "--rounds", min=1, help="Interleave the rows of each table in this many round-robin slices of --min-time "
        f"(default {DEFAULT_ROUNDS}; --quick: 2), so that drift and other load hit every row alike.")] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    breakdown: Annotated[bool, typer.Option(
        "--breakdown", help="Instead of G1-G4: the paper's Figure 2, the share of time per op category (conv, "
        "element-wise, shuffle, concat/split, other) of shufflenet_v1_g3_x1_0 and mobilenet_v2 on --device.")] = False,
    nets: Annotated[list[str] | None, typer.Option(
        "--net", help="With --breakdown: these networks instead (repeat the option).")] = None,
    from_csv: Annotated[str | None, typer.Option(
        "--from", help="Re-render a CSV or JSON saved by an earlier run (G1-G4 rows, or --breakdown rows) "
        "without measuring; the verdicts are judged again from the saved medians and IQRs.")] = None,
    plot: Annotated[str | None, typer.Option(
        "--plot", help="Also draw the measured speed ratios beside the paper's GPU and ARM ratios (the figure "
        "of `lwbench plot --kind guideline-ratios`) to PATH.png, .svg or .pdf.")] = None,
) -> None:
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
    from lwbench.report.plots import check_figure_path
    from lwbench.report.write import file_format

    kind = file_format(fmt.value if fmt else None, output)
    if plot:
        check_figure_path(plot, "--plot")  # before anything is measured
    if from_csv:
        _rerender(from_csv, kind, output, plot)
        return
    if breakdown and plot:
        raise InputError("--plot draws the G1-G4 speed ratios; it does not go with --breakdown")
    from lwbench.measure.timer import check_device

    check_device(device)
    if threads is None and device == "cpu":
        threads = 1
    if breakdown:
        _breakdown(nets, device, threads, batch or 1, min_time, quick, kind, output)
        return
    _guidelines(which, device, scale, threads, batch, channels, quick, min_time, rounds, kind, output, plot)


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


def _guidelines(which, device, scale, threads, batch, channels, quick, min_time, rounds, kind, output, plot) -> None:
    import time

    from lwbench.errors import InputError
    from lwbench.guidelines import (
        LIMITS,
        SETUPS,
        Budget,
        RunConfig,
        load_all,
        plan_all,
        render,
        rich_table,
        run_experiments,
    )
    from lwbench.measure.machine import machine_info
    from lwbench.report.write import atomic_write, emit

    if channels is not None and channels not in SETUPS:
        raise InputError(f"--channels: expected gpu or arm, got {channels}")
    exps = load_all(list(which) if which else None)
    scales = _scales(scale or ("x1" if quick else "x1,x2,x4"))
    rc = RunConfig.make(quick, device=device, scales=scales, threads=threads, batch=batch, setup=channels,
                        min_time_s=min_time, rounds=rounds)
    planned = plan_all(exps, rc)              # every row counted, every spread checked: a bad file stops here
    budget = Budget.of(exps, rc)
    err = console(stderr=True)
    err.print(budget.text())
    machine = machine_info()
    meta = {"config": {"guidelines": [e.guideline for e in exps], "device": device, "scales": list(rc.scales),
                       "threads": threads, "batch": batch, "channels": rc.setup, "resolution": rc.resolution,
                       "quick": quick, "rounds": rc.rounds, "timer": rc.timer_config().to_dict()},
            "budget": budget.to_dict()}
    live: dict = {"rows": [], "spreads": {}, "verdicts": {}, "limits": dict(LIMITS)}
    t0 = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("counting", total=budget.rows * budget.rounds)

        def on_row(rec: dict) -> None:        # the file so far, rewritten atomically after every row
            live["rows"].append(rec)
            live["duration_s"] = round(time.perf_counter() - t0, 3)
            if output:
                atomic_write(output, render(kind, exps, live, device, machine, meta))
            bar.advance(task)

        result = run_experiments(exps, rc, on_row=on_row, on_start=lambda label: bar.update(task, description=label),
                                 on_tick=lambda: bar.advance(task), planned=planned)
    if plot:
        _plot(result["rows"], plot)
    if kind == "table" or output:
        con = console()
        for exp in exps:
            con.print(rich_table(exp, result, device))
    if output:
        atomic_write(output, render(kind, exps, result, device, machine, meta))
        err.print(f"wrote {len(result['rows'])} rows to {output}")
    elif kind != "table":
        emit(render(kind, exps, result, device, machine, meta), None)
    err.print(f"duration: {result['duration_s']:.1f} s (planned {budget.planned_s:.0f} s of timing; "
              f"{result['measured_s']:.1f} s in measured runs)")


def _plot(rows: list[dict], path: str):
    """The guideline-ratios figure of `lwbench plot`, from the rows as they are exported."""
    from lwbench.guidelines import export_rows
    from lwbench.report.plots import plot_rows

    data = plot_rows(export_rows(rows), path, kind="guideline-ratios")
    console(stderr=True).print(f"wrote {path}: guideline-ratios, {len(data)} bars per series")
    return data


def _rerender(path: str, kind: str, output: str | None, plot: str | None) -> None:
    from lwbench.errors import InputError
    from lwbench.guidelines import (
        breakdown_table,
        load_all,
        read_saved,
        render,
        render_breakdown,
        reverdict,
        rich_table,
    )
    from lwbench.report.write import emit

    saved = read_saved(path)
    result, machine = saved.result, saved.machine
    if saved.kind == "breakdown":
        if plot:
            raise InputError(f"--plot draws the G1-G4 speed ratios; {path} holds --breakdown rows")
        if kind == "table":
            console().print(breakdown_table(result["rows"]))
        else:
            meta = {k: v for k, v in result.items() if k != "rows"}
            emit(render_breakdown(kind, result["rows"], machine, meta), output)
        return
    device = str(result["config"].get("device") or result["rows"][0]["device"])
    exps = load_all(list(dict.fromkeys(str(r["guideline"]) for r in result["rows"])))
    result["verdicts"] = reverdict(exps, result, device)
    if plot:
        _plot(result["rows"], plot)
    if kind == "table":
        con = console()
        for exp in exps:
            con.print(rich_table(exp, result, device))
        return
    meta = {k: result[k] for k in ("config", "budget") if result.get(k)}
    emit(render(kind, exps, result, device, machine, meta), output)


def _breakdown(nets, device, threads, batch, min_time, quick, kind, output) -> None:
    import time

    from lwbench.guidelines import breakdown, breakdown_table, render_breakdown
    from lwbench.measure.machine import machine_info
    from lwbench.report.write import emit

    err = console(stderr=True)
    t = (0.01 if quick else DEFAULT_MIN_TIME) if min_time is None else min_time
    t0 = time.perf_counter()
    with err.status(f"timing every layer on {device}"):
        rows = breakdown(list(nets) if nets else None, device=device, threads=threads, batch=batch, min_time_s=t,
                         resolution=32 if quick else None, on_skip=lambda msg: err.print(msg))
    meta = {"duration_s": round(time.perf_counter() - t0, 3)}
    machine = machine_info()
    if kind == "table" or output:
        console().print(breakdown_table(rows))
    if kind == "table":
        return
    emit(render_breakdown(kind, rows, machine, meta), output)


def register(app: typer.Typer) -> None:
    app.command("guidelines")(guidelines)
