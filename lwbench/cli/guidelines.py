"""`lwbench guidelines`: ShuffleNet V2's G1–G4 experiments (Tables 1–4) measured on this machine, beside the
paper's figures; `--breakdown`: its Figure 2 (share of time per op category)."""

from __future__ import annotations

from typing import Annotated

import typer

from lwbench.cli.common import FormatOpt, OutputOpt, console

DEFAULT_MIN_TIME = 4.0
DEFAULT_ROUNDS = 4


def guidelines(
    which: Annotated[list[str] | None, typer.Argument(
        help="G1 G2 G3 G4 (default: all four), or guideline YAML files.", show_default=False)] = None,
    device: Annotated[str, typer.Option("--device", "-d", help="cpu (speeds in images/s) or cuda (batches/s).")] = "cpu",
    scale: Annotated[str, typer.Option("--scale", help="Columns to run, a comma list of x1, x2, x4. G1/G2: 1x, "
                                       "2x, 4x the x1 madds; G3/G4: the paper's three channel settings.")] = "x1,x2,x4",
    threads: Annotated[int | None, typer.Option(
        "--threads", "-t", min=1, help="Intra-op threads (inter-op 1). Default on cpu: 1, the paper's ARM "
        "setup (one thread); on cuda: torch's default.")] = None,
    batch: Annotated[int | None, typer.Option(
        "--batch", "-b", min=1, help="Images per batch. Default: the paper's, 1 on cpu (ARM), 8 on cuda (GPU).")] = None,
    channels: Annotated[str | None, typer.Option(
        "--channels", help="Which of the paper's channel settings to build: gpu or arm. Default: gpu on cuda, "
        "arm on cpu (the paper's ARM columns are its CPU measurements).")] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Tiny settings for CI: 8x8 input, x1 only, 10 ms per row, batch 1.")] = False,
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
        "--from", help="Re-render a CSV saved by an earlier run (tables, md or json) without measuring.")] = None,
) -> None:
    """Reproduce ShuffleNet V2's guideline experiments G1-G4 (Ma et al., ECCV 2018, Sec. 2, Tables 1-4).

    Per guideline, one table: every row's setting, channels, madds and mac_elems (analytic), the measured
    speed (median, ±half the IQR), its ratio to the reference row, the paper's GPU and ARM figures and their
    ratios, the madds spread of the rows (above 6% is a configuration error: exit 2) and a one-line verdict:
    does the paper's ordering hold on this device, and by how much. Rows are written to --output as each
    finishes (CSV with `# machine:` comment lines, JSON with a "machine" key, or Markdown).
    """
    from lwbench.errors import InputError
    from lwbench.report.write import infer_format

    kind = infer_format(fmt.value if fmt else None, output)
    if output and kind == "table":
        raise InputError("--format table prints to the terminal; with --output use csv, json or md")
    from lwbench.measure.timer import check_device

    check_device(device)
    if from_csv:
        _rerender(from_csv, kind, output)
        return
    if threads is None and device == "cpu":
        threads = 1
    if breakdown:
        _breakdown(nets, device, threads, batch or 1, min_time, quick, kind, output)
        return
    _guidelines(which, device, scale, threads, batch, channels, quick, min_time, rounds, kind, output)


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


def _writer(kind: str, output: str | None, machine: dict, header: dict):
    """A function(result) that rewrites the whole output file atomically (nothing when there is no file)."""
    from lwbench.guidelines import export_rows
    from lwbench.report.write import atomic_write, to_csv, to_json

    def write(result: dict, exps=None, device="cpu") -> None:
        if not output:
            return
        if kind == "csv":
            comments = {"machine": machine, **header}
            comments.update({f"madds_spread {k}": f"{v:.4%}" for k, v in result.get("spreads", {}).items()})
            comments.update({f"verdict {k}": v for k, v in result.get("verdicts", {}).items()})
            atomic_write(output, to_csv(export_rows(result["rows"]), comments))
        elif kind == "json":
            atomic_write(output, to_json({"machine": machine, **header, **{k: v for k, v in result.items() if k != "rows"},
                                          "rows": export_rows(result["rows"], with_samples=True)}))
        else:
            from lwbench.guidelines import markdown

            atomic_write(output, markdown(exps or [], result, device, machine))

    return write


def _progress(total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console(stderr=True), transient=False)


