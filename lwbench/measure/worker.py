"""Measure one benchmark configuration; `python -m lwbench.measure.worker JOB.json RESULT.json`.

`lwbench bench` starts this module in a fresh process for every configuration (network × device × mode ×
layout × dtype × threads × batch), because a process carries state that changes the next measurement:

- thread pools: `torch.set_num_interop_threads` works only once per process, and OpenMP/oneDNN keep the
  pool (and its affinity) of the first parallel region;
- allocator and caches: the CPU caching allocator, oneDNN's primitive cache, cuDNN's autotuner choices,
  TorchScript's profiling executor and torch.compile's caches all carry over from the previous network;
- pinning: `--cores` must be applied before torch starts its threads.

`--in-process` runs the same function in the parent instead (faster, for quick looks and tests; thread
settings are still applied per row but the inter-op pool and caches are shared).
"""

from __future__ import annotations

import json
import sys
import traceback


def run_job(job: dict) -> dict:
    """job: net, width, resolution, device, mode, layout, dtype (default float32), threads, batch, cores (list or
    None), timer (dict).
    Returns {"timing": stats, "samples_ms": [...], "threads": n, "interop_threads": n, "cores": mask,
    "cpu_share": process CPU time / (wall time × threads) while timing} or {"error": "..."}; never raises for a
    failing configuration. A cpu_share well below 1 on CPU means other processes took the cores."""
    from lwbench.errors import LwbenchError
    from lwbench.measure.cpus import pin
    from lwbench.measure.timer import failure_message, is_oom

    try:
        mask = pin(job.get("cores"))
        import torch

        from lwbench.build import build, example_input
        from lwbench.measure.timer import (
            TimerConfig,
            check_device,
            check_dtype,
            check_mode_layout,
            set_threads,
            time_module,
        )
        from lwbench.spec import load

        check_mode_layout(job["mode"], job["layout"])
        check_dtype(job.get("dtype", "float32"))
        check_device(job["device"])
        set_threads(job.get("threads"))
        net = load(job["net"], job.get("width"), job.get("resolution"))
        model = build(net)
        x = example_input(net, int(job["batch"]))
        t = time_module(model, x, device=job["device"], threads=job.get("threads"),
                        cfg=TimerConfig(**job.get("timer", {})), mode=job["mode"], layout=job["layout"],
                        dtype=job.get("dtype", "float32"))
        return {"timing": t.stats(), "samples_ms": t.samples_ms, "warmup_runs": t.warmup_runs,
                "cpu_share": t.extra.get("cpu_share"),
                "threads": t.extra.get("threads"), "interop_threads": t.extra.get("interop_threads"),
                "cores": mask, "torch": torch.__version__}
    except LwbenchError as e:
        return {"error": str(e)}
    except Exception as e:  # noqa: BLE001 - a failing row is recorded, the sweep goes on
        return {"error": failure_message(e, "the run", job.get("batch"), str(job.get("device")))[:500],
                "oom": is_oom(e), "traceback": traceback.format_exc(limit=8)}
    finally:
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001
            pass


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
