"""The torch runtime: the network built by lwbench.build, timed by lwbench.measure.timer in eager,
TorchScript (frozen) or torch.compile mode, NCHW or channels-last, float32/bfloat16/float16."""

from __future__ import annotations

from lwbench.errors import InputError
from lwbench.measure.protocol import MODULE, Job, Result


def check(job: Job, device: bool | None = None) -> None:
    """Mode, layout, dtype, options; the device too when `device` (default: when the job's target is local)."""
    from lwbench.measure.timer import check_device, check_dtype, check_mode_layout

    check_mode_layout(job.mode, job.layout)
    check_dtype(job.dtype)
    check_factory(job)
    if job.options:
        raise InputError(f"runtime torch: takes no options, got {', '.join(k for k, _ in job.options)}")
    if job.target == "local" if device is None else device:
        check_device(job.device)


def info() -> dict:
    import torch

    return {"torch": torch.__version__}


def measure(job: Job) -> Result:
    """Pin (before torch starts its threads), check, set threads, load, build, time. Never raises for a failing
    job: an LwbenchError is a "config" Result, out of memory "oom", anything else "run" with a traceback."""
    from lwbench.runtimes import measure_guarded

    return measure_guarded(job, _time, _free_cuda)


def _time(job: Job, mask: str | None) -> Result:
    import torch

    from lwbench.measure.heap import keep_heap
    from lwbench.measure.timer import TimerConfig, set_threads, time_module

    check(job, device=True)            # in the worker the device is always this machine's
    set_threads(job.threads)
    heap = keep_heap()                 # before the model's memory is allocated (lwbench.measure.heap)
    model, x = _model_input(job)
    t = time_module(model, x, device=job.device, threads=job.threads, cfg=TimerConfig(**job.timer),
                    mode=job.mode, layout=job.layout, dtype=job.dtype)
    return Result(job=job, timing=t.stats(), samples_ms=t.samples_ms, warmup_runs=t.warmup_runs,
                  cpu_share=t.extra.get("cpu_share"), threads=t.extra.get("threads"),
                  interop_threads=t.extra.get("interop_threads"), cores=mask,
                  extra={"torch": torch.__version__, "heap": heap,
                         "minor_faults_per_run": t.extra.get("minor_faults_per_run")})


def _model_input(job: Job):
    """(model, input): a zoo or YAML network built by lwbench.build (seed 0) with its example input; a torch factory
    (`module:package.module:factory` or `module:/path/file.py:factory`) as factory_case makes it."""
    if job.net.startswith(MODULE):
        return factory_case(job)
    from lwbench.build import build, example_input
    from lwbench.spec import load

    net = load(job.net, job.width, job.resolution)
    return build(net), example_input(net, job.batch)


def _free_cuda() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        pass


def check_factory(job: Job) -> None:
    """A torch factory job takes no width multiplier (every runtime that times factories asks this)."""
    if job.net.startswith(MODULE) and job.width is not None:
        raise InputError(f"{job.net}: a torch factory has no width multiplier (its own arguments build its variants)")


def factory_case(job: Job):
    """(module, input) of a torch factory job: the factory called after seeding 0, in eval mode; the input batch x
    3 x R x R with R = job.resolution (224 when none), as the sweep counts it. torch and onnxruntime time the same."""
    import torch

    from lwbench.measure.torchcount.userload import load_factory

    torch.manual_seed(0)
    r = job.resolution or 224
    return load_factory(job.net[len(MODULE):]).eval(), torch.randn(job.batch, 3, r, r)
