"""CPU topology on fake /sys trees: big.LITTLE detection, --cores parsing, default threads, pinning."""

from __future__ import annotations

import os

import pytest

from lwbench.errors import InputError
from lwbench.measure.cpus import default_threads, format_cpu_list, parse_cores, parse_cpu_list, pin, read_topology


def fake_sys(root, max_khz: dict[int, int] | None = None, capacity: dict[int, int] | None = None,
             online: str | None = None, smt_pairs: bool = False, governor: str | None = None):
    """A minimal /sys/devices/system/cpu tree."""
    cpus = sorted(max_khz or capacity)
    base = root / "devices" / "system" / "cpu"
    base.mkdir(parents=True)
    (base / "online").write_text((online or format_cpu_list(cpus)) + "\n")
    for c in cpus:
        d = base / f"cpu{c}"
        (d / "topology").mkdir(parents=True)
        (d / "topology" / "core_id").write_text(f"{c // 2 if smt_pairs else c}\n")
        (d / "topology" / "physical_package_id").write_text("0\n")
        if max_khz:
            (d / "cpufreq").mkdir()
            (d / "cpufreq" / "cpuinfo_max_freq").write_text(f"{max_khz[c]}\n")
            (d / "cpufreq" / "scaling_cur_freq").write_text(f"{max_khz[c] // 2}\n")
            if governor:
                (d / "cpufreq" / "scaling_governor").write_text(governor + "\n")
        if capacity:
            (d / "cpu_capacity").write_text(f"{capacity[c]}\n")
    return root


def test_big_little_4_plus_4(tmp_path):
    root = fake_sys(tmp_path, {**{c: 1_800_000 for c in range(4)}, **{c: 2_400_000 for c in range(4, 8)}})
    topo = read_topology(root)
    assert topo.cpus == list(range(8)) and topo.is_big_little
    assert topo.big == [4, 5, 6, 7] and topo.little == [0, 1, 2, 3]
    assert default_threads(topo) == 4                                   # threads default to the big cores
    assert parse_cores("big", topo) == [4, 5, 6, 7] and parse_cores("little", topo) == [0, 1, 2, 3]
    assert topo.describe()["big"] == "4-7" and topo.describe()["max_freq_mhz"] == {"0-3": 1800, "4-7": 2400}


def test_prime_big_little_counts_prime_as_big(tmp_path):
    # Snapdragon 8-style: 4 × 1.8 GHz, 3 × 2.4 GHz, 1 × 3.0 GHz; midpoint 2.4 GHz (ncnn's rule)
    freqs = {**{c: 1_800_000 for c in range(4)}, **{c: 2_400_000 for c in range(4, 7)}, 7: 3_000_000}
    topo = read_topology(fake_sys(tmp_path, freqs))
    assert topo.big == [4, 5, 6, 7] and topo.little == [0, 1, 2, 3]


def test_big_little_from_cpu_capacity_without_cpufreq(tmp_path):
    topo = read_topology(fake_sys(tmp_path, capacity={0: 446, 1: 446, 2: 1024, 3: 1024}))
    assert topo.big == [2, 3] and topo.little == [0, 1]


def test_homogeneous_machine_is_not_big_little(tmp_path):
    topo = read_topology(fake_sys(tmp_path, {c: 3_000_000 for c in range(4)}, smt_pairs=True))
    assert not topo.is_big_little and topo.big == [0, 1, 2, 3] and topo.little == []
    assert topo.physical_cores() == 2                                    # SMT siblings share a core id
    assert parse_cores("all", topo) == [0, 1, 2, 3]
    with pytest.raises(InputError, match="not big.LITTLE"):
        parse_cores("little", topo)


def test_offline_cores_are_skipped(tmp_path):
    freqs = {**{c: 1_800_000 for c in range(4)}, **{c: 2_400_000 for c in range(4, 8)}}
    topo = read_topology(fake_sys(tmp_path, freqs, online="0-5"))
    assert topo.cpus == list(range(6)) and topo.big == [4, 5]
    with pytest.raises(InputError, match="not online"):
        parse_cores("6-7", topo)


def test_cores_lists(tmp_path):
    topo = read_topology(fake_sys(tmp_path, {c: 2_000_000 for c in range(8)}))
    assert parse_cores("4-7", topo) == [4, 5, 6, 7]
    assert parse_cores("0,2", topo) == [0, 2]
    assert parse_cores(" 0-1,6 ", topo) == [0, 1, 6]
    assert parse_cores(None, topo) is None
    for bad in ("fast", "3-1", "1-", "a,b", ","):
        with pytest.raises(InputError, match="--cores"):
            parse_cores(bad, topo)
    assert default_threads(topo, [0, 2]) == 2


def test_cpu_list_round_trip():
    for text in ("0", "0-3", "0-3,6", "1,3,5", "0-1,4-7,9"):
        assert format_cpu_list(parse_cpu_list(text)) == text
    assert parse_cpu_list("7,0-2,1") == [0, 1, 2, 7]
    with pytest.raises(ValueError):
        parse_cpu_list("x")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no affinity API on this OS")
def test_pin_records_the_mask():
    before = sorted(os.sched_getaffinity(0))
    try:
        assert pin([before[0]]) == str(before[0])
        assert sorted(os.sched_getaffinity(0)) == [before[0]]
    finally:
        os.sched_setaffinity(0, before)
    assert pin(None) == format_cpu_list(before)


def test_machine_block(tmp_path):
    import re

    import torch

    from lwbench import __version__
    from lwbench.measure.machine import machine_info

    root = fake_sys(tmp_path, {**{c: 1_800_000 for c in range(4)}, **{c: 2_400_000 for c in range(4, 8)}},
                    governor="schedutil")
    m = machine_info(sysfs=str(root))
    for key in ("cpu_model", "arch", "cores_logical", "cores_physical", "affinity", "topology", "governor",
                "cur_freq_mhz", "max_freq_mhz", "gpu", "torch", "lwbench", "git_commit", "command", "date_utc"):
        assert key in m, key
    assert m["governor"] == "schedutil"
    assert m["max_freq_mhz"] == {**{str(c): 1800 for c in range(4)}, **{str(c): 2400 for c in range(4, 8)}}
    assert m["cur_freq_mhz"]["7"] == 1200
    assert m["topology"]["big"] == "4-7" and m["topology"]["little"] == "0-3"
    assert m["lwbench"] == __version__
    assert m["torch"]["version"] == torch.__version__ and m["torch"]["threads"] >= 1
    assert m["torch"]["parallel_backend"]                        # parsed from torch.__config__.parallel_info()
    assert m["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", m["git_commit"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["date_utc"])
    assert (m["gpu"] is None) == (not torch.cuda.is_available())