def _guidelines(which, device, scale, threads, batch, channels, quick, min_time, rounds, kind, output) -> None:
    from lwbench.errors import InputError
    from lwbench.guidelines import SETUPS, RunConfig, load_all, rich_table, run_experiments
    from lwbench.measure.machine import machine_info
    from lwbench.report.write import emit, to_csv, to_json

    if channels is not None and channels not in SETUPS:
        raise InputError(f"--channels: expected gpu or arm, got {channels}")
    exps = load_all(list(which) if which else None)
    scales = ("x1",) if quick and scale == "x1,x2,x4" else _scales(scale)
    common = dict(device=device, threads=threads, batch=batch, setup=channels)
    if quick:
        rc = RunConfig.quick(scales=scales, min_time_s=min_time, rounds=rounds, **common)
    else:
        rc = RunConfig(scales=scales, min_time_s=DEFAULT_MIN_TIME if min_time is None else min_time,
                       rounds=DEFAULT_ROUNDS if rounds is None else rounds, **common)
    machine = machine_info()
    header = {"config": {"guidelines": [e.guideline for e in exps], "device": device, "scales": list(rc.scales),
                         "threads": threads, "batch": batch, "channels": rc.setup, "resolution": rc.resolution,
                         "quick": quick, "rounds": rc.rounds, "timer": rc.timer_config().to_dict()}}
    write = _writer(kind, output, machine, header)
    live: dict = {"rows": [], "spreads": {}, "verdicts": {}}
    total = sum(len(e.rows) for e in exps) * len(rc.scales) * max(1, rc.rounds)
    with _progress(total) as bar:
        task = bar.add_task("counting", total=total)

        def on_start(label: str) -> None:
            bar.update(task, description=label)

        def on_row(rec: dict) -> None:
            live["rows"].append(rec)
            write(live, exps, device)
            bar.advance(task)

        result = run_experiments(exps, rc, on_row=on_row, on_start=on_start, on_tick=lambda: bar.advance(task))
    write(result, exps, device)
    if kind in ("table",) or output:
        con = console()
        for exp in exps:
            con.print(rich_table(exp, result, device))
        if output:
            console(stderr=True).print(f"wrote {len(result['rows'])} rows to {output}")
        return
    from lwbench.guidelines import export_rows, markdown

    if kind == "csv":
        emit(to_csv(export_rows(result["rows"]), {"machine": machine, **header,
                                                  **{f"verdict {k}": v for k, v in result["verdicts"].items()}}), None)
    elif kind == "json":
        emit(to_json({"machine": machine, **header, **{k: v for k, v in result.items() if k != "rows"},
                      "rows": export_rows(result["rows"], with_samples=True)}), None)
    else:
        emit(markdown(exps, result, device, machine), None)


def _rerender(path: str, kind: str, output: str | None) -> None:
    from lwbench.guidelines import export_rows, load_all, markdown, read_result_csv, rich_table
    from lwbench.report.write import emit, to_csv, to_json

    result, machine = read_result_csv(path)
    device = str(result["config"].get("device") or result["rows"][0]["device"])
    names = list(dict.fromkeys(r["guideline"] for r in result["rows"]))
    exps = load_all(names)
    if kind == "table":
        con = console()
        for exp in exps:
            con.print(rich_table(exp, result, device))
        return
    head = {"config": result["config"]}
    text = {"md": lambda: markdown(exps, result, device, machine),
            "json": lambda: to_json({"machine": machine, **head, "spreads": result["spreads"],
                                     "verdicts": result["verdicts"], "rows": export_rows(result["rows"])}),
            "csv": lambda: to_csv(export_rows(result["rows"]), {"machine": machine, **head,
                                  **{f"verdict {k}": v for k, v in result["verdicts"].items()}})}[kind]()
    emit(text, output)


def _breakdown(nets, device, threads, batch, min_time, quick, kind, output) -> None:
    from lwbench.guidelines import breakdown, breakdown_table
    from lwbench.measure.machine import machine_info
    from lwbench.report.write import emit, to_csv, to_json, to_markdown

    err = console(stderr=True)
    t = (0.01 if quick else DEFAULT_MIN_TIME) if min_time is None else min_time
    with err.status(f"timing every layer on {device}"):
        rows = breakdown(list(nets) if nets else None, device=device, threads=threads, batch=batch, min_time_s=t,
                         resolution=32 if quick else None, on_skip=lambda msg: err.print(msg))
    machine = machine_info()
    if kind == "table" or output:
        console().print(breakdown_table(rows))
    if kind == "table":
        return
    text = {"csv": lambda: to_csv(rows, {"machine": machine}),
            "json": lambda: to_json({"machine": machine, "rows": rows}),
            "md": lambda: to_markdown(rows, "ShuffleNet V2 Fig. 2: share of time per op category")}[kind]()
    emit(text, output)


def register(app: typer.Typer) -> None:
    app.command("guidelines")(guidelines)
