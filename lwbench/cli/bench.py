"""`lwbench bench`: measured latency of whole networks, one row per configuration.

Every combination of network × runtime × target × device × mode × layout × dtype × threads × batch is a Job
(lwbench.measure.jobs), measured in a fresh worker process (`python -m lwbench.measure.worker`; see that
module for why) unless --in-process. Rows are written to --output (the whole file rewritten atomically, by
report.emit.RowSink) as each one finishes, so an interrupted sweep keeps what it measured. A failing
configuration (no CUDA, out of memory, unknown mode) is a row with an `error`; the sweep goes on. When
nothing at all can run, one line and exit code 2.

Each row also carries the network's analytic counts (params; madds and mac_elems for the whole batch, from
`lwbench.count`), so `lwbench bench --all` is the zoo summary with latency beside params, madds and mac;
`--sort COLUMN [--desc]` orders the rows (as `profile --sort`), `--plot PATH` draws median latency against
madds from the rows just measured (`lwbench plot --kind latency-vs-madds`). `cpu_share` is the process CPU
time / (wall time × threads) while timing; a CPU row below 0.85 is `contended` (lwbench.vocab.is_contended).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lwbench.cli.options import (
    FormatOpt,
    OrtOptOpt,
    OutputOpt,
    ResolutionOpt,
    RuntimeOpt,
    TargetOpt,
    WidthOpt,
    console,
    int_list,
    runtimes_of,
    split_list,
    targets_of,
)
from lwbench.errors import debug_enabled
from lwbench.report.rows import BENCH_COLUMNS as ROW_COLUMNS
from lwbench.report.tables.bench import bench_table
from lwbench.vocab import CONTENDED_SHARE

__all__ = ["bench", "bench_table", "plot_latency", "register", "ROW_COLUMNS"]
_sleep = time.sleep   # the cool-down; tests replace it


def _run_in_process(job: dict) -> dict:
    """--in-process: the worker's function in this process (job dict -> result dict); tests replace it."""
    from lwbench.measure.worker import run_job

    return run_job(job)


def _render(kind: str, rows: list[dict], machine: dict, timer: dict) -> str:
    from lwbench.report.emit import render

    return render(kind, rows, **_how(machine, timer))


def _how(machine: dict, timer: dict, targets: dict | None = None) -> dict:
    """How bench rows are exported: `{machine, timer, rows}` (+ `targets`: the machine block of each remote target,
    filled as its rows come); samples_ms in JSON only; the bench table."""
    meta = {"timer": timer, **({"targets": targets} if targets is not None else {})}
    return {"machine": machine, "meta": meta, "title": "lwbench bench", "json_only": ("samples_ms",),
            "table": lambda rows: bench_table(rows, machine)}


NetsArg = Annotated[list[str] | None, typer.Argument(help="Zoo names or YAML paths.", show_default=False)]
AllOpt = Annotated[bool, typer.Option("--all", help="Every network of the zoo.")]
DevicesOpt = Annotated[str, typer.Option("--device", "-d", help="cpu or cuda (a comma list sweeps both).")]
ThreadsOpt = Annotated[str | None, typer.Option(
    "--threads", "-t", help="Intra-op threads, a comma list (1,2,4); inter-op threads are 1. Default: the "
    "physical cores of the core set (the big cores on big.LITTLE).")]
BatchesOpt = Annotated[str, typer.Option("--batch", "-b", help="Images per batch, a comma list (1,8).")]
ModeOpt = Annotated[str, typer.Option("--mode", help="eager, script (TorchScript, frozen) or compile "
                                      "(torch.compile); a comma list sweeps.")]
LayoutOpt = Annotated[str, typer.Option("--layout", help="nchw or nhwc (channels_last); a comma list sweeps.")]
DTypesOpt = Annotated[str, typer.Option("--dtype", help="float32, bfloat16 or float16: the precision of the "
                                        "parameters and the input (no autocast); a comma list sweeps. int8: "
                                        "with --runtime onnxruntime (static QDQ quantization); torch refuses it.")]
CoresOpt = Annotated[str | None, typer.Option(
    "--cores", help="Pin to big, little, all, or a list (4-7, 0,2). Default: the big cores on big.LITTLE, "
    "else the current affinity.")]
MinTimeOpt = Annotated[float, typer.Option("--min-time", help="Measure at least this long (s)...")]
MinRunsOpt = Annotated[int, typer.Option("--min-runs", help="...and at least this many runs.")]
MaxTimeOpt = Annotated[float | None, typer.Option("--max-time", help="Stop measuring after this long (s); "
                                                  "default max(10, min-time).")]
