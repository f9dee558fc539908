"""IR -> ONNX graph, written node by node from the parsed network (no tracing).

Why an emitter and not torch.onnx.export: the exporter traces the fx module and names nodes after fx's
generated call sites (`/conv_4/Conv`, `/concat_3/Concat`, `/shuffle_1/Reshape`), not the IR layer names, so
ORT's per-node times could only be joined back by guessing. Here every ONNX node is emitted from one IR node
and carries its layer name: the first (usually only) node of layer `L` is named `L`, the others `L/<op>_<k>`;
the tensor a layer outputs is named `L` (`L:i` for the i-th output of a split). The ONNX graph, the torch
module and the analytic counter therefore read the same parsed graph (the brief's rule 1), and the join in
`lwbench.onnx.layers` is exact by construction. The weights are the built torch module's (`lwbench.build`,
seeded), so ORT's output is checked against torch's on the same input for every measurement.

One emitter per op kind in `EMITTERS`; a kind without one is refused with one line (tests check that every
registered kind has an emitter).
"""

from __future__ import annotations

import math

from lwbench.errors import InputError

INPUT = "input"
OPSET = 17


def tensor_name(node: str, index: int, n_out: int) -> str:
    if node == "input":
        return INPUT
    return node if n_out == 1 else f"{node}:{index}"


def layer_of(node_name: str) -> str:
    """The IR layer an emitted node belongs to (`L` or `L/<op>_<k>` -> `L`)."""
    return node_name.split("/", 1)[0]


class _Graph:
    def __init__(self, batch: int):
        self.batch = batch
        self.nodes: list = []
        self.inits: list = []
        self._count: dict[str, int] = {}

    def const(self, name: str, array) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def node(self, layer: str, op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        from onnx import helper

        k = self._count.get(layer, 0)
        self._count[layer] = k + 1
        name = layer if k == 0 else f"{layer}/{op.lower()}_{k}"
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))

    def tmp(self, layer: str, what: str) -> str:
        return f"{layer}/{what}"


def _np(t):
    """A parameter as float32 numpy; a module built on the meta device (no weights: structure-only exports, e.g. the
    per-layer join tests) gives zeros of the parameter's shape."""
    import numpy as np

    if t.is_meta:
        return np.zeros(tuple(t.shape), dtype=np.float32)
    return t.detach().cpu().float().numpy().copy()


def _pair(v):
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv(g, n, ins, outs, mod):
    inputs = [ins[0], g.const(f"{n.name}.weight", _np(mod.weight))]
    if mod.bias is not None:
        inputs.append(g.const(f"{n.name}.bias", _np(mod.bias)))
    ph, pw = mod.padding
    g.node(n.name, "Conv", inputs, outs, kernel_shape=list(mod.kernel_size), strides=list(mod.stride),
           pads=[ph, pw, ph, pw], dilations=list(mod.dilation), group=mod.groups)


def _linear(g, n, ins, outs, mod):
    inputs = [ins[0], g.const(f"{n.name}.weight", _np(mod.weight))]
    if mod.bias is not None:
        inputs.append(g.const(f"{n.name}.bias", _np(mod.bias)))
    g.node(n.name, "Gemm", inputs, outs, transB=1)


def _bn(g, n, ins, outs, mod):
    p = [g.const(f"{n.name}.{k}", _np(getattr(mod, k))) for k in ("weight", "bias", "running_mean", "running_var")]
    g.node(n.name, "BatchNormalization", [ins[0], *p], outs, epsilon=float(mod.eps))


def _unary(op, **attrs):
    def emit(g, n, ins, outs, mod):
        g.node(n.name, op, ins[:1], outs, **attrs)
    return emit


def _relu6(g, n, ins, outs, mod):
    import numpy as np

    lo = g.const(f"{n.name}.min", np.array(0.0, dtype=np.float32))
    hi = g.const(f"{n.name}.max", np.array(6.0, dtype=np.float32))
    g.node(n.name, "Clip", [ins[0], lo, hi], outs)


def _hardswish(g, n, ins, outs, mod):
    """x · hardsigmoid(x) = x · relu6(x + 3) / 6: ORT inlines the HardSwish function op into nodes with generated
    names at session creation (after the optimised graph is saved), so the two nodes are emitted named here."""
    s = g.tmp(n.name, "hardsigmoid")
    g.node(n.name, "HardSigmoid", ins[:1], [s], alpha=1.0 / 6.0, beta=0.5)
    g.node(n.name, "Mul", [ins[0], s], outs)


def _swish(g, n, ins, outs, mod):
    s = g.tmp(n.name, "sigmoid")
    g.node(n.name, "Sigmoid", ins[:1], [s])
    g.node(n.name, "Mul", [ins[0], s], outs)


def _pool_attrs(mod):
    k, s, p = _pair(mod.kernel_size), _pair(mod.stride), _pair(mod.padding)
    return {"kernel_shape": list(k), "strides": list(s), "pads": [p[0], p[1], p[0], p[1]],
            "ceil_mode": int(bool(mod.ceil_mode))}


def _maxpool(g, n, ins, outs, mod):
    g.node(n.name, "MaxPool", ins, outs, **_pool_attrs(mod))


def _avgpool(g, n, ins, outs, mod):
    g.node(n.name, "AveragePool", ins, outs, count_include_pad=int(bool(mod.count_include_pad)), **_pool_attrs(mod))


