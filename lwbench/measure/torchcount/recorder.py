"""The recorder: a TorchDispatchMode that sees every aten op and attributes it to the innermost running module
(forward pre/post hooks keep the stack), and the run of a module under it, on meta or for real."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from lwbench.measure.torchcount.rules import (
    ATEN_KINDS,
    ELEMENTWISE_OPS,
    FIRST_OUTPUT_ONLY,
    FREE_OPS,
    MATMUL_OPS,
    ROOT,
    _base,
    _conv_category,
    _madds,
    _numel,
    module_kind,
)


# ---------------------------------------------------------------- per-row accumulation
@dataclass
class _Row:
    name: str
    kind: str
    category: str | None
    madds: int = 0
    act_in: int = 0
    act_out: int = 0
    weights: int = 0  # parameters + buffers read, summed over calls (each call reads them once)
    out_elems: int = 0
    calls: int = 0
    in_shapes: list = field(default_factory=list)
    out_shapes: list = field(default_factory=list)
    counted: bool = False  # at least one op that is not free ran here
    op_cats: Counter = field(default_factory=Counter)  # category -> madds + 1 per op, to pick the row category
    unsupported: Counter = field(default_factory=Counter)
    call_id: int = -1  # the module call whose weights `call_weights` holds
    call_weights: set = field(default_factory=set)
    read: set = field(default_factory=set)  # qualified names of the parameters/buffers its ops read


def _shape_text(tensors, batch: int) -> str:
    out = []
    for t in tensors:
        dims = list(t.shape)
        if dims and dims[0] == batch:
            dims = dims[1:]
        out.append("x".join(map(str, dims)) if dims else "1")
    return "+".join(out)


def _tensors(obj) -> list[torch.Tensor]:
    return [t for t in tree_flatten(obj)[0] if isinstance(t, torch.Tensor)]


class _Recorder(TorchDispatchMode):
    """Attributes every aten op to the innermost running module and costs it."""

    def __init__(self, weights: dict[int, tuple[str, int]]):
        super().__init__()
        self.weights = weights  # id(tensor) -> (qualified name, numel) of parameters/buffers and their views
        self.stack: list[tuple[str, bool, int]] = []  # (module name, is leaf, call id)
        self.calls = 0
        self.rows: dict[str, _Row] = {}
        self.kinds: dict[str, tuple[str, str | None]] = {}
        self.keep: list = []  # views of weights, kept alive so their ids stay unique
        self.unsupported: Counter = Counter()

    def row(self, name: str) -> _Row:
        r = self.rows.get(name)
        if r is None:
            op = name.rsplit(":", 1)[-1]
            kind, cat = self.kinds.get("" if name == ROOT else name, (ATEN_KINDS.get(op, op), None))
            r = self.rows[name] = _Row(name, kind, cat)
        return r

    def target(self, op: str, ins, outs) -> _Row | None:
        """The row of the innermost running module (a leaf's own row, or a container's `name:op` row)."""
        if not self.stack:
            return None
        name, leaf, call = self.stack[-1]
        r = self.row((name or ROOT) if leaf else f"{name or ROOT}:{op}")
        new_call = r.call_id != call
        if new_call:  # a new call reads its weights again
            r.call_id, r.call_weights = call, set()
        if not leaf:
            r.calls += new_call
            if not r.in_shapes:
                r.in_shapes = [t for t in ins if id(t) not in self.weights]
                r.out_shapes = outs
            r.out_elems += sum(_numel(t) for t in outs)
        return r

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        op = _base(func)
        ins = _tensors((args, kwargs))
        if op in FREE_OPS:
            if ins and id(ins[0]) in self.weights:  # a view of a weight is still that weight
                for o in _tensors(out):
                    self.weights[id(o)] = self.weights[id(ins[0])]
                    self.keep.append(o)
            return out
        outs = _tensors(out)
        if op in FIRST_OUTPUT_ONLY:
            outs = outs[:1]
        supported = op in ELEMENTWISE_OPS or op in MATMUL_OPS
        r = self.target(op, ins, outs if supported else [])
        if r is None:
            return out
        if not supported:
            r.unsupported[op] += 1
            self.unsupported[op] += 1
            return out
        try:
            self._cost(r, op, args, ins, out, outs)
        except Exception:  # noqa: BLE001 - a rule that cannot read this call's arguments: listed, not zero
            r.unsupported[f"{op} (arguments not understood)"] += 1
            self.unsupported[f"{op} (arguments not understood)"] += 1
        return out

    def _cost(self, r: _Row, op: str, args, ins, out, outs) -> None:
        r.counted = True
        for t in ins:
            w = self.weights.get(id(t))
            if w is None:
                r.act_in += _numel(t)
            elif w[0] not in r.call_weights:
                r.call_weights.add(w[0])
                r.read.add(w[0])
                r.weights += w[1]
        r.act_out += sum(_numel(t) for t in outs)
        if op in MATMUL_OPS:
            m = _madds(op, args, out)
            r.madds += m
            cat = _conv_category(args) if "conv" in op else "linear"
            r.op_cats[cat] += m + 1
        else:
            r.op_cats[ELEMENTWISE_OPS[op]] += 1




def _first_dtype(module: nn.Module) -> torch.dtype:
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


class _Run:
    def __init__(self, module: nn.Module):
        self.module = module
        self.named = dict(module.named_modules())
        self.leaves = {n for n, m in self.named.items() if not any(True for _ in m.children())}

    def kinds(self) -> dict[str, tuple[str, str | None]]:
        out = {}
        for n, m in self.named.items():
            cls = type(m).__name__
            kind, cat = module_kind(type(m))
            if cls == "AdaptiveAvgPool2d":
                size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size,) * 2
                kind, cat = ("global_avgpool" if tuple(size) == (1, 1) else "adaptive_avgpool"), "pooling"
            out[n] = (kind, cat)
        return out

    def run(self, device: str, shapes, batch: int) -> _Recorder:
        """Run once on `device` ('meta', or the module's own device for a real run) under the recorder."""
        from torch.func import functional_call

        module = self.module
        dtype = _first_dtype(module)
        swap: dict[str, torch.Tensor] = {}
        weights: dict[int, tuple[str, int]] = {}
        named = [(n, t, True) for n, t in module.named_parameters()]
        named += [(n, t, False) for n, t in module.named_buffers()]
        for n, t, is_param in named:
            if device == "meta":
                t = torch.empty_like(t, device="meta")
                swap[n] = t
            if is_param or t.is_floating_point():  # integer buffers (BN's num_batches_tracked) are not read
                weights[id(t)] = (n, t.numel())
        rec = _Recorder(weights)
        rec.kinds = self.kinds()
        hooks = []
        try:
            for name, m in self.named.items():
                leaf = name in self.leaves
                hooks.append(m.register_forward_pre_hook(self._pre(rec, name, leaf, batch), with_kwargs=True))
                hooks.append(m.register_forward_hook(self._post(rec, name, leaf, batch), always_call=True))
            xs = [torch.zeros((batch, *s), dtype=dtype, device=device) for s in shapes]
            with torch.no_grad(), rec:
                if device == "meta":
                    functional_call(module, swap, tuple(xs), strict=False)
                else:
                    module(*xs)
        finally:
            for h in hooks:
                h.remove()
        return rec

    @staticmethod
    def _pre(rec: _Recorder, name: str, leaf: bool, batch: int):
        def hook(mod, args, kwargs):
            rec.calls += 1
            rec.stack.append((name, leaf, rec.calls))
            if leaf:
                r = rec.row(name or ROOT)
                r.calls += 1
                if not r.in_shapes:
                    r.in_shapes = _tensors((args, kwargs))

        return hook

    @staticmethod
    def _post(rec: _Recorder, name: str, leaf: bool, batch: int):
        def hook(mod, args, *rest):
            out = rest[-1] if rest else None
            if rec.stack and rec.stack[-1][0] == name:
                rec.stack.pop()
            if leaf and out is not None:
                r = rec.row(name or ROOT)
                outs = _tensors(out)
                if not r.out_shapes:
                    r.out_shapes = outs
                r.out_elems += sum(_numel(t) for t in outs)

        return hook
