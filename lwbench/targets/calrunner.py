"""The target-side steps of `lwbench calibrate --target` (lwbench.predict.remotecal), shipped beside
lwbench.targets.runner (which dispatches `lwbench_run.py calibrate|graphs` here): the standard library only at
module level; onnxruntime and numpy imported inside the steps.

  calibrate  time many calibration probes in this one process, a `RECORD` line on stdout per probe as soon as
             it is done (the host keeps each at once: a lost link loses no finished probe)
  graphs     the graphs ORT optimises some models into (the host reads ORT's NCHWc rule from them)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from lwbench.targets.runner import ORT_LEVELS, _missing, _settle, machine_block, ort_session

RECORD = "@@lwbench-record@@"     # one line per timed probe, written as it is done (the host keeps each at once)


def _emit(doc: dict) -> None:
    sys.stdout.write(RECORD + json.dumps(doc, default=str) + "\n")
    sys.stdout.flush()


def calibrate_probes(job: dict, workdir: str) -> dict:
    """`calibrate`: time many calibration probes (.onnx files shipped by lwbench.predict.remotecal) in this one
    process, as a local ORT calibration worker times a probe group: each run on the seeded input the host
    computed torch's output on (lwbench.onnx.ortcore.check_input, made here, not sent), timed and profiled by
    lwbench.onnx.ortcore.time_probe, its record made by lwbench.measure.cleantime.record with a sample of its
    output for the host's check, and written on stdout (`RECORD` line) as soon as it is done; then the probes
    whose process had less than `retry_share` of its CPU (and no clean median), once more, up to `max_retries`.
    No probe starts after `budget_s`. The answer: how many records, and the machine block."""
    try:
        import numpy  # noqa: F401
        import onnxruntime as ort
    except Exception as e:  # noqa: BLE001
        return _missing("onnxruntime" if "numpy" not in str(e) else "numpy", e)
    from lwbench.measure.cleantime import record
    from lwbench.measure.timer import TimerConfig
    from lwbench.onnx.ortcore import check_input, time_probe

    _, threads, mask = _settle(job)
    options = dict(job.get("options") or {})
    if options.get("ort_opt", "all") not in ORT_LEVELS:
        return {"error": f"ort_opt: expected one of {', '.join(ORT_LEVELS)}, got {options['ort_opt']}",
                "error_kind": "config", "step": "calibrate"}
    cfg = TimerConfig(**job.get("timer", {}))
    t0, budget = time.monotonic(), float(job.get("budget_s") or 1e9)
    ops, extra = list(job.get("layout_ops") or ()), dict(job.get("extra") or {})

    def timed(p: dict) -> dict:
        path = str(Path(workdir, p["model"]))
        try:
            x = check_input(p["input_shape"], int(job.get("seed", 1234)))
            sess = ort_session(path, threads, options)
            t, clean = time_probe(sess, x, None, "cpu", threads, cfg,
                                  lambda prefix: ort_session(path, threads, options, prefix), ops)
            rec = {**record(p["id"], p["group"], t, t.extra.get("cpu_share"), clean), **extra}
        except Exception as e:  # noqa: BLE001 - one failing probe is recorded, the others go on
            rec = {"id": p["id"], "group": p["group"], "error": f"{type(e).__name__}: {e}"[:300]}
        _emit(rec)
        return rec

    done, retry, stopped = 0, [], None
    for p in job.get("probes") or []:
        if time.monotonic() - t0 > budget:
            stopped = "budget"
            break
        rec = timed(p)
        done += 1
        if (rec.get("cpu_share") or 1.0) < float(job.get("retry_share", 0.85)) and rec.get("clean_median_ms") is None:
            retry.append(p)
    for p in retry[: int(job.get("max_retries") or 0)]:     # once more; the host keeps the better record
        if stopped or time.monotonic() - t0 > budget:
            stopped = "budget"
            break
        timed(p)
        done += 1
    machine = machine_block()
    machine["onnxruntime"] = {"version": ort.__version__}
    return {"records": done, "stopped": stopped, "cores": mask, "threads": threads, "runtime_version": ort.__version__,
            "machine": machine}


def optimized_graphs(job: dict, workdir: str) -> dict:
    """`graphs`: the graph ONNX Runtime optimises each of `models` into at `options.ort_opt` (base64, its weights
    left in a side file here): the host reads ORT's NCHWc rule from them (lwbench.predict.layout.detect_rules)."""
    try:
        import numpy  # noqa: F401
        import onnxruntime as ort
    except Exception as e:  # noqa: BLE001
        return _missing("onnxruntime" if "numpy" not in str(e) else "numpy", e)
    import base64
    import tempfile

    _settle({**job, "threads": 1})
    out = {}
    with tempfile.TemporaryDirectory(prefix="opt-", dir=workdir) as d:
        for i, m in enumerate(job.get("models") or []):
            opt = os.path.join(d, f"g{i}.onnx")
            ort_session(str(Path(workdir, m["model"])), 1, dict(job.get("options") or {}), optimized_path=opt)
            with open(opt, "rb") as f:
                out[m["key"]] = base64.b64encode(f.read()).decode()
    return {"graphs": out, "runtime_version": ort.__version__}


def calibrate(job: dict, workdir: str) -> dict:
    return calibrate_probes(job, workdir)


def graphs(job: dict, workdir: str) -> dict:
    return optimized_graphs(job, workdir)


STEPS = {"calibrate": calibrate, "graphs": graphs}      # runner.main's extra steps (the bootstrap passes them)
