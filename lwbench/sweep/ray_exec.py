"""`lwbench sweep GRID --ray ADDRESS`: the sweep on a Ray cluster of devices.

- A timing slot is the custom resource `lwbench_timer`, exactly one per physical host
  (`ray start --address HEAD --resources '{"lwbench_timer": 1}'`): every timing task asks for one, so no two
  timings ever share a machine. The head node (the driver, Ray's services) must have none.
- A host is known by its node label `lwbench_host` (`ray start --labels lwbench_host=NAME`) or else by the
  /etc/machine-id read on it; a host appearing twice (two nodes with the same id, each with a slot) is refused
  before anything runs.
- Analytic jobs fan out on CPU resources, in chunks (one count takes well under a millisecond), before the
  timing starts, so they never run beside a timing.
- Each finished job streams back to the driver, which appends its row to the store at once. A job whose node
  is lost (or whose worker dies) is re-queued, at most `retries` more times, as any transient failure.
- The timing itself is the local target's on that host: a fresh worker process per job, with its timeout.

Ray is an optional extra (`pip install 'lwbench[ray]'`); it is imported only here, inside functions.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable

from lwbench.errors import InputError, LwbenchError
from lwbench.sweep.jobs import SweepJob

RESOURCE = "lwbench_timer"
HOST_LABEL = "lwbench_host"
HEAD_RESOURCE = "node:__internal_head__"
ANALYTIC_CHUNK = 256
POLL_S = 0.25


def need_ray():
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: install the extra with pip install 'lwbench[ray]'") from None
    return ray


def connect(address: str):
    ray = need_ray()
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=True)
    except Exception as e:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError from ray.init
        raise InputError(f"--ray {address}: cannot connect ({' '.join(str(e).split())[:200]})") from None
    return ray


def _probe(runtimes: list[str]) -> dict:
    """Runs on a timer node: who it is and what kind of machine (for the target fingerprint)."""
    import platform

    import ray

    from lwbench.sweep.jobs import local_fingerprint

    try:
        with open("/etc/machine-id", encoding="ascii") as f:
            mid = f.read().strip()
    except OSError:
        mid = platform.node()
    labels = ray.get_runtime_context().get_node_labels() or {}
    return {"host": labels.get(HOST_LABEL) or mid, "hostname": platform.node(), "machine_id": mid,
            "kinds": {r: local_fingerprint(r, machine_id=False) for r in runtimes}}


def timer_hosts(ray, runtimes: list[str]) -> list[dict]:
    """The timer nodes, checked: none on the head, exactly one slot each, no host twice."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    alive = [n for n in ray.nodes() if n.get("Alive")]
    for n in alive:
        res = n.get("Resources", {})
        if res.get(RESOURCE) and res.get(HEAD_RESOURCE):
            raise InputError(f"--ray: the head node ({n['NodeManagerAddress']}) has a {RESOURCE} slot; start the "
                             "head without it (it runs the driver and Ray's services, which would disturb timings)")
        if res.get(RESOURCE, 1) != 1:
            raise InputError(f"--ray: node {n['NodeManagerAddress']} has {res[RESOURCE]:g} {RESOURCE} slots; "
                             "give each host exactly one (--resources '{\"lwbench_timer\": 1}')")
    timers = [n for n in alive if n.get("Resources", {}).get(RESOURCE)]
    probe = ray.remote(num_cpus=0, max_retries=0)(_probe)
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(runtimes)
            for n in timers]
    hosts = []
    seen: dict[str, str] = {}
    for n, info in zip(timers, ray.get(refs, timeout=120)):
        info.update(node=n["NodeID"], address=n["NodeManagerAddress"])
        if info["host"] in seen:
            raise InputError(f"--ray: host {info['host']} appears twice (nodes {seen[info['host']][:12]} and "
                             f"{n['NodeID'][:12]} both have a {RESOURCE} slot): two timings would share one "
                             f"machine; give one slot per physical host (or label distinct hosts {HOST_LABEL}=NAME)")
        seen[info["host"]] = n["NodeID"]
        hosts.append(info)
    return hosts


def cluster_fingerprint(hosts: list[dict], runtime: str) -> str:
    """The Ray target's fingerprint: the set of machine kinds of its timer hosts (a lost host of a kind that
    remains keeps every id)."""
    import hashlib

    kinds = sorted({h["kinds"][runtime] for h in hosts})
    return hashlib.sha256(",".join(kinds).encode()).hexdigest()[:16]


