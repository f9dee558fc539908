"""Small blocks for the calibration: the patterns lightweight networks repeat, with generic sizes.

Blocks are not fitted: their measured time is compared with the per-layer sum the model predicts for them
(`calibrate` reports this additivity check beside the held-out layer errors), so a calibration says how far
"a network is the sum of its layers" holds on its machine before any network is predicted.
"""

from __future__ import annotations

from lwbench.predict.design import CHANNELS, MAX_ELEMS, Probe, _pick


def _bn_act(nodes: list, src, act: str | None) -> int:
    nodes.append(("batchnorm", {}, (src,)))
    if act:
        nodes.append((act, {}, (len(nodes) - 1,)))
    return len(nodes) - 1


def _conv(nodes: list, src, out: int, k: int = 1, s: int = 1, g: int = 1, act: str | None = "relu") -> int:
    nodes.append(("conv2d", {"out": out, "kernel": k, "stride": s, "groups": g, "bias": False}, (src,)))
    return _bn_act(nodes, len(nodes) - 1, act)


def inverted_residual(c: int, h: int, t: int, k: int, act: str = "relu6") -> Probe:
    nodes: list = []
    e = _conv(nodes, "x", c * t, act=act)
    d = _conv(nodes, e, c * t, k, 1, c * t, act=act)
    p = _conv(nodes, d, c, act=None)
    nodes.append(("add", {}, ("x", p)))
    return Probe("block", (c, h, h), tuple(nodes), target=None, label=f"inverted residual {c}@{h} t{t} k{k}")


def shuffle_unit(c: int, h: int) -> Probe:
    half = c // 2
    nodes: list = [("split", {"sizes": [half, c - half]}, ("x",))]
    a = _conv(nodes, (0, 1), c - half)          # the branch on the second half; the first passes through
    b = _conv(nodes, a, c - half, 3, 1, c - half, act=None)
    b = _conv(nodes, b, c - half)
    nodes.append(("concat", {}, ((0, 0), b)))
    nodes.append(("shuffle", {"groups": 2}, (len(nodes) - 1,)))
    return Probe("block", (c, h, h), tuple(nodes), target=None, label=f"shuffle unit {c}@{h}")


def se_block(c: int, h: int, r: int = 4) -> Probe:
    nodes: list = [("global_avgpool", {}, ("x",)),
                   ("conv2d", {"out": max(8, c // r), "kernel": 1, "bias": True}, (0,)), ("relu", {}, (1,)),
                   ("conv2d", {"out": c, "kernel": 1, "bias": True}, (2,)), ("hardsigmoid", {}, (3,)),
                   ("mul", {}, ("x", 4))]
    return Probe("block", (c, h, h), tuple(nodes), target=None, label=f"se {c}@{h}")


def fire(c: int, h: int, s: int, e: int) -> Probe:
    nodes: list = [("conv2d", {"out": s, "kernel": 1}, ("x",)), ("relu", {}, (0,)),
                   ("conv2d", {"out": e, "kernel": 1}, (1,)), ("relu", {}, (2,)),
                   ("conv2d", {"out": e, "kernel": 3}, (1,)), ("relu", {}, (4,)), ("concat", {}, (3, 5))]
    return Probe("block", (c, h, h), tuple(nodes), target=None, label=f"fire {c}@{h} s{s} e{e}")


def separable(c: int, h: int, cout: int) -> Probe:
    nodes: list = [("relu", {}, ("x",))]
    d = len(nodes)
    nodes.append(("conv2d", {"out": c, "kernel": 3, "groups": c, "bias": False}, (d - 1,)))
    nodes.append(("conv2d", {"out": cout, "kernel": 1, "bias": False}, (d,)))
    _bn_act(nodes, len(nodes) - 1, None)
    return Probe("block", (c, h, h), tuple(nodes), target=None, label=f"separable {c}->{cout}@{h}")


def blocks(rng) -> list[Probe]:
    """25 blocks with sizes drawn from the general lists (five of each pattern)."""
    out: list[Probe] = []
    while len(out) < 25:
        kind = len(out) % 5
        c, h = _pick(rng, CHANNELS, 16, 320), _pick(rng, (7, 10, 14, 19, 28, 37, 56))
        if c * h * h * 6 > MAX_ELEMS:
            continue
        if kind == 0:
            out.append(inverted_residual(c, h, rng.choice((3, 4, 6)), rng.choice((3, 5)),
                                         rng.choice(("relu6", "hardswish", "swish"))))
        elif kind == 1:
            out.append(shuffle_unit(c - c % 2, h))
        elif kind == 2:
            out.append(se_block(c * 2, h))
        elif kind == 3:
            out.append(fire(c, h, max(8, c // 4), c // 2))
        else:
            out.append(separable(c, h, _pick(rng, CHANNELS, 16, 512)))
    return out
