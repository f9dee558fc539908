"""A second, independent count: run any `nn.Module` once and cost the aten ops that actually execute.

How: the module runs under a `TorchDispatchMode` that sees every aten op (after autograd, so `F.linear`
appears as `t` + `addmm`, `nn.Flatten` as `view`). Forward pre/post hooks on every named module keep a
stack of the modules running, and each op is attributed to the innermost one:

- ops inside a leaf module (no children) make that module's row, named by its `named_modules()` name, so
  a module built by `lwbench.build` gives rows that join 1:1 with the analytic rows of `lwbench.count`;
- ops a container runs in its own `forward` (a residual `x + y`, `torch.cat`, a channel shuffle written as
  view/transpose/contiguous) make rows named `container:op` (`<root>:op` for the top module).

By default the module runs on the meta device (its parameters and buffers swapped for meta tensors with
`torch.func.functional_call`, so nothing is computed, nothing allocated and the module is left untouched);
a model that does not run on meta (data-dependent control flow, `.item()`) is run again for real, on zeros
on its own device.

Cost rules are the analytic ones (lwbench/ops/defs.py):
- madds: multiply-adds of convolution and matrix products only (`convolution`: out·(Cin/g)·kh·kw;
  `mm`/`addmm`: n·k·m; `bmm`: b·n·k·m); bias adds, norms, activations and pooling are 0 madds.
- mac (ShuffleNet V2, Sec. 2): feature-map elements read + written by every op that is not a view, plus the
  parameters and buffers read (once per call of the layer). Views and no-ops (view, reshape, flatten,
  transpose, expand, slice, dropout at inference, identity) are free. Channel split (`split`, `chunk`,
  `unbind`) counts read + write as the analytic `split` rule does, although torch makes views.
- Ops with no rule are never counted as zero silently: they are listed by name in
  `profile.extra["unsupported"]` ({op: calls}) and in the row's note.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from lwbench.count import DTYPE_BYTES, LayerRow, Profile
from lwbench.errors import InputError, suggest

# ---------------------------------------------------------------- op rules (aten overload packet names)
# Free: views, aliases, metadata and allocation (nothing read or written that another op does not count).
FREE_OPS = frozenset({
    "view", "_unsafe_view", "reshape", "_reshape_alias", "alias", "t", "transpose", "permute", "expand",
    "expand_as", "unsqueeze", "squeeze", "flatten", "unflatten", "slice", "select", "narrow", "as_strided",
    "detach", "lift_fresh", "view_as", "unfold", "diagonal", "movedim", "dropout", "feature_dropout",
    "alpha_dropout", "empty", "empty_like", "empty_strided", "zeros", "zeros_like", "ones", "ones_like", "full",
    "full_like", "new_empty", "new_zeros", "new_ones", "new_full", "arange", "scalar_tensor", "sym_size",
    "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size", "_local_scalar_dense", "device",
    "resize_", "set_", "_has_compatible_shallow_copy_type", "is_contiguous", "stride", "size", "dim",
})
# Element-wise, norms, reductions, copies: read inputs, write outputs, 0 madds. Value: category.
ELEMENTWISE_OPS = {
    **dict.fromkeys((
        "add", "sub", "rsub", "mul", "div", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "pow", "reciprocal",
        "maximum", "minimum", "where", "clamp", "clamp_min", "clamp_max", "sign", "floor", "ceil", "round",
        "relu", "relu6", "hardtanh", "hardswish", "hardsigmoid", "sigmoid", "silu", "tanh", "gelu", "mish",
        "leaky_relu", "elu", "selu", "celu", "prelu", "_prelu_kernel", "softplus", "log_sigmoid",
        "_softmax", "softmax", "_safe_softmax", "_log_softmax", "log_softmax", "erf",
        "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
        "_native_batch_norm_legit_functional", "batch_norm", "native_layer_norm", "native_group_norm",
        "layer_norm", "group_norm", "instance_norm", "addcmul", "addcdiv", "lerp", "masked_fill",
        "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not", "bitwise_and",
        "fill", "zero", "var", "var_mean", "std", "std_mean", "linalg_vector_norm", "norm",
    ), "element-wise"),
    **dict.fromkeys((
        "max_pool2d_with_indices", "max_pool2d", "max_pool1d", "max_pool3d_with_indices", "avg_pool2d",
        "avg_pool1d", "avg_pool3d", "_adaptive_avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
        "_adaptive_avg_pool3d", "adaptive_max_pool1d", "mean", "sum", "amax", "amin", "max", "min", "prod",
        "upsample_nearest2d", "upsample_bilinear2d", "_upsample_nearest_exact2d", "_upsample_bilinear2d_aa",
    ), "pooling"),
    **dict.fromkeys(("cat", "stack", "split", "split_with_sizes", "chunk", "unbind", "unsafe_split",
                     "unsafe_split_with_sizes", "unsafe_chunk", "tensor_split"), "concat/split"),
    **dict.fromkeys(("channel_shuffle", "native_channel_shuffle", "pixel_shuffle", "pixel_unshuffle"),
                    "shuffle"),
    **dict.fromkeys(("clone", "contiguous", "copy", "_to_copy", "to", "constant_pad_nd", "reflection_pad2d",
                     "replication_pad2d", "roll", "flip", "repeat", "index", "index_select", "gather",
                     "_unsafe_index", "index_put"), "other"),
}
# Ops whose extra outputs are bookkeeping, not feature maps (indices, saved statistics): count output 0 only.
FIRST_OUTPUT_ONLY = frozenset({
    "max_pool2d_with_indices", "max_pool3d_with_indices", "adaptive_max_pool2d", "native_batch_norm",
    "_native_batch_norm_legit", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit_functional",
    "native_layer_norm", "native_group_norm", "max", "min", "var_mean", "std_mean",
})
MATMUL_OPS = frozenset({"convolution", "_convolution", "convolution_overrideable", "mkldnn_convolution",
                        "mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "dot", "mv", "addmv", "_mkldnn_linear"})

# torch module classes lwbench has no kind for -> (kind, category or None to take the ops' category); the
# classes lwbench's own kinds build come from the op registry (OpDef.module), see known_modules()
TORCH_ONLY_MODULES = {
    "Conv1d": ("conv1d", None), "Conv3d": ("conv3d", None), "ConvTranspose2d": ("conv_transpose2d", None),
    "BatchNorm1d": ("batchnorm", "element-wise"), "BatchNorm3d": ("batchnorm", "element-wise"),
    "LayerNorm": ("layernorm", "element-wise"), "GroupNorm": ("groupnorm", "element-wise"),
    "GELU": ("gelu", "element-wise"), "LeakyReLU": ("leaky_relu", "element-wise"), "ELU": ("elu", "element-wise"),
    "Mish": ("mish", "element-wise"), "PReLU": ("prelu", "element-wise"), "Softmax": ("softmax", "element-wise"),
    "AdaptiveMaxPool2d": ("adaptive_maxpool", "pooling"), "Dropout2d": ("dropout", "other"),
}


def known_modules() -> dict[str, tuple[str, str | None]]:
    """Module class name -> (kind, category): the registry's classes (lwbench.ops.module_table) over
    TORCH_ONLY_MODULES."""
    from lwbench.ops import module_table

    return {**TORCH_ONLY_MODULES, **module_table()}


KNOWN_MODULES = known_modules()
ROOT = "<root>"


def _numel(t: torch.Tensor) -> int:
    return math.prod(t.shape)


def _base(func) -> str:
    """aten.relu_.default -> 'relu'; aten.convolution.default -> 'convolution'."""
    name = func.overloadpacket.__name__ if hasattr(func, "overloadpacket") else str(func)
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return name


def _madds(op: str, args, out) -> int:
    """Multiply-adds of one matmul-family aten op, from its argument and output shapes."""
    if op in ("convolution", "_convolution", "convolution_overrideable", "mkldnn_convolution"):
        x, w = args[0], args[1]
        transposed = bool(args[6]) if len(args) > 6 else False
        if transposed:  # weight (Cin, Cout/g, k...): every input element meets Cout/g·k weights
            return _numel(x) * math.prod(w.shape[1:])
        return _numel(out) * math.prod(w.shape[1:])
    if op in ("mm", "addmm", "matmul", "bmm", "baddbmm", "linear", "_mkldnn_linear"):
        a, b = (args[1], args[2]) if op in ("addmm", "baddbmm") else (args[0], args[1])
        if op in ("linear", "_mkldnn_linear"):  # (.., k) x (n, k)^T
            return _numel(a) * b.shape[0]
        return _numel(out) * a.shape[-1]
    if op in ("dot",):
        return _numel(args[0])
    if op in ("mv", "addmv"):
        m = args[1] if op == "addmv" else args[0]
        return _numel(m)
    return 0


def _conv_category(args) -> str:
    x, w = args[0], args[1]
    groups = int(args[8]) if len(args) > 8 else 1
    if groups > 1 and groups == x.shape[1]:
        return "depthwise"
    if all(k == 1 for k in w.shape[2:]):
        return "pointwise"
    return "conv"


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
            kind, cat = self.kinds.get("" if name == ROOT else name, (name.rsplit(":", 1)[-1], None))
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
            kind, cat = KNOWN_MODULES.get(cls, (cls, None))
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


def load_factory(spec: str) -> nn.Module:
    """`package.module:factory` or `path/to/file.py:factory` -> the module the factory returns (or the module
    object the name holds).

    The current directory is importable, as with `python -m`; a `.py` path is loaded as a module of its own
    (its folder importable too, for its sibling imports). Every failure is one InputError line.
    """
    import importlib
    import os
    import sys

    modpath, sep, attr = str(spec).rpartition(":")
    if not sep or not modpath or not attr:
        raise InputError(f"--module: expected package.module:factory or file.py:factory (e.g. mynets:build), "
                         f"got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = _import_file(modpath) if modpath.endswith(".py") else importlib.import_module(modpath)
    except FileNotFoundError:
        raise InputError(f"--module {spec}: no such file '{modpath}'") from None
    except ImportError as e:
        raise InputError(f"--module {spec}: cannot import '{modpath}' ({e})") from e
    except Exception as e:  # noqa: BLE001 - a user's module can raise anything while importing
        raise InputError(f"--module {spec}: importing '{modpath}' raised {type(e).__name__}: {e}") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise InputError(f"--module {spec}: '{getattr(obj, '__name__', modpath)}' has no attribute "
                             f"'{part}'{suggest(part, names)}")
        obj = getattr(obj, part)
    if not isinstance(obj, nn.Module):
        if not callable(obj):
            raise InputError(f"--module {spec}: '{attr}' is a {type(obj).__name__}, not a factory or nn.Module")
        try:
            obj = obj()
        except Exception as e:  # noqa: BLE001
            msg = " ".join(str(e).split())[:300]
            raise InputError(f"--module {spec}: the factory raised {type(e).__name__}: {msg}") from e
    if not isinstance(obj, nn.Module):
        raise InputError(f"--module {spec}: the factory returned an object of type {type(obj).__name__}, "
                         "not a torch.nn.Module")
    return obj


def _import_file(path: str):
    """A Python file as a module (`lwbench_user_<stem>`), executed once per call."""
    import importlib.util
    import os
    import sys

    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = "lwbench_user_" + "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name while it executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def profile_factory(spec: str, input_shape: str | None, batch: int = 1, dtype: str = "float32") -> Profile:
    """`lwbench profile --module spec --input 3x224x224`: build with the factory, count with `count_module`."""
    shapes = _parse_shape(input_shape or "3x224x224")  # a malformed --input fails before the import
    model = load_factory(spec)
    prof = count_module(model, shapes, batch=batch, dtype=dtype, name=spec)
    _warn(prof)
    return prof


def _warn(prof: Profile) -> None:
    """Ops without a rule and parameters no op read are said out loud (stderr), never dropped silently."""
    import sys

    un = prof.extra.get("unsupported") or {}
    if un:
        ops = ", ".join(f"{k}×{v}" for k, v in un.items())
        print(f"lwbench: warning: {prof.model}: no cost rule for aten ops {ops}; not counted "
              "(rows say where)", file=sys.stderr)
    idle = prof.extra.get("params_not_run") or {}
    if idle:
        print(f"lwbench: warning: {prof.model}: parameters of modules that never ran are not in the rows: "
              + ", ".join(f"{k or ROOT} {v:,}" for k, v in idle.items()), file=sys.stderr)
