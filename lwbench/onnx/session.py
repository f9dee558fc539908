"""ONNX Runtime sessions as lwbench times them: intra-op threads = --threads, inter-op 1, sequential execution,
graph optimisation level --ort-opt, the CPU or CUDA execution provider. onnxruntime is imported inside
functions only (the CLI starts without it)."""

from __future__ import annotations

from lwbench.errors import InputError, suggest

OPT_LEVELS = ("disable", "basic", "extended", "all")
EXTRA_HINT = "pip install 'lwbench[onnx]'"


def require_ort():
    """The onnxruntime module, or one line naming the extra to install."""
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError as e:
        raise InputError(f"--runtime onnxruntime needs the onnx extra: {EXTRA_HINT} ({e.name} is not installed)") \
            from None
    return onnxruntime


def check_opt(level: str) -> str:
    if level not in OPT_LEVELS:
        raise InputError(f"--ort-opt: expected one of {', '.join(OPT_LEVELS)}{suggest(level, OPT_LEVELS)}, "
                         f"got {level}")
    return level


def providers(device: str) -> list[str]:
    """['CPUExecutionProvider'] on cpu; CUDA first on cuda, or one line why it cannot run there."""
    ort = require_ort()
    avail = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if not str(device).startswith("cuda"):
        raise InputError(f"--device: expected cpu or cuda, got {device}")
    if "CUDAExecutionProvider" not in avail:
        raise InputError(f"--device {device} --runtime onnxruntime: this onnxruntime {ort.__version__} has no "
                         f"CUDAExecutionProvider (available: {', '.join(avail)}); install onnxruntime-gpu and run "
                         "on a machine with an NVIDIA GPU")
    dev_id = int(device.split(":", 1)[1]) if ":" in device else 0
    return [("CUDAExecutionProvider", {"device_id": dev_id}), "CPUExecutionProvider"]


def options(threads: int | None, opt: str = "all", profile_prefix: str | None = None,
            optimized_path: str | None = None):
    ort = require_ort()
    so = ort.SessionOptions()
    if threads is not None:
        so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[check_opt(opt)]
    so.log_severity_level = 3   # the "optimized model may contain hardware specific ops" warning is expected
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if optimized_path:
        so.optimized_model_filepath = optimized_path
    return so


def session(path: str, device: str = "cpu", threads: int | None = None, opt: str = "all",
            profile_prefix: str | None = None, optimized_path: str | None = None):
    ort = require_ort()
    sess = ort.InferenceSession(str(path), options(threads, opt, profile_prefix, optimized_path),
                                providers=providers(device))
    check_ep(device, sess.get_providers(), ort.__version__)
    return sess


def check_ep(device: str, used: list[str], version: str = "") -> None:
    """InputError (one line) when a CUDA session does not run on CUDA: onnxruntime-gpu lists its
    CUDAExecutionProvider even where it cannot start it (no NVIDIA driver or device, CUDA or cuDNN libraries
    missing) and then falls back to the CPU with a log line, so its timings would be CPU timings labelled cuda."""
    if str(device).startswith("cuda") and (not used or used[0] != "CUDAExecutionProvider"):
        raise InputError(f"--device {device} --runtime onnxruntime: onnxruntime {version} could not start its "
                         f"CUDAExecutionProvider here and fell back to {', '.join(used) or 'nothing'} (no NVIDIA "
                         "device or driver, or the CUDA/cuDNN libraries it was built for are missing); nothing was "
                         "timed")


def info() -> dict:
    """onnx / onnxruntime versions and execution providers, for the machine block (empty when not installed)."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        return {}
    return {"onnxruntime": ort.__version__, "onnx": onnx.__version__,
            "providers_available": ort.get_available_providers(), "ort_device": ort.get_device()}
