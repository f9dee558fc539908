"""Grid points as jobs with an identity.

A job's id is the sha256 of everything that determines its result: the network's content (the bytes of its
YAML or Python file and the variant or factory name, never just a path), the variant (width, resolution), the
settings (batch, dtype; for timing also threads, device, mode, layout, runtime, the timer), the lwbench version
and, for timing, the target's fingerprint (the machine a latency belongs to). An analytic count is the same on
every machine, so its id has no target. Editing a network file, upgrading lwbench or changing the target's
hardware or torch gives new ids: `--resume` then re-runs exactly the jobs whose result could have changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import os
import platform
import random
from dataclasses import asdict, dataclass

from lwbench.measure.protocol import MODULE
from lwbench.sweep.grid import Grid, Network  # noqa: F401
from lwbench.version import __version__

TRANSIENT = ("timeout", "transport")   # error kinds worth retrying: the job may pass on another try
ID_CHARS = 32


@dataclass(frozen=True)
class SweepJob:
    id: str
    kind: str                 # analytic | timing
    network: str              # the label in the grid (zoo name, path as written, module spec)
    spec: str                 # what lwbench loads (zoo name, absolute YAML path, module:...)
    width: float | None
    resolution: int | None
    batch: int
    dtype: str
    threads: int | None = None
    runtime: str = ""
    target: str = ""
    device: str = ""
    mode: str = ""
    layout: str = ""

    def settings(self) -> dict:
        d = asdict(self)
        d.pop("spec")
        if self.kind == "analytic":
            for k in ("threads", "runtime", "target", "device", "mode", "layout"):
                d.pop(k)
        return d

    def seam_job(self, timer: dict) -> dict:
        """The job as lwbench.measure.jobs.Job fields (Job.from_dict)."""
        return {"net": self.spec, "width": self.width, "resolution": self.resolution, "batch": self.batch,
                "threads": self.threads, "device": self.device, "dtype": self.dtype, "mode": self.mode,
                "layout": self.layout, "runtime": self.runtime, "target": self.target, "timer": dict(timer)}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_id(spec: str) -> str:
    """sha256 of the network's defining bytes: YAML file + variant, or Python file + factory name."""
    if spec.startswith(MODULE):
        mod, _, attr = spec[len(MODULE):].rpartition(":")
        path = mod if mod.endswith(".py") else None
        if path is None:
            found = importlib.util.find_spec(mod.split(".")[0]) and importlib.util.find_spec(mod)
            path = getattr(found, "origin", None)
        try:
            with open(path, "rb") as f:
                return _sha(f.read() + b"\0" + attr.encode())
        except (OSError, TypeError):
            return _sha(spec.encode())
    from lwbench.spec import cache
    from lwbench.spec.zoo import resolve

    file, variant = resolve(spec)
    doc, digest = cache.document(file)
    return _sha(f"{digest}:{variant or doc['name']}".encode())


def local_fingerprint(runtime: str, machine_id: bool = True) -> str:
    """This machine and its software, as far as a latency depends on them (no torch import). Without the
    machine id it names the kind of machine (a Ray cluster of identical boards shares it)."""
    from importlib.metadata import PackageNotFoundError, version

    from lwbench.measure.machine import cpu_model

    try:
        with open("/etc/machine-id", encoding="ascii") as f:
            mid = f.read().strip()
    except OSError:
        mid = platform.node()
    pkgs = {}
    for pkg in ("torch", "onnxruntime") if runtime != "torch" else ("torch",):
        try:
            pkgs[pkg] = version(pkg)
        except PackageNotFoundError:
            pkgs[pkg] = None
    facts = {"machine_id": mid if machine_id else None, "cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
             **pkgs}
    return _sha(json.dumps(facts, sort_keys=True).encode())[:16]


def job_id(kind: str, content: str, point: dict, timer: dict | None, fingerprint: str | None) -> str:
    ident = {"kind": kind, "net": content, "lwbench": __version__, **point}
    if kind == "timing":
        ident.update(timer=dict(sorted(timer.items())), fingerprint=fingerprint)
    return _sha(json.dumps(ident, sort_keys=True, default=str).encode())[:ID_CHARS]


def _points(net: Network, dims: tuple[str, ...]):
    for values in itertools.product(*(net.dims[d] for d in dims)):
        yield dict(zip(dims, values))


ANALYTIC_DIMS = ("width", "resolution", "batch", "dtype")
TIMING_DIMS = ("width", "resolution", "batch", "dtype", "threads", "runtime", "target", "device", "mode", "layout")


def expand(grid: Grid, fingerprints: dict[tuple[str, str], str]) -> tuple[list[SweepJob], list[SweepJob]]:
    """(analytic jobs, timing jobs). fingerprints: (target, runtime) -> fingerprint. Timing jobs come in a
    shuffled order within each target (seeded), so slow drift of a machine does not follow the grid."""
    from lwbench.sweep.grid import MAX_POINTS

    analytic: dict[str, SweepJob] = {}
    timing: dict[str, SweepJob] = {}
    for net in grid.networks:
        content = content_id(net.spec)
        if grid.analytic:
            for p in _points(net, ANALYTIC_DIMS):
                jid = job_id("analytic", content, p, None, None)
                analytic.setdefault(jid, SweepJob(jid, "analytic", net.label, net.spec, **p))
        if grid.timing:
            for p in _points(net, TIMING_DIMS):
                if net.kind == "module" and p["target"] != "local":
                    continue       # a torch factory is timed by a local (or Ray) worker calling the factory
                fp = fingerprints[(p["target"], p["runtime"])]
                jid = job_id("timing", content, p, grid.timer, fp)
                timing.setdefault(jid, SweepJob(jid, "timing", net.label, net.spec, **p))
        if len(analytic) > MAX_POINTS or len(timing) > MAX_POINTS:
            from lwbench.errors import ConfigError

            raise ConfigError(grid.file, "networks", f"a grid of at most {MAX_POINTS:,} analytic and "
                              f"{MAX_POINTS:,} timing points", f"more at {net.label}", net.line)
    rng = random.Random(grid.seed)
    by_target: dict[str, list[SweepJob]] = {}
    for j in timing.values():
        by_target.setdefault(j.target, []).append(j)
    ordered = []
    for target in sorted(by_target):
        jobs = by_target[target]
        rng.shuffle(jobs)
        ordered += jobs
    return list(analytic.values()), ordered


def targets_runtimes(grid: Grid) -> list[tuple[str, str]]:
    seen = {}
    for net in grid.networks:
        for t in net.dims["target"]:
            for r in net.dims["runtime"]:
                seen[(t, r)] = None
    return list(seen)
