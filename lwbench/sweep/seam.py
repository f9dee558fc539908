"""Where a timing job meets the measuring side: one job in, one result dict out (never raises for a failing
job). Until the architecture seam (lwbench.measure.jobs / lwbench.targets) is in this build, the local target
runs `python -m lwbench.measure.worker` as `lwbench bench` does."""

from __future__ import annotations

from lwbench.errors import InputError


def run(job: dict, timeout_s: float) -> dict:
    if job.get("target", "local") != "local":
        return {"error": f"target {job['target']}: only the local target is in this build", "error_kind": "config"}
    if job.get("runtime", "torch") != "torch":
        return {"error": f"runtime {job['runtime']}: only torch is in this build", "error_kind": "config"}
    from lwbench.cli.bench import _run_subprocess

    legacy = {k: job.get(k) for k in ("net", "width", "resolution", "device", "mode", "layout", "dtype", "threads",
                                      "batch", "timer")}
    legacy["cores"] = None
    return _run_subprocess(legacy, timeout_s)


def fingerprint(target: str, runtime: str) -> str:
    from lwbench.sweep.jobs import local_fingerprint

    if target != "local":
        raise InputError(f"target {target}: only the local target is in this build")
    return local_fingerprint(runtime)
