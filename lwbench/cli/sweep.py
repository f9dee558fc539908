"""`lwbench sweep GRID.yaml`: a design-space grid, resumable, on this machine or a Ray cluster of devices.

Every point of the grid is an analytic job (params, madds, mac) and, per target, a timing job; each has an id
(lwbench.sweep.jobs). Results go to an append-only JSONL store (lwbench.sweep.store), a line per finished job,
flushed and fsynced as it finishes; `--resume` skips the ids already there. `--plan` says what would run and
how long the timing would take. At the end: a summary and, per target, the latency-madds Pareto front
(`--pareto PATH.png` also draws it).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from lwbench.cli.common import console


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt          # the same clean stop as Ctrl-C: the store keeps every finished row


def _fingerprints(grid, ray_hosts, in_process: bool = False):
    from lwbench.sweep import seam
    from lwbench.sweep.jobs import targets_runtimes

    out = {}
    for target, runtime in targets_runtimes(grid):
        if ray_hosts is not None:
            from lwbench.sweep.ray_exec import cluster_fingerprint

            out[(target, runtime)] = cluster_fingerprint(ray_hosts, runtime)
        else:
            out[(target, runtime)] = seam.fingerprint(target, runtime)
    if in_process:           # a different way of measuring: its own ids
        out = {k: f"{v}+in-process" for k, v in out.items()}
    return out


def _ray_setup(grid, address: str):
    from lwbench.errors import InputError
    from lwbench.sweep import ray_exec
    from lwbench.sweep.jobs import targets_runtimes

    if any(t != "local" for t, _ in targets_runtimes(grid)):
        raise InputError("--ray: the cluster is the target; remove `target:` from the grid")
    ray = ray_exec.connect(address)
    hosts = ray_exec.timer_hosts(ray, sorted({r for _, r in targets_runtimes(grid)}))
    if grid.timing and not hosts:
        raise InputError(f"--ray {address}: no node has a {ray_exec.RESOURCE} slot (ray start ... --resources "
                         "'{\"lwbench_timer\": 1}' on each timing host)")
    for net in grid.networks:
        net.dims["target"] = ["ray"]
    return ray, hosts


def _summary(rows: list[dict], new_ids: set[str]):
    """Every job row of the store, by kind and target: ok, failed (by kind), and how many this run added."""
    from rich.table import Table

    t = Table(title="lwbench sweep: the store")
    for c in ("kind", "target", "ok", "failed", "errors by kind", "this run"):
        t.add_column(c, justify="left" if c in ("kind", "target", "errors by kind") else "right")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r.get("kind", "?"), r.get("target") or ""), []).append(r)
    for (kind, target), rs in sorted(groups.items()):
        bad = [r for r in rs if r.get("status") != "ok"]
        kinds: dict[str, int] = {}
        for r in bad:
            kinds[r.get("error_kind") or "?"] = kinds.get(r.get("error_kind") or "?", 0) + 1
        t.add_row(kind, target, str(len(rs) - len(bad)), str(len(bad)),
                  ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())), str(sum(r["id"] in new_ids for r in rs)))
    return t


def _progress(err):
    from rich import progress as rp

    BarColumn, MofNCompleteColumn, Progress = rp.BarColumn, rp.MofNCompleteColumn, rp.Progress
    TextColumn, TimeElapsedColumn, TimeRemainingColumn = rp.TextColumn, rp.TimeElapsedColumn, rp.TimeRemainingColumn
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("[red]{task.fields[failed]} failed[/red]"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=err, transient=False,
                    redirect_stdout=False, redirect_stderr=False)


def _run(grid, analytic, timing, st, ray, err, in_process: bool = False, predictor=None) -> list[dict]:
    from lwbench.sweep import ray_exec
    from lwbench.sweep.run import analytic_rows, run_timing_local

    new: list[dict] = []
    with _progress(err) as progress:
        def sink(task):
            def on_row(row):
                if predictor is not None:
                    predictor.annotate(row)     # pred_ms (or pred_note, the reason there is none) in the store
                st.append(row)
                new.append(row)
                progress.update(task, advance=1, failed=progress.tasks[task].fields["failed"]
                                + (row.get("status") != "ok"))
            return on_row

        if analytic:
            task = progress.add_task("analytic", total=len(analytic), failed=0)
            if ray is not None:
                ray_exec.run_analytic(ray, analytic, sink(task))
            else:
                step = 512
                for i in range(0, len(analytic), step):
                    for row in analytic_rows(analytic[i:i + step]):
                        sink(task)(row)
        if timing:
            task = progress.add_task("timing", total=len(timing), failed=0)
            kw = {"timeout_s": grid.timeout_s, "retries": grid.retries, "on_row": sink(task), "in_process": in_process}
            if ray is not None:
                ray_exec.run_timing(ray, timing, grid.timer, **kw)
            else:
                run_timing_local(timing, grid.timer, cooldown_s=grid.cooldown_s, **kw)
    return new


def sweep(
    grid_file: Annotated[str, typer.Argument(help="The grid (YAML): networks and each dimension's values.",
                                             show_default=False)],
    plan: Annotated[bool, typer.Option("--plan", help="Print the analytic and timing job counts and the timing "
                                       "time estimate per target; run nothing.")] = False,
    store: Annotated[str | None, typer.Option("--store", "-o", help="The JSONL store (default: GRID.jsonl beside "
                                              "the grid file).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the store: skip every job id already in it.")]
    = False,
    ray_address: Annotated[str | None, typer.Option("--ray", help="Run on this Ray cluster (auto, HOST:PORT, "
                                                    "ray://...): one timing slot per host (needs lwbench[ray]).")]
    = None,
    pareto: Annotated[str | None, typer.Option("--pareto", help="Also draw the latency-madds Pareto fronts "
                                               "(PATH.png, .svg or .pdf).")] = None,
    pareto_data: Annotated[str | None, typer.Option("--pareto-data", help="Also write the fronts as CSV rows "
                                                    "(group columns, rank, model, width, resolution, madds, "
                                                    "median_ms).")] = None,
    in_process: Annotated[bool, typer.Option("--in-process", help="Time in the sweep's own process (on Ray: in "
                                             "the Ray worker) instead of a fresh worker per job: faster, but thread "
                                             "pools and caches are shared between jobs.")] = False,
    calibration: Annotated[list[str] | None, typer.Option("--calibration", "-c", help="Add the latency predicted "
                                                          "from this `lwbench calibrate` file (pred_ms) to every "
                                                          "point, and a Pareto front on it for the untimed ones "
                                                          "(repeat: one per runtime).")] = None,
) -> None:
    """Sweep a design-space grid: count every point, time it per target, keep every finished job."""
    from lwbench.sweep.grid import read_grid
    from lwbench.sweep.jobs import expand

    err = console(stderr=True)
    grid = read_grid(grid_file)
    predictor = _predictor(calibration, grid)
    if pareto:
        from lwbench.report.plots import check_figure_path

        check_figure_path(pareto, "--pareto")
    if ray_address is not None:
        from lwbench.sweep.ray_exec import need_ray

        need_ray()
    path = store or str(Path(grid_file).with_suffix(".jsonl"))
    ray, hosts = _ray_setup(grid, ray_address) if ray_address is not None else (None, None)
    analytic, timing = expand(grid, _fingerprints(grid, hosts, in_process))
    timing = _applicable(timing, grid.timer, err)
    for net in grid.networks:
        if net.kind == "module" and grid.timing and set(net.dims["target"]) - {"local"}:
            err.print(f"lwbench: note: {net.label}: a torch factory is timed on target local (or Ray) only; its "
                      "other targets' points are counted only", markup=False)
    before = _existing(path, resume or plan, err)
    done = before.ids if resume or plan else set()
    if plan:
        _print_plan(grid, analytic, timing, done, before.rows, hosts)
        return
    todo_a = [j for j in analytic if j.id not in done]
    todo_t = [j for j in timing if j.id not in done]
    skipped = len(analytic) + len(timing) - len(todo_a) - len(todo_t)
    session = {"grid": str(Path(grid_file).resolve()), "ray": ray_address, "resume": resume, "hosts": hosts,
               "jobs": {"analytic": len(todo_a), "timing": len(todo_t), "skipped": skipped}}
    new = _execute(path, session, grid, todo_a, todo_t, ray, err, in_process, predictor)
    _report(path, new, pareto, pareto_data, err, predictor)


def _applicable(timing: list, timer: dict, err) -> list:
    """The timing points without the runtime combinations a grid's cross product makes but no one asked for
    (torch int8, onnxruntime compile: lwbench.measure.applicable), said in one line; their analytic points stay."""
    from lwbench.measure.applicable import applicable
    from lwbench.measure.jobs import Job

    jobs = [Job.from_dict(sj.seam_job(timer)) for sj in timing]
    kept, skipped = applicable(jobs)
    if not skipped:
        return timing
    keep = {id(j) for j in kept}
    err.print("lwbench: note: not timed, no runtime of the grid asked for them: " + ", ".join(
        f"{what} ({n} point{'s' if n > 1 else ''})" for what, n in skipped.items()), markup=False)
    return [sj for sj, j in zip(timing, jobs) if id(j) in keep]


def _predictor(paths: list[str] | None, grid):
    if not paths:
        return None
    from lwbench.sweep.predicted import Predictor

    return Predictor(paths, grid.networks)


def _existing(path: str, continuing: bool, err):
    """The store as it is: torn or unreadable lines said once; rows there without --resume: refused."""
    from lwbench.errors import InputError
    from lwbench.sweep.store import read_store

    before = read_store(path)
    if before.bad_lines or before.torn_tail:
        err.print(f"lwbench: warning: {path}: {len(before.bad_lines)} unreadable line(s), a torn last line of "
                  f"{before.torn_tail} bytes (a killed run); they are skipped", markup=False)
    if before.rows and not continuing:
        raise InputError(f"--store {path}: already holds {len(before.rows)} job rows; --resume continues it "
                         "(skipping them), or give another --store")
    return before


def _execute(path, session, grid, todo_a, todo_t, ray, err, in_process, predictor=None) -> list[dict]:
    """Append a session line, then every finished job; SIGTERM and Ctrl-C stop cleanly (exit 130)."""
    from lwbench.measure.machine import machine_info
    from lwbench.sweep.store import Store

    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with Store(path) as st:
            st.session(**session, machine=machine_info(with_torch=False))
            try:
                return _run(grid, todo_a, todo_t, st, ray, err, in_process, predictor)
            except KeyboardInterrupt:
                err.print(f"lwbench: interrupted: {path} keeps the {st.written - 1} job row(s) this run finished; "
                          "--resume continues", markup=False)
                raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, old)


def _print_plan(grid, analytic, timing, done, rows, hosts):
    from lwbench.sweep.plan import plan_table, plan_targets

    per_host = {"ray": len(hosts)} if hosts is not None else None
    targets = plan_targets(timing, done, rows, grid.timer, grid.cooldown_s, per_host)
    console().print(plan_table(grid.file, analytic, sum(j.id in done for j in analytic), targets))


def _report(path: str, new: list[dict], pareto: str | None, pareto_data: str | None, err, predictor=None) -> None:
    from lwbench.sweep.pareto import front_rows, front_table, fronts, plot_fronts
    from lwbench.sweep.store import read_store

    out = console()
    rows = read_store(path).rows
    out.print(_summary(rows, {r["id"] for r in new}))
    before = len(rows) - len(new)
    if predictor is not None:            # rows of an earlier run without the calibration: predicted here too
        from lwbench.sweep.predicted import predicted_points

        rows = rows + predicted_points([predictor.annotate(dict(r)) for r in rows])
    for key, (pts, front) in fronts(rows).items():
        out.print(front_table(key, pts, front))
    err.print(f"{path}: {len(new)} new row(s), {before} job(s) done before", markup=False)
    if pareto_data:
        from lwbench.report.write import atomic_write, to_csv

        data = front_rows(rows)
        atomic_write(pareto_data, to_csv(data, {"store": path, "front": "per group, the variants no other has at "
                                                "least as many madds at no more median latency"}))
        err.print(f"wrote {pareto_data}: {len(data)} front rows", markup=False)
    if pareto:
        n = plot_fronts(rows, pareto)
        err.print(f"wrote {pareto}: {n} timed variants", markup=False)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
