"""The library behind `lwbench bench`: the sweep's jobs from its options, and a timing row from each Result.

Every combination network × runtime × target × device × mode × layout × dtype × threads × batch is one Job
(lwbench.measure.jobs); `run_jobs` runs them; `bench_row` turns a Result into the export's row (BenchRow:
the timing statistics, throughput, cpu_share and the contended rule, and the network's analytic counts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lwbench.measure.jobs import Job, Result
from lwbench.report.rows import BenchRow
from lwbench.vocab import is_contended


@dataclass
class Sweep:
    """What the options ask for. `specs` are what the user named (zoo names, paths); `timer` TimerConfig.to_dict()."""

    specs: list[str]
    devices: list[str]
    modes: list[str]
    layouts: list[str]
    dtypes: list[str]
    threads: list[int]
    batches: list[int]
    timer: dict
    width: float | None = None
    resolution: int | None = None
    cores: list[int] | None = None
    runtimes: list[str] = field(default_factory=lambda: ["torch"])
    targets: list[str] = field(default_factory=lambda: ["local"])
    options: dict[str, list[dict]] = field(default_factory=dict)   # runtime -> option sets to sweep (--ort-opt)
    remote_cores: list[int] | None = None     # on a remote target: None = its own default (its big cores)
    remote_threads: list[int | None] | None = None   # None: the threads list (given); [None]: the target's default

    def _where(self, target: str) -> tuple[tuple[int, ...] | None, list]:
        """(cores, threads list) of a target: this machine's resolution for local, the target's own otherwise."""
        if target == "local":
            return (tuple(self.cores) if self.cores else None), self.threads
        cores = tuple(self.remote_cores) if self.remote_cores else None
        return cores, self.remote_threads or self.threads

    def jobs(self) -> list[Job]:
        """One Job per combination, networks outermost, batch innermost."""
        where = {tg: self._where(tg) for tg in self.targets}
        return [Job(net=s, width=self.width, resolution=self.resolution, batch=b, threads=t, device=d, dtype=dt,
                    mode=m, layout=lay, cores=where[tg][0], runtime=rt, target=tg, timer=self.timer, options=o)
                for s in self.specs for rt in self.runtimes for o in self.options.get(rt, [{}])
                for tg in self.targets for d in self.devices
                for m in self.modes for lay in self.layouts for dt in self.dtypes for t in where[tg][1]
                for b in self.batches]


def counts_of(nets: dict, batches: list[int]) -> dict:
    """{(spec, batch): totals} of the analytic count (no torch): params, madds and mac_elems per batch."""
    from lwbench.count import count

    return {(spec, b): count(net, b).totals for spec, net in nets.items() for b in batches}


def bench_row(res: Result, net, totals: dict, mask: str | None) -> dict:
    """The export row of one Result: `net` the loaded network (name, input shape), `totals` its counts at the
    job's batch, `mask` the CPU list the sweep runs on. A failed job keeps its counts and says why."""
    job = res.job
    row = BenchRow(model=net.name, device=job.device, mode=job.mode, layout=job.layout, threads=job.threads,
                   batch=job.batch, dtype=job.dtype, runtime=job.runtime, target=job.target,
                   params=totals["params"], madds=totals["madds"], mac_elems=totals["mac_elems"],
                   input="x".join(map(str, net.input_shape)), cores=mask, error=res.error or "")
    out = asdict(row)
    if res.ok:
        out.update(res.timing or {})
        med = out["median_ms"]
        out["images_per_s"] = job.batch * 1000.0 / med if med else None
        out["batches_per_s"] = 1000.0 / med if med else None
        out["threads"] = res.threads if res.threads is not None else job.threads
        out["interop_threads"] = res.interop_threads
        out["cores"] = res.cores if res.cores is not None else mask
        out["cpu_share"] = res.cpu_share
        out["contended"] = is_contended(res.cpu_share, job.device)
        out["samples_ms"] = list(res.samples_ms)
    out["options"] = " ".join(f"{k}={v}" for k, v in job.options)
    for k in ("ep", "valid", "max_abs_err", "rel_err", "l2_rel_err"):
        out[k] = res.extra.get(k)
    return out


def flat(rows: list[dict]) -> list[dict]:
    """The rows without their raw samples (CSV, Markdown, plots)."""
    return [{k: v for k, v in r.items() if k != "samples_ms"} for r in rows]
