"""Latency measurement: warm-up by count and time, an auto-ranged measured phase, robust statistics.

The rules (DESIGN.md, "Timing"), after torch.utils.benchmark and TFLite's benchmark_model:

- the very first call is timed and reported apart (`first_run_ms`): it pays for allocation, oneDNN
  primitive creation, cuDNN autotuning, lazy initialisation; it is never folded into the statistics;
- warm-up runs until **both** `warmup_runs` calls and `warmup_s` seconds have passed (the first call
  counts as one of them);
- the measured phase runs until **both** `min_runs` samples and `min_time_s` seconds, and stops early at
  `max_time_s` or `max_runs` whatever else (at least one sample is always taken);
- one sample = one call of the whole batch; every raw sample is kept; the headline is the median, with
  mean, std, IQR, min, p90, p99, max; `noisy` when IQR / median > 10%;
- the minor page faults per measured call go into `extra["minor_faults_per_run"]` (lwbench.measure.heap:
  a heap trimmed after every call re-faults its activations on every call and reads slower, issue #18).

Statistics are pure Python; torch is imported only inside `time_module`. `time_callable` takes an
injectable clock (tests drive it with a fake clock), and an optional `sync` called after each run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from lwbench.errors import LwbenchError
from lwbench.vocab import CONTENDED_SHARE, NOISE_IQR_RATIO, TIMING_STATS  # noqa: F401 - re-exported

MODES = ("eager", "script", "compile")
DTYPES = ("float32", "bfloat16", "float16")  # what a built (float) network is timed in
LAYOUTS = ("nchw", "nhwc")
COMPILED_WARMUP_RUNS = 5   # script/compile: the profiling executor / guards settle over a few calls


@dataclass
class TimerConfig:
    """How long to warm up and to measure (seconds, counts). Defaults suit a 1-100 ms network."""

    warmup_runs: int = 2
    warmup_s: float = 0.5
    min_runs: int = 10
    min_time_s: float = 1.0
    max_time_s: float = 10.0
    max_runs: int = 10_000

    def __post_init__(self):
        from lwbench.errors import InputError

        for k in ("warmup_runs", "min_runs", "max_runs"):
            if int(getattr(self, k)) < (1 if k == "max_runs" else 0):
                raise InputError(f"timer: {k} must be a non-negative count, got {getattr(self, k)}")
        for k in ("warmup_s", "min_time_s", "max_time_s"):
            v = float(getattr(self, k))
            if not math.isfinite(v) or v < 0:
                raise InputError(f"timer: {k} must be a non-negative number of seconds, got {getattr(self, k)}")
        if self.max_time_s < self.min_time_s:
            raise InputError(f"--max-time ({self.max_time_s} s) must be at least --min-time ({self.min_time_s} s)")

    def to_dict(self) -> dict:
        return asdict(self)


def percentile(sorted_xs: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not sorted_xs:
        return math.nan
    pos = (len(sorted_xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


@dataclass
class Timing:
    """Raw samples (ms per call of the whole batch) and their statistics."""

    samples_ms: list[float]
    first_run_ms: float
    compile_s: float | None
    n: int
    median_ms: float
    mean_ms: float
    std_ms: float
    iqr_ms: float
    min_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    noisy: bool
    warmup_runs: int = 0
    extra: dict = field(default_factory=dict)

    def images_per_s(self, batch: int) -> float:
        return batch * 1000.0 / self.median_ms if self.median_ms > 0 else math.nan

    def batches_per_s(self) -> float:
        return 1000.0 / self.median_ms if self.median_ms > 0 else math.nan

    def stats(self) -> dict:
        """The flat statistics columns of a result row (no raw samples)."""
        return {k: getattr(self, k) for k in TIMING_STATS}


def stats_from_samples(samples_ms: Sequence[float], first_run_ms: float = math.nan,
                       compile_s: float | None = None, warmup_runs: int = 0) -> Timing:
    """Statistics of raw per-call samples. std is the sample standard deviation (n − 1); IQR = p75 − p25."""
    xs = [float(x) for x in samples_ms]
    if not xs:
        raise ValueError("stats_from_samples: no samples")
    s = sorted(xs)
    n = len(s)
    mean = sum(s) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in s) / (n - 1)) if n > 1 else 0.0
    median = percentile(s, 50)
    iqr = percentile(s, 75) - percentile(s, 25)
    return Timing(samples_ms=xs, first_run_ms=float(first_run_ms), compile_s=compile_s, n=n, median_ms=median,
                  mean_ms=mean, std_ms=std, iqr_ms=iqr, min_ms=s[0], p90_ms=percentile(s, 90),
                  p99_ms=percentile(s, 99), max_ms=s[-1], noisy=bool(median > 0 and iqr / median > NOISE_IQR_RATIO),
                  warmup_runs=warmup_runs)


def minor_faults() -> int | None:
    """Minor page faults of this process so far (None where the OS does not count them)."""
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
    except (ImportError, OSError, AttributeError):
        return None


def autorange(run_once: Callable[[], float], cfg: TimerConfig, clock: Callable[[], float] = time.perf_counter,
              compile_s: float | None = None, min_warmup_runs: int = 0) -> Timing:
    """Drive `run_once() -> ms` through first run, warm-up and the measured phase; `clock` (seconds) bounds
    the phases. The first run counts towards the warm-up."""
    t0 = clock()
    first_ms = run_once()
    warm = 1
    need_warm = max(cfg.warmup_runs, min_warmup_runs)
    while warm < need_warm or clock() - t0 < cfg.warmup_s:
        run_once()
        warm += 1
    samples: list[float] = []
    f1 = minor_faults()
    t1 = clock()
    while True:
        samples.append(run_once())
        elapsed = clock() - t1
        n = len(samples)
        if n >= cfg.max_runs or elapsed >= cfg.max_time_s:
            break
        if n >= cfg.min_runs and elapsed >= cfg.min_time_s:
            break
    f2 = minor_faults()
    t = stats_from_samples(samples, first_ms, compile_s, warmup_runs=warm)
    if f1 is not None and f2 is not None:   # > 0 in steady state: the allocator returns memory every call
        t.extra["minor_faults_per_run"] = round((f2 - f1) / len(samples), 1)
    return t


def time_callable(fn: Callable[[], object], cfg: TimerConfig | None = None,
                  clock: Callable[[], float] = time.perf_counter, sync: Callable[[], object] | None = None) -> Timing:
    """Time `fn()` with `clock` (seconds): each sample is one call followed by `sync()` when given."""
    cfg = cfg or TimerConfig()

    def run_once() -> float:
        t = clock()
        fn()
        if sync is not None:
            sync()
        return (clock() - t) * 1000.0

    return autorange(run_once, cfg, clock)


# --- failures of the model --------------------------------------------------------------------------------

class ModelRunError(LwbenchError):
    """The model could not run at this batch/device (out of memory, a kernel or shape failure at run time):
    one line naming what failed, where, and what to try."""


_OOM_MARKS = ("out of memory", "can't allocate memory", "not enough memory", "cannot allocate memory")


def is_oom(e: BaseException) -> bool:
    """True for torch's and Python's out-of-memory errors (CPU allocator, CUDA caching allocator)."""
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or \
        any(m in str(e).lower() for m in _OOM_MARKS)


def _first_line(e: BaseException) -> str:
    """The informative line of a torch error (its first line without the C++ '[enforce fail at …]' prefix)."""
    import re

    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    line = lines[0] if lines else type(e).__name__
    return re.sub(r"^\[enforce fail at [^\]]*\]\s*(err == 0\.\s*|data\.\s*)?", "", line)[:300]


def failure_message(e: BaseException, what: str, batch: int | None, device: str) -> str:
    """'WHAT at batch B on DEVICE: out of memory (…); try …' - one line for a failing model run."""
    at = f"{what} at batch {batch} on {device}" if batch is not None else f"{what} on {device}"
    if is_oom(e):
        hint = ("try a smaller --batch" + (" or another GPU (CUDA_VISIBLE_DEVICES)" if str(device).startswith("cuda")
                                           else ""))
        return f"{at}: out of memory ({_first_line(e)}); {hint}"
    return (f"{at}: the model failed at run time: {type(e).__name__}: {_first_line(e)} "
            "(LWBENCH_DEBUG=1 shows the traceback)")


def run_failure(e: BaseException, what: str, batch: int | None, device: str) -> ModelRunError:
    return ModelRunError(failure_message(e, what, batch, device))


# --- torch ---------------------------------------------------------------------------------------------

def set_threads(threads: int | None) -> dict:
    """torch intra-op threads = `threads`, inter-op threads = 1 (only settable before any parallel work:
    in a fresh worker process it always is). Returns what is in effect, to echo in the row."""
    import torch

    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already started in this process (--in-process): keep what is there, it is echoed below
    return threads_in_effect()


def threads_in_effect() -> dict:
    import torch

    return {"threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads()}


def check_device(device: str) -> None:
    """InputError unless `device` can run here (cuda without a GPU is the common case)."""
    from lwbench.errors import InputError, suggest

    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"--device: expected cpu or cuda{suggest(device, ('cpu', 'cuda'))}, got {device}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            why = ("this torch is a CPU-only build" if torch.version.cuda is None
                   else "no CUDA GPU is visible (driver, CUDA_VISIBLE_DEVICES?)")
            raise InputError(f"--device {device}: CUDA is not available: {why} (torch {torch.__version__})")


def check_mode_layout(mode: str, layout: str) -> None:
    from lwbench.errors import InputError, suggest

    if mode not in MODES:
        raise InputError(f"--mode: expected one of {', '.join(MODES)}{suggest(mode, MODES)}, got {mode}")
    if layout not in LAYOUTS:
        raise InputError(f"--layout: expected one of {', '.join(LAYOUTS)}{suggest(layout, LAYOUTS)}, got {layout}")


def check_dtype(dtype: str) -> None:
    """InputError unless a built (float) network can be timed in `dtype`."""
    from lwbench.errors import InputError, suggest

    if dtype == "int8":
        raise InputError("--dtype int8: timing int8 needs a quantised model (torch.ao.quantization), which lwbench "
                         f"does not build; time in {', '.join(DTYPES)}, or count int8 bytes with `lwbench profile "
                         "--dtype int8` (no --time)")
    if dtype not in DTYPES:
        raise InputError(f"--dtype: expected one of {', '.join(DTYPES)}{suggest(dtype, DTYPES)}, got {dtype}")


def cast(model, x, device: str = "cpu", dtype: str = "float32", layout: str = "nchw"):
    """(model, x) on `device`, in `dtype` (parameters, buffers and the input; integer inputs stay integers) and
    `layout`: the one place a network is put into the precision and memory format it is timed in."""
    import torch

    check_dtype(dtype)
    td = getattr(torch, dtype)
    fmt = torch.channels_last if layout == "nhwc" else torch.contiguous_format
    model = model.eval().to(device=device, dtype=td, memory_format=fmt)
    x = x.to(device=device, dtype=td if x.is_floating_point() else None,
             memory_format=fmt if x.dim() == 4 else torch.contiguous_format)
    return model, x


def torchscript(model, x):
    """TorchScript of `model` (eval mode): torch.jit.script, else torch.jit.trace on `x` where the network cannot be
    scripted (the variadic Add/Concat modules take *xs, which TorchScript cannot compile). These networks have no
    data-dependent control flow, so the traced graph runs the same ops. A ScriptModule (a loaded .pt file, as on
    a remote target) is returned as it is. The one TorchScript path of local `--mode script` and of export."""
    import warnings

    import torch

    if isinstance(model, torch.jit.ScriptModule):
        return model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return torch.jit.script(model)
        except Exception:  # noqa: BLE001 - NotSupportedError / RuntimeError: not scriptable, trace it
            return torch.jit.trace(model, x, check_trace=False)


def prepare(model, example_input, device: str = "cpu", mode: str = "eager", layout: str = "nchw",
            dtype: str = "float32"):
    """(callable, input, prep_s): the model moved to `device`/`dtype`/`layout`, in eval mode, scripted (and
    frozen) or torch.compile'd. Returns the time spent preparing (script/freeze; compile is lazy, paid at first
    call)."""
    import torch

    check_mode_layout(mode, layout)
    check_device(device)
    model, x = cast(model, example_input, device, dtype, layout)
    t0 = time.perf_counter()
    if mode == "script":
        import warnings

        with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript; measuring it is still the point
            warnings.simplefilter("ignore", DeprecationWarning)
            model = torch.jit.freeze(torchscript(model, x))
    elif mode == "compile":
        model = torch.compile(model)
    return model, x, time.perf_counter() - t0


def cuda_sampler(fn, x, cuda) -> Callable[[], float]:
    """One CUDA sample: start.record(); fn(x); end.record(); end.synchronize(); ms = start.elapsed_time(end).
    The GPU time between the two events, so host launch overhead not hidden by the queue is included but
    the clock never stops before the kernels finish. `cuda`: the torch.cuda module (a fake in tests)."""
    start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)

    def run_once() -> float:
        start.record()
        fn(x)
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end))

    return run_once


def time_module(model, example_input, device: str = "cpu", threads: int | None = None,
                cfg: TimerConfig | None = None, mode: str = "eager", layout: str = "nchw",
                dtype: str = "float32") -> Timing:
    """Latency of `model(example_input)` (one sample = one forward of the whole batch).

    Eval mode under torch.inference_mode(); the input is made once, outside the loop. Threads: intra-op
    `threads`, inter-op 1. CUDA: cudnn.benchmark on (the warm-up runs the autotuner), each sample timed by
    CUDA events around the call and `synchronize()`d, the phases bounded by the host clock.
    script/compile: `compile_s` = preparation plus the first (compiling/profiling) call, and `first_run_ms`
    is the call after it; warm-up is then at least 5 calls. eager: `compile_s` is None. `dtype`: float32,
    bfloat16 or float16, the precision of the parameters and the input (no autocast: every op runs in it).
    """
    import torch

    cfg = cfg or TimerConfig()
    check_mode_layout(mode, layout)
    check_dtype(dtype)
    check_device(device)
    set_threads(threads)
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cudnn.benchmark = True
    with torch.inference_mode():
        fn, x, prep_s = prepare(model, example_input, device, mode, layout, dtype)
        compile_s = None
        if mode != "eager":
            t0 = time.perf_counter()
            fn(x)
            if cuda:
                torch.cuda.synchronize(device)
            compile_s = prep_s + time.perf_counter() - t0
        if cuda:
            torch.cuda.synchronize(device)
            run_once = cuda_sampler(fn, x, torch.cuda)
        else:
            clock = time.perf_counter

            def run_once() -> float:
                t = clock()
                fn(x)
                return (clock() - t) * 1000.0

        c0, w0 = time.process_time(), time.perf_counter()
        t = autorange(run_once, cfg, compile_s=compile_s,
                      min_warmup_runs=COMPILED_WARMUP_RUNS if mode != "eager" else 0)
        cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
    t.extra.update(threads_in_effect())
    # CPU time the process got per thread over warm-up + measurement: well below 1 means other load took
    # the cores (on CUDA it mostly measures the host waiting, so it is only meaningful on CPU)
    t.extra["cpu_share"] = cpu_s / wall_s / max(1, t.extra["threads"]) if wall_s > 0 else None
    return t