WarmupOpt = Annotated[float, typer.Option("--warmup", help="Warm up at least this long (s), and 2 runs "
                                          "(5 for script/compile).")]
CooldownOpt = Annotated[float, typer.Option("--cooldown", help="Sleep this long (s) between networks.")]
SortOpt = Annotated[str | None, typer.Option("--sort", help="Sort the rows by this column (median_ms, madds, "
                                             "params, mac_elems, images_per_s, model, …; failed rows last).")]
DescOpt = Annotated[bool, typer.Option("--desc", help="With --sort: largest first.")]
PlotOpt = Annotated[str | None, typer.Option("--plot", help="Also draw median latency against madds, one point "
                                             "per network (PATH.png, .svg or .pdf; ShuffleNet V2 Fig. 1(c)(d)), "
                                             "as `lwbench plot --kind latency-vs-madds` does.")]
RoundsOpt = Annotated[int, typer.Option(
    "--rounds", min=1, max=100, help="Measure every configuration in this many round-robin rounds (each a fresh "
    "worker timing 1/rounds of --min-time and --min-runs; every row's first round, then every row's second, "
    "...), samples pooled: drift and other load then hit every row alike; rounds_spread shows how far the "
    "rounds' medians moved. Rows are written after their last round.")]
InProcessOpt = Annotated[bool, typer.Option(
    "--in-process", help="Measure in this process instead of a fresh worker per row (faster; thread pools "
    "and caches are then shared between rows).")]


def bench(nets: NetsArg = None, all_: AllOpt = False, device: DevicesOpt = "cpu", threads: ThreadsOpt = None,
          batch: BatchesOpt = "1", mode: ModeOpt = "eager", layout: LayoutOpt = "nchw", dtype: DTypesOpt = "float32",
          cores: CoresOpt = None, min_time: MinTimeOpt = 1.0, min_runs: MinRunsOpt = 10, max_time: MaxTimeOpt = None,
          warmup: WarmupOpt = 0.5, cooldown: CooldownOpt = 0.0, width: WidthOpt = None,
          resolution: ResolutionOpt = None, fmt: FormatOpt = None, output: OutputOpt = None, sort: SortOpt = None,
          desc: DescOpt = False, plot: PlotOpt = None, in_process: InProcessOpt = False, rounds: RoundsOpt = 1,
          runtime: RuntimeOpt = "torch", target: TargetOpt = "local", ort_opt: OrtOptOpt = "all") -> None:
    """Latency of whole networks: median, IQR, p90/p99, throughput, first-run time; a row per configuration."""
    from lwbench.report.emit import resolve_format

    kind = resolve_format(fmt, output)
    _check_seconds(cooldown=cooldown, min_time=min_time, warmup=warmup, max_time=max_time)
    sweep, nets_by_spec, mask = _sweep(nets, all_, device, threads, batch, mode, layout, dtype, cores, width,
                                       resolution, runtime, target, _timer(min_time, min_runs, max_time, warmup))
    sweep.options["onnxruntime"] = [{"ort_opt": o} for o in split_list(ort_opt, "--ort-opt")]
    _check_sort_plot(sort, desc, plot)
    from lwbench.measure.applicable import applicable

    jobs, skipped = applicable(sweep.jobs())
    _precheck(jobs, skipped)
    rows = _measure(jobs, nets_by_spec, sweep, mask, kind, output, sort, desc, cooldown, in_process, rounds)
    _finish(rows, output, plot)


def _check_seconds(**values) -> None:
    """--cooldown, --min-time, --warmup, --max-time: finite seconds >= 0 (nan or inf would sleep or measure for
    ever, found only after the first network); one line before anything runs."""
    import math

    from lwbench.errors import InputError

    for name, v in values.items():
        if v is not None and (not math.isfinite(v) or v < 0):
            raise InputError(f"--{name.replace('_', '-')}: expected seconds >= 0 (a finite number), got {v}")


def _timer(min_time: float, min_runs: int, max_time: float | None, warmup: float) -> dict:
    from lwbench.measure.timer import TimerConfig

    return TimerConfig(warmup_s=warmup, min_runs=min_runs, min_time_s=min_time,
                       max_time_s=max(10.0, min_time) if max_time is None else max_time).to_dict()


