"""Running sweep jobs locally: analytic counts in this process, timing jobs one at a time per target.

Each finished job becomes one store row at once (`on_row`), so an interrupted sweep keeps every job done.
A timing job runs in a fresh worker process with a timeout; a transient failure (timeout, lost target) is
tried again up to `retries` times, any other failure is recorded as a typed error row straight away.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable

from lwbench.errors import LwbenchError
from lwbench.measure.protocol import MODULE
from lwbench.sweep.jobs import TRANSIENT, SweepJob
from lwbench.version import __version__

COUNT_KEYS = ("layers", "params", "madds", "mac_elems", "mac_bytes", "out_elems")
TIMING_KEYS = ("n", "median_ms", "mean_ms", "std_ms", "iqr_ms", "min_ms", "p90_ms", "p99_ms", "max_ms", "noisy",
               "first_run_ms")
_sleep = time.sleep


def _base(job: SweepJob) -> dict:
    return {"id": job.id, "kind": job.kind, **job.settings(), "lwbench": __version__}


def _error_row(job: SweepJob, message: str, kind: str, **extra) -> dict:
    return {**_base(job), "status": "error", "error": message, "error_kind": kind, **extra,
            "time_unix": time.time()}


def _count_group(spec: str, width, resolution, batches, dtypes) -> tuple[str, str, list[dict]]:
    if spec.startswith(MODULE):
        from lwbench.measure.torchcount import profile_factory

        rows, name, shape = [], spec, f"3x{resolution}x{resolution}"
        for b in batches:
            for dt in dtypes:
                prof = profile_factory(spec[len(MODULE):], shape, b, dt)
                rows.append({"batch": b, "dtype": dt, "layers": len(prof.layers), **prof.totals})
                name = prof.model
        return name, shape, rows
    from lwbench.spec import cache

    return cache.totals(spec, width, resolution, tuple(batches), tuple(dtypes))


def analytic_rows(jobs: Iterable[SweepJob]) -> list[dict]:
    """Store rows for analytic jobs; the jobs of one (network, width, resolution) share one count."""
    groups: dict[tuple, list[SweepJob]] = {}
    for j in jobs:
        groups.setdefault((j.spec, j.width, j.resolution), []).append(j)
    out = []
    for (spec, width, res), js in groups.items():
        batches = list(dict.fromkeys(j.batch for j in js))
        dtypes = list(dict.fromkeys(j.dtype for j in js))
        try:
            name, shape, rows = _count_group(spec, width, res, batches, dtypes)
        except LwbenchError as e:
            out += [_error_row(j, str(e), "config") for j in js]
            continue
        by = {(r["batch"], r["dtype"]): r for r in rows}
        now = time.time()
        for j in js:
            r = by[(j.batch, j.dtype)]
            out.append({**_base(j), "status": "ok", "model": name, "input": shape,
                        **{k: r[k] for k in COUNT_KEYS}, "time_unix": now})
    return out


def counts_for(job: SweepJob) -> dict:
    """params/madds/mac of a timing job's network (for the latency-madds front), or {} when they cannot be had."""
    try:
        name, shape, rows = _count_group(job.spec, job.width, job.resolution, [job.batch], [job.dtype])
    except LwbenchError:
        return {}
    return {"model": name, "input": shape, **{k: rows[0][k] for k in ("params", "madds", "mac_elems")}}


def error_kind(result: dict) -> str:
    if result.get("error_kind"):
        return result["error_kind"]
    if result.get("oom"):
        return "oom"
    return "timeout" if "timed out" in str(result.get("error", "")) else "run"


