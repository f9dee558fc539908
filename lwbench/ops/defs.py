"""Built-in op kinds. Each entry: attributes, shape inference, cost rule, torch builder.

Cost conventions (see lwbench/ops/registry.py `Cost`):
- madds count the multiply-adds of conv and linear only (the papers' "FLOPs"); bias adds are not counted,
  as in the papers, TF-slim's table and fvcore.
- every op that touches memory reads its inputs and writes its output (ShuffleNet V2's MAC), so
  activations, batch norm, pooling, add, mul, concat, split and shuffle have zero madds and non-zero mac.
- flatten, dropout (inference) and identity are views/no-ops: free, on purpose.

Value ranges: shape inference rejects every value the torch module's constructor or forward rejects (kernel,
stride, dilation >= 1; padding >= 0, and <= kernel//2 for pooling; groups dividing in- and out-channels; dropout
p in [0, 1]; batch-norm eps >= 0; split sizes summing to the channels; shuffle groups dividing them; 4-D input
for conv, pooling, batch norm and shuffle), so a config that counts also builds and runs (tests/test_errors.py
ties each rule to torch's own error). A few values torch accepts but that make empty tensors (out 0, split size 0,
adaptive output 0) are rejected too: no network has them on purpose.
"""

from __future__ import annotations

from math import ceil, floor, prod

from lwbench.ops.registry import NO_PARAMS, Attr, Cost, OpDef, ShapeError, fixed_category, register


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _fmap(shapes, op: str) -> tuple[int, int, int]:
    s = shapes[0]
    if len(s) != 3:
        raise ShapeError("", f"{op} needs a CxHxW feature map, got {'x'.join(map(str, s))}")
    return s


def _out_len(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool = False) -> int:
    """torch's output length of conv/pool along one axis."""
    span = size + 2 * p - d * (k - 1) - 1
    n = (ceil(span / s) if ceil_mode else floor(span / s)) + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


