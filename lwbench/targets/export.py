"""What the host sends a target to run: the network exported from the same parsed graph the counter reads.

- torch: TorchScript (`lwbench.measure.timer.torchscript`: scripted, or traced where the built modules cannot
  be scripted), saved in float32/NCHW; the target casts it to the row's dtype/layout and freezes it, exactly
  as a local `--mode script` row does (`time_module(..., mode="script")`). Eager and torch.compile rows need
  the Python model, so on a remote target the torch runtime times `--mode script` only.
- onnxruntime: the .onnx file of lwbench's ONNX exporter (lwbench.onnx.export, float32 or int8 QDQ), the
  file a local `--runtime onnxruntime` row runs, in a session with the same options (lwbench.onnx.session:
  intra-op = threads, inter-op 1, sequential, --ort-opt level, CPU provider).

Exports are cached per (network, width, resolution, batch, runtime) for the run, so a thread or target sweep
exports each network once; the target caches the file by its sha256 too.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from lwbench.errors import InputError

REMOTE_MODES = {"torch": ("script",), "onnxruntime": ("eager",)}


def check_remote(runtime: str, mode: str, device: str) -> None:
    """InputError (one line) for a row an SSH target cannot run."""
    if device != "cpu":
        raise InputError(f"--device {device}: SSH targets time on their CPU only (device cpu)")
    modes = REMOTE_MODES.get(runtime)
    if modes is None:
        raise InputError(f"--runtime {runtime}: SSH targets run torch (TorchScript) or onnxruntime")
    if mode not in modes:
        if runtime == "torch":
            raise InputError(f"--mode {mode}: on an SSH target the torch runtime runs the exported TorchScript: use "
                             "--mode script (the same frozen TorchScript a local --mode script row times), or "
                             "--runtime onnxruntime")
        raise InputError(f"--mode {mode}: the onnxruntime runtime has no modes (leave --mode at its default)")


def torchscript_bytes(net, batch: int) -> bytes:
    """The network as a saved TorchScript module (float32, NCHW, eval mode)."""
    import torch

    from lwbench.build import build, example_input
    from lwbench.measure.timer import torchscript

    model = build(net).eval()
    x = example_input(net, batch)
    with torch.inference_mode():
        ts = torchscript(model, x)
    buf = io.BytesIO()
    with warnings.catch_warnings():   # torch >= 2.9 deprecates TorchScript; it is still what the target loads
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(ts, buf)
    return buf.getvalue()


@dataclass
class Exported:
    """A model file to ship (`data`, `suffix`), its loaded network, and for ONNX the correctness check: the seeded
    input (float32 bytes, shape) and torch's output on it (`reference`), as a local onnxruntime row checks."""

    data: bytes
    suffix: str
    net: object
    check_input: bytes | None = None
    check_shape: list[int] | None = None
    reference: object = None
    quantization: dict | None = None


def onnx_export(net, batch: int, dtype: str = "float32", int8_rule: tuple[bool, str] | None = None) -> Exported:
    """The network as an .onnx file from lwbench's ONNX exporter (lwbench.onnx.export: node names = layer names;
    int8 = static QDQ) with the "lively" weights of lwbench.runtimes.ort.prepare: the very file a local
    --runtime onnxruntime row runs, and the seeded input and torch output its row is checked against."""
    from pathlib import Path

    try:
        from lwbench.build import build
        from lwbench.onnx.export import export_onnx, read_meta
        from lwbench.onnx.run import lively, reference
    except ImportError as e:
        raise InputError(f"--runtime onnxruntime: the ONNX exporter needs the onnx extra (pip install "
                         f"'lwbench[onnx]'): {e}") from None
    model = lively(build(net), net)
    path = export_onnx(net, batch, dtype=dtype, model=model, int8_rule=int8_rule)
    x, ref = reference(net, batch, model)
    quant = read_meta(path).get("quantization") if dtype == "int8" else None
    return Exported(Path(path).read_bytes(), ".onnx", net, x.astype("float32").tobytes(), list(x.shape), ref, quant)


def check_output(doc: dict, ex: Exported, dtype: str, target: str) -> None:
    """Compare the output the target computed on the check input with torch's (lwbench.onnx.run.check_outputs:
    rel_err / l2_rel_err within tolerance); the facts go into the row, and a wrong graph is an error row."""
    import base64

    import numpy as np

    from lwbench.onnx.run import check_outputs

    raw = doc.pop("check_output_b64", None)
    if raw is None or ex.reference is None:
        return
    y = np.frombuffer(base64.b64decode(raw), dtype=np.float32).reshape(doc.pop("check_output_shape"))
    facts = check_outputs(y, ex.reference, dtype)
    doc.update(facts)
    if not facts["valid"] and not doc.get("error"):
        doc["error"] = (f"{target}: measure: onnxruntime's output on the target differs from torch's "
                        f"({facts.get('why')}; max abs err {facts.get('max_abs_err')}): not a result")
        doc["error_kind"] = "run"


class Exports:
    """Per-run cache of exported model files: get(net, width, resolution, batch, runtime, dtype) -> Exported."""

    def __init__(self):
        self._cache: dict[tuple, Exported] = {}

    def get(self, net: str, width: float | None, resolution: int | None, batch: int, runtime: str,
            dtype: str = "float32", int8_rule: tuple[bool, str] | None = None) -> Exported:
        """`int8_rule`: the target CPU's reduce_range rule (lwbench.onnx.quant.rule_for) for an int8 file."""
        key = (net, width, resolution, batch, runtime, dtype if runtime == "onnxruntime" else "float32", int8_rule)
        if key not in self._cache:
            from lwbench.spec import load

            built = load(net, width, resolution)
            if runtime == "torch":
                self._cache[key] = Exported(torchscript_bytes(built, batch), ".pt", built)
            elif runtime == "onnxruntime":
                self._cache[key] = onnx_export(built, batch, dtype, int8_rule)
            else:
                raise InputError(f"--runtime {runtime}: SSH targets run torch (TorchScript) or onnxruntime")
        return self._cache[key]
