"""Export zoo networks and --module models to ONNX, cached by content hash so a sweep exports once.

    from lwbench.onnx.export import export_onnx, read_meta
    path = export_onnx(lwbench.load("mobilenet_v2"), batch=1)               # fp32, lwbench's IR emitter
    path = export_onnx(net, batch=1, dtype="int8")                          # static QDQ int8 (quant.settings())
    path = export_onnx(my_module, batch=1, input_shape=(3, 224, 224))      # torch.onnx.export (TorchScript)
    meta = read_meta(path)   # the sidecar: network, batch, opset, exporter, dtype, quantization, sha256, ...

The cache key is the sha256 of everything that determines the file: the network's parsed graph (every node's
name, op, attributes, inputs and shapes) or the module's class, structure and weights, the batch, the opset,
dtype and quantization settings, the lwbench, onnx and torch versions (torch's seeded initialisation makes
the weights), the exporter and the emitter's and quantizer's source. Files live in $LWBENCH_CACHE/onnx (default ~/.cache/lwbench/onnx) as KEY.onnx
with KEY.json beside it; a file whose sha256 no longer matches its sidecar is exported again. Writes are
atomic (temporary file, then rename), so two sweeps sharing the cache never read half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lwbench.errors import InputError
from lwbench.onnx.emit import OPSET

EMITTER = "lwbench.onnx.emit"
TORCH_EXPORTER = "torch.onnx.export(dynamo=False)"


def _code_version() -> str:
    """sha256 of the emitter's and quantizer's source: a changed emitter never reuses an old file."""
    from lwbench.onnx import emit, quant, run

    h = hashlib.sha256()
    for mod in (emit, quant, run):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:16]


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    from lwbench.version import cache_root

    base = Path(root) if root is not None else cache_root()
    d = base / "onnx"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"LWBENCH_CACHE: cannot create the ONNX cache folder {d}: {e.strerror}") from None
    return d


def _net_doc(net) -> dict:
    return {"name": net.name, "input": list(net.input_shape), "output": [net.output.node, net.output.index],
            "nodes": [[n.name, n.op, sorted((k, repr(v)) for k, v in n.attrs.items()),
                       [[r.node, r.index] for r in n.inputs], [list(s) for s in n.in_shapes],
                       [list(s) for s in n.out_shapes]] for n in net.nodes]}


def _module_doc(module, input_shape) -> dict:
    h = hashlib.sha256()
    for k, t in module.state_dict().items():
        h.update(k.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return {"module": type(module).__qualname__, "repr": repr(module), "weights": h.hexdigest(),
            "input": list(input_shape)}


def content_key(doc: dict, batch: int, dtype: str, opset: int, exporter: str,
                int8_rule: tuple[bool, str] | None = None) -> str:
    import onnx
    import torch

    from lwbench.onnx.quant import settings_key
    from lwbench.version import __version__

    full = {"doc": doc, "batch": batch, "dtype": dtype, "opset": opset, "exporter": exporter, "code": _code_version(),
            "quant": settings_key(int8_rule) if dtype == "int8" else None, "lwbench": __version__, "onnx": onnx.__version__,
            "torch": torch.__version__}
    return hashlib.sha256(json.dumps(full, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_meta(path: str | os.PathLike) -> dict:
    p = Path(path).with_suffix(".json")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _cached(path: Path) -> bool:
    meta = read_meta(path)
    return path.exists() and meta.get("sha256") == _sha(path) and \
        all((path.parent / f).exists() for f in meta.get("chain", []))


def chain(path: str | os.PathLike) -> list[Path]:
    """The graphs from the emitted one to `path` (int8: fp32, pre-processed, quantized; fp32: just `path`)."""
    p = Path(path)
    return [p.parent / f for f in read_meta(p).get("chain", [])] + [p]


def _publish(tmp: Path, path: Path, meta: dict) -> None:
    meta = {**meta, "sha256": _sha(tmp), "file": path.name}
    mtmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    mtmp.write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    os.replace(mtmp, path.with_suffix(".json"))


def _write_fp32(obj, batch: int, opset: int, input_shape, model, tmp: Path) -> str:
    """Write the float32 graph of a Net (emitter) or an nn.Module (torch's exporter) to `tmp`; the exporter."""
    from lwbench.ir import Net

    if isinstance(obj, Net):
        import onnx

        from lwbench.build import build
        from lwbench.onnx.emit import emit
        from lwbench.onnx.run import lively

        onnx.save(emit(obj, model if model is not None else lively(build(obj), obj), batch, opset), str(tmp))
        return EMITTER
    import warnings

    import torch

    x = torch.randn(batch, *input_shape)
    with warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")
        torch.onnx.export(obj.eval(), (x,), str(tmp), dynamo=False, opset_version=opset, input_names=["input"],
                          output_names=["output"])
    return TORCH_EXPORTER


def export_onnx(net_or_module, batch: int = 1, *, dtype: str = "float32", opset: int = OPSET,
                input_shape: tuple[int, ...] | None = None, model=None,
                cache: str | os.PathLike | None = None, int8_rule: tuple[bool, str] | None = None) -> Path:
    """Path of the ONNX file of `net_or_module` (a lwbench Net or a torch nn.Module with `input_shape`, per
    image) at a fixed `batch`, in `dtype` float32 or int8 (static QDQ, lwbench.onnx.quant.settings()); exported
    once per content hash into the cache (`cache`, else $LWBENCH_CACHE, else ~/.cache/lwbench). `model`: the
    built torch module of a Net when the caller has it (its weights are the ones written). `int8_rule`: the
    reduce_range rule of the CPU that will run an int8 file (lwbench.onnx.quant.rule_for; default this one's)."""
    from lwbench.ir import Net

    if dtype not in ("float32", "int8"):
        raise InputError(f"--dtype {dtype} --runtime onnxruntime: expected float32 or int8")
    is_net = isinstance(net_or_module, Net)
    if not is_net and input_shape is None:
        raise InputError("export_onnx: an nn.Module needs input_shape (per image, e.g. (3, 224, 224))")
    doc = _net_doc(net_or_module) if is_net else _module_doc(net_or_module, input_shape)
    exporter = EMITTER if is_net else TORCH_EXPORTER
    key = content_key(doc, batch, dtype, opset, exporter, int8_rule)
    path = cache_dir(cache) / f"{key}.onnx"
    if _cached(path):
        return path
    name = net_or_module.name if is_net else type(net_or_module).__name__
    meta = {"network": name, "batch": batch, "dtype": dtype, "opset": opset, "exporter": exporter, "key": key,
            "input": [batch, *(net_or_module.input_shape if is_net else input_shape)]}
    if dtype == "int8":
        from lwbench.onnx.quant import quantize

        fp32 = export_onnx(net_or_module, batch, opset=opset, input_shape=input_shape, model=model, cache=cache)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        pre = path.with_suffix(".pre.onnx")
        meta["quantization"] = quantize(str(fp32), str(tmp), str(pre), int8_rule)
        meta["chain"] = [fp32.name, pre.name]     # the graphs the int8 one was made from, in order
    else:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        _write_fp32(net_or_module, batch, opset, input_shape, model, tmp)
    _publish(tmp, path, meta)
    return path
