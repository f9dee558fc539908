"""CPU topology for benchmarking: big.LITTLE clusters, `--cores` sets, pinning, default thread counts.

ARM phones and boards (Snapdragon, Exynos, Rockchip, Jetson's Carmel excepted) mix fast "big" and slow
"LITTLE" cores. A latency measured with threads spread over both clusters is dominated by the slow cores
and varies with the scheduler, so (as ncnn and TFLite's benchmark_model do) lwbench detects the clusters
from each core's maximum frequency (`cpu*/cpufreq/cpuinfo_max_freq`, kHz; `cpu_capacity` when there is no
cpufreq), pins to the big cores and defaults the thread count to their number.

Big cores are those whose maximum frequency is at least the midpoint between the slowest and the fastest
core's maximum (ncnn's rule), so a prime + big + LITTLE phone (3.0/2.4/1.8 GHz) counts prime and big as
big. When every core has the same maximum, the machine is not big.LITTLE and all cores are "big".

Everything reads under a configurable sysfs root, so tests run on a fake `/sys` tree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lwbench.errors import InputError

SYSFS = "/sys"


def sysfs_root(root: str | os.PathLike | None = None) -> str:
    """`root`, else $LWBENCH_SYSFS (a fake tree for tests and dry runs), else /sys."""
    return str(root) if root is not None else os.environ.get("LWBENCH_SYSFS", SYSFS)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def parse_cpu_list(text: str) -> list[int]:
    """The kernel's cpu-list syntax ('0-3,6,8-9') -> sorted unique ints. ValueError when malformed."""
    out: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(part)
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(part)
        out.update(range(lo, hi + 1))
    return sorted(out)


def format_cpu_list(cpus) -> str:
    """[0, 1, 2, 3, 6] -> '0-3,6' (the kernel's syntax, also what `taskset -c` takes)."""
    cs = sorted(set(cpus))
    parts, i = [], 0
    while i < len(cs):
        j = i
        while j + 1 < len(cs) and cs[j + 1] == cs[j] + 1:
            j += 1
        parts.append(str(cs[i]) if i == j else f"{cs[i]}-{cs[j]}")
        i = j + 1
    return ",".join(parts)


