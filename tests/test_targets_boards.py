"""The runner's machine block and big.LITTLE choice against recorded /proc and /sys trees of real boards
(tests/data/boards/, sources in its README): the parsing the target runs is the parsing tested here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

BOARDS = Path(__file__).parent / "data" / "boards"

# board: (cpu_model, big cores or None (not big.LITTLE), default threads, clusters as (cpus, core, min, max, gov))
EXPECT = {
    "rpi4b": ("Raspberry Pi 4 Model B Rev 1.1 (4× Cortex-A72)", None, 4,
              [("0-3", "Cortex-A72", 600, 1500, "ondemand")]),
    "rpi5b": ("Raspberry Pi 5 Model B Rev 1.0 (4× Cortex-A76)", None, 4,
              [("0-3", "Cortex-A76", 1000, 2400, "ondemand")]),
    "rk3399-rockpi4c": ("Radxa ROCK Pi 4C (4× Cortex-A53 + 2× Cortex-A72)", [4, 5], 2,
                        [("0-3", "Cortex-A53", 408, 1416, "performance"),
                         ("4-5", "Cortex-A72", 408, 1800, "performance")]),
    "rk3588-rock5b": ("Radxa ROCK 5B (4× Cortex-A55 + 4× Cortex-A76)", [4, 5, 6, 7], 4,
                      [("0-3", "Cortex-A55", 408, 1800, "ondemand"), ("4-5", "Cortex-A76", 408, 2400, "ondemand"),
                       ("6-7", "Cortex-A76", 408, 2400, "ondemand")]),
    # Snapdragon 8 Gen 2 (util-linux's dump): 3 LITTLE 2.0 GHz, 4 mid 2.8 GHz, 1 prime 3.2 GHz; ncnn's midpoint
    # rule (2.6 GHz) makes mid + prime the big set
    "sm8550-a510-a710-a715-x3": ("3× Cortex-A510 + 2× Cortex-A715 + 2× Cortex-A710 + 1× Cortex-X3",
                                 [3, 4, 5, 6, 7], 5,
                                 [("0-2", "Cortex-A510", 307, 2016, "walt"), ("3-4", "Cortex-A715", 499, 2803, "walt"),
                                  ("5-6", "Cortex-A710", 499, 2803, "walt"), ("7", "Cortex-X3", 595, 3187, "walt")]),
}


@pytest.mark.parametrize("board", sorted(EXPECT))
def test_machine_block_of_a_recorded_board(board, monkeypatch):
    from lwbench.targets.runner import hardware

    model, big, threads, clusters = EXPECT[board]
    hw = hardware(str(BOARDS / board))
    assert hw["cpu_model"] == model
    got = [(c["cpus"], c["core"], c["min_mhz"], c["max_mhz"], c["governor"]) for c in hw["clusters"]]
    assert got == clusters
    assert hw["topology"]["big_little"] is (big is not None)
    assert [c["big"] for c in hw["clusters"]] == [(None if big is None else c[0].split("-")[0] in map(str, big))
                                                  for c in clusters]


@pytest.mark.parametrize("board", sorted(EXPECT))
def test_big_cores_and_default_threads_of_a_recorded_board(board):
    from lwbench.measure.cpus import default_cores, default_threads, parse_cores, read_topology

    _, big, threads, _ = EXPECT[board]
    topo = read_topology(str(BOARDS / board / "sys"))
    assert default_cores(topo) == big                       # pinned to the big cores by default on big.LITTLE
    # threads default to the physical cores of the chosen set (without big.LITTLE: of the process's affinity,
    # which here is this machine's, so the whole board is checked)
    assert default_threads(topo, default_cores(topo) or topo.cpus) == threads
    if big:
        assert parse_cores("little", topo) == [c for c in topo.cpus if c not in big]


def test_os_release_and_board_of_a_recorded_board():
    from lwbench.targets.runner import board, os_release

    assert os_release(str(BOARDS / "rk3588-rock5b")) == "Ubuntu 20.04.5 LTS"
    assert board(str(BOARDS / "rpi5b")) == "Raspberry Pi 5 Model B Rev 1.0"
    assert board(str(BOARDS / "sm8550-a510-a710-a715-x3")) is None


def test_memory_matches_sysconf():
    """/proc/meminfo's MemTotal against the kernel's page count (an independent reading)."""
    from lwbench.targets.runner import memory

    if not Path("/proc/meminfo").exists() or not hasattr(os, "sysconf"):
        pytest.skip("no /proc/meminfo here")
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    assert memory()["memory_gib"] == pytest.approx(pages, abs=0.01)


@pytest.mark.parametrize("board", ["rk3399-rockpi4c", "rk3588-rock5b", "sm8550-a510-a710-a715-x3"])
def test_runner_places_a_job_on_the_big_cores(board):
    """What the runner pins to on a big.LITTLE board: the big cores and as many threads by default; a job's own
    cores (a list or a named set) and threads win."""
    from lwbench.measure.cpus import read_topology
    from lwbench.targets.runner import placement

    _, big, threads, _ = EXPECT[board]
    topo = read_topology(str(BOARDS / board / "sys"))
    assert placement({}, topo) == (big, threads)
    little = [c for c in topo.cpus if c not in big]
    assert placement({"cores": "little"}, topo) == (little, len(little))
    assert placement({"cores": [0], "threads": 3}, topo) == ([0], 3)
    assert placement({"cores": "all", "threads": None}, topo) == (topo.cpus, len(topo.cpus))
