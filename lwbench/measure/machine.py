"""The machine block: what a latency figure means nothing without.

Every CSV result carries it as a leading `# machine: {json}` line and every JSON result as a "machine" key.
Fields that cannot be read on this machine (no cpufreq in a VM, no GPU) are null, never guessed.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from lwbench.measure.cpus import allowed_cpus, format_cpu_list, read_topology, sysfs_root


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


# ARM MIDR (implementer, part) -> core name, for boards whose /proc/cpuinfo names no model (Raspberry Pi,
# Jetson, Rockchip, phones). From the Arm, Qualcomm and NVIDIA part numbers that Linux
# (arch/arm64/include/asm/cputype.h) and util-linux's lscpu (sys-utils/lscpu-arm.c) list.
ARM_PARTS: dict[tuple[int, int], str] = {
    **{(0x41, p): n for p, n in {
        0xc05: "Cortex-A5", 0xc07: "Cortex-A7", 0xc08: "Cortex-A8", 0xc09: "Cortex-A9", 0xc0d: "Cortex-A17",
        0xc0e: "Cortex-A17", 0xc0f: "Cortex-A15", 0xd01: "Cortex-A32", 0xd02: "Cortex-A34", 0xd03: "Cortex-A53",
        0xd04: "Cortex-A35", 0xd05: "Cortex-A55", 0xd06: "Cortex-A65", 0xd07: "Cortex-A57", 0xd08: "Cortex-A72",
        0xd09: "Cortex-A73", 0xd0a: "Cortex-A75", 0xd0b: "Cortex-A76", 0xd0c: "Neoverse-N1", 0xd0d: "Cortex-A77",
        0xd0e: "Cortex-A76AE", 0xd40: "Neoverse-V1", 0xd41: "Cortex-A78", 0xd42: "Cortex-A78AE", 0xd44: "Cortex-X1",
        0xd46: "Cortex-A510", 0xd47: "Cortex-A710", 0xd48: "Cortex-X2", 0xd49: "Neoverse-N2", 0xd4b: "Cortex-A78C",
        0xd4d: "Cortex-A715", 0xd4e: "Cortex-X3", 0xd4f: "Neoverse-V2", 0xd80: "Cortex-A520", 0xd81: "Cortex-A720",
        0xd82: "Cortex-X4"}.items()},
    **{(0x51, p): n for p, n in {
        0x00f: "Scorpion", 0x02d: "Scorpion", 0x04d: "Krait", 0x06f: "Krait", 0x201: "Kryo", 0x205: "Kryo",
        0x211: "Kryo", 0x800: "Kryo 2xx Gold", 0x801: "Kryo 2xx Silver", 0x802: "Kryo 3xx Gold",
        0x803: "Kryo 3xx Silver", 0x804: "Kryo 4xx Gold", 0x805: "Kryo 4xx Silver", 0xc00: "Falkor"}.items()},
    (0x4e, 0x000): "Denver", (0x4e, 0x003): "Denver 2", (0x4e, 0x004): "Carmel",
}
_GENERIC_MODEL = re.compile(r"^(ARMv\d+\S*|AArch64)\s+Processor\b", re.I)   # 'ARMv8 Processor rev 1' names nothing


def arm_cores(cpuinfo: str) -> str | None:
    """'4× Cortex-A72', or for big.LITTLE '4× Cortex-A53 + 2× Cortex-A72' (order of first appearance), from
    the 'CPU implementer' / 'CPU part' lines of each processor; unknown parts as 'ARM 0x41:0xd99'."""
    counts: dict[str, int] = {}
    for block in re.split(r"\n\s*\n", cpuinfo):
        impl = re.search(r"^CPU implementer\s*:\s*(0x[0-9a-fA-F]+)", block, re.M)
        part = re.search(r"^CPU part\s*:\s*(0x[0-9a-fA-F]+)", block, re.M)
        if not part:
            continue
        i, p = int(impl.group(1), 16) if impl else 0x41, int(part.group(1), 16)
        name = ARM_PARTS.get((i, p), f"ARM {i:#04x}:{p:#05x}")
        counts[name] = counts.get(name, 0) + 1
    return " + ".join(f"{n}× {name}" for name, n in counts.items()) or None


def board_model() -> str | None:
    """The board from the device tree ('Raspberry Pi 4 Model B Rev 1.4', 'NVIDIA Jetson Nano Developer Kit')."""
    for p in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        text = _read(Path(p))
        if text:
            return text.replace("\x00", "").strip() or None
    return None


def cpu_model(cpuinfo: str | None = None, board: str | None = None) -> str | None:
    """The CPU, from /proc/cpuinfo (`cpuinfo`: its text, for tests).

    x86: 'model name'. ARM: the board ('Model' line or the device tree) and the cores named from their
    part numbers: 'Raspberry Pi 4 Model B Rev 1.1 (4× Cortex-A72)', 'NVIDIA Jetson Nano Developer Kit
    (4× Cortex-A57)', 'Qualcomm Technologies, Inc SM8150 (4× Kryo 4xx Silver + 4× Kryo 4xx Gold)'. A generic
    'ARMv8 Processor rev 1' model name is ignored. `board`: the device-tree model (read when None)."""
    text = (_read(Path("/proc/cpuinfo")) or "") if cpuinfo is None else cpuinfo
    if board is None and cpuinfo is None:
        board = board_model()

    def key(k: str) -> str | None:
        m = re.search(rf"^{k}\s*:\s*(.+)$", text, re.M)
        return m.group(1).strip() if m and m.group(1).strip() else None

    name = key("model name") or key("cpu model") or key("Processor")
    cores = arm_cores(text)
    if name and not (cores and _GENERIC_MODEL.match(name)):
        return name
    if cores:
        where = key("Model") or board or key("Hardware")
        return f"{where} ({cores})" if where else cores
    if name:
        return name
    if sys.platform == "darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    return key("Hardware") or platform.processor() or None


def cpu_frequencies(root: str | None = None) -> dict:
    """Governor and current/max frequency (MHz) per core where cpufreq is readable."""
    topo = read_topology(root)
    base = Path(sysfs_root(root)) / "devices" / "system" / "cpu"
    governors: dict[str, list[int]] = {}
    cur: dict[int, int] = {}
    for c in topo.cpus:
        g = _read(base / f"cpu{c}" / "cpufreq" / "scaling_governor")
        if g:
            governors.setdefault(g, []).append(c)
        f = _read(base / f"cpu{c}" / "cpufreq" / "scaling_cur_freq")
        if f and f.isdigit():
            cur[c] = int(f) // 1000
    out = {
        "governor": ({g: format_cpu_list(cs) for g, cs in governors.items()} if len(governors) > 1
                     else next(iter(governors), None)),
        "cur_freq_mhz": {str(c): v for c, v in cur.items()} or None,
        "max_freq_mhz": {str(c): v // 1000 for c, v in topo.max_freq_khz.items()} or None,
    }
    return out


def gpu_info() -> dict | None:
    """Name, capability, memory, CUDA/cuDNN versions and driver of the first CUDA GPU, if torch sees one."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    p = torch.cuda.get_device_properties(0)
    info = {"name": p.name, "count": torch.cuda.device_count(), "capability": f"{p.major}.{p.minor}",
            "memory_gib": round(p.total_memory / 2**30, 1), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "driver": None}
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=10)
        info["driver"] = r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else None
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    if info["driver"] is None:
        info["driver"] = _read(Path("/proc/driver/nvidia/version"))
    return info


