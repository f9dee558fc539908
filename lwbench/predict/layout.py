"""ONNX Runtime's NCHWc layout conversions in a network, from the IR: where a reorder is paid, and its cost.

At `ort_opt=all` ORT's NCHWc transformer runs convolutions (with what is fused into them) and the pooling ops that
read them in a blocked layout; every tensor that leaves such a region for an op that runs in plain NCHW (concat,
split, channel shuffle, a broadcast multiply, swish, flatten, linear, ...) is converted back (ReorderOutput), and
a convolution that reads a plain tensor converts it in (ReorderInput; a convolution of fewer than 8 input channels,
the stem, reads NCHW directly). A lone layer probe pays one of each; ORT's profiler times them (`layout_ms` in
the probe's record), so the fit takes them out of the layer, fits their cost (per conversion and per element) and
the prediction adds one per boundary tensor of the network. Below `all` there is no NCHWc region: no reorder.
"""

from __future__ import annotations

from math import prod

NCHWC_FOLLOWERS = ("maxpool", "avgpool", "global_avgpool", "relu", "relu6", "sigmoid", "hardsigmoid", "tanh",
                   "swish", "hardswish")          # run blocked when what they read is blocked
NCHWC_MERGES = ("add", "concat")                   # blocked when every input is blocked (not a broadcast mul)
MIN_BLOCKED_IN = 8


def regions(net, fused: dict[str, str]) -> set[str]:
    """Names of the layers ORT runs in NCHWc (convolutions, what is fused into them, pooling that reads them)."""
    inside: set[str] = set()
    for n in net.nodes:
        reads = n.inputs and all(r.node in inside for r in n.inputs)
        if n.op == "conv2d" or fused.get(n.name, "(eliminated)") != "(eliminated)":
            inside.add(n.name)
        elif reads and (n.op in NCHWC_FOLLOWERS or n.op in NCHWC_MERGES):
            inside.add(n.name)
    return inside


def reorders(net, fused: dict[str, str], ort_opt: str = "all") -> list[tuple[str, int]]:
    """[(kind 'in'|'out', elements per image)]: one per tensor crossing a region border."""
    if ort_opt != "all":
        return []
    inside = regions(net, fused)
    shape = {n.name: n.out_shapes for n in net.nodes}
    shape["input"] = [tuple(net.input_shape)]
    out: dict[tuple, int] = {}
    for n in net.nodes:
        for r in n.inputs:
            src_in = r.node in inside
            if src_in and n.name not in inside:
                out[("out", r.node, r.index)] = prod(shape[r.node][r.index])
            elif not src_in and n.op == "conv2d" and n.in_shapes[0][0] >= MIN_BLOCKED_IN:
                out[("in", r.node, r.index)] = prod(shape[r.node][r.index])
    if net.output.node in inside:
        out[("out", net.output.node, net.output.index)] = prod(shape[net.output.node][net.output.index])
    return [(k[0], v) for k, v in out.items()]


def probe_reorders(net) -> list[tuple[str, int]]:
    """The conversions a lone probe pays (the same rule; the probe's input is plain, its output leaves)."""
    return reorders(net, {})


def fit_cost(samples: list[tuple[int, int, float]]) -> dict:
    """samples: (conversions, elements, layout ms) per probe -> {per_reorder_ms, per_elem_ms} >= 0, least squares."""
    import numpy as np

    pts = [s for s in samples if s[0] > 0]
    if len(pts) < 3:
        return {"per_reorder_ms": 0.0, "per_elem_ms": 0.0, "n": len(pts)}
    a = np.array([[s[0], s[1]] for s in pts], float)
    y = np.array([s[2] for s in pts], float)
    w = 1.0 / np.maximum(y, 1e-4)               # relative error: small and large maps alike
    c = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)[0]
    if (c < 0).any():
        c = np.array([0.0, max(0.0, float((y * a[:, 1]).sum() / (a[:, 1] ** 2).sum()))])
    return {"per_reorder_ms": float(c[0]), "per_elem_ms": float(c[1]), "n": len(pts)}


def cost_ms(items: list[tuple[str, int]], fitted: dict, batch: int = 1) -> float:
    lay = fitted.get("layout") or {}
    return sum(lay.get("per_reorder_ms", 0.0) + lay.get("per_elem_ms", 0.0) * e * batch for _, e in items)
