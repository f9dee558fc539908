"""The local target: this machine. By default a fresh worker process per job (see lwbench.measure.worker for
why a process per configuration); `in_process=True` measures in this process (faster; pools and caches shared)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

from lwbench.measure.protocol import Job, Result
from lwbench.targets.base import Target


def _worker_call(job: dict) -> dict:
    from lwbench.measure.worker import run_job

    return run_job(job)


class LocalTarget(Target):
    """`call` (in-process only) replaces the worker function, job dict -> result dict (tests use it)."""

    name = "local"

    def __init__(self, in_process: bool = False, call: Callable[[dict], dict] | None = None) -> None:
        self.in_process = in_process
        self._call = call or _worker_call

    def run(self, job: Job, timeout_s: float) -> Result:
        raw = self._run_in_process(job.to_dict()) if self.in_process else self._run_subprocess(job, timeout_s)
        return Result.from_dict(raw, job=job)

    def _run_in_process(self, job: dict) -> dict:
        before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        try:
            return self._call(job)
        finally:
            if before is not None:
                os.sched_setaffinity(0, before)

    @staticmethod
    def _run_subprocess(job: Job, timeout_s: float) -> dict:
        with tempfile.TemporaryDirectory(prefix="lwbench-") as tmp:
            jpath, rpath = os.path.join(tmp, "job.json"), os.path.join(tmp, "result.json")
            with open(jpath, "w", encoding="utf-8") as f:
                json.dump(job.to_dict(), f)
            env = dict(os.environ)
            if job.threads:  # size the OpenMP / MKL pools right from the start
                env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(job.threads)
            try:
                p = subprocess.run([sys.executable, "-m", "lwbench.measure.worker", jpath, rpath], env=env,
                                   capture_output=True, text=True, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return {"error": f"worker timed out after {timeout_s:.0f} s", "error_kind": "timeout"}
            if p.returncode != 0 or not os.path.exists(rpath):
                tail = [ln for ln in (p.stderr or "").strip().splitlines() if ln.strip()]
                return {"error": f"worker exited with code {p.returncode}" + (f": {tail[-1]}" if tail else ""),
                        "error_kind": "run"}
            with open(rpath, encoding="utf-8") as f:
                return json.load(f)
