"""What the latency model sees of one layer: a kind key (the discrete facts) and log-features (the sizes).

The same function reads a calibration probe and a layer of a zoo network, both IR nodes of lwbench's own op
registry, so a calibrated kind is exactly a kind the counter sees. Discrete facts that change the kernel torch
runs (kernel, stride, dilation, dense / grouped / depthwise, the number of merged inputs, broadcasting) are in
the key; sizes (channels, spatial size, groups, elements) are the features, in natural log.
"""

from __future__ import annotations

from math import log, prod

FREE_KEY = "free"          # flatten, dropout, identity: a module call and nothing else


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv(attrs, ins, outs) -> tuple[str, list[float]]:
    cin, cout, g = ins[0][0], outs[0][0], int(attrs.get("groups", 1))
    kh, kw = _pair(attrs.get("kernel", 1))
    s = _pair(attrs.get("stride", 1))
    d = _pair(attrs.get("dilation", 1))
    hw = outs[0][1] * outs[0][2]
    kind = "depthwise" if g == cin and g > 1 else ("grouped" if g > 1 else "dense")
    key = f"conv2d:k{kh}x{kw}:s{s[0]}x{s[1]}:{kind}" + (f":d{d[0]}x{d[1]}" if d != (1, 1) else "")
    if kind == "depthwise":
        return key, [log(cin), log(hw)]
    if kind == "grouped":
        return key, [log(cin), log(cout), log(hw), log(g)]
    return key, [log(cin), log(cout), log(hw)]


def _fmap_feats(shape) -> list[float]:
    if len(shape) == 3:
        return [log(shape[0]), log(shape[1] * shape[2])]
    return [log(prod(shape)), 0.0]


def layer_key(op: str, attrs: dict, ins: list, outs: list) -> tuple[str, list[float]]:
    """(kind key, log-features) of one IR node (op kind as the registry names it, resolved attrs, per-image
    shapes)."""
    if op == "conv2d":
        return _conv(attrs, ins, outs)
    if op == "linear":
        return "linear", [log(ins[0][0]), log(outs[0][0])]
    if op in ("flatten", "dropout", "identity"):
        return FREE_KEY, []
    if op == "batchnorm":
        return "batchnorm", _fmap_feats(ins[0])
    if op in ("maxpool", "avgpool"):
        k, s = _pair(attrs["kernel"]), _pair(attrs["stride"] if attrs.get("stride") is not None else attrs["kernel"])
        return f"{op}:k{k[0]}x{k[1]}:s{s[0]}x{s[1]}", _fmap_feats(ins[0])
    if op in ("global_avgpool", "adaptive_avgpool"):
        return op, _fmap_feats(ins[0])
    if op == "add":
        return f"add:n{len(ins)}", [log(prod(outs[0]))]
    if op == "mul":
        same = all(tuple(s) == tuple(outs[0]) for s in ins)
        return ("mul:same", [log(prod(outs[0]))]) if same else ("mul:bcast", _fmap_feats(outs[0]))
    if op == "concat":
        return f"concat:n{len(ins)}", [log(prod(outs[0]))]
    if op == "split":
        return f"split:n{len(outs)}", [log(prod(ins[0]))]
    if op == "shuffle":
        g = int(attrs["groups"])
        if g in (1, ins[0][0]):
            return FREE_KEY, []
        return "shuffle", [log(prod(ins[0])), log(g)]
    # activations and any element-wise kind: the op name is the key, elements the feature
    return op, [log(prod(ins[0]))]


def _up(c: int, block: int) -> int:
    return -(-c // block) * block


def node_key(node, nchwc: dict | None = None) -> tuple[str, list[float]]:
    """`nchwc`: ONNX Runtime's NCHWc rule of the calibration (lwbench.predict.layout.detect_rules): a convolution
    ORT runs in plain NCHW instead (another kernel, several times slower for a depthwise one) is its own kind.
    With `nchwc["padded"]` (calibrations fitted since it was found) a blocked convolution is seen as MLAS runs it:
    its channels padded up to the block (on G, block 16, a 64-channel pointwise layer took 15 µs to 16 output
    channels and 29-30 µs to each of 20, 24, 28 and 32; a 3x3 depthwise one 4.4 µs at 16 channels, 7.1-8.1 at
    20-32), and a dense one of fewer input channels than the block, which reads NCHW with another kernel (16-19
    Gmadd/s against 48-56 from 16 channels up: a 1x1 from 15 channels to 32 took 78 µs, from 16 33 µs), is its own
    kind (`:nchwin`). results/README.md, "ONNX Runtime's padded blocks"."""
    from lwbench.ops import get_op

    key, x = layer_key(get_op(node.op).kind, node.attrs, node.in_shapes, node.out_shapes)
    if nchwc and node.op == "conv2d":
        from lwbench.predict.nchwc import blocked

        if not blocked(node, nchwc):
            key += ":nchw"
        elif nchwc.get("padded"):
            key, x = _padded(key, x, node, int(nchwc["block"]))
    return key, x


def _padded(key: str, x: list[float], node, block: int) -> tuple[str, list[float]]:
    cin, cout, g = node.in_shapes[0][0], node.out_shapes[0][0], int(node.attrs.get("groups", 1))
    if g > 1 and g == cin == cout:
        return key, [log(_up(cin, block)), *x[1:]]
    if g > 1:
        return key, x
    if cin < block:
        return key + ":nchwin", [x[0], log(_up(cout, block)), *x[2:]]
    return key, [log(_up(cin, block)), log(_up(cout, block)), *x[2:]]


def work_scale(node, nchwc: dict | None = None) -> float:
    """The multiply-adds MLAS computes over the layer's own (node_key's padded channels), for its roofline: 1 but
    for a blocked convolution of a padded calibration."""
    if not (nchwc and nchwc.get("padded") and node.op == "conv2d"):
        return 1.0
    from lwbench.predict.nchwc import blocked

    if not blocked(node, nchwc):
        return 1.0
    b = int(nchwc["block"])
    cin, cout, g = node.in_shapes[0][0], node.out_shapes[0][0], int(node.attrs.get("groups", 1))
    if g > 1 and g == cin == cout:
        return _up(cin, b) / cin
    if g > 1:
        return 1.0
    return (1.0 if cin < b else _up(cin, b) / cin) * _up(cout, b) / cout
