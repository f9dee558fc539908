"""One configuration measured in several rounds, its samples pooled (`bench --rounds`, `guidelines --rounds`).

A long run on a shared or throttling machine drifts: a VM slows for a minute, another tenant takes a core.
Timing every configuration once, one after the other, puts that drift between configurations, where it reads
as a difference between networks. Measured instead in round-robin slices (every configuration's first
slice, then every one's second, ...; Google Benchmark's `--benchmark_enable_random_interleaving`, pyperf's
worker processes), the drift is spread over all of them alike, and the slices' own medians show how far
the machine moved (`rounds_spread`).

`Pool` holds one configuration's Results over the rounds: the samples of every round that ran pooled into one
Timing, the first run of the first round kept as `first_run_ms`, cpu_share averaged; the first failing round
is the configuration's error and its later rounds are not counted. Pure Python (no torch).
"""

from __future__ import annotations

import math
from dataclasses import replace


class Pool:
    def __init__(self) -> None:
        self.samples: list[float] = []
        self.medians: list[float] = []
        self.first_run_ms = math.nan
        self.shares: list[float] = []
        self.threads = self.interop_threads = None
        self.error = ""
        self.last = None            # the last Result that ran (its job, cores, extra, machine)

    def add(self, res) -> None:
        """One round's Result; after a failed round the later ones are ignored."""
        if self.error:
            return
        if res.error:
            self.error = res.error
            self.last = res
            return
        if not self.samples:
            self.first_run_ms = (res.timing or {}).get("first_run_ms", math.nan)
        self.samples += list(res.samples_ms)
        if (res.timing or {}).get("median_ms") is not None:
            self.medians.append(res.timing["median_ms"])
        if res.cpu_share is not None:
            self.shares.append(res.cpu_share)
        self.threads, self.interop_threads = res.threads, res.interop_threads
        self.last = res

    @property
    def rounds(self) -> int:
        """Rounds that ran and were pooled."""
        return len(self.medians)

    def spread(self) -> float | None:
        """max / min − 1 of the rounds' own medians (None with fewer than two rounds)."""
        if len(self.medians) < 2 or min(self.medians) <= 0:
            return None
        return max(self.medians) / min(self.medians) - 1.0

    def cpu_share(self) -> float | None:
        return sum(self.shares) / len(self.shares) if self.shares else None

    def timing(self):
        """The pooled Timing (lwbench.measure.timer), None when no round ran; extra: threads, interop_threads
        and the mean cpu_share."""
        from lwbench.measure.timer import stats_from_samples

        if self.error or not self.samples:
            return None
        t = stats_from_samples(self.samples, self.first_run_ms)
        t.extra.update({"threads": self.threads, "interop_threads": self.interop_threads,
                        "cpu_share": self.cpu_share()})
        return t

    def result(self, job):
        """One Result for the configuration `job` (the job as asked, not a round's slice): the pooled
        statistics and samples, or the first failing round's error."""
        from lwbench.measure.protocol import Result

        last = self.last
        if self.error or last is None:
            return Result.failed(job, self.error or "no round ran", getattr(last, "error_kind", None) or "run",
                                 getattr(last, "traceback", None))
        t = self.timing()
        timing = {**(last.timing or {}), **t.stats()}
        return replace(last, job=job, timing=timing, samples_ms=list(t.samples_ms), cpu_share=self.cpu_share(),
                       threads=self.threads, interop_threads=self.interop_threads)


def round_timer(timer: dict, rounds: int) -> dict:
    """One round's slice of a TimerConfig dict: 1/rounds of the measured time and runs (at least 1 run), the
    full warm-up (each round is a fresh worker, so it warms up from cold)."""
    if rounds <= 1:
        return dict(timer)
    out = dict(timer)
    out["min_time_s"] = timer["min_time_s"] / rounds
    out["max_time_s"] = timer["max_time_s"] / rounds
    out["min_runs"] = max(1, math.ceil(timer["min_runs"] / rounds))
    return out
