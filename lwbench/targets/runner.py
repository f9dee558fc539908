"""The runner lwbench ships to a remote target: `python lwbench_run.py info|measure|calibrate|graphs` (a JSON job
on stdin).

Nothing of lwbench is installed on a target. The host sends this module, a bootstrap script and the few
measurement modules it shares with the local path (lwbench/measure/timer.py, cpus.py, machine.py and
lwbench/errors.py, copied as they are: see lwbench.targets.bundle) into a per-run directory, plus the exported
model (TorchScript `.pt` for torch, `.onnx` for ONNX Runtime). So a remote row is timed by the very code that
times a local one (the same warm-up, auto-range, statistics, thread and pinning rules), and the machine block
is parsed by the same functions.

Module level: the standard library only. The runtime (torch or onnxruntime, with numpy) is imported inside
the step that needs it, after the cores are pinned and the thread environment is set: every `measure` is a
fresh process (one ssh command), like the local worker. `calibrate` (lwbench.predict.remotecal) times many
calibration probes in one process, as the local calibration worker times a probe group, and writes one
`@@lwbench-record@@{json}` line per probe as it finishes it, before its answer, so the host keeps every probe
timed before a lost link; `graphs` returns the graphs ORT optimises some models into (its NCHWc rule).

Output: one line `@@lwbench@@{json}` on stdout (anything a runtime prints stays apart from it). A failure is
a document with "error" (one line), "error_kind" and "step"; the process still exits 0 so the host can tell a
failing row from a lost connection.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import sys
import time
import traceback
from pathlib import Path

MARK = "@@lwbench@@"
HOW_TO_GET = {
    "onnxruntime": "pip install onnxruntime (with the target's python; on a Raspberry Pi: in a venv, "
                   "`python3 -m venv ~/lwb && ~/lwb/bin/pip install onnxruntime`, then ?python=~/lwb/bin/python)",
    "torch": "pip install torch (CPU wheel: --index-url https://download.pytorch.org/whl/cpu); aarch64 wheels "
             "are on PyPI",
    "numpy": "pip install numpy (onnxruntime needs it)",
}
MIN_PYTHON = (3, 9)
ORT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
              "all": "ORT_ENABLE_ALL"}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


# --- the target's hardware, from files under a root (tests pass a recorded board's tree) -------------------

def cpu_parts(cpuinfo: str) -> dict[int, str]:
    """{cpu: core name} from the 'processor' / 'CPU implementer' / 'CPU part' lines of /proc/cpuinfo."""
    from lwbench.measure.machine import ARM_PARTS

    out: dict[int, str] = {}
    for block in re.split(r"\n\s*\n", cpuinfo):
        num = re.search(r"^processor\s*:\s*(\d+)", block, re.M)
        part = re.search(r"^CPU part\s*:\s*(0x[0-9a-fA-F]+)", block, re.M)
        if not num or not part:
            continue
        impl = re.search(r"^CPU implementer\s*:\s*(0x[0-9a-fA-F]+)", block, re.M)
        i, p = int(impl.group(1), 16) if impl else 0x41, int(part.group(1), 16)
        out[int(num.group(1))] = ARM_PARTS.get((i, p), f"ARM {i:#04x}:{p:#05x}")
    return out


def clusters(root: str = "/") -> list[dict]:
    """The CPU clusters in the kernel's order: cores of one cpufreq policy (related_cpus) with equal core type and
    maximum frequency, with their min/max frequency (MHz), capacity, governor, and whether lwbench pins to them
    by default ("big": True/False on big.LITTLE, None otherwise)."""
    from lwbench.measure.cpus import format_cpu_list, read_topology

    sysfs = os.path.join(root, "sys")
    topo = read_topology(sysfs)
    parts = cpu_parts(_read(Path(root, "proc", "cpuinfo")) or "")
    base = Path(sysfs, "devices", "system", "cpu")
    big = set(topo.big) if topo.is_big_little else set()
    groups: dict[tuple, list[int]] = {}
    for c in topo.cpus:
        f = base / f"cpu{c}" / "cpufreq"
        key = (topo.max_freq_khz.get(c) or topo.capacity.get(c), parts.get(c), _read(f / "cpuinfo_min_freq"),
               _read(f / "scaling_governor"), _read(f / "related_cpus"))      # related_cpus: the cpufreq policy
        groups.setdefault(key, []).append(c)
    out = []
    for (_speed, part, fmin, gov, _policy), cpus in groups.items():
        khz = topo.max_freq_khz.get(cpus[0])
        out.append({"cpus": format_cpu_list(cpus), "count": len(cpus), "core": part,
                    "max_mhz": khz // 1000 if khz else None,
                    "min_mhz": int(fmin) // 1000 if fmin and fmin.isdigit() else None,
                    "capacity": topo.capacity.get(cpus[0]), "governor": gov,
                    "big": (cpus[0] in big) if topo.is_big_little else None})
    return out


def memory(root: str = "/") -> dict:
    """Total and available memory (GiB) from /proc/meminfo."""
    text = _read(Path(root, "proc", "meminfo")) or ""
    vals = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+) kB", text, re.M)}
    gib = 1024 * 1024
    return {"memory_gib": round(vals["MemTotal"] / gib, 2) if "MemTotal" in vals else None,
            "memory_available_gib": round(vals["MemAvailable"] / gib, 2) if "MemAvailable" in vals else None}


def os_release(root: str = "/") -> str | None:
    """PRETTY_NAME of /etc/os-release ('Debian GNU/Linux 12 (bookworm)')."""
    text = _read(Path(root, "etc", "os-release")) or _read(Path(root, "usr", "lib", "os-release")) or ""
    m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.M)
    return m.group(1).strip() if m else None


def board(root: str = "/") -> str | None:
    for p in (Path(root, "proc", "device-tree", "model"), Path(root, "sys", "firmware", "devicetree", "base", "model")):
        text = _read(p)
        if text:
            return text.replace("\x00", "").strip() or None
    return None


INT8_FLAGS = ("avx512_vnni", "avx_vnni", "avx_vnni_int8", "amx_int8")   # x86 int8 dot products (no saturation)


def cpu_flags(cpuinfo: str) -> set[str] | None:
    """The features in the first 'flags' line of /proc/cpuinfo (x86); None where it has none (ARM: 'Features')."""
    from lwbench.measure.machine import cpuinfo_features

    return cpuinfo_features(cpuinfo, ("flags",))


def int8_flags(cpuinfo: str) -> list[str] | None:
    """The x86 int8 dot-product features (VNNI, AMX) among them; None without a 'flags' line
    (lwbench.onnx.quant.reduce_range_rule then decides by arch)."""
    flags = cpu_flags(cpuinfo)
    return None if flags is None else sorted(flags & set(INT8_FLAGS))


def hardware(root: str = "/") -> dict:
    """What the files under `root` say about the board: CPU model and parts, clusters, topology (big/little),
    governor and frequencies, memory, OS; the part of the machine block that does not depend on the process."""
    from lwbench.measure.cpus import read_topology
    from lwbench.measure.machine import cpu_frequencies, cpu_model, isa_flags

    sysfs = os.path.join(root, "sys")
    cpuinfo = _read(Path(root, "proc", "cpuinfo")) or ""
    brd = board(root)
    return {"cpu_model": cpu_model(cpuinfo, brd), "board": brd, "clusters": clusters(root),
            "topology": read_topology(sysfs).describe(), **cpu_frequencies(sysfs), **memory(root),
            "os_release": os_release(root), "cpu_flags_int8": int8_flags(cpuinfo), "cpu_isa": isa_flags(cpuinfo)}


# --- the runtimes ----------------------------------------------------------------------------------------

def runtimes() -> dict:
    """{name: {"version": ...} or {"missing": why, "how": install line}} for onnxruntime, torch and numpy."""
    import importlib

    out: dict[str, dict] = {}
    for name in ("onnxruntime", "torch", "numpy"):
        try:
            mod = importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - ImportError, or a broken wheel raising anything
            out[name] = {"missing": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200],
                         "how": HOW_TO_GET[name]}
            continue
        info = {"version": getattr(mod, "__version__", None)}
        if name == "onnxruntime":
            info["providers"] = list(mod.get_available_providers())
        if name == "torch":
            info["threads"] = mod.get_num_threads()
        out[name] = info
    return out


def machine_block(with_torch: bool = False) -> dict:
    """The machine block of this target (as lwbench.measure.machine.machine_info makes it locally), with the
    hardware facts, the interpreter and the runtimes."""
    from lwbench.measure.machine import machine_info

    info = machine_info(with_torch=with_torch)
    info.update(hardware("/"))
    info.update({"python_executable": sys.executable, "command": None, "git_commit": None,
                 "load_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None})
    return info


def info_doc() -> dict:
    """`info`: the runtimes, the machine block (with torch's build facts and its GPU when torch is there), and a
    warning for a too-old Python."""
    rts = runtimes()
    doc = {"machine": machine_block(with_torch="version" in rts["torch"]), "runtimes": rts}
    if sys.version_info < MIN_PYTHON:
        doc["python_too_old"] = f"Python {platform.python_version()} < {'.'.join(map(str, MIN_PYTHON))}"
    return doc


# --- one measurement ------------------------------------------------------------------------------------

def placement(job: dict, topo) -> tuple[list[int] | None, int]:
    """(cores, threads) of a job on this target's topology: the job's cores (a list, or big/little/all), else the
    big cores on big.LITTLE (None elsewhere: the affinity is left as it is); the job's threads, else the physical
    cores of that set (TFLite's and ncnn's practice)."""
    from lwbench.measure.cpus import default_cores, default_threads, parse_cores

    spec = job.get("cores")
    cores = parse_cores(spec, topo) if isinstance(spec, str) else (list(spec) if spec else default_cores(topo))
    return cores, int(job.get("threads") or default_threads(topo, cores))


def _settle(job: dict) -> tuple[list[int] | None, int, str]:
    """Cores and threads (`placement`), pinned now, and the thread environment set before any runtime is
    imported."""
    from lwbench.measure.cpus import pin, read_topology

    cores, threads = placement(job, read_topology())
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    return cores, threads, pin(cores)


def _missing(name: str, e: BaseException) -> dict:
    return {"error": f"{name} is not installed for {sys.executable} ({type(e).__name__}: "
                     f"{str(e).splitlines()[0] if str(e) else ''}); {HOW_TO_GET[name]}"[:600],
            "error_kind": "config", "step": "import"}


def measure_torch(job: dict, path: str, threads: int, cfg) -> dict:
    """A TorchScript file: torch.jit.load, then lwbench.measure.timer.time_module in the job's mode (script:
    frozen), dtype and layout: exactly what a local `--mode script` row runs."""
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        return _missing("torch", e)
    from lwbench.measure.heap import keep_heap
    from lwbench.measure.timer import time_module

    heap = keep_heap()             # as the local torch worker does, before the model's memory is allocated
    model = torch.jit.load(path, map_location="cpu")
    x = torch.randn(*job["input_shape"])
    t = time_module(model, x, device="cpu", threads=threads, cfg=cfg, mode=job.get("mode", "script"),
                    layout=job.get("layout", "nchw"), dtype=job.get("dtype", "float32"))
    return {"timing": t.stats(), "samples_ms": t.samples_ms, "warmup_runs": t.warmup_runs,
            "cpu_share": t.extra.get("cpu_share"), "threads": t.extra.get("threads"),
            "interop_threads": t.extra.get("interop_threads"), "runtime_version": torch.__version__,
            "heap": heap, "minor_faults_per_run": t.extra.get("minor_faults_per_run")}


def ort_session(path: str, threads: int, options: dict, profile_prefix: str | None = None,
                optimized_path: str | None = None):
    """An InferenceSession on the CPU provider as lwbench.onnx.session makes one: intra-op `threads`, inter-op 1,
    sequential execution, the graph optimisation level of options['ort_opt'] (default all). `optimized_path`:
    ORT saves the graph it runs there, its weights in a side file (the graph alone comes back to the host)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_LEVELS[options.get("ort_opt", "all")])
    so.log_severity_level = 3   # as lwbench.onnx.session: ORT's expected "hardware specific ops" warning
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if optimized_path:
        so.optimized_model_filepath = optimized_path
        so.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                    os.path.basename(optimized_path) + ".data")
        so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "64")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def measure_ort(job: dict, path: str, threads: int, cfg) -> dict:
    """An .onnx file under ONNX Runtime, each sample one `session.run` of the whole batch, timed by
    lwbench.measure.timer.autorange (the rules of every local row)."""
    try:
        import numpy as np
        import onnxruntime as ort
    except Exception as e:  # noqa: BLE001
        return _missing("onnxruntime" if "numpy" not in str(e) else "numpy", e)
    from lwbench.measure.timer import autorange

    options = dict(job.get("options") or {})
    if options.get("ort_opt", "all") not in ORT_LEVELS:
        return {"error": f"ort_opt: expected one of {', '.join(ORT_LEVELS)}, got {options['ort_opt']}",
                "error_kind": "config", "step": "measure"}
    sess = ort_session(path, threads, options)
    name = sess.get_inputs()[0].name
    check = {}
    if job.get("check_input"):      # the host's seeded input: the output goes back to be compared with torch's
        import base64

        xin = np.fromfile(job["check_input"], dtype=np.float32).reshape(job["check_shape"])
        y = np.asarray(sess.run(None, {name: xin})[0], dtype=np.float32)
        check = {"check_output_b64": base64.b64encode(y.tobytes()).decode(), "check_output_shape": list(y.shape)}
    feeds = {name: np.random.default_rng(0).standard_normal(job["input_shape"], np.float32)}
    clock = time.perf_counter

    def run_once() -> float:
        t = clock()
        sess.run(None, feeds)
        return (clock() - t) * 1000.0

    c0, w0 = time.process_time(), clock()
    t = autorange(run_once, cfg)
    cpu_s, wall_s = time.process_time() - c0, clock() - w0
    return {"timing": t.stats(), "samples_ms": t.samples_ms, "warmup_runs": t.warmup_runs,
            "cpu_share": cpu_s / wall_s / max(1, threads) if wall_s > 0 else None, "threads": threads,
            "interop_threads": 1, "runtime_version": ort.__version__, "options": options,
            "ep": sess.get_providers()[0], **check}


