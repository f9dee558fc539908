"""The machine block's CPU model from /proc/cpuinfo texts (x86, Raspberry Pi 4, Jetson Nano, a big.LITTLE
Rockchip RK3399, a Snapdragon phone) and its `command` entry.

The cpuinfo texts follow the kernel's format (arch/arm64/kernel/cpuinfo.c prints processor, BogoMIPS,
Features, CPU implementer, CPU architecture, CPU variant, CPU part, CPU revision per core; the Raspberry Pi
kernel appends Hardware, Revision, Serial and Model). Part numbers: Arm's MIDR values, as listed by Linux
(arch/arm64/include/asm/cputype.h) and util-linux's lscpu: 0xd03 Cortex-A53, 0xd07 Cortex-A57,
0xd08 Cortex-A72; Qualcomm (0x51) 0x804/0x805 Kryo 4xx Gold/Silver.
"""

from __future__ import annotations

import json
import subprocess
import sys

from lwbench.measure.machine import arm_cores, command_line, cpu_model


def arm_core(n: int, implementer: str, part: str, variant: str = "0x0", revision: int = 3) -> str:
    return (f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
            f"CPU implementer\t: {implementer}\nCPU architecture: 8\nCPU variant\t: {variant}\n"
            f"CPU part\t: {part}\nCPU revision\t: {revision}\n")


RPI4 = "\n".join(arm_core(i, "0x41", "0xd08") for i in range(4)) + (
    "\nHardware\t: BCM2835\nRevision\t: c03111\nSerial\t\t: 10000000abcdef01\n"
    "Model\t\t: Raspberry Pi 4 Model B Rev 1.1\n")

# Jetson Nano (L4T 32.x): a generic 'model name' line per core and no board line in cpuinfo
JETSON_NANO = "\n".join(arm_core(i, "0x41", "0xd07", "0x1", 1).replace(
    "BogoMIPS", "model name\t: ARMv8 Processor rev 1 (v8l)\nBogoMIPS") for i in range(4))

RK3399 = "\n".join([*(arm_core(i, "0x41", "0xd03", revision=4) for i in range(4)),
                    *(arm_core(i, "0x41", "0xd08", revision=2) for i in range(4, 6))])

SNAPDRAGON_855 = ("Processor\t: AArch64 Processor rev 14 (aarch64)\n"
                  + "\n".join([*(arm_core(i, "0x51", "0x805", "0x7", 14) for i in range(4)),
                               *(arm_core(i, "0x51", "0x804", "0xd", 14) for i in range(4, 8))])
                  + "\nHardware\t: Qualcomm Technologies, Inc SM8150\n")

X86 = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
       "model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\nstepping\t: 7\n")


def test_raspberry_pi_4():
    assert arm_cores(RPI4) == "4× Cortex-A72"
    # the 'Model' line names the board; 'Hardware: BCM2835' (the SoC driver's name, not the Pi 4's BCM2711) not used
    assert cpu_model(RPI4) == "Raspberry Pi 4 Model B Rev 1.1 (4× Cortex-A72)"


def test_jetson_nano_generic_model_name_is_replaced():
    assert cpu_model(JETSON_NANO) == "4× Cortex-A57"
    assert cpu_model(JETSON_NANO, board="NVIDIA Jetson Nano Developer Kit") == \
        "NVIDIA Jetson Nano Developer Kit (4× Cortex-A57)"


def test_big_little_cores_are_counted_per_part():
    assert cpu_model(RK3399, board="Firefly RK3399") == "Firefly RK3399 (4× Cortex-A53 + 2× Cortex-A72)"
    assert cpu_model(SNAPDRAGON_855) == \
        "Qualcomm Technologies, Inc SM8150 (4× Kryo 4xx Silver + 4× Kryo 4xx Gold)"


def test_unknown_part_and_x86():
    assert arm_cores(arm_core(0, "0x41", "0xfff")) == "1× ARM 0x41:0xfff"
    assert cpu_model(X86) == "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"
    assert arm_cores(X86) is None


def test_command_reads_lwbench_under_python_m():
    assert command_line(["/home/u/lwbench/lwbench/__main__.py", "bench", "my net.yaml", "--threads", "1"]) == \
        "lwbench bench 'my net.yaml' --threads 1"
    assert command_line(["/home/u/.venv/bin/lwbench", "profile", "mobilenet_v1"]) == "lwbench profile mobilenet_v1"
    assert command_line(["/x/other/__main__.py", "a"]) == "python -m other a"
    assert command_line([]) is None


def test_command_in_a_real_python_m_run(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("name: t\ninput: {channels: 3, resolution: 8}\nlayers:\n  - {name: c, op: conv2d, out: 4, kernel: 1}\n")
    out = tmp_path / "b.json"
    args = ["bench", str(cfg), "--threads", "1", "--in-process", "--min-time", "0", "--warmup", "0",
            "--min-runs", "2", "-o", str(out)]
    p = subprocess.run([sys.executable, "-m", "lwbench", *args], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(out.read_text())["machine"]["command"] == "lwbench " + " ".join(args)