def _sweep(nets, all_, device, threads, batch, mode, layout, dtype, cores, width, resolution, runtime, target,
           timer):
    """The Sweep the options ask for (every list checked, every network loaded: fail fast), the loaded networks
    by spec, and the CPU list it runs on."""
    from lwbench.errors import InputError
    from lwbench.measure.bench import Sweep
    from lwbench.measure.cpus import default_threads, format_cpu_list, parse_cores, read_topology
    from lwbench.spec import load
    from lwbench.spec.zoo import index
    from lwbench.targets.remote import remote_placement

    names = list(nets or [])
    if all_:
        names += [n for n in index() if n not in names]
    if not names:
        raise InputError("bench: name at least one network (or --all); `lwbench list` shows the zoo")
    loaded = {n: load(n, width, resolution) for n in names}          # fail fast on a wrong name or file
    batches = int_list(batch, "--batch")
    lists = {opt: split_list(v, opt) for opt, v in (("--device", device), ("--mode", mode), ("--layout", layout),
                                                       ("--dtype", dtype))}
    topo = read_topology()
    targets = targets_of(target)
    here = "local" in targets     # --cores/--threads defaults from this machine's topology only when it times
    core_set = (parse_cores(cores, topo) if cores is not None else (topo.big if topo.is_big_little else None)) \
        if here else None
    thread_list = int_list(threads, "--threads") if threads is not None else [default_threads(topo, core_set)]
    remote_cores, remote_threads = remote_placement(cores, threads, [t for t in targets if t != "local"])
    sweep = Sweep(specs=names, devices=lists["--device"], modes=lists["--mode"], layouts=lists["--layout"],
                  dtypes=lists["--dtype"], threads=thread_list, batches=batches, timer=timer, width=width,
                  resolution=resolution, cores=core_set, runtimes=runtimes_of(runtime), targets=targets,
                  remote_cores=remote_cores, remote_threads=remote_threads)
    return sweep, loaded, format_cpu_list(core_set) if core_set else None


def _check_sort_plot(sort: str | None, desc: bool, plot: str | None) -> None:
    """--sort/--desc/--plot misuse: one line before anything is measured."""
    from lwbench.errors import InputError

    if desc and not sort:
        raise InputError("--desc: sorts largest first with --sort COLUMN; give --sort too")
    if sort:
        from lwbench.report.sorting import sort_rows

        sort_rows([{c: None for c in ROW_COLUMNS}], sort)          # an unknown column fails before measuring
    if plot:
        from lwbench.report.plots import check_figure_path

        check_figure_path(plot, "--plot")


def _precheck(jobs, skipped: dict[str, int] | None = None) -> None:
    """What the runtimes refuse before anything runs: all refused is one line (exit 2); else a warning per
    distinct reason, and those rows are recorded with the error. `skipped` (applicable()) is said in one line."""
    from lwbench.errors import InputError
    from lwbench.measure.jobs import check_job

    err_con = console(stderr=True)
    if skipped:
        err_con.print("lwbench: not run (that value is another runtime's): " + ", ".join(
            f"{k} ({n} row{'s' if n > 1 else ''})" for k, n in skipped.items()), markup=False)
    errors = [check_job(j) for j in jobs]
    if not jobs or all(errors):
        raise InputError(errors[0] if errors else "bench: no combination of the options can run")
    for msg in dict.fromkeys(e for e in errors if e):
        err_con.print(f"lwbench: warning: {msg} (those rows are recorded with the error)", markup=False)


