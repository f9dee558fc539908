"""The worker protocol: one timing Job and its Result, and how both travel as JSON.

A `Job` says everything that determines a latency: which network (zoo name, YAML path or `module:...`), its
scaling, batch, threads, device, dtype, execution mode and layout, the cores it is pinned to, the runtime that
executes it (`lwbench.runtimes`), the runtime's options, the target machine (`lwbench.targets`) and the timer
settings. It is frozen and hashable; `Job.key()` is a stable sha256 of its fields. It travels to the worker as
JSON (`Job.to_dict()`, read back by `Job.from_dict()`); the worker answers with a `Result` the same way.
Runtimes, targets and the worker import these types from here; the sweep loop is lwbench.measure.jobs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

from lwbench.errors import InputError

ERROR_KINDS = ("config", "run", "oom", "timeout", "transport")
MODULE = "module:"    # the prefix of a torch factory network: module:package.mod:factory or module:/path/file.py:factory


@dataclass(frozen=True)
class Job:
    """One configuration to time. `options` are the runtime's own knobs as (name, value) strings, sorted;
    `timer` is `TimerConfig.to_dict()` (empty: the timer's defaults)."""

    net: str
    width: float | None = None
    resolution: int | None = None
    batch: int = 1
    threads: int | None = None
    device: str = "cpu"
    dtype: str = "float32"
    mode: str = "eager"
    layout: str = "nchw"
    cores: tuple[int, ...] | None = None
    runtime: str = "torch"
    options: tuple[tuple[str, str], ...] = ()
    target: str = "local"
    timer: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        opts = self.options.items() if isinstance(self.options, Mapping) else self.options
        set_ = object.__setattr__
        set_(self, "batch", int(self.batch))
        set_(self, "cores", None if self.cores is None else tuple(int(c) for c in self.cores))
        set_(self, "options", tuple(sorted((str(k), str(v)) for k, v in opts)))
        set_(self, "timer", dict(sorted(dict(self.timer).items())))

    def __hash__(self) -> int:
        return hash(self.key())

    def to_dict(self) -> dict:
        """The JSON form (the worker's JOB.json): cores a list, options a {name: value} mapping."""
        d = asdict(self)
        d["cores"] = None if self.cores is None else list(self.cores)
        d["options"] = dict(self.options)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> Job:
        """The inverse of to_dict; a key it does not know is an InputError (a job from another lwbench)."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise InputError(f"job: unknown key {extra[0]} (expected {', '.join(sorted(known))})")
        if "net" not in d:
            raise InputError("job: no net")
        return cls(**dict(d))

    def key(self) -> str:
        """sha256 (hex) of every field: equal keys, equal configurations. The content of the network's file and
        the lwbench version are not in it; a cache across files or versions adds them."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def label(self) -> str:
        """A short human label: net device mode layout dtype threads batch (+ runtime, target when not default)."""
        parts = [self.net, self.device, self.mode, self.layout, self.dtype, f"threads={self.threads}",
                 f"batch={self.batch}"]
        parts += [p for p, default in ((self.runtime, "torch"), (self.target, "local")) if p != default]
        return " ".join(parts)


@dataclass
class Result:
    """What a worker measured for one Job, or why it could not. `timing` is `Timing.stats()` (n, median_ms,
    mean_ms, std_ms, iqr_ms, min_ms, p90_ms, p99_ms, max_ms, noisy, first_run_ms, compile_s); `cpu_share` the
    process CPU time / (wall time × threads) while timing; `cores` the CPU list it ran on; `extra` the
    runtime's own facts for the row (versions, a numeric check); `machine` the machine block of a remote target.
    `error_kind` is one of ERROR_KINDS."""

    job: Job
    timing: dict | None = None
    samples_ms: list[float] = field(default_factory=list)
    warmup_runs: int | None = None
    cpu_share: float | None = None
    threads: int | None = None
    interop_threads: int | None = None
    cores: str | None = None
    error: str | None = None
    error_kind: str | None = None
    extra: dict = field(default_factory=dict)
    machine: dict | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return not self.error

    @classmethod
    def failed(cls, job: Job, error: str, kind: str = "run", traceback: str | None = None) -> Result:
        return cls(job=job, error=error, error_kind=kind, traceback=traceback)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["job"] = self.job.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping, job: Job | None = None) -> Result:
        """The inverse of to_dict. `job` stands in when the dict carries none; keys it does not know go to extra."""
        d = dict(d)
        raw_job = d.pop("job", None)
        job = Job.from_dict(raw_job) if raw_job is not None else job
        if job is None:
            raise InputError("result: no job")
        known = {f.name for f in fields(cls)} - {"job"}
        extra = dict(d.pop("extra", None) or {})
        extra.update({k: d.pop(k) for k in sorted(set(d) - known)})
        if d.get("error") and not d.get("error_kind"):
            d["error_kind"] = "run"
        return cls(job=job, extra=extra, **d)