def _adaptive_matrix(size: int, out: int):
    """Row i averages input positions [floor(i·size/out), ceil((i+1)·size/out)): torch's adaptive windows."""
    import numpy as np

    a = np.zeros((out, size), dtype=np.float32)
    for i in range(out):
        lo, hi = (i * size) // out, math.ceil((i + 1) * size / out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def _adaptive(g, n, ins, outs, mod):
    """Adaptive average pooling: GlobalAveragePool (1x1), AveragePool when the windows tile the input, else
    Y = A · X · Bᵀ with torch's window matrices (exact for any input and output size, up- or down-sampling)."""
    _, h, w = n.in_shape
    oh, ow = n.out_shape[1:]
    if (oh, ow) == (1, 1):
        g.node(n.name, "GlobalAveragePool", ins, outs)
    elif h % oh == 0 and w % ow == 0:
        g.node(n.name, "AveragePool", ins, outs, kernel_shape=[h // oh, w // ow], strides=[h // oh, w // ow])
    else:
        bt = g.const(f"{n.name}.cols", _adaptive_matrix(w, ow).T.copy())
        a = g.const(f"{n.name}.rows", _adaptive_matrix(h, oh))
        t = g.tmp(n.name, "cols")
        g.node(n.name, "MatMul", [ins[0], bt], [t])
        g.node(n.name, "MatMul", [a, t], outs)


def _add(g, n, ins, outs, mod):
    acc = ins[0]
    for i, x in enumerate(ins[1:]):
        out = outs[0] if i == len(ins) - 2 else g.tmp(n.name, f"sum_{i}")
        g.node(n.name, "Add", [acc, x], [out])
        acc = out
    if len(ins) == 1:
        g.node(n.name, "Identity", ins, outs)


def _mul(g, n, ins, outs, mod):
    g.node(n.name, "Mul", ins, outs)


def _concat(g, n, ins, outs, mod):
    g.node(n.name, "Concat", ins, outs, axis=1)


def _split(g, n, ins, outs, mod):
    import numpy as np

    sizes = g.const(f"{n.name}.sizes", np.array(list(mod.sizes), dtype=np.int64))
    g.node(n.name, "Split", [ins[0], sizes], outs, axis=1)


def _shuffle(g, n, ins, outs, mod):
    """(N, g·k, H, W) -> Reshape (N, g, k, H, W) -> Transpose(1, 2) -> Reshape (N, k·g, H, W), as the module."""
    import numpy as np

    c, h, w = n.in_shape
    grp = mod.groups
    s5 = g.const(f"{n.name}.shape5", np.array([g.batch, grp, c // grp, h, w], dtype=np.int64))
    s4 = g.const(f"{n.name}.shape4", np.array([g.batch, c, h, w], dtype=np.int64))
    a, b = g.tmp(n.name, "grouped"), g.tmp(n.name, "transposed")
    g.node(n.name, "Reshape", [ins[0], s5], [a])
    g.node(n.name, "Transpose", [a], [b], perm=[0, 2, 1, 3, 4])
    g.node(n.name, "Reshape", [b, s4], outs)


EMITTERS = {
    "conv2d": _conv, "linear": _linear, "batchnorm": _bn,
    "relu": _unary("Relu"), "relu6": _relu6, "hardswish": _hardswish,
    "hardsigmoid": _unary("HardSigmoid", alpha=1.0 / 6.0, beta=0.5), "sigmoid": _unary("Sigmoid"),
    "swish": _swish, "tanh": _unary("Tanh"),
    "maxpool": _maxpool, "avgpool": _avgpool, "global_avgpool": _unary("GlobalAveragePool"),
    "adaptive_avgpool": _adaptive, "flatten": _unary("Flatten", axis=1), "dropout": _unary("Identity"),
    "identity": _unary("Identity"), "add": _add, "mul": _mul, "concat": _concat, "split": _split,
    "shuffle": _shuffle,
}


def emit(net, model, batch: int = 1, opset: int = OPSET, producer: str = "lwbench"):
    """The ONNX ModelProto of `net` with the weights of `model` (= lwbench.build(net)), for a fixed batch."""
    from onnx import TensorProto, checker, helper

    from lwbench.ops import get_op
    from lwbench.version import __version__

    modules = dict(model.named_modules())
    g = _Graph(batch)
    n_out = {n.name: len(n.out_shapes) for n in net.nodes}
    for n in net.nodes:
        kind = get_op(n.op).kind
        fn = EMITTERS.get(kind)
        if fn is None:
            raise InputError(f"{net.file or net.name}: {n.src or n.name}: op '{n.op}' has no ONNX emitter "
                             f"(lwbench.onnx.emit.EMITTERS); it cannot run on onnxruntime")
        ins = [tensor_name(r.node, r.index, n_out.get(r.node, 1)) for r in n.inputs]
        outs = [tensor_name(n.name, i, len(n.out_shapes)) for i in range(len(n.out_shapes))]
        fn(g, n, ins, outs, modules[n.name])
    out_name = tensor_name(net.output.node, net.output.index, n_out.get(net.output.node, 1))
    x = helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [batch, *net.input_shape])
    y = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [batch, *net.output_shape])
    graph = helper.make_graph(g.nodes, net.name, [x], [y], initializer=g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=producer,
                              producer_version=__version__)
    proto.ir_version = min(proto.ir_version, 8)   # readable by older runtimes on remote targets too
    checker.check_model(proto)
    return proto
