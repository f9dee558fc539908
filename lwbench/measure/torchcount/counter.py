"""count_module: run any nn.Module once under the recorder and turn what its ops cost into a Profile whose
rows are its leaf modules (and `container:op` rows for ops a container runs itself)."""

from __future__ import annotations

import torch
from torch import nn

from lwbench.count import LayerRow, Profile
from lwbench.errors import InputError, suggest
from lwbench.measure.torchcount.recorder import _Recorder, _Row, _Run, _shape_text
from lwbench.measure.torchcount.rules import ROOT
from lwbench.vocab import DTYPE_BYTES


# ---------------------------------------------------------------- running the module
def _parse_shape(input_shape) -> list[tuple[int, ...]]:
    """'3x224x224' | (3, 224, 224) | [(3, 224, 224), (10,)] -> list of per-image shapes."""
    if isinstance(input_shape, str):
        parts = [p.strip() for p in input_shape.lower().replace("×", "x").split(",")]
        try:
            shapes = [tuple(int(d) for d in p.split("x")) for p in parts]
        except ValueError:
            raise InputError(f"--input: expected a shape like 3x224x224, got {input_shape!r}") from None
    elif isinstance(input_shape, (tuple, list)) and input_shape and all(isinstance(d, int) for d in input_shape):
        shapes = [tuple(input_shape)]
    elif isinstance(input_shape, (tuple, list)) and input_shape:
        shapes = [tuple(s) for s in input_shape]
    else:
        raise InputError(f"input shape: expected (C, H, W) or '3x224x224', got {input_shape!r}")
    for s in shapes:
        if not s or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in s):
            raise InputError(f"input shape: expected positive integers like 3x224x224, got {input_shape!r}")
    return shapes




def _params_by_row(run: _Run, rows: list[_Row]) -> tuple[dict[str, int], dict[str, int]]:
    """Parameters per row: a leaf module's own; any other (a container's, or one read through `F.linear` by
    a parent, as `nn.MultiheadAttention` does with `out_proj`) goes to the first row whose ops read it.
    Returns (row name -> params, owner module -> params that no op read)."""
    pnames = {q: p.numel() for q, p in run.module.named_parameters()}
    owner = {q: q.rsplit(".", 1)[0] if "." in q else "" for q in pnames}
    out: dict[str, int] = {}
    done: set[str] = set()
    for r in rows:
        if ":" not in r.name:
            mine = [q for q in pnames if owner[q] == ("" if r.name == ROOT else r.name)]
            out[r.name] = sum(pnames[q] for q in mine)
            done.update(mine)
    for r in rows:
        extra = sorted(q for q in r.read if q in pnames and q not in done)
        out[r.name] = out.get(r.name, 0) + sum(pnames[q] for q in extra)
        done.update(extra)
    idle: dict[str, int] = {}
    for q, n in pnames.items():
        if q not in done:
            idle[owner[q]] = idle.get(owner[q], 0) + n
    return out, idle


def _as_profile(run: _Run, rec: _Recorder, name: str, shapes, batch: int, dtype: str, device: str) -> Profile:
    module = run.module
    params, idle = _params_by_row(run, list(rec.rows.values()))
    nbytes = DTYPE_BYTES[dtype]
    rows: list[LayerRow] = []
    for r in rec.rows.values():
        cat = r.category
        if cat is None:
            cat = max(r.op_cats, key=r.op_cats.get) if r.op_cats else "other"
        notes = []
        if r.calls > 1:
            notes.append(f"called {r.calls}x")
        if r.unsupported:
            notes.append("no rule for: " + ", ".join(f"{k}×{v}" for k, v in sorted(r.unsupported.items())))
        mac = r.act_in + r.act_out + r.weights
        rows.append(LayerRow(
            model=name, layer=r.name, kind=r.kind, category=cat,
            in_shape=_shape_text(r.in_shapes, batch), out_shape=_shape_text(r.out_shapes, batch),
            params=params.get(r.name, 0), madds=r.madds, mac_elems=mac, mac_bytes=mac * nbytes,
            out_elems=r.out_elems if r.counted else 0, note="; ".join(notes),
        ))
    extra = {
        "method": "torch dispatch (aten ops attributed to the innermost running module)",
        "device": device,
        "unsupported": dict(sorted(rec.unsupported.items())),
        "params_module": sum(p.numel() for p in module.parameters()),
    }
    if idle:
        extra["params_not_run"] = idle  # modules whose parameters no op read: listed, not hidden
    input_text = ",".join("x".join(map(str, s)) for s in shapes)
    return Profile(model=name, input=input_text, batch=batch, dtype=dtype, layers=rows, bn_policy="separate",
                   source=f"torch-side count of {type(module).__module__}.{type(module).__qualname__}", extra=extra)


def count_module(module: nn.Module, input_shape, batch: int = 1, dtype: str = "float32",
                 name: str | None = None, device: str = "auto") -> Profile:
    """Per-layer params, madds and mac of any `nn.Module`, from the aten ops it runs on one input.

    `input_shape`: per image, `(3, 224, 224)` or `"3x224x224"` (several inputs: a list of shapes or
    `"3x224x224,10"`). `device`: 'meta' (nothing computed), 'real' (zeros on the module's own device) or
    'auto' (meta, then real when the model cannot run on meta: `.item()`, data-dependent control flow). Layer names are `named_modules()` names of leaf modules;
    ops a container runs itself are rows `container:op`. The module is run in eval mode and left as it was.
    """
    if not isinstance(module, nn.Module):
        raise InputError(f"count_module: expected a torch.nn.Module, got {type(module).__name__}")
    if dtype not in DTYPE_BYTES:
        raise InputError(f"--dtype: expected one of {', '.join(DTYPE_BYTES)}{suggest(dtype, DTYPE_BYTES)}, got {dtype}")
    if not isinstance(batch, int) or batch < 1:
        raise InputError(f"--batch: expected a positive integer, got {batch}")
    if device not in ("auto", "meta", "real"):
        raise InputError(f"count_module: device must be auto, meta or real, got {device}")
    shapes = _parse_shape(input_shape)
    name = name or type(module).__name__
    run = _Run(module)
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        own = next((t.device for t in [*module.parameters(), *module.buffers()]), torch.device("cpu"))
        real = str(own) if own.type != "meta" else None
        tries = {"auto": ["meta", real], "meta": ["meta"], "real": [real or "meta"]}[device]
        tries = [d for d in tries if d]
        err: Exception | None = None
        for dev in tries:
            try:
                rec = run.run(dev, shapes, batch)
                return _as_profile(run, rec, name, shapes, batch, dtype, dev)
            except Exception as e:  # noqa: BLE001 - user code can raise anything; reported as one line
                err = e
        text = " ".join(str(err).split()) or type(err).__name__
        shape_text = ",".join("x".join(map(str, s)) for s in shapes)
        raise InputError(f"{name}: input {shape_text} (batch {batch}) does not run through the module: "
                         f"{type(err).__name__}: {text[:300]}") from err
    finally:
        for m, training in modes.items():
            m.train(training)