def torch_info() -> dict | None:
    """torch version and the essentials of torch.__config__.parallel_info(): threads, OpenMP, MKL, oneDNN."""
    try:
        import torch
    except ImportError:
        return None
    text = torch.__config__.parallel_info()

    def grab(pattern: str) -> str | None:
        m = re.search(pattern, text, re.M)
        return m.group(1).strip() if m else None

    return {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "parallel_backend": grab(r"^ATen parallel backend:\s*(.+)$"),
        "openmp": grab(r"^(OpenMP [^\n]*)$"),
        "mkl": grab(r"^(Intel\(R\) (?:oneAPI )?Math Kernel Library[^\n]*?)(?: for |$)"),
        "onednn": grab(r"^(Intel\(R\) MKL-DNN [^\n]*?|oneDNN [^\n]*?)(?: \(Git|$)"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "mkl_num_threads": os.environ.get("MKL_NUM_THREADS"),
    }


def git_commit() -> str | None:
    """The commit of the checkout lwbench runs from (with '-dirty' when it has local changes), else None."""
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if r.returncode != 0:
            return None
        sha = r.stdout.strip()
        d = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", str(here.parent)],
                           cwd=here, capture_output=True, text=True, timeout=10)
        return sha + ("-dirty" if d.returncode == 0 and d.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def command_line(argv: list[str] | None = None) -> str | None:
    """The command as a user would retype it: 'lwbench bench mobilenet_v1 --threads 1', also when started as
    `python -m lwbench` (argv[0] is then .../lwbench/__main__.py) or through the `lwbench` script."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return None
    prog = Path(argv[0])
    if prog.name == "__main__.py":
        prog_name = "lwbench" if prog.parent.name == "lwbench" else f"python -m {prog.parent.name}"
    elif prog.stem == "lwbench" or prog.name == "-m":
        prog_name = "lwbench"
    else:
        prog_name = shlex.quote(prog.name)
    return " ".join([prog_name, *(shlex.quote(a) for a in argv[1:])])


# the vector features a kernel library dispatches on (x86 'flags', ARM 'Features'): two CPUs that share a model
# string ("AMD EPYC" on two VMs, one AVX2, one AVX-512 with VNNI) run different kernels at different speeds
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "asimd", "asimddp", "asimdhp",
                "i8mm", "bf16", "sve", "sve2")


def cpuinfo_features(cpuinfo: str, keys: tuple[str, ...] = ("flags",)) -> set[str] | None:
    """The words of the first line of /proc/cpuinfo's text whose key is one of `keys` (x86 'flags', ARM
    'Features'); None without such a line."""
    m = re.search(rf"^(?:{'|'.join(keys)})\s*:(.*)$", cpuinfo, re.M)
    return None if m is None else set(m.group(1).split())


def isa_flags(cpuinfo: str) -> list[str] | None:
    """The vector features (VECTOR_FLAGS) in the first 'flags' (x86) or 'Features' (ARM) line of /proc/cpuinfo;
    None without either line."""
    got = cpuinfo_features(cpuinfo, ("flags", "Features"))
    return None if got is None else sorted(got & set(VECTOR_FLAGS))


def cpu_isa() -> list[str] | None:
    """The CPU's vector features from /proc/cpuinfo (`isa_flags`); None where it cannot be read."""
    text = _read(Path("/proc/cpuinfo"))
    return None if text is None else isa_flags(text)


def machine_info(with_torch: bool = True, sysfs: str | None = None) -> dict:
    """The machine block (a flat-ish dict, JSON-serialisable). `sysfs`: see cpus.sysfs_root."""
    from lwbench.version import __version__

    topo = read_topology(sysfs)
    allowed = allowed_cpus()
    info = {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_isa": cpu_isa(),
        "arch": platform.machine(),
        "cores_logical": os.cpu_count(),
        "cores_physical": topo.physical_cores(),
        "affinity": format_cpu_list(allowed) if allowed is not None else None,
        "topology": topo.describe(),
        **cpu_frequencies(sysfs),
        "gpu": gpu_info() if with_torch else None,
        "torch": torch_info() if with_torch else None,
        "lwbench": __version__,
        "git_commit": git_commit(),
        "command": command_line(),
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return info