@dataclass
class Topology:
    """What sysfs says about the CPUs (only what could be read)."""

    cpus: list[int]                                     # online cores
    max_freq_khz: dict[int, int] = field(default_factory=dict)
    capacity: dict[int, int] = field(default_factory=dict)
    core_key: dict[int, tuple[str, str]] = field(default_factory=dict)   # (package, core id) for SMT siblings

    def _speed(self) -> dict[int, int]:
        if self.max_freq_khz and set(self.max_freq_khz) >= set(self.cpus):
            return self.max_freq_khz
        if self.capacity and set(self.capacity) >= set(self.cpus):
            return self.capacity
        return {}

    @property
    def big(self) -> list[int]:
        speed = self._speed()
        if not speed:
            return list(self.cpus)
        vals = [speed[c] for c in self.cpus]
        mid = (min(vals) + max(vals)) / 2
        return [c for c in self.cpus if speed[c] >= mid]

    @property
    def little(self) -> list[int]:
        big = set(self.big)
        return [c for c in self.cpus if c not in big]

    @property
    def is_big_little(self) -> bool:
        return bool(self.little)

    def physical_cores(self, cpus=None) -> int:
        """Distinct physical cores among `cpus` (SMT siblings counted once), torch's default thread count."""
        cs = list(self.cpus if cpus is None else cpus)
        keys = {self.core_key.get(c, (str(c), "")) for c in cs}
        return len(keys) or len(cs)

    def describe(self) -> dict:
        d = {"online": format_cpu_list(self.cpus), "big_little": self.is_big_little}
        if self.is_big_little:
            d["big"] = format_cpu_list(self.big)
            d["little"] = format_cpu_list(self.little)
        if self.max_freq_khz:
            d["max_freq_mhz"] = {format_cpu_list(cs): khz // 1000 for khz, cs in _by_value(self.max_freq_khz).items()}
        return d


def _by_value(d: dict[int, int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for k, v in sorted(d.items()):
        out.setdefault(v, []).append(k)
    return out


def read_topology(root: str | os.PathLike | None = None) -> Topology:
    """Online cores with their maximum frequency / capacity and physical core ids, from `root`/devices/system/cpu
    (root: see `sysfs_root`)."""
    base = Path(sysfs_root(root)) / "devices" / "system" / "cpu"
    online = _read(base / "online")
    cpus: list[int] = []
    if online:
        try:
            cpus = parse_cpu_list(online)
        except ValueError:
            cpus = []
    if not cpus:
        cpus = sorted(int(p.name[3:]) for p in base.glob("cpu[0-9]*") if p.name[3:].isdigit())
    if not cpus:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    topo = Topology(cpus=cpus)
    for c in cpus:
        d = base / f"cpu{c}"
        f = _read(d / "cpufreq" / "cpuinfo_max_freq")
        if f and f.isdigit():
            topo.max_freq_khz[c] = int(f)
        cap = _read(d / "cpu_capacity")
        if cap and cap.isdigit():
            topo.capacity[c] = int(cap)
        core, pkg = _read(d / "topology" / "core_id"), _read(d / "topology" / "physical_package_id")
        if core is not None:
            topo.core_key[c] = (pkg or "0", core)
    return topo


def allowed_cpus() -> list[int] | None:
    """The cores this process may run on (None where the OS cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return None


def parse_cores(spec: str | None, topo: Topology | None = None) -> list[int] | None:
    """`--cores big|little|all|LIST` -> a sorted core list (None: spec is None, leave affinity alone).

    LIST is the kernel's syntax: '4-7', '0,2', '0-1,4'. Cores must be online."""
    if spec is None:
        return None
    topo = topo or read_topology()
    s = spec.strip().lower()
    if s == "all":
        return list(topo.cpus)
    if s == "big":
        return topo.big
    if s == "little":
        if not topo.is_big_little:
            raise InputError(f"--cores little: this machine is not big.LITTLE (cores {format_cpu_list(topo.cpus)} show "
                             "no difference in maximum frequency under /sys); use all or a list")
        return topo.little
    try:
        cores = parse_cpu_list(s)
    except ValueError:
        raise InputError(f"--cores: expected big, little, all or a list like 4-7 or 0,2, got {spec}") from None
    if not cores:
        raise InputError(f"--cores: expected big, little, all or a list like 4-7 or 0,2, got {spec!r}")
    missing = [c for c in cores if c not in topo.cpus]
    if missing:
        raise InputError(f"--cores {spec}: core {format_cpu_list(missing)} is not online "
                         f"(online: {format_cpu_list(topo.cpus)})")
    return cores


def default_cores(topo: Topology | None = None) -> list[int] | None:
    """big.LITTLE: the big cores (pin there by default). Otherwise None (leave the affinity as it is)."""
    topo = topo or read_topology()
    return topo.big if topo.is_big_little else None


def default_threads(topo: Topology | None = None, cores: list[int] | None = None) -> int:
    """Threads when --threads is not given: the physical cores of the chosen set; on big.LITTLE without
    --cores, the number of big cores (TFLite/ncnn's practice)."""
    topo = topo or read_topology()
    if cores is None:
        cores = default_cores(topo)
    if cores is None:
        allowed = allowed_cpus()
        cores = [c for c in topo.cpus if allowed is None or c in allowed] or topo.cpus
    return max(1, topo.physical_cores(cores))


def pin(cores: list[int] | None) -> str:
    """Pin this process (and the threads it starts afterwards) to `cores`; returns the mask in effect."""
    if cores:
        if not hasattr(os, "sched_setaffinity"):
            raise InputError("--cores: this OS cannot pin threads (no sched_setaffinity)")
        try:
            os.sched_setaffinity(0, cores)
        except OSError as e:
            raise InputError(f"--cores {format_cpu_list(cores)}: cannot pin ({e.strerror}); "
                             f"allowed: {format_cpu_list(allowed_cpus() or [])}") from None
    got = allowed_cpus()
    return format_cpu_list(got) if got is not None else ""
