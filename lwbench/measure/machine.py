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


def cpu_model() -> str | None:
    """'Intel(R) Xeon(R) ...' from /proc/cpuinfo (x86 'model name', ARM 'Hardware'/'Model'/CPU part)."""
    text = _read(Path("/proc/cpuinfo")) or ""
    for key in ("model name", "Hardware", "Model", "cpu model", "Processor"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", text, re.M)
        if m and m.group(1).strip():
            return m.group(1).strip()
    parts = sorted(set(re.findall(r"^CPU part\s*:\s*(\S+)", text, re.M)))
    if parts:
        return "ARM CPU part " + "/".join(parts)
    if sys.platform == "darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or None


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


def machine_info(with_torch: bool = True, sysfs: str | None = None) -> dict:
    """The machine block (a flat-ish dict, JSON-serialisable). `sysfs`: see cpus.sysfs_root."""
    from lwbench import __version__

    topo = read_topology(sysfs)
    allowed = allowed_cpus()
    info = {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
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
        "command": " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else None,
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return info