def ort_node_profile(path: str, threads: int, options: dict, cfg, workdir: str) -> dict:
    """ONNX Runtime's own profiler (SessionOptions.enable_profiling) on a second session timed like the first
    (lwbench's warm-up and auto-range): its model_run and per-node kernel events (the host joins them to the
    layers as a local `profile --time --runtime onnxruntime` does), the profiled Timing, and the optimised graph
    ORT ran (base64; its weights stay on the target)."""
    import base64

    import numpy as np

    from lwbench.measure.timer import autorange

    opt = os.path.join(workdir, "ort-optimized.onnx")
    sess = ort_session(path, threads, options, os.path.join(workdir, "ort-profile"), opt)
    inp = sess.get_inputs()[0]
    feeds = {inp.name: np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in inp.shape], np.float32)}

    def run_once() -> float:
        t = time.perf_counter()
        sess.run(None, feeds)
        return (time.perf_counter() - t) * 1000.0

    t = autorange(run_once, cfg)
    with open(sess.end_profiling(), encoding="utf-8") as f:
        events = [e for e in json.load(f) if (e.get("cat") == "Session" and e.get("name") == "model_run")
                  or (e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time"))]
    with open(opt, "rb") as f:
        graph = base64.b64encode(f.read()).decode()
    return {"profiled": {**t.stats(), "samples_ms": t.samples_ms, "warmup_runs": t.warmup_runs},
            "ort_events": events, "optimized_graph_b64": graph}


def measure(job: dict, workdir: str) -> dict:
    """`measure`: pin, set threads, time the job's model with its runtime; the per-node profile when asked."""
    from lwbench.measure.timer import TimerConfig

    _, threads, mask = _settle(job)
    cfg = TimerConfig(**job.get("timer", {}))
    path = str(Path(workdir, job["model"]))
    if job.get("check_input"):
        job = {**job, "check_input": str(Path(workdir, job["check_input"]))}
    runtime = job.get("runtime", "torch")
    if runtime == "torch":
        res = measure_torch(job, path, threads, cfg)
    elif runtime == "onnxruntime":
        res = measure_ort(job, path, threads, cfg)
        if job.get("profile") and "error" not in res:
            res.update(ort_node_profile(path, threads, res.get("options", {}), cfg, workdir))
    else:
        return {"error": f"runtime {runtime}: this runner knows torch and onnxruntime", "error_kind": "config",
                "step": "measure"}
    res["cores"] = mask
    if "error" not in res:   # the machine block as it is now (governor, frequencies, load), runtime already loaded
        res["machine"] = machine_block(with_torch=runtime == "torch")
        if runtime == "onnxruntime":
            res["machine"]["onnxruntime"] = {"version": res.get("runtime_version")}
    return res


def _safe(fn, *args) -> dict:
    """Run a step; any failure becomes one error document (the host turns it into an error row)."""
    from lwbench.errors import LwbenchError

    try:
        return fn(*args)
    except LwbenchError as e:
        return {"error": str(e), "error_kind": "config", "step": fn.__name__}
    except Exception as e:  # noqa: BLE001 - a failing row is recorded, the sweep goes on
        from lwbench.measure.timer import failure_message, is_oom

        return {"error": failure_message(e, "the run", None, "cpu")[:600], "step": fn.__name__,
                "error_kind": "oom" if is_oom(e) else "run", "traceback": traceback.format_exc(limit=8)}


def _watch(job: dict) -> None:
    """Stop this runner when the host goes away (its stdin, held open by the host, reaches end-of-file: a lost
    link or a killed lwbench) or past the job's deadline, so no orphan measurement disturbs the next row."""
    import threading

    def on_eof() -> None:       # the raw descriptor: no buffered-reader lock held at interpreter exit
        while os.read(0, 65536):
            pass
        os._exit(3)

    threading.Thread(target=on_eof, daemon=True).start()
    deadline = int(job.get("deadline_s") or 0)
    if deadline > 0 and hasattr(signal, "alarm"):
        signal.alarm(deadline)          # SIGALRM's default action ends the process


def main(argv: list[str], workdir: str, steps: dict | None = None) -> int:
    """`argv`: info | measure (the job on stdin), or one of `steps` ({name: fn(job, workdir)}: the bootstrap
    passes lwbench.targets.calrunner.STEPS for calibrate and graphs); `workdir`: the per-run directory the
    bootstrap lives in."""
    steps = {"measure": measure, **(steps or {})}
    if not argv or argv[0] not in ("info", *steps):
        print(f"usage: python lwbench_run.py {' | '.join(('info', *steps))} < job.json", file=sys.stderr)
        return 2
    if argv[0] == "info":
        doc = _safe(info_doc)
    else:
        job = json.loads(sys.stdin.readline(1 << 26) or "{}")   # a calibration's job lists ~1,500 probes
        _watch(job)
        doc = _safe(steps[argv[0]], job, workdir)
    sys.stdout.write(MARK + json.dumps(doc, default=str) + "\n")
    sys.stdout.flush()
    return 0