def _measure(jobs, nets_by_spec, sweep, mask, kind, output, sort, desc, cooldown, in_process,
             rounds: int = 1) -> list[dict]:
    """Run the jobs (lwbench.measure.jobs.run_jobs) under a progress bar; each row into the sink as it comes.
    With `rounds` > 1 every job runs once per round (all jobs of round 1, then of round 2, ...: one run_jobs
    call, so a remote target is opened once), each on a 1/rounds slice of the timer; a row's rounds are pooled
    (lwbench.measure.pool) and it goes into the sink after its last round."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lwbench.measure.bench import bench_row, counts_of
    from lwbench.measure.jobs import run_jobs
    from lwbench.measure.machine import machine_info
    from lwbench.measure.pool import Pool
    from lwbench.report.emit import RowSink
    from lwbench.runtimes import runtime_info
    from lwbench.targets import LocalTarget

    machine = {**machine_info(), **runtime_info(j.runtime for j in jobs)}
    mask = mask or machine.get("affinity")
    counts = counts_of(nets_by_spec, sweep.batches)
    remote: dict = {}           # target -> its machine block (bench's own block is this machine's)
    timer = {**sweep.timer, **({"rounds": rounds} if rounds > 1 else {})}   # the file says how it was timed
    how = _how(machine, timer, remote if any(t != "local" for t in sweep.targets) else None)
    sink = RowSink(kind, output, ok=lambda r: not r["error"], order=_order(sort, desc), **how)
    err_con = console(stderr=True)
    with sink, Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_con, transient=not output) as progress:
        task = progress.add_task("bench", total=len(jobs) * rounds)
        pools = [Pool() for _ in jobs]
        done = iter(range(len(jobs) * rounds))       # run_jobs reports in job order: the i-th result is job i % n

        def label(job) -> str:
            return escape(job.label().replace(job.net, nets_by_spec[job.net].name, 1))

        def on_result(res) -> None:
            i = next(done)
            if res.machine:
                remote[res.job.target] = res.machine
            progress.advance(task)
            if rounds > 1:
                pools[i % len(jobs)].add(res)
                if i < len(jobs) * (rounds - 1):
                    return
                res = pools[i % len(jobs)].result(jobs[i % len(jobs)])
            row = bench_row(res, nets_by_spec[res.job.net], counts[(res.job.net, res.job.batch)], mask)
            if rounds > 1 and not row["error"]:
                row.update(rounds=pools[i % len(jobs)].rounds, rounds_spread=pools[i % len(jobs)].spread())
            sink.add(row)
            _say(progress.console, label(res.job), res)

        def cool(s: float) -> None:
            progress.update(task, description=f"cool-down {s:g} s")
            _sleep(s)

        targets = {"local": LocalTarget(in_process=True, call=_run_in_process)} if in_process else None
        run_jobs(_in_rounds(jobs, sweep.timer, rounds), on_result=on_result, on_start=lambda j: progress.update(task, description=label(j)),
                 cooldown_s=cooldown, targets=targets, sleep=cool)
    sink.close()
    return sink.rows


def _in_rounds(jobs: list, timer: dict, rounds: int) -> list:
    """The jobs to run: once each, or `rounds` times round-robin, each on a 1/rounds slice of the timer."""
    if rounds <= 1:
        return jobs
    from dataclasses import replace

    from lwbench.measure.pool import round_timer

    sliced = round_timer(timer, rounds)
    return [replace(j, timer=sliced) for _ in range(rounds) for j in jobs]


def _say(con, label: str, res) -> None:
    """A failed row in red (its traceback with LWBENCH_DEBUG); a contended CPU row in yellow."""
    from rich.markup import escape

    if res.error:
        con.print(f"[red]✗[/red] {label}: {escape(res.error)}")
        if debug_enabled() and res.traceback:
            con.print(res.traceback, markup=False, highlight=False)
    elif res.job.device == "cpu" and (res.cpu_share or 1.0) < CONTENDED_SHARE:
        con.print(f"[yellow]![/yellow] {label}: the process got only {100 * res.cpu_share:.0f}% of its threads' "
                  "CPU time: other load on the machine; this row is not trustworthy")


def _order(sort: str | None, desc: bool):
    if not sort:
        return None
    from lwbench.report.sorting import sort_rows

    return lambda rows: sort_rows(rows, sort, desc)


def _finish(rows: list[dict], output: str | None, plot: str | None) -> None:
    from lwbench.errors import LwbenchError

    err_con = console(stderr=True)
    if output:
        bad = sum(1 for r in rows if r["error"])
        err_con.print(f"wrote {len(rows)} row{'s' * (len(rows) != 1)} to {output}" + (f" ({bad} failed)" if bad else ""),
                      markup=False)
    if all(r["error"] for r in rows):
        raise LwbenchError(f"no configuration ran; first error: {rows[0]['error']}")
    if plot:
        data = plot_latency(rows, plot)
        err_con.print(f"wrote {plot}: latency-vs-madds, {len(data)} points", markup=False)


def plot_latency(rows: list[dict], path: str):
    """Median latency against madds of the rows that ran (`lwbench plot --kind latency-vs-madds` on the same
    rows); returns the plotted data (model, series, madds, median_ms)."""
    from lwbench.measure.bench import flat
    from lwbench.report.plots import plot_rows

    return plot_rows(flat([r for r in rows if not r["error"]]), path, kind="latency-vs-madds")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
