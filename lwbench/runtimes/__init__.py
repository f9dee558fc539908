"""Runtimes: what executes a network inside the worker process (torch today; ONNX Runtime, ...).

A runtime is a module with three functions:

    check(job: Job) -> None      # in the parent, before anything runs: raise LwbenchError (one line) when this
                                 # runtime cannot run the job (dtype, mode, layout, options; the device only
                                 # when job.target == "local": a remote target's devices are not visible here)
    measure(job: Job) -> Result  # in the worker: build, time with lwbench.measure.timer, return the Result;
                                 # never raises for a failing job (Result.failed(job, msg, kind))
    info() -> dict               # versions for the machine block, e.g. {"torch": "2.13.0"}

Register one by adding `name: "module.path"` to RUNTIMES (the module is imported only when a job uses it, so
`lwbench --help` stays free of torch and onnxruntime). A runtime whose package is missing raises ImportError
on import; get_runtime turns that into one line naming what to install (INSTALL_HINTS).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from lwbench.errors import InputError, suggest

RUNTIMES: dict[str, str] = {
    "torch": "lwbench.runtimes.torch_rt",
    "onnxruntime": "lwbench.runtimes.ort",
}
INSTALL_HINTS: dict[str, str] = {"onnxruntime": "pip install 'lwbench[onnx]'"}   # runtime name -> how to get its package, e.g. "pip install onnxruntime"


def runtime_names() -> list[str]:
    return list(RUNTIMES)


def check_runtime_name(name: str, option: str = "--runtime") -> str:
    """`name` if it is a registered runtime, else one line naming the registered ones."""
    if name not in RUNTIMES:
        raise InputError(f"{option} {name}: unknown runtime; expected one of {', '.join(RUNTIMES)}"
                         f"{suggest(name, RUNTIMES)}")
    return name


def get_runtime(name: str) -> ModuleType:
    """The runtime module registered as `name` (imported now); unknown or not installed: InputError, one line."""
    check_runtime_name(name, "runtime")
    try:
        return importlib.import_module(RUNTIMES[name])
    except ImportError as e:
        hint = INSTALL_HINTS.get(name, f"install the package it needs ({e.name})")
        raise InputError(f"runtime {name}: not available here ({e}); {hint}") from None


def runtime_info(names) -> dict:
    """{runtime: info()} of the runtimes other than torch (whose versions the machine block has already), for the
    machine block of a result; a runtime that cannot be imported here is left out (its rows say why)."""
    out = {}
    for name in sorted(set(names) - {"torch"}):
        try:
            out[name] = get_runtime(name).info()
        except InputError:
            continue
    return out


def measure_guarded(job, timed, cleanup=None):
    """A runtime's `measure`: pin to the job's cores (before the runtime starts its threads), then
    `timed(job, mask) -> Result`. Never raises for a failing job: an LwbenchError is a "config" Result, out of
    memory "oom", anything else "run" with a traceback; `cleanup()` runs in every case."""
    import traceback

    from lwbench.errors import LwbenchError
    from lwbench.measure.cpus import pin
    from lwbench.measure.protocol import Result
    from lwbench.measure.timer import failure_message, is_oom

    try:
        mask = pin(list(job.cores) if job.cores is not None else None)
        return timed(job, mask)
    except LwbenchError as e:
        return Result.failed(job, str(e), "config")
    except Exception as e:  # noqa: BLE001 - a failing row is recorded, the sweep goes on
        return Result.failed(job, failure_message(e, "the run", job.batch, str(job.device))[:500],
                             "oom" if is_oom(e) else "run", traceback.format_exc(limit=8))
    finally:
        if cleanup is not None:
            cleanup()
