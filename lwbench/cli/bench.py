"""`lwbench bench`: measured latency of whole networks, one row per configuration.

Every combination of network × device × mode × layout × dtype × threads × batch is a row, measured in a fresh
worker process (`python -m lwbench.measure.worker`; see that module for why) unless --in-process. Rows are
written to --output (the whole file rewritten atomically) as each one finishes, so an interrupted sweep
keeps what it measured. A failing configuration (no CUDA, out of memory, unknown mode) is a row with an
`error`; the sweep goes on. When nothing at all can run, one line and exit code 2.

Each row also carries the network's analytic counts (params; madds and mac_elems for the whole batch, from
`lwbench.count`), so `lwbench bench --all` is the zoo summary with latency beside params, madds and mac;
`--sort COLUMN [--desc]` orders the rows (as `profile --sort`), `--plot PATH` draws median latency against
madds from the rows just measured (`lwbench plot --kind latency-vs-madds`). `cpu_share` is the process CPU
time / (wall time × threads) while timing; a CPU row below 0.85 is `contended` (other load took its cores).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Annotated

import typer

from lwbench.cli.common import FormatOpt, OutputOpt, ResolutionOpt, WidthOpt, console
from lwbench.measure.timer import CONTENDED_SHARE

ROW_COLUMNS = ("model", "device", "mode", "layout", "threads", "batch", "dtype", "n", "median_ms", "mean_ms",
               "std_ms", "iqr_ms", "min_ms", "p90_ms", "p99_ms", "max_ms", "images_per_s", "batches_per_s",
               "noisy", "first_run_ms", "compile_s", "cpu_share", "contended", "params", "madds", "mac_elems",
               "input", "cores", "interop_threads", "error")
_sleep = time.sleep   # the cool-down; tests replace it


def _int_list(text: str, opt: str) -> list[int]:
    from lwbench.errors import InputError

    out = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            raise InputError(f"{opt}: expected positive integers separated by commas (1,2,4), got {text}")
        out.append(int(part))
    if not out:
        raise InputError(f"{opt}: expected positive integers separated by commas (1,2,4), got {text!r}")
    return list(dict.fromkeys(out))


def _str_list(text: str) -> list[str]:
    return list(dict.fromkeys(p.strip().lower() for p in str(text).split(",") if p.strip()))


def _pre_errors(devices, modes, layouts, dtypes=("float32",)) -> dict[tuple[str, str, str, str], str]:
    """Errors known before measuring anything: unknown mode/layout/dtype/device, CUDA absent."""
    from lwbench.errors import LwbenchError
    from lwbench.measure.timer import check_device, check_dtype, check_mode_layout

    dev_err: dict[str, str] = {}
    for d in devices:
        try:
            check_device(d)
        except LwbenchError as e:
            dev_err[d] = str(e)
    out = {}
    for d in devices:
        for m in modes:
            for lay in layouts:
                for dt in dtypes:
                    try:
                        check_mode_layout(m, lay)
                        check_dtype(dt)
                        err = dev_err.get(d)
                    except LwbenchError as e:
                        err = str(e)
                    if err:
                        out[(d, m, lay, dt)] = err
    return out


def _run_subprocess(job: dict, timeout_s: float) -> dict:
    import subprocess

    with tempfile.TemporaryDirectory(prefix="lwbench-") as tmp:
        jpath, rpath = os.path.join(tmp, "job.json"), os.path.join(tmp, "result.json")
        with open(jpath, "w", encoding="utf-8") as f:
            json.dump(job, f)
        env = dict(os.environ)
        if job.get("threads"):  # size the OpenMP / MKL pools right from the start
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(job["threads"])
        try:
            p = subprocess.run([sys.executable, "-m", "lwbench.measure.worker", jpath, rpath], env=env,
                               capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"error": f"worker timed out after {timeout_s:.0f} s"}
        if p.returncode != 0 or not os.path.exists(rpath):
            tail = [ln for ln in (p.stderr or "").strip().splitlines() if ln.strip()]
            return {"error": f"worker exited with code {p.returncode}" + (f": {tail[-1]}" if tail else "")}
        with open(rpath, encoding="utf-8") as f:
            return json.load(f)


def _run_in_process(job: dict) -> dict:
    from lwbench.measure.worker import run_job

    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        return run_job(job)
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)


def _row(base: dict, result: dict, batch: int) -> dict:
    row = {c: None for c in ROW_COLUMNS}
    row.update(base)
    err = result.get("error")
    if not err:
        t = result["timing"]
        row.update({k: t[k] for k in t})
        med = t["median_ms"]
        row["images_per_s"] = batch * 1000.0 / med if med else None
        row["batches_per_s"] = 1000.0 / med if med else None
        row["threads"] = result.get("threads", row["threads"])
        row["interop_threads"] = result.get("interop_threads")
        row["cores"] = result.get("cores", row["cores"])
        row["samples_ms"] = result.get("samples_ms", [])
        share = result.get("cpu_share")
        row["cpu_share"] = share
        # only a CPU row's share says whether other load took its cores (on CUDA the host mostly waits)
        row["contended"] = bool(share < CONTENDED_SHARE) if share is not None and row["device"] == "cpu" else None
    row["error"] = err or ""
    return row


def _flat(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "samples_ms"} for r in rows]


def _render(kind: str, rows: list[dict], machine: dict, timer: dict) -> str:
    from lwbench.report.write import to_csv, to_json, to_markdown

    if kind == "csv":
        return to_csv(_flat(rows), comments={"machine": machine, "timer": timer})
    if kind == "json":
        return to_json({"machine": machine, "timer": timer, "rows": rows})
    if kind == "md":
        return (f"<!-- machine: {json.dumps(machine, separators=(',', ':'))} -->\n"
                + to_markdown(_flat(rows), "lwbench bench"))
    return _table_text(rows, machine)


def _flags(r: dict) -> str:
    """The noise column: 'noisy' (IQR/median > 10%), 'contended' (CPU share < 85%), both, or 'ok'."""
    flags = [f for f, on in (("noisy", r.get("noisy")), ("contended", r.get("contended"))) if on]
    return ", ".join(flags) or "ok"


def bench_table(rows: list[dict], machine: dict):
    from rich.markup import escape
    from rich.table import Table

    from lwbench.report.human import si

    gpu = (machine.get("gpu") or {}).get("name")
    title = f"lwbench bench  {machine.get('cpu_model')}" + (f"  {gpu}" if gpu else "") + \
        f"  torch {(machine.get('torch') or {}).get('version')}"
    t = Table(title=escape(title), caption="median of n runs (one run = one batch); IQR = p75 − p25; noisy: IQR/median > "
              f"10%; contended: the process got < {CONTENDED_SHARE:.0%} of its threads' CPU time; first = the first "
              "call, not in the statistics; params per network; madds and mac (elements) per batch")
    for c, j in (("model", "left"), ("device", "left"), ("mode", "left"), ("layout", "left"), ("dtype", "left"),
                 ("threads", "right"),
                 ("batch", "right"), ("params", "right"), ("madds", "right"), ("mac", "right"), ("n", "right"),
                 ("median ms", "right"), ("IQR ms", "right"), ("p90 ms", "right"), ("min ms", "right"),
                 ("images/s", "right"), ("first ms", "right"), ("noise", "left")):
        t.add_column(c, justify=j, no_wrap=c in ("model", "noise"))

    def f(v, d=3):
        return "" if v is None else f"{v:.{d}f}"

    for r in rows:
        base = [escape(str(r[k] or "")) for k in ("model", "device", "mode", "layout", "dtype", "threads", "batch")]
        counts = [si(r.get(k)) for k in ("params", "madds", "mac_elems")]
        if r["error"]:
            t.add_row(*base, *counts, *[""] * 7, f"[red]error: {escape(r['error'])}[/red]")
            continue
        flags = _flags(r)
        t.add_row(*base, *counts, str(r["n"]), f(r["median_ms"]), f(r["iqr_ms"]), f(r["p90_ms"]), f(r["min_ms"]),
                  f(r["images_per_s"], 1), f(r["first_run_ms"], 1),
                  flags if flags == "ok" else f"[yellow]{flags}[/yellow]")
    return t


def _table_text(rows: list[dict], machine: dict) -> str:
    from rich.console import Console

    c = Console(record=True, width=160, file=open(os.devnull, "w"))  # noqa: SIM115
    c.print(bench_table(rows, machine))
    return c.export_text()


def bench(
    nets: Annotated[list[str] | None, typer.Argument(help="Zoo names or YAML paths.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every network of the zoo.")] = False,
    device: Annotated[str, typer.Option("--device", "-d", help="cpu or cuda (a comma list sweeps both).")] = "cpu",
    threads: Annotated[str | None, typer.Option(
        "--threads", "-t", help="Intra-op threads, a comma list (1,2,4); inter-op threads are 1. Default: the "
        "physical cores of the core set (the big cores on big.LITTLE).")] = None,
    batch: Annotated[str, typer.Option("--batch", "-b", help="Images per batch, a comma list (1,8).")] = "1",
    mode: Annotated[str, typer.Option("--mode", help="eager, script (TorchScript, frozen) or compile "
                                      "(torch.compile); a comma list sweeps.")] = "eager",
    layout: Annotated[str, typer.Option("--layout", help="nchw or nhwc (channels_last); a comma list sweeps.")] = "nchw",
    dtype: Annotated[str, typer.Option("--dtype", help="float32, bfloat16 or float16: the precision of the "
                                       "parameters and the input (no autocast); a comma list sweeps. int8 is "
                                       "refused (it needs a quantised model).")] = "float32",
    cores: Annotated[str | None, typer.Option(
        "--cores", help="Pin to big, little, all, or a list (4-7, 0,2). Default: the big cores on big.LITTLE, "
        "else the current affinity.")] = None,
    min_time: Annotated[float, typer.Option("--min-time", help="Measure at least this long (s)...")] = 1.0,
    min_runs: Annotated[int, typer.Option("--min-runs", help="...and at least this many runs.")] = 10,
    max_time: Annotated[float | None, typer.Option("--max-time", help="Stop measuring after this long (s); "
                                                   "default max(10, min-time).")] = None,
    warmup: Annotated[float, typer.Option("--warmup", help="Warm up at least this long (s), and 2 runs "
                                          "(5 for script/compile).")] = 0.5,
    cooldown: Annotated[float, typer.Option("--cooldown", help="Sleep this long (s) between networks.")] = 0.0,
    width: WidthOpt = None,
    resolution: ResolutionOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    sort: Annotated[str | None, typer.Option("--sort", help="Sort the rows by this column (median_ms, madds, "
                                             "params, mac_elems, images_per_s, model, …; failed rows last).")] = None,
    desc: Annotated[bool, typer.Option("--desc", help="With --sort: largest first.")] = False,
    plot: Annotated[str | None, typer.Option("--plot", help="Also draw median latency against madds, one point "
                                             "per network (PATH.png, .svg or .pdf; ShuffleNet V2 Fig. 1(c)(d)), "
                                             "as `lwbench plot --kind latency-vs-madds` does.")] = None,
    in_process: Annotated[bool, typer.Option(
        "--in-process", help="Measure in this process instead of a fresh worker per row (faster; thread pools "
        "and caches are then shared between rows).")] = False,
) -> None:
    """Latency of whole networks: median, IQR, p90/p99, throughput, first-run time; a row per configuration."""
    from lwbench.count import count
    from lwbench.errors import InputError, LwbenchError
    from lwbench.measure.cpus import default_threads, format_cpu_list, parse_cores, read_topology
    from lwbench.measure.timer import TimerConfig
    from lwbench.report.write import atomic_write, infer_format
    from lwbench.spec import load
    from lwbench.spec.zoo import index

    names = list(nets or [])
    if all_:
        names += [n for n in index() if n not in names]
    if not names:
        raise InputError("bench: name at least one network (or --all); `lwbench list` shows the zoo")
    loaded = [load(n, width, resolution) for n in names]          # fail fast on a wrong name or file
    spec_of = {id(net): n for n, net in zip(names, loaded)}
    batches = _int_list(batch, "--batch")
    devices, modes, layouts, dtypes = _str_list(device), _str_list(mode), _str_list(layout), _str_list(dtype)
    for opt, vals in (("--device", devices), ("--mode", modes), ("--layout", layouts), ("--dtype", dtypes)):
        if not vals:
            raise InputError(f"{opt}: expected a value")
    timer = TimerConfig(warmup_s=warmup, min_runs=min_runs, min_time_s=min_time,
                        max_time_s=max(10.0, min_time) if max_time is None else max_time)
    if cooldown < 0:
        raise InputError(f"--cooldown: expected seconds >= 0, got {cooldown}")
    topo = read_topology()
    core_set = parse_cores(cores, topo) if cores is not None else (topo.big if topo.is_big_little else None)
    thread_list = _int_list(threads, "--threads") if threads is not None else [default_threads(topo, core_set)]
    kind = infer_format(fmt.value if fmt else None, output)
    if desc and not sort:
        raise InputError("--desc: sorts largest first with --sort COLUMN; give --sort too")
    if sort:
        from lwbench.report.sorting import sort_rows

        sort_rows([{c: None for c in ROW_COLUMNS}], sort)          # an unknown column fails before measuring
    if plot:
        from lwbench.report.plots import check_figure_path

        check_figure_path(plot, "--plot")  # before anything is measured

    def ordered(rs: list[dict]) -> list[dict]:
        if not sort:
            return rs
        from lwbench.report.sorting import sort_rows

        return sort_rows(rs, sort, desc)

    pre = _pre_errors(devices, modes, layouts, dtypes)
    combos = [(d, m, lay, dt) for d in devices for m in modes for lay in layouts for dt in dtypes]
    if all(c in pre for c in combos):
        raise InputError(pre[combos[0]])
    err_con = console(stderr=True)
    for msg in dict.fromkeys(pre.values()):
        err_con.print(f"lwbench: warning: {msg} (those rows are recorded with the error)", markup=False)

    from lwbench.measure.machine import machine_info

    machine = machine_info()
    mask = format_cpu_list(core_set) if core_set else machine.get("affinity")
    jobs = [(net, *c, t, b) for net in loaded for c in combos for t in thread_list for b in batches]
    counts = {(net.name, b): count(net, b).totals for net in loaded for b in batches}
    timeout = 900 + 3 * (timer.max_time_s + timer.warmup_s)
    rows: list[dict] = []

    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_con, transient=not output) as progress:
        task = progress.add_task("bench", total=len(jobs))
        prev_net = None
        for net, d, m, lay, dt, t, b in jobs:
            label = f"{net.name} {d} {m} {lay} {dt} threads={t} batch={b}"
            progress.update(task, description=escape(label))
            if prev_net is not None and net is not prev_net and cooldown:
                progress.update(task, description=f"cool-down {cooldown:g} s")
                _sleep(cooldown)
                progress.update(task, description=escape(label))
            prev_net = net
            tot = counts[(net.name, b)]
            base = {"model": net.name, "device": d, "mode": m, "layout": lay, "threads": t, "batch": b,
                    "dtype": dt, "params": tot["params"], "madds": tot["madds"],
                    "mac_elems": tot["mac_elems"], "input": "x".join(map(str, net.input_shape)), "cores": mask}
            if (d, m, lay, dt) in pre:
                result = {"error": pre[(d, m, lay, dt)]}
            else:
                job = {"net": spec_of[id(net)], "width": width, "resolution": resolution, "device": d,
                       "mode": m, "layout": lay, "dtype": dt, "threads": t, "batch": b, "cores": core_set,
                       "timer": timer.to_dict()}
                result = _run_in_process(job) if in_process else _run_subprocess(job, timeout)
            row = _row(base, result, b)
            rows.append(row)
            if row["error"]:
                progress.console.print(f"[red]✗[/red] {escape(label)}: {escape(row['error'])}")
                if os.environ.get("LWBENCH_DEBUG") and result.get("traceback"):
                    progress.console.print(result["traceback"], markup=False, highlight=False)
            elif d == "cpu" and (result.get("cpu_share") or 1.0) < CONTENDED_SHARE:
                progress.console.print(f"[yellow]![/yellow] {escape(label)}: the process got only "
                                       f"{100 * result['cpu_share']:.0f}% of its threads' CPU time: other load on "
                                       "the machine; this row is not trustworthy")
            if output:
                atomic_write(output, _render(kind, ordered(rows), machine, timer.to_dict()))
            progress.advance(task)

    rows = ordered(rows)
    if not output:
        if kind == "table":
            console().print(bench_table(rows, machine))
        else:
            sys.stdout.write(_render(kind, rows, machine, timer.to_dict()))
    else:
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
    from lwbench.report.plots import plot_rows

    return plot_rows(_flat([r for r in rows if not r["error"]]), path, kind="latency-vs-madds")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
