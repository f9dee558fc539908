"""`lwbench sweep GRID --plan`: how many jobs, how many already done, and how long the timing will take.

The estimate per timing job is: worker start (a fresh process importing torch) + warm-up + the measured
phase + the cool-down. The measured phase is what the timer does: at least min_time_s and min_runs runs, at
most max_time_s; one run's latency is guessed from the job's madds at a nominal rate per thread until the
store holds timed jobs of that target, whose real wall time per job (median) then replaces the model.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from lwbench.sweep.jobs import SweepJob

WORKER_START_S = 3.0          # python + torch import + build, per fresh worker (a 2-core x86 VM: 2-4 s)
NOMINAL_MADDS_PER_S = 4e9     # per thread, float32 CPU: a guess, replaced by measured jobs when there are any


@dataclass
class TargetPlan:
    target: str
    timing_jobs: int
    timing_done: int
    estimate_s: float
    basis: str
    hosts: int = 1


def _job_guess_s(job: SweepJob, timer: dict, cooldown_s: float, madds: int | None) -> float:
    run_s = (madds or 3e8) / (NOMINAL_MADDS_PER_S * (job.threads or 1))
    measure = min(timer["max_time_s"], max(timer["min_time_s"], timer["min_runs"] * run_s))
    warm = max(timer["warmup_s"], timer["warmup_runs"] * run_s)
    return WORKER_START_S + warm + measure + cooldown_s


def _madds(job: SweepJob) -> int | None:
    from lwbench.sweep.run import counts_for

    return counts_for(job).get("madds")


def plan_targets(timing: list[SweepJob], done: set[str], rows: list[dict], timer: dict, cooldown_s: float,
                 hosts: dict[str, int] | None = None) -> list[TargetPlan]:
    hosts = hosts or {}
    out = []
    for target in dict.fromkeys(j.target for j in timing):
        jobs = [j for j in timing if j.target == target]
        todo = [j for j in jobs if j.id not in done]
        walls = [r["end_unix"] - r["start_unix"] for r in rows
                 if r.get("kind") == "timing" and r.get("target") == target and r.get("status") == "ok"
                 and r.get("end_unix") and r.get("start_unix")]
        if walls:
            per = statistics.median(walls) + cooldown_s
            total, basis = per * len(todo), f"median of {len(walls)} timed jobs in the store ({per:.1f} s a job)"
        else:
            total = sum(_job_guess_s(j, timer, cooldown_s, _madds(j)) for j in todo)
            basis = (f"model: {WORKER_START_S:g} s worker start + warm-up + measured phase, runs guessed at "
                     f"{NOMINAL_MADDS_PER_S / 1e9:g} G madds/s per thread")
        n = max(1, hosts.get(target, 1))
        out.append(TargetPlan(target, len(jobs), len(jobs) - len(todo), total / n, basis, n))
    return out


def duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def plan_table(grid_file: str, analytic: list[SweepJob], analytic_done: int, targets: list[TargetPlan]):
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape(f"lwbench sweep --plan  {grid_file}"),
              caption="analytic jobs are counted in this process (thousands a second); timing jobs run one at a "
              "time per host; the estimate is for the jobs still to run")
    for c, j in (("target", "left"), ("kind", "left"), ("jobs", "right"), ("done", "right"), ("to run", "right"),
                 ("hosts", "right"), ("estimate", "right"), ("basis", "left")):
        t.add_column(c, justify=j)
    t.add_row("(any)", "analytic", str(len(analytic)), str(analytic_done), str(len(analytic) - analytic_done),
              "", "< 1 s" if len(analytic) - analytic_done < 1000 else "seconds", "")
    for p in targets:
        t.add_row(escape(p.target), "timing", str(p.timing_jobs), str(p.timing_done),
                  str(p.timing_jobs - p.timing_done), str(p.hosts), duration(p.estimate_s), escape(p.basis))
    return t
