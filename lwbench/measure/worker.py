"""Measure one Job; `python -m lwbench.measure.worker JOB.json RESULT.json` (Job.to_dict() in,
Result.to_dict() out).

`lwbench bench` starts this module in a fresh process for every configuration (network × device × mode ×
layout × dtype × threads × batch), because a process carries state that changes the next measurement:

- thread pools: `torch.set_num_interop_threads` works only once per process, and OpenMP/oneDNN keep the
  pool (and its affinity) of the first parallel region;
- allocator and caches: the CPU caching allocator, oneDNN's primitive cache, cuDNN's autotuner choices,
  TorchScript's profiling executor and torch.compile's caches all carry over from the previous network;
- pinning: `--cores` must be applied before torch starts its threads.

`--in-process` runs the same function in the parent instead (faster, for quick looks and tests; thread
settings are still applied per row but the inter-op pool and caches are shared). The job names its runtime
(lwbench.runtimes); the runtime's `measure` does the work.
"""

from __future__ import annotations

import json
import sys


def run_job(job: dict) -> dict:
    """The wire form: a Job dict in, a Result dict out; never raises for a failing job (a job that cannot even
    be read is a "config" Result)."""
    from lwbench.errors import LwbenchError
    from lwbench.measure.protocol import Job, Result
    from lwbench.runtimes import get_runtime

    try:
        j = Job.from_dict(job)
    except (LwbenchError, TypeError, ValueError) as e:
        return {"job": None, "error": f"job: {e}", "error_kind": "config"}
    try:
        runtime = get_runtime(j.runtime)
    except LwbenchError as e:
        return Result.failed(j, str(e), "config").to_dict()
    return runtime.measure(j).to_dict()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m lwbench.measure.worker JOB.json RESULT.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    result = run_job(job)
    with open(argv[1], "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
