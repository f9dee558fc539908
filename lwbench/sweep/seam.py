"""Where a sweep's timing job meets the measuring side: the architecture seam (lwbench.measure.jobs Job /
Result / run_jobs, lwbench.targets.resolve). The grid passes the target and runtime strings through to Job."""

from __future__ import annotations

import hashlib
import json

from lwbench.errors import LwbenchError


def result_dict(res) -> dict:
    """A seam Result as the flat dict the sweep's rows are made from."""
    d = res.to_dict()
    d.pop("job", None)
    d.pop("traceback", None)
    return d


def run(job: dict, timeout_s: float, in_process: bool = False) -> dict:
    """One job on its target (a fresh worker, or this process with in_process); never raises for a failing job."""
    from lwbench.measure.jobs import Job, Result, run_jobs

    try:
        j = Job.from_dict(job)
    except LwbenchError as e:
        return {"error": str(e), "error_kind": "config"}
    out: list[Result] = run_jobs([j], timeout_s=timeout_s, in_process=in_process and j.target == "local")
    return result_dict(out[0])


def fingerprint(target: str, runtime: str) -> str:
    """The target's machine fingerprint for job ids: this machine's for local, else the target's machine block
    (what it runs on, its software), read once through the seam."""
    from lwbench.sweep.jobs import local_fingerprint

    if target == "local":
        return local_fingerprint(runtime)
    from lwbench.targets import resolve

    with resolve(target) as t:
        m = t.machine() or {}
    keep = {k: m.get(k) for k in ("hostname", "machine_id", "cpu_model", "arch", "cores_logical", "gpu", "torch",
                                  "onnxruntime", "python")}
    keep["runtime"] = runtime
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]