def _analytic_chunk(jobs: list[SweepJob]) -> list[dict]:
    from lwbench.sweep.run import analytic_rows

    return analytic_rows(jobs)


def _timing_task(job: SweepJob, timer: dict, timeout_s: float, in_process: bool = False) -> dict:
    """Runs on a timer node, holding its slot: the local target's fresh worker, with where and when."""
    import platform

    import ray

    from lwbench.sweep.run import run_one

    ctx = ray.get_runtime_context()
    labels = ctx.get_node_labels() or {}
    try:
        with open("/etc/machine-id", encoding="ascii") as f:
            mid = f.read().strip()
    except OSError:
        mid = None
    local = dataclasses.replace(job, target="local")
    start = time.time()
    result = run_one(local, timer, timeout_s, in_process)
    end = time.time()
    where = {"host": labels.get(HOST_LABEL) or mid or platform.node(), "hostname": platform.node(),
             "machine_id": mid, "node": ctx.get_node_id()}
    return {"result": result, "start": start, "end": end, "where": where}


def run_analytic(ray, jobs: list[SweepJob], on_row: Callable[[dict], None]) -> None:
    task = ray.remote(num_cpus=1, max_retries=3)(_analytic_chunk)
    groups: dict[tuple, list[SweepJob]] = {}
    for j in jobs:
        groups.setdefault((j.spec, j.width, j.resolution), []).append(j)
    chunks, cur = [], []
    for js in groups.values():
        cur += js
        if len(cur) >= ANALYTIC_CHUNK:
            chunks.append(cur)
            cur = []
    if cur:
        chunks.append(cur)
    pending = [task.remote(c) for c in chunks]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for row in ray.get(done[0]):
            on_row(row)


def _slots(ray) -> int:
    """Timer slots of the nodes alive now (a lost node's slot leaves the total)."""
    return int(ray.cluster_resources().get(RESOURCE, 0) + 0.5)


def _classify(ray, e: Exception) -> tuple[str, str]:
    if isinstance(e, ray.exceptions.TaskCancelledError):
        return "timeout", "cancelled after the per-job timeout"
    if isinstance(e, ray.exceptions.RayTaskError):
        return "run", " ".join(str(e).split())[:500]
    return "transport", f"lost the node or its worker ({type(e).__name__})"


def run_timing(ray, jobs: list[SweepJob], timer: dict, *, timeout_s: float, retries: int,
               on_row: Callable[[dict], None], no_host_s: float | None = None, in_process: bool = False) -> None:
    """Timing jobs on the timer hosts; each result to on_row as it finishes; lost ones re-queued."""
    from lwbench.sweep.run import error_kind, timing_row

    task = ray.remote(num_cpus=0, max_retries=0)(_timing_task)
    queue = deque((j, 1) for j in jobs)
    inflight: dict = {}       # ref -> (job, attempt, submitted)
    no_host_since = None
    no_host_s = timeout_s if no_host_s is None else no_host_s
    while queue or inflight:
        free = _slots(ray) + 1 - len(inflight)      # one queued beside the running ones keeps every slot busy
        while queue and free > 0:
            job, attempt = queue.popleft()
            ref = task.options(resources={RESOURCE: 1}).remote(job, timer, timeout_s, in_process)
            inflight[ref] = (job, attempt, time.time())
            free -= 1
        done, _ = ray.wait(list(inflight), num_returns=1, timeout=POLL_S)
        for ref in done:
            job, attempt, submitted = inflight.pop(ref)
            try:
                out = ray.get(ref)
                result, start, end, where = out["result"], out["start"], out["end"], out["where"]
            except Exception as e:  # noqa: BLE001 - Ray's errors: classified, transient ones re-queued
                kind, msg = _classify(ray, e)
                result, start, end, where = {"error": msg, "error_kind": kind}, submitted, time.time(), {}
            if result.get("error") and error_kind(result) in ("timeout", "transport") and attempt <= retries:
                queue.appendleft((job, attempt + 1))
                continue
            on_row(timing_row(job, result, start, end, attempt, where))
        now = time.time()
        for ref, (_, _, submitted) in list(inflight.items()):
            if now - submitted > timeout_s + 300:       # the worker's own timeout did not end it
                ray.cancel(ref, force=True)
        total = _slots(ray)
        no_host_since = (no_host_since or now) if total == 0 else None
        if no_host_since is not None and now - no_host_since > no_host_s:
            raise LwbenchError(f"--ray: no host with a {RESOURCE} slot is left in the cluster; "
                               f"{len(queue) + len(inflight)} timing jobs not run (rerun with --resume)")
