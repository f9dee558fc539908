"""The ONNX Runtime runtime: the network built by lwbench.build, written to ONNX by lwbench's IR emitter (cached,
lwbench.onnx.export), int8 by static QDQ quantization, checked against torch, timed by lwbench.measure.timer.
A torch factory (`module:...`, the sweep's factory networks) is written by torch.onnx.export instead.

Options (Job.options): `ort_opt` = disable | basic | extended | all (default all), ORT's graph optimisation
level. Sessions: intra-op threads = job.threads, inter-op 1, sequential execution; pinned as torch rows are
(the worker pins before the session starts its threads). dtype float32 or int8; mode eager (the torch modes do
not apply); layout nchw (ORT picks its own blocked layouts: they show as ReorderInput/ReorderOutput nodes).
"""

from __future__ import annotations

from lwbench.errors import InputError, suggest
from lwbench.measure.protocol import MODULE, Job, Result

OPTIONS = {"ort_opt": ("disable", "basic", "extended", "all")}
DTYPES = ("float32", "int8")


def options_of(job: Job) -> dict:
    opts = dict(job.options)
    for k, v in opts.items():
        if k not in OPTIONS:
            raise InputError(f"runtime onnxruntime: unknown option {k}{suggest(k, OPTIONS)}; expected "
                             f"{', '.join(OPTIONS)}")
        if v not in OPTIONS[k]:
            raise InputError(f"--ort-opt: expected one of {', '.join(OPTIONS[k])}{suggest(v, OPTIONS[k])}, got {v}")
    return {"ort_opt": opts.get("ort_opt", "all")}


def check(job: Job, device: bool | None = None) -> None:
    from lwbench.onnx.session import providers, require_ort
    from lwbench.runtimes.torch_rt import check_factory

    require_ort()
    options_of(job)
    check_factory(job)
    if job.dtype not in DTYPES:
        raise InputError(f"--dtype {job.dtype} --runtime onnxruntime: expected {' or '.join(DTYPES)} "
                         "(int8: static QDQ quantization)")
    if job.mode != "eager":
        raise InputError(f"--mode {job.mode} --runtime onnxruntime: the torch modes (script, compile) do not apply; "
                         "ONNX Runtime rows use --mode eager (its graph optimisation is --ort-opt)")
    if job.layout != "nchw":
        raise InputError("--layout nhwc --runtime onnxruntime: the ONNX graph is NCHW; ORT picks its own blocked "
                         "layouts (ReorderInput/ReorderOutput nodes in `profile --time`)")
    if job.target == "local" if device is None else device:
        providers(job.device)


def info() -> dict:
    from lwbench.onnx.emit import OPSET
    from lwbench.onnx.export import EMITTER
    from lwbench.onnx.quant import INT8_TOLERANCE, settings
    from lwbench.onnx.run import FP32_TOLERANCE
    from lwbench.onnx.session import info as ort_info

    return {**ort_info(), "opset": OPSET, "exporter": EMITTER, "execution": "sequential, inter-op threads 1",
            "int8_quantization": settings(),
            "tolerance": {"float32": f"rel_err <= {FP32_TOLERANCE:g}", "int8": f"l2_rel_err <= {INT8_TOLERANCE:g}"}}


def measure(job: Job) -> Result:
    """Never raises for a failing job: LwbenchError -> "config", out of memory -> "oom", else "run"."""
    from lwbench.runtimes import measure_guarded

    return measure_guarded(job, _measure)


def prepare(job: Job):
    """(net, session, input, facts): exported (cached), loaded, checked against torch. `facts` go in the row."""
    from lwbench.build import build
    from lwbench.onnx.export import export_onnx, read_meta
    from lwbench.onnx.run import check_outputs, lively, reference
    from lwbench.onnx.session import session
    from lwbench.spec import load

    check(job, device=True)
    opts = options_of(job)
    if job.net.startswith(MODULE):          # a torch factory: torch.onnx.export of the module it returns
        net, (path, x, ref) = None, _factory_export(job)
    else:
        net = load(job.net, job.width, job.resolution)
        model = lively(build(net), net)
        path = export_onnx(net, job.batch, dtype=job.dtype, model=model)
        x, ref = reference(net, job.batch, model)
    sess = session(path, job.device, job.threads, opts["ort_opt"])
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    meta = read_meta(path)
    facts = {**info(), **opts, "ep": sess.get_providers()[0], "onnx_file": str(path),
             "onnx_sha256": meta.get("sha256"), **check_outputs(y, ref, job.dtype)}
    if job.dtype == "int8":
        facts["quantization"] = meta.get("quantization")
    return net, sess, x, facts


def _factory_export(job: Job):
    """(onnx path, input, torch's output) of a `module:` job: the module exported by torch.onnx.export (cached by
    its class, structure and weights), checked on the very input it is timed with."""
    import torch

    from lwbench.onnx.export import export_onnx
    from lwbench.runtimes.torch_rt import factory_case

    model, x = factory_case(job)
    path = export_onnx(model, job.batch, dtype=job.dtype, input_shape=tuple(x.shape[1:]))
    with torch.inference_mode():
        ref = model(x)
    return path, x.numpy(), ref.numpy()


def _measure(job: Job, mask: str | None) -> Result:
    from lwbench.measure.timer import TimerConfig
    from lwbench.onnx.run import time_session

    net, sess, x, facts = prepare(job)
    if not facts["valid"]:
        msg = (f"onnxruntime output differs from torch's ({facts['why']}; max abs err {facts['max_abs_err']}): "
               "the row is invalid, its latency is not reported")
        return Result(job=job, error=msg, error_kind="run", extra=facts, cores=mask)
    t = time_session(sess, x, job.device, TimerConfig(**job.timer), job.threads)
    return Result(job=job, timing=t.stats(), samples_ms=t.samples_ms, warmup_runs=t.warmup_runs,
                  cpu_share=t.extra.get("cpu_share"), threads=job.threads, interop_threads=1, cores=mask,
                  extra={**facts, "minor_faults_per_run": t.extra.get("minor_faults_per_run")})
