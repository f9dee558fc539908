"""ONNX Runtime's NCHWc layout conversions in a network, from the IR: where a reorder is paid, and its cost.

At `ort_opt=all` ORT's NCHWc transformer runs convolutions (with what is fused into them), and the pooling, merges
and activations that read them when their channels and inputs allow, in a blocked layout; every blocked tensor an
op reads in plain NCHW (a concat of unaligned inputs, split, channel shuffle, a broadcast multiply, flatten,
linear, a dense convolution of fewer input channels than the block, ...) is converted back (ReorderOutput), and a
convolution or pooling that reads a plain tensor converts it in (ReorderInput). Where, exactly: the pass simulated
on the IR, lwbench.predict.nchwc (checked against ORT's optimised graphs). A lone layer probe pays its own
conversions; ORT's profiler times them (`layout_ms` in the probe's record), so the fit takes them out of the
layer, fits their cost (per conversion and per element) and the prediction adds one per converted tensor of the
network. Below `all` there is no NCHWc pass: no reorder.

Which convolutions ORT runs in NCHWc depends on its version and the CPU's vector width (the MLAS block: 16 floats
with AVX-512, 8 with AVX2), so a calibration reads the rule from ORT itself (`detect_rules`: the optimised graphs
of a few one-convolution models) and stores it (`model.layout.rules`): a dense convolution of fewer input
channels than the block reads NCHW directly, one of more runs blocked when its input channels are a multiple of
`channels`; a depthwise one when its channels are; a grouped one when both channels per group are a multiple of
`group`. ORT 1.32 on an AVX-512 Xeon: block 16, channels 4, group 16, so shufflenet_v2_x1_0's 58-channel
stage runs in plain NCHW (its depthwise layers 0.10-0.24 ms against 12 us at 116 channels, blocked). A
convolution outside the rule is its own kind (`:nchw` in its key, lwbench.predict.features) and outside every
region. A calibration without `rules` (made before) keeps the old reading: every convolution blocked.
"""

from __future__ import annotations


def regions(net, rules: dict | None = None) -> set[str]:
    """Names of the layers whose output ORT keeps in NCHWc at `all` (lwbench.predict.nchwc)."""
    from lwbench.predict.nchwc import plan

    return plan(net, "all", rules).blocked


def reorders(net, ort_opt: str = "all", rules: dict | None = None) -> list[tuple[str, int]]:
    """[(kind 'in'|'out', elements per image)]: one per tensor ORT converts into or out of NCHWc
    (lwbench.predict.nchwc); none below `all`."""
    from lwbench.predict.nchwc import plan

    return plan(net, ort_opt, rules).reorders if ort_opt == "all" else []


def probe_reorders(net, rules: dict | None = None) -> list[tuple[str, int]]:
    """The conversions a lone probe pays (the same rule; the probe's input is plain, its output leaves)."""
    return reorders(net, "all", rules)


# --------------------------------------------------------------------------- the rule, from ORT itself
def rule_net(cin: int, cout: int, groups: int):
    """The one-convolution network whose optimised graph says whether ORT blocks such a convolution."""
    from lwbench.predict.design import Probe, probe_net

    return probe_net(Probe("rule", (cin, 8, 8), (("conv2d", {"out": cout, "kernel": 1 if groups == 1 else 3,
                                                             "stride": 1, "groups": groups, "bias": True}, ("x",)),),
                           label="nchwc rule"))


def rule_model(cin: int, cout: int, groups: int, cache: str) -> str:
    """The .onnx file of rule_net (lively weights), in `cache`."""
    from lwbench.build import build
    from lwbench.onnx.export import export_onnx
    from lwbench.onnx.run import lively

    net = rule_net(cin, cout, groups)
    return str(export_onnx(net, 1, model=lively(build(net), net), cache=cache))


def graph_blocked(optimised_path: str) -> tuple[bool, bool]:
    """(ORT ran the convolution in NCHWc, it converted the input in), read from its optimised graph."""
    import onnx

    ops = [(n.op_type, n.domain) for n in onnx.load(optimised_path, load_external_data=False).graph.node]
    return ("Conv", "com.microsoft.nchwc") in ops, ("ReorderInput", "com.microsoft.nchwc") in ops


def _blocked_in_ort(cin: int, cout: int, groups: int, cache: str) -> tuple[bool, bool]:
    """(ORT ran the convolution in NCHWc, it converted the input in) for a one-convolution model at level all."""
    import os

    from lwbench.onnx.session import session

    path = rule_model(cin, cout, groups, cache)
    opt = os.path.join(cache, f"opt-{cin}-{cout}-{groups}.onnx")
    session(path, "cpu", 1, "all", optimized_path=opt)
    return graph_blocked(opt)


class _Here(dict):
    """{(cin, cout, groups): _blocked_in_ort(...)}, each read from ORT here when first asked for."""

    def __init__(self, cache: str):
        super().__init__()
        self.cache = cache

    def __missing__(self, key):
        self[key] = _blocked_in_ort(*key, self.cache)
        return self[key]


BLOCKS = (2, 4, 8, 16, 32)
MULTIPLES = (1, 2, 4, 8, 16, 32, 64)


def rule_shapes(block: int | None = None) -> list[tuple[int, int, int]]:
    """The one-convolution shapes detect_rules reads: first (block None) the 64-channel dense one and the
    block candidates; then, for a block, the depthwise and grouped candidates."""
    if block is None:
        return [(64, 64, 1), *((c, 64, 1) for c in BLOCKS)]
    return [*((4 * block + m,) * 3 for m in MULTIPLES),
            *((2 * (4 * block + m), 2 * (4 * block + m), 2) for m in MULTIPLES)]


def detect_rules(ask=None) -> dict | None:
    """ORT's NCHWc rule on this machine and version ({block, channels, group}), read from the optimised graphs of
    one-convolution models; None when ORT blocks no convolution here (no NCHWc kernels for this CPU).
    `ask(shapes)`: {(cin, cout, groups): (blocked, converts its input)} for the rule_shapes asked for, from
    another ORT (a remote target: lwbench.predict.remotecal); default: ORT here, each read when first needed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lwbench-nchwc-") as d:
        here = _Here(d)
        got = ask(rule_shapes()) if ask else here
        if not got[(64, 64, 1)][0]:
            return None
        block = next((c for c in BLOCKS if got[(c, 64, 1)][1]), 64)
        got = ask(rule_shapes(block)) if ask else here
        # the smallest m for which a depthwise convolution of 4·block + m channels (a grouped one of 4·block + m
        # per group) is blocked; 0 when none is
        channels = next((m for m in MULTIPLES if got[(4 * block + m,) * 3][0]), 0)
        group = next((m for m in MULTIPLES if got[(2 * (4 * block + m), 2 * (4 * block + m), 2)][0]), 0)
    return {"block": block, "channels": channels, "group": group}


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
