"""Static int8 quantization of an exported ONNX graph, as mobile deployments ship it.

QDQ format (QuantizeLinear/DequantizeLinear pairs that ORT fuses into QLinearConv, QLinearMatMul, ...),
per-channel symmetric int8 weights, uint8 activations (U8S8, ORT's recommended x86/ARM combination),
MinMax calibration on seeded random N(0, 1) inputs: latency does not depend on the values, and a random-weight
network has no data distribution to calibrate on anyway. Every setting is in `SETTINGS` and recorded in the row.
"""

from __future__ import annotations

import json

SETTINGS = {"format": "QDQ", "preprocess": "quant_pre_process (ORT basic optimisations: BN folded)", "per_channel": True, "activation_type": "QUInt8", "weight_type": "QInt8",
            "calibrate_method": "MinMax", "calibration": "random N(0,1) inputs", "calibration_samples": 8,
            "calibration_seed": 0, "reduce_range": False}

# int8 output vs the float32 torch output, relative L2 error ||y - y_ref|| / ||y_ref||. The check's networks have
# lively weights (lwbench.onnx.run.lively: every layer matters), and a deep random network is chaotic, so int8
# rounding compounds: measured 0.15-0.55 on the zoo at this setting (and 0.05-0.08 between ORT's fused int8
# kernels and the same QDQ graph run unoptimised). An output unrelated to torch's is ~1.4, a weight off by 3x
# is >= 1: at or below this tolerance the int8 graph computes torch's function up to quantization noise.
INT8_TOLERANCE = 0.75


def settings_key() -> str:
    return json.dumps(SETTINGS, sort_keys=True)


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


def quantize(fp32_path: str, out_path: str, pre_path: str) -> dict:
    """Write the int8 QDQ model of `fp32_path` to `out_path`; returns SETTINGS (what the row records).

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
    reader = _RandomReader(inp.name, shape, SETTINGS["calibration_samples"], SETTINGS["calibration_seed"])
    quantize_static(str(pre_path), str(out_path), reader, quant_format=QuantFormat.QDQ,
                    per_channel=SETTINGS["per_channel"], reduce_range=SETTINGS["reduce_range"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    return dict(SETTINGS)
