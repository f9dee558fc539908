"""Static int8 quantization of an exported ONNX graph, as mobile deployments ship it.

QDQ format (QuantizeLinear/DequantizeLinear pairs that ORT fuses into QLinearConv, QLinearMatMul, ...),
per-channel symmetric int8 weights, uint8 activations (U8S8, ORT's recommended x86/ARM combination),
MinMax calibration on seeded random N(0, 1) inputs: latency does not depend on the values, and a random-weight
network has no data distribution to calibrate on anyway. Every setting is in `settings()` and recorded in the row.

`reduce_range` (7-bit weights) follows the CPU, as ORT's quantization guide advises: on an x86-64 CPU without
VNNI (AVX2, or AVX-512 without VNNI) ORT's U8S8 kernels multiply with VPMADDUBSW, whose int16 sums saturate.
Measured on such a CPU (AMD EPYC, AVX2 only; ORT 1.32), the fused int8 kernels' output differed from the very QDQ
graph they run (evaluated unfused) by 4-81% (l2, mobilenet_v2 56%, mobilenet_v1_x0_25 at 64 px 81%); with
reduce_range by 0-6%. With VNNI, or on ARM, there is no saturation and full-range weights are kept. For a remote
target the host quantizes by the target's CPU (`rule_for` its machine block: arch, `cpu_flags_int8`).
"""

from __future__ import annotations

import json
import platform

SETTINGS = {"format": "QDQ", "preprocess": "quant_pre_process (ORT basic optimisations: BN folded)", "per_channel": True, "activation_type": "QUInt8", "weight_type": "QInt8",
            "calibrate_method": "MinMax", "calibration": "random N(0,1) inputs", "calibration_samples": 8,
            "calibration_seed": 0, "reduce_range": False}

# int8 output vs the float32 torch output, relative L2 error ||y - y_ref|| / ||y_ref||. The check's networks have
# lively weights (lwbench.onnx.run.lively: every layer matters), and a deep random network is chaotic, so int8
# rounding compounds: measured 0.15-0.55 on the zoo at this setting (and 0.05-0.08 between ORT's fused int8
# kernels and the same QDQ graph run unoptimised). An output unrelated to torch's is ~1.4, a weight off by 3x
# is >= 1: at or below this tolerance the int8 graph computes torch's function up to quantization noise.
INT8_TOLERANCE = 0.75


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str] | None:
    """The first CPU's feature flags (Linux; lwbench.targets.runner.cpu_flags, as a target reads them), None where
    they cannot be read."""
    from lwbench.targets.runner import cpu_flags as parse

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse(f.read(1 << 20))
    except OSError:
        return None


def reduce_range_rule(machine: str | None = None, flags: set[str] | None = None) -> tuple[bool, str]:
    """(reduce_range, why) for this CPU, or for the arch `machine` with CPU `flags` (None: not known)."""
    from lwbench.targets.runner import INT8_FLAGS

    if machine is None:
        machine, flags = platform.machine(), cpu_flags() if flags is None else flags
    machine = (machine or "unknown").lower()
    if machine not in ("x86_64", "amd64", "i686", "x86"):
        return False, f"{machine}: no VPMADDUBSW saturation (full-range int8 weights)"
    if flags is None:
        return True, "x86-64, CPU flags unknown: 7-bit weights (full-range ones were measured to break ORT's " \
                     "U8S8 kernels with and without VNNI)"
    have = sorted(set(INT8_FLAGS) & set(flags))
    if have:
        return True, (f"x86-64 with {have[0]}: 7-bit weights all the same (with full-range ones ORT's fused "
                      "int8 graph differed from its QDQ graph by 20% in mobilenet_v2 on an AVX-512 VNNI CPU)")
    return True, "x86-64 without VNNI: ORT's U8S8 kernels (VPMADDUBSW) saturate, 7-bit weights as ORT advises"


def rule_for(machine: dict | None) -> tuple[bool, str]:
    """The rule for the CPU of a machine block (a remote target's: its `arch` and `cpu_flags_int8`, read there by
    lwbench.targets.runner); None: this machine."""
    if machine is None:
        return reduce_range_rule()
    flags = machine.get("cpu_flags_int8")
    return reduce_range_rule(machine.get("arch") or "unknown", None if flags is None else set(flags))


def settings(rule: tuple[bool, str] | None = None) -> dict:
    """SETTINGS with the reduce_range of `rule` (default: this machine's) and the reason (what a row records)."""
    rr, why = rule or reduce_range_rule()
    return {**SETTINGS, "reduce_range": rr, "reduce_range_rule": why}


def settings_key(rule: tuple[bool, str] | None = None) -> str:
    return json.dumps(settings(rule), sort_keys=True)


class _RandomReader:
    """onnxruntime.quantization.CalibrationDataReader over seeded random inputs."""

    def __init__(self, name: str, shape: list[int], n: int, seed: int):
        import numpy as np

        rng = np.random.default_rng(seed)
        self._data = iter([{name: rng.standard_normal(shape, dtype=np.float32)} for _ in range(n)])

    def get_next(self):
        return next(self._data, None)

    def rewind(self):  # not needed by MinMax; present for the reader protocol
        pass


def quantize(fp32_path: str, out_path: str, pre_path: str, rule: tuple[bool, str] | None = None) -> dict:
    """Write the int8 QDQ model of `fp32_path` to `out_path`; returns settings() (what the row records).

    First ORT's quantization pre-processing (shape inference, and basic graph optimisations: batch norm folded
    into the convolution before its weights are quantized, as deployments do) into `pre_path`; the per-layer
    join maps the int8 graph back through it (lwbench.onnx.graphmap.map_chain)."""
    import logging

    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its "consider pre-processing"
    quant_pre_process(str(fp32_path), str(pre_path), skip_symbolic_shape=True)
    model = onnx.load(str(pre_path), load_external_data=False)
    inp = model.graph.input[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    st = settings(rule)
    reader = _RandomReader(inp.name, shape, st["calibration_samples"], st["calibration_seed"])
    quantize_static(str(pre_path), str(out_path), reader, quant_format=QuantFormat.QDQ,
                    per_channel=st["per_channel"], reduce_range=st["reduce_range"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    return st