def timing_row(job: SweepJob, result: dict, start: float, end: float, attempts: int, where: dict) -> dict:
    """One store row from a worker's result (the seam's Result.to_dict() or the worker's dict)."""
    from lwbench.measure.timer import CONTENDED_SHARE

    row = {**_base(job), **counts_for(job), "attempts": attempts, **where, "start_unix": start, "end_unix": end}
    if result.get("error"):
        return {**row, "status": "error", "error": str(result["error"])[:1000], "error_kind": error_kind(result),
                "time_unix": end}
    t = result.get("timing") or {}
    share = result.get("cpu_share")
    row.update({k: t.get(k) for k in TIMING_KEYS})
    row.update(status="ok", cpu_share=share, threads_used=result.get("threads"),
               interop_threads=result.get("interop_threads"), cores=result.get("cores"),
               contended=bool(share < CONTENDED_SHARE) if share is not None and job.device == "cpu" else None,
               extra=result.get("extra") or {}, samples_ms=result.get("samples_ms") or [], time_unix=end)
    return row


def local_where() -> dict:
    try:
        with open("/etc/machine-id", encoding="ascii") as f:
            mid = f.read().strip()
    except OSError:
        mid = None
    return {"host": platform.node(), "machine_id": mid, "node": None}


def run_one(job: SweepJob, timer: dict, timeout_s: float, in_process: bool = False) -> dict:
    """Time one job in a fresh worker on its target (or in this process); never raises for a failing job."""
    from lwbench.sweep import seam

    return seam.run(job.seam_job(timer), timeout_s, in_process)


def _where(target: str, result: dict, local: dict) -> dict:
    if target == "local":
        return local
    m = result.get("machine") or {}
    return {"host": m.get("hostname") or target, "machine_id": m.get("machine_id"), "node": None}


def _run_target(jobs: list[SweepJob], timer: dict, timeout_s: float, retries: int, cooldown_s: float,
                on_row: Callable[[dict], None], in_process: bool = False) -> None:
    """One target's jobs through the seam's run_jobs (one at a time, cool-down between networks); transient
    failures are run again after the others, in up to `retries` more rounds."""
    from lwbench.measure.jobs import Job, run_jobs
    from lwbench.sweep.seam import result_dict
    from lwbench.targets import LocalTarget, resolve

    local = local_where()
    pending = list(jobs)
    spec = jobs[0].target
    with (LocalTarget(in_process=True) if in_process and spec == "local" else resolve(spec)) as target:
        for attempt in range(1, retries + 2):
            by_key = {}
            for sj in pending:
                by_key[Job.from_dict(sj.seam_job(timer)).key()] = sj
            starts: dict[str, float] = {}
            retry: list[SweepJob] = []

            def on_result(res, attempt=attempt, by_key=by_key, starts=starts, retry=retry):
                sj, r = by_key[res.job.key()], result_dict(res)
                if r.get("error") and error_kind(r) in TRANSIENT and attempt <= retries:
                    retry.append(sj)
                    return
                on_row(timing_row(sj, r, starts[res.job.key()], time.time(), attempt, _where(sj.target, r, local)))

            run_jobs([Job.from_dict(sj.seam_job(timer)) for sj in pending], on_result=on_result,
                     on_start=lambda j, starts=starts: starts.__setitem__(j.key(), time.time()),
                     cooldown_s=cooldown_s, targets={jobs[0].target: target}, timeout_s=timeout_s, sleep=_sleep)
            if not retry:
                return
            pending = retry


def run_timing_local(jobs: list[SweepJob], timer: dict, *, timeout_s: float, retries: int, cooldown_s: float,
                     on_row: Callable[[dict], None], in_process: bool = False) -> None:
    """Each target's jobs one at a time, in the order given; distinct targets (hosts) side by side."""
    import threading

    by_target: dict[str, list[SweepJob]] = {}
    for j in jobs:
        by_target.setdefault(j.target, []).append(j)
    if len(by_target) == 1:
        _run_target(jobs, timer, timeout_s, retries, cooldown_s, on_row, in_process)
        return
    lock = threading.Lock()

    def locked(row):
        with lock:
            on_row(row)

    errors: list[BaseException] = []

    def work(js):
        try:
            _run_target(js, timer, timeout_s, retries, cooldown_s, locked, in_process)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(js,), daemon=True) for js in by_target.values()]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    if errors:
        raise errors[0]