def _window(attrs, shapes, op, default_stride=None, ceil_mode=False):
    c, h, w = _fmap(shapes, op)
    k = _pair(attrs["kernel"])
    s = _pair(attrs["stride"] if attrs["stride"] is not None else (default_stride or 1))
    d = _pair(attrs.get("dilation", 1))
    p = attrs.get("padding")
    p = _pair(p) if p is not None else (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
    if k[0] < 1 or k[1] < 1 or s[0] < 1 or s[1] < 1 or d[0] < 1 or d[1] < 1:
        for name, v in (("kernel", k), ("stride", s), ("dilation", d)):
            if min(v) < 1:
                raise ShapeError(name, f"must be at least 1, got {v if v[0] != v[1] else v[0]}")
    if p[0] < 0 or p[1] < 0:
        raise ShapeError("padding", f"must not be negative, got {p[0]}")
    oh, ow = _out_len(h, k[0], s[0], p[0], d[0], ceil_mode), _out_len(w, k[1], s[1], p[1], d[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ShapeError("kernel", f"window {k[0]}x{k[1]} does not fit the {h}x{w} input")
    return c, h, w, k, s, p, d, oh, ow


def _same(attrs, shapes):
    return [shapes[0]]


def _elementwise_cost(attrs, ins, outs):
    return Cost(act_in=sum(map(prod, ins)), act_out=sum(map(prod, outs)))


def _free_cost(attrs, ins, outs):
    return Cost()


_cat = fixed_category


# ---------------------------------------------------------------- conv2d
def _conv_infer(attrs, shapes):
    c, h, w, k, s, p, d, oh, ow = _window(attrs, shapes, "conv2d")
    out, g = attrs["out"], attrs["groups"]
    if out < 1:
        raise ShapeError("out", f"must be a positive channel count, got {out}")
    if g < 1 or c % g:
        raise ShapeError("groups", f"must divide in-channels {c}, got {g}")
    if out % g:
        raise ShapeError("groups", f"must divide out-channels {out}, got {g}")
    return [(out, oh, ow)]


def _conv_cost(attrs, ins, outs):
    cin, cout, g = ins[0][0], outs[0][0], attrs["groups"]
    kh, kw = _pair(attrs["kernel"])
    weights = cout * (cin // g) * kh * kw
    bias = cout if attrs["bias"] else 0
    return Cost(
        params=weights + bias,
        madds=prod(outs[0]) * (cin // g) * kh * kw,
        act_in=prod(ins[0]),
        act_out=prod(outs[0]),
    )


def _conv_category(attrs, ins, outs):
    if attrs["groups"] == ins[0][0] and attrs["groups"] > 1:
        return "depthwise"
    if _pair(attrs["kernel"]) == (1, 1):
        return "pointwise"
    return "conv"


def _conv_build(attrs, ins):
    import torch.nn as nn

    k = _pair(attrs["kernel"])
    d = _pair(attrs["dilation"])
    p = attrs["padding"]
    p = _pair(p) if p is not None else (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
    return nn.Conv2d(ins[0][0], attrs["out"], k, _pair(attrs["stride"]), p, d, attrs["groups"], attrs["bias"])


register(OpDef(
    kind="conv2d", module="torch.nn.Conv2d",
    attrs={
        "out": Attr("int", doc="output channels"),
        "kernel": Attr("pair", 1),
        "stride": Attr("pair", 1),
        "padding": Attr("pair", None, doc="default: dilation·(kernel−1)//2 ('same' for odd kernels)"),
        "dilation": Attr("pair", 1),
        "groups": Attr("int", 1, doc="1 dense; in-channels for depthwise"),
        "bias": Attr("bool", True, doc="as torch: true unless said"),
    },
    infer=_conv_infer, cost=_conv_cost, build=_conv_build, category=_conv_category,
    doc="2-D convolution (dense, grouped, depthwise, dilated). madds = Hout·Wout·Cout·(Cin/g)·kh·kw.",
))


# ---------------------------------------------------------------- linear
def _linear_infer(attrs, shapes):
    s = shapes[0]
    if len(s) != 1:
        raise ShapeError("", f"linear needs a flat input (add a flatten), got {'x'.join(map(str, s))}")
    if attrs["out"] < 1:
        raise ShapeError("out", f"must be positive, got {attrs['out']}")
    return [(attrs["out"],)]


def _linear_cost(attrs, ins, outs):
    fin, fout = ins[0][0], outs[0][0]
    return Cost(params=fin * fout + (fout if attrs["bias"] else 0), madds=fin * fout, act_in=fin, act_out=fout)


def _linear_build(attrs, ins):
    import torch.nn as nn

    return nn.Linear(ins[0][0], attrs["out"], attrs["bias"])


register(OpDef(
    kind="linear", module="torch.nn.Linear", attrs={"out": Attr("int"), "bias": Attr("bool", True)},
    infer=_linear_infer, cost=_linear_cost, build=_linear_build, category=_cat("linear"),
    doc="Fully connected layer. madds = in·out.",
))


# ---------------------------------------------------------------- batch norm
def _bn_cost(attrs, ins, outs):
    c = ins[0][0]
    return Cost(params=2 * c, buffers=2 * c, act_in=prod(ins[0]), act_out=prod(outs[0]))


def _bn_build(attrs, ins):
    import torch.nn as nn

    return nn.BatchNorm2d(ins[0][0], eps=attrs["eps"], momentum=attrs["momentum"])


def _bn_infer(attrs, shapes):
    s = _fmap(shapes, "batchnorm")  # BatchNorm2d: "expected 4D input"
    if not 0.0 <= attrs["eps"] < float("inf"):  # torch: "batch_norm eps must be non-negative"
        raise ShapeError("eps", f"must be a finite number of at least 0, got {attrs['eps']:g}")
    return [s]


register(OpDef(
    kind="batchnorm", module="torch.nn.BatchNorm2d", attrs={"eps": Attr("float", 1e-5), "momentum": Attr("float", 0.1, doc="unused at inference")},
    infer=_bn_infer, cost=_bn_cost, build=_bn_build, category=_cat("element-wise"),
    doc="Batch norm over channels: 2C params (γ, β) plus 2C running statistics read at inference.",
    aliases=("bn",),
))


# ---------------------------------------------------------------- activations
def _act(kind, module, doc, aliases=()):
    def build(attrs, ins):
        import torch.nn as nn

        return getattr(nn, module)()

    register(OpDef(kind=kind, module=f"torch.nn.{module}", attrs={}, infer=_same, cost=_elementwise_cost, build=build,
                   category=_cat("element-wise"), doc=doc, aliases=aliases))


_act("relu", "ReLU", "max(x, 0)")
_act("relu6", "ReLU6", "min(max(x, 0), 6)")
_act("hardswish", "Hardswish", "x·relu6(x+3)/6 (MobileNet V3 h-swish)", ("hswish",))
_act("hardsigmoid", "Hardsigmoid", "relu6(x+3)/6 (MobileNet V3 h-sigmoid)", ("hsigmoid",))
_act("sigmoid", "Sigmoid", "1/(1+e^-x)")
_act("swish", "SiLU", "x·sigmoid(x) (EfficientNet swish = SiLU)", ("silu",))
_act("tanh", "Tanh", "tanh(x)")


# ---------------------------------------------------------------- pooling
def _pool_infer(op):
    def infer(attrs, shapes):
        c, h, w, k, s, p, d, oh, ow = _window(attrs, shapes, op, attrs["kernel"], attrs["ceil_mode"])
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:  # torch: "pad should be at most half of effective kernel size"
            raise ShapeError("padding", f"must be at most half the kernel ({k[0] // 2} for kernel {k[0]}), "
                                        f"as torch requires, got {p[0] if p[0] == p[1] else list(p)}")
        return [(c, oh, ow)]

    return infer


def _maxpool_build(attrs, ins):
    import torch.nn as nn

    s = attrs["stride"] if attrs["stride"] is not None else attrs["kernel"]
    return nn.MaxPool2d(_pair(attrs["kernel"]), _pair(s), _pair(attrs["padding"] or 0), ceil_mode=attrs["ceil_mode"])


def _avgpool_build(attrs, ins):
    import torch.nn as nn

    s = attrs["stride"] if attrs["stride"] is not None else attrs["kernel"]
    return nn.AvgPool2d(_pair(attrs["kernel"]), _pair(s), _pair(attrs["padding"] or 0),
                        ceil_mode=attrs["ceil_mode"], count_include_pad=attrs["count_include_pad"])


_POOL_ATTRS = {
    "kernel": Attr("pair"),
    "stride": Attr("pair", None, doc="default: kernel"),
    "padding": Attr("pair", 0),
    "ceil_mode": Attr("bool", False),
}
register(OpDef(
    kind="maxpool", module="torch.nn.MaxPool2d", attrs=dict(_POOL_ATTRS), infer=_pool_infer("maxpool"), cost=_elementwise_cost,
    build=_maxpool_build, category=_cat("pooling"), doc="Max pooling (torch output-size rule, ceil_mode too).",
))
register(OpDef(
    kind="avgpool", module="torch.nn.AvgPool2d", attrs={**_POOL_ATTRS, "count_include_pad": Attr("bool", True)}, infer=_pool_infer("avgpool"),
    cost=_elementwise_cost, build=_avgpool_build, category=_cat("pooling"), doc="Average pooling.",
))


def _gap_build(attrs, ins):
    import torch.nn as nn

    return nn.AdaptiveAvgPool2d(1)


register(OpDef(
    kind="global_avgpool", module="torch.nn.AdaptiveAvgPool2d", attrs={}, infer=lambda a, s: [(_fmap(s, "global_avgpool")[0], 1, 1)],
    cost=_elementwise_cost, build=_gap_build, category=_cat("pooling"),
    doc="Global average pooling to Cx1x1 (adds, not multiply-adds: 0 madds).", aliases=("gap",),
))


def _adaptive_infer(attrs, shapes):
    c, _, _ = _fmap(shapes, "adaptive_avgpool")
    oh, ow = _pair(attrs["output"])
    if oh < 1 or ow < 1:
        raise ShapeError("output", f"must be positive, got {attrs['output']}")
    return [(c, oh, ow)]


def _adaptive_build(attrs, ins):
    import torch.nn as nn

    return nn.AdaptiveAvgPool2d(_pair(attrs["output"]))


register(OpDef(
    kind="adaptive_avgpool", module="torch.nn.AdaptiveAvgPool2d", attrs={"output": Attr("pair")}, infer=_adaptive_infer, cost=_elementwise_cost,
    build=_adaptive_build, category=_cat("pooling"), doc="Adaptive average pooling to a fixed HxW.",
))


# ---------------------------------------------------------------- free ops
def _flatten_build(attrs, ins):
    import torch.nn as nn

    return nn.Flatten(1)


def _identity_build(attrs, ins):
    import torch.nn as nn

    return nn.Identity()


def _dropout_build(attrs, ins):
    import torch.nn as nn

    return nn.Dropout(attrs["p"])


register(OpDef(
    kind="flatten", module="torch.nn.Flatten", attrs={}, infer=lambda a, s: [(prod(s[0]),)], cost=_free_cost, build=_flatten_build,
    category=_cat("other"), free=True, doc="A view: free.",
))
def _dropout_infer(attrs, shapes):
    p = attrs["p"]
    if not 0.0 <= p <= 1.0:  # torch.nn.Dropout: "dropout probability has to be between 0 and 1"
        raise ShapeError("p", f"must be a probability between 0 and 1, got {p:g}")
    return [shapes[0]]


register(OpDef(
    kind="dropout", module="torch.nn.Dropout", attrs={"p": Attr("float", 0.5)}, infer=_dropout_infer, cost=_free_cost, build=_dropout_build,
    category=_cat("other"), free=True, doc="Identity at inference: free.",
))
register(OpDef(
    kind="identity", module="torch.nn.Identity", attrs={}, infer=_same, cost=_free_cost, build=_identity_build,
    category=_cat("other"), free=True, doc="No-op: free.",
))


# ---------------------------------------------------------------- merges, split, shuffle
def _fmt(s):
    return "x".join(map(str, s))


def _broadcast(op, shapes):
    """torch's broadcasting of per-image shapes of one rank (equal sizes, or 1). Ranks must match: with the
    batch dimension in front, tensors of different ranks would broadcast the batch against a channel axis."""
    ok = len({len(s) for s in shapes}) == 1 and all(len({x for x in dim if x != 1}) <= 1 for dim in zip(*shapes))
    if not ok:
        raise ShapeError("", f"{op} needs equal shapes (or sizes 1 that broadcast) of one rank, "
                             f"got {' and '.join(_fmt(s) for s in shapes)}")
    return [tuple(max(dim) for dim in zip(*shapes))]


def _add_infer(attrs, shapes):
    return _broadcast("add", shapes)


def _mul_infer(attrs, shapes):
    return _broadcast("mul", shapes)


def _concat_infer(attrs, shapes):
    rest = {s[1:] for s in shapes}
    if len(rest) != 1:
        raise ShapeError("", f"concat needs equal spatial sizes, got {', '.join(_fmt(s) for s in shapes)}")
    return [(sum(s[0] for s in shapes), *shapes[0][1:])]


def _merge_build(cls_name):
    def build(attrs, ins):
        from lwbench.ops import modules

        many = cls_name != "Mul" and len(ins) > modules.MAX_SCRIPTABLE_INPUTS  # `*xs`: not scriptable
        return getattr(modules, cls_name + "Many" if many else cls_name)()

    return build


register(OpDef(
    kind="add", module="lwbench.ops.modules.Add", attrs={}, infer=_add_infer, cost=_elementwise_cost, build=_merge_build("Add"),
    category=_cat("element-wise"), inputs="many", doc="Element-wise sum of the branches (residual).",
))
register(OpDef(
    kind="mul", module="lwbench.ops.modules.Mul", attrs={}, infer=_mul_infer, cost=_elementwise_cost, build=_merge_build("Mul"),
    category=_cat("element-wise"), inputs="many", doc="Element-wise product with broadcasting (SE gating).",
))
register(OpDef(
    kind="concat", module="lwbench.ops.modules.Concat", attrs={}, infer=_concat_infer, cost=_elementwise_cost, build=_merge_build("Concat"),
    category=_cat("concat/split"), inputs="many", doc="Channel concatenation: reads all inputs, writes one.",
))


def _split_infer(attrs, shapes):
    c, *rest = shapes[0]
    sizes = attrs["sizes"]
    if any(x < 1 for x in sizes) or sum(sizes) != c:
        raise ShapeError("sizes", f"must be positive and sum to in-channels {c}, got {list(sizes)}")
    return [(x, *rest) for x in sizes]


def _split_build(attrs, ins):
    from lwbench.ops import modules

    return modules.Split(list(attrs["sizes"]))


register(OpDef(
    kind="split", module="lwbench.ops.modules.Split", attrs={"sizes": Attr("ints")}, infer=_split_infer, cost=_elementwise_cost, build=_split_build,
    category=_cat("concat/split"),
    doc="Channel split (ShuffleNet V2). Counted as read + write of the input, as the paper's MAC does; "
        "torch makes views, so the real cost appears in whatever reads them.",
))


def _shuffle_infer(attrs, shapes):
    c = _fmap(shapes, "shuffle")[0]  # the module views (N, C, H, W) as (N, g, C/g, H, W)
    g = attrs["groups"]
    if g < 1 or c % g:
        raise ShapeError("groups", f"must divide in-channels {c}, got {g}")
    return [shapes[0]]


def _shuffle_build(attrs, ins):
    from lwbench.ops import modules

    return modules.ChannelShuffle(attrs["groups"])


def _shuffle_cost(attrs, ins, outs):
    if attrs["groups"] in (1, ins[0][0]):  # the identity permutation: torch's view/transpose/contiguous copies nothing
        return Cost()
    return _elementwise_cost(attrs, ins, outs)


NO_PARAMS.update((_elementwise_cost, _free_cost, _shuffle_cost))


register(OpDef(
    kind="shuffle", module="lwbench.ops.modules.ChannelShuffle", attrs={"groups": Attr("int")}, infer=_shuffle_infer, cost=_shuffle_cost,
    build=_shuffle_build, category=_cat("shuffle"),
    doc="Channel shuffle (ShuffleNet): a transpose copy (free when groups is 1 or the channel count: no-op).",
    aliases=("channel_shuffle",),
))
