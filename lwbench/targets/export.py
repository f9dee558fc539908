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


def onnx_bytes(net, batch: int, dtype: str = "float32") -> bytes:
    """The network as an .onnx file from lwbench's ONNX exporter (lwbench.onnx.export: node names = layer names;
    int8 = static QDQ), the very file a local --runtime onnxruntime row runs."""
    from pathlib import Path

    try:
        from lwbench.onnx.export import export_onnx
    except ImportError as e:
        raise InputError(f"--runtime onnxruntime: the ONNX exporter needs the onnx extra (pip install "
                         f"'lwbench[onnx]'): {e}") from None
    return Path(export_onnx(net, batch, dtype=dtype)).read_bytes()


class Exports:
    """Per-run cache of exported model files: get(net, width, resolution, batch, runtime) -> (bytes, suffix, net)."""

    def __init__(self):
        self._cache: dict[tuple, tuple[bytes, str, object]] = {}

    def get(self, net: str, width: float | None, resolution: int | None, batch: int, runtime: str,
            dtype: str = "float32"):
        key = (net, width, resolution, batch, runtime, dtype if runtime == "onnxruntime" else "float32")
        if key not in self._cache:
            from lwbench.spec import load

            built = load(net, width, resolution)
            if runtime == "torch":
                self._cache[key] = (torchscript_bytes(built, batch), ".pt", built)
            elif runtime == "onnxruntime":
                self._cache[key] = (onnx_bytes(built, batch, dtype), ".onnx", built)
            else:
                raise InputError(f"--runtime {runtime}: SSH targets run torch (TorchScript) or onnxruntime")
        return self._cache[key]
