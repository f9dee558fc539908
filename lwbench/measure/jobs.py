"""One timing job, its result, and the sweep loop that runs jobs on their targets.

`Job` and `Result` (the worker protocol: what a job is, what comes back, both as JSON) are defined in
lwbench.measure.protocol and re-exported here, so `from lwbench.measure.jobs import Job, Result, run_jobs`.

`run_jobs` is the parent side of a sweep: for each job, the runtime's `check` (a wrong dtype or mode, an
absent device: a row with the error, no process started), the cool-down between networks, the job run on
its target, and each finished `Result` handed to `on_result` before the next job starts, so a caller writes
every row as soon as it exists. It never raises for a failing job: the failure is in the Result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from lwbench.errors import LwbenchError
from lwbench.measure.protocol import ERROR_KINDS, Job, Result

__all__ = ["ERROR_KINDS", "Job", "Result", "check_job", "default_timeout_s", "run_jobs"]

def check_job(job: Job) -> str | None:
    """The runtime's check of a job before anything runs: None, or the one-line reason it cannot run."""
    from lwbench.runtimes import get_runtime

    try:
        get_runtime(job.runtime).check(job)
    except LwbenchError as e:
        return str(e)
    return None


def default_timeout_s(job: Job) -> float:
    """How long a worker may take: start-up and build (900 s, torch.compile included) plus 3× the timer's
    budget."""
    t = job.timer
    return 900.0 + 3.0 * (float(t.get("max_time_s", 10.0)) + float(t.get("warmup_s", 0.5)))


def _same_net(a: Job, b: Job) -> bool:
    return (a.net, a.width, a.resolution) == (b.net, b.width, b.resolution)


def run_jobs(jobs: Iterable[Job], *, on_result: Callable[[Result], None] | None = None,
             on_start: Callable[[Job], None] | None = None, cooldown_s: float = 0.0, in_process: bool = False,
             targets: Mapping | None = None, timeout_s: float | None = None,
             sleep: Callable[[float], None] = time.sleep) -> list[Result]:
    """Run `jobs` in order, one at a time, each on its target (`lwbench.targets.resolve(job.target)`, opened
    once and closed at the end; `targets` maps a target spec to an already opened Target and wins). Between two
    networks (net, width, resolution) `sleep(cooldown_s)`. `on_start(job)` before a job, `on_result(result)`
    as soon as it is done. A job its runtime refuses (`check_job`) is a Result with error_kind "config" and no
    process. `in_process`: the local target measures in this process. Returns the Results in job order."""
    from lwbench.targets import LocalTarget, resolve

    opened: dict = dict(targets or {})
    if in_process and "local" not in opened:
        opened["local"] = LocalTarget(in_process=True)
    own: list = []
    results: list[Result] = []
    prev: Job | None = None
    try:
        for job in jobs:
            if prev is not None and cooldown_s and not _same_net(job, prev):
                sleep(cooldown_s)
            prev = job
            if on_start:
                on_start(job)
            err = check_job(job)
            if err:
                res = Result.failed(job, err, "config")
            else:
                if job.target not in opened:
                    opened[job.target] = resolve(job.target)
                    own.append(opened[job.target])
                res = opened[job.target].run(job, timeout_s or default_timeout_s(job))
            results.append(res)
            if on_result:
                on_result(res)
    finally:
        for t in own:
            t.close()
    return results
