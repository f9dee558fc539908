"""Which jobs of a cross product over several runtimes anyone asked for (`lwbench bench` and `lwbench sweep`).

`--runtime torch,onnxruntime --mode eager,compile --dtype float32,int8` (or a grid with those dimensions) is a
cross product: torch int8 and onnxruntime compile are in it, but int8 is ORT's and compile is torch's. Such a
job is dropped, said in one line and counted, instead of becoming an error row; a value no runtime of the
sweep takes is still an error row (someone asked for it).
"""

from __future__ import annotations

RUNTIME_AXES = (("mode", "--mode", "eager"), ("dtype", "--dtype", "float32"), ("layout", "--layout", "nchw"))


def applicable(jobs: list) -> tuple[list, dict[str, int]]:
    """The jobs of a sweep over several runtimes without the combinations the cross product makes but no one asked
    for: a job is dropped (no row, no error) when one of its runtime axes (--mode, --dtype, --layout) has a value
    its runtime does not take while another runtime of the sweep does - `--runtime torch,onnxruntime --mode
    eager,compile --dtype float32,int8` runs torch eager/compile float32 and onnxruntime float32/int8, not torch
    int8 (int8 is ORT's) nor onnxruntime compile (compile is torch's). A value no runtime of the sweep takes, or
    any other refusal (no CUDA, a bad option), is still a row with its error. Returns (kept, {what: count})."""
    from dataclasses import replace

    from lwbench.measure.jobs import check_job

    runtimes = list(dict.fromkeys(j.runtime for j in jobs))
    if len(runtimes) < 2:
        return list(jobs), {}
    memo: dict = {}

    def takes(job, runtime: str, axis: str) -> bool:     # `runtime` runs job's value of `axis`, the rest default
        key = (runtime, axis, getattr(job, axis), job.device, job.target)
        if key not in memo:
            base = {a: d for a, _, d in RUNTIME_AXES}
            probe = replace(job, runtime=runtime, options=() if runtime != job.runtime else job.options,
                            **{**base, axis: getattr(job, axis)})
            memo[key] = check_job(probe) is None
        return memo[key]

    kept, skipped = [], {}
    for j in jobs:
        why = next((f"{j.runtime} {opt} {getattr(j, axis)}" for axis, opt, _ in RUNTIME_AXES
                    if not takes(j, j.runtime, axis) and any(takes(j, r, axis) for r in runtimes if r != j.runtime)),
                   None)
        if why:
            skipped[why] = skipped.get(why, 0) + 1
        else:
            kept.append(j)
    return kept, skipped
