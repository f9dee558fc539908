"""Synthetic networks for the calibration: layers in the context of a whole network, never a zoo network.

A layer timed alone (the calibration's single-layer probes) runs again and again with its code path, its
weights and its input hot; inside a network every other layer runs in between. On this CPU that context costs
a lot: each layer of shufflenet_v2_x0_5 timed alone at its real shapes sums to about half the network's
latency (benchmarks/additivity.py), while a 2-4 layer block shows no such penalty. So the calibration also
times whole networks drawn at random from a design space that covers the zoo's patterns - a stem, stages of
blocks with growing channels and falling resolution, a head - and fits how a network's latency departs from
the sum of its layers (lwbench.predict.context). The space is the usual one of NAS and latency-predictor
papers (nn-Meter, LitePred sample it the same way): per stage a block kind (inverted residual with optional
squeeze-excite, ShuffleNet V2 unit, ShuffleNet V1 grouped unit, separable, fire, basic residual, plain conv),
widths and depths drawn from general lists, the activations of the zoo. Sizes come from the general lists of
lwbench.predict.design, under its size bounds; with a fixed seed the same networks every time.
"""

from __future__ import annotations

import random

from lwbench.predict.design import MAX_ELEMS, Probe

CHAINS = 36
RESOLUTIONS = (96, 112, 128, 144, 160, 192, 224)
ACTS = ("relu", "relu6", "hardswish", "swish")
KINDS = ("inverted", "inverted_se", "shuffle_v2", "shuffle_v1", "separable", "fire", "basic", "plain")
MIN_LAYERS, MAX_LAYERS = 40, 260


class _Net:
    """A node list being drawn: `cur` is the index of the current tensor (or 'x'), c and h its channels/size."""

    def __init__(self, c: int, h: int):
        self.nodes: list = []
        self.names: list[str] = []
        self.scope, self.k = "stem", 0
        self.cur, self.c, self.h = "x", c, h

    def enter(self, scope: str) -> None:
        """Name the next layers as a network's module tree does: `stage2.1.body.l3` (nested modules)."""
        self.scope, self.k = scope, 0

    def add(self, op, attrs, ins) -> int:
        self.nodes.append((op, attrs, tuple(ins)))
        self.names.append(f"{self.scope}.l{self.k}")
        self.k += 1
        return len(self.nodes) - 1

    def conv(self, src, cin, cout, k=1, s=1, g=1, act=None, bn=True):
        i = self.add("conv2d", {"out": cout, "kernel": k, "stride": s, "padding": k // 2, "groups": g,
                                "bias": not bn}, (src,))
        if bn:
            i = self.add("batchnorm", {}, (i,))
        if act:
            i = self.add(act, {}, (i,))
        return i

    def step(self, i, c, h):
        self.cur, self.c, self.h = i, c, h


def _out(h: int, s: int) -> int:
    return (h - 1) // s + 1


def _inverted(n: _Net, rng, cout, s, act, se: bool) -> None:
    c, t, k = n.c, rng.choice((1, 3, 4, 6)), rng.choice((3, 5, 7))
    mid = c * t
    x = n.cur
    e = n.conv(x, c, mid, act=act) if t > 1 else x
    d = n.conv(e, mid, mid, k, s, mid, act=act)
    if se:
        g = n.add("global_avgpool", {}, (d,))
        r = n.add("conv2d", {"out": max(8, mid // 4), "kernel": 1, "bias": True}, (g,))
        r = n.add("relu", {}, (r,))
        r = n.add("conv2d", {"out": mid, "kernel": 1, "bias": True}, (r,))
        r = n.add(rng.choice(("hardsigmoid", "sigmoid")), {}, (r,))
        d = n.add("mul", {}, (d, r))
    p = n.conv(d, mid, cout)
    if s == 1 and cout == c:
        p = n.add("add", {}, (x, p))
    n.step(p, cout, _out(n.h, s))


def _shuffle_v2(n: _Net, rng, cout, s, act) -> None:
    c, x = n.c, n.cur
    if s == 1 and cout == c and c % 2 == 0:
        half = c // 2
        sp = n.add("split", {"sizes": [half, half]}, (x,))
        b = n.conv((sp, 1), half, half, act=act)
        b = n.conv(b, half, half, 3, 1, half)
        b = n.conv(b, half, half, act=act)
        cat = n.add("concat", {}, ((sp, 0), b))
    else:
        half = cout // 2
        a = n.conv(x, c, c, 3, s, c)
        a = n.conv(a, c, half, act=act)
        b = n.conv(x, c, half, act=act)
        b = n.conv(b, half, half, 3, s, half)
        b = n.conv(b, half, cout - half, act=act)
        cat = n.add("concat", {}, (a, b))
    n.step(n.add("shuffle", {"groups": 2}, (cat,)), cout, _out(n.h, s))


def _shuffle_v1(n: _Net, rng, cout, s, act) -> None:
    c, x, g = n.c, n.cur, rng.choice((2, 3, 4, 8))
    mid = max(g, (cout // 4) // g * g)
    if c % g or cout % g:
        return _separable(n, rng, cout, s, act)
    a = n.conv(x, c, mid, g=g, act=act)
    a = n.add("shuffle", {"groups": g}, (a,))
    a = n.conv(a, mid, mid, 3, s, mid)
    a = n.conv(a, mid, cout, g=g)
    if s == 1 and cout == c:
        y = n.add("add", {}, (x, a))
    elif cout == c:             # a strided unit that keeps the width: no shortcut, one more grouped 1x1
        y = n.conv(a, cout, cout, g=g)
    else:                       # a unit that changes the width: no shortcut
        y = a
    n.step(n.add(act, {}, (y,)), cout, _out(n.h, s))
    return None


def _separable(n: _Net, rng, cout, s, act) -> None:
    c = n.c
    d = n.conv(n.cur, c, c, rng.choice((3, 5)), s, c, act=act)
    n.step(n.conv(d, c, cout, act=act), cout, _out(n.h, s))


def _fire(n: _Net, rng, cout, s, act) -> None:
    x = n.cur
    if s == 2:
        x = n.add("maxpool", {"kernel": 3, "stride": 2, "padding": 1}, (x,))
    sq = max(8, cout // 8)
    q = n.conv(x, n.c, sq, act="relu", bn=False)
    a = n.conv(q, sq, cout // 2, act="relu", bn=False)
    b = n.conv(q, sq, cout - cout // 2, 3, act="relu", bn=False)
    n.step(n.add("concat", {}, (a, b)), cout, _out(n.h, s))


def _basic(n: _Net, rng, cout, s, act) -> None:
    x = n.cur
    a = n.conv(x, n.c, cout, 3, s, act=act)
    a = n.conv(a, cout, cout, 3)
    sc = x if s == 1 and cout == n.c else n.conv(x, n.c, cout, 1, s)
    y = n.add("add", {}, (sc, a))
    n.step(n.add(act, {}, (y,)), cout, _out(n.h, s))


def _plain(n: _Net, rng, cout, s, act) -> None:
    n.step(n.conv(n.cur, n.c, cout, rng.choice((1, 3)), s, act=act), cout, _out(n.h, s))


def _block(n: _Net, rng, kind, cout, s, act) -> None:
    if kind in ("inverted", "inverted_se"):
        return _inverted(n, rng, cout, s, act, kind == "inverted_se")
    return {"shuffle_v2": _shuffle_v2, "shuffle_v1": _shuffle_v1, "separable": _separable, "fire": _fire,
            "basic": _basic, "plain": _plain}[kind](n, rng, cout, s, act)


def _fits(c: int, h: int, t: int = 6) -> bool:
    return c * t * h * h <= MAX_ELEMS


def chain(rng: random.Random, index: int) -> Probe | None:
    """One random network (None when a draw breaks a size bound: the caller draws again)."""
    res = rng.choice(RESOLUTIONS)
    c = rng.choice((16, 24, 32, 40, 48))
    n = _Net(3, res)
    act = rng.choice(ACTS)
    n.step(n.conv("x", 3, c, 3, 2, act=act), c, _out(res, 2))
    stages = rng.randint(3, 6)
    mix = rng.random() < 0.5                      # one block kind for the whole network, or one per stage
    kind = rng.choice(KINDS)
    nest = ".body" * rng.choice((0, 1, 2))        # module names 2-4 levels deep, as in the zoo
    for st in range(stages):
        kind = rng.choice(KINDS) if mix else kind
        act = rng.choice(ACTS) if mix else act
        cout = min(1024, max(8, int(n.c * rng.choice((1.0, 1.5, 2.0, 2.5)) // 8 * 8)))
        for b in range(rng.randint(1, 5)):
            s = 2 if b == 0 and st > 0 and n.h > 4 else 1
            if not _fits(max(n.c, cout), n.h):
                return None
            n.enter(f"stage{st + 1}.{b}{nest}")
            _block(n, rng, kind, cout, s, act)
            if len(n.nodes) > MAX_LAYERS - 8:
                break
    head = rng.choice((256, 512, 960, 1024, 1280))
    n.enter("head")
    h = n.conv(n.cur, n.c, head, act=act)
    g = n.add("global_avgpool", {}, (h,))
    f = n.add("flatten", {}, (g,))
    n.add("linear", {"out": rng.choice((10, 100, 1000))}, (f,))
    if not MIN_LAYERS <= len(n.nodes) <= MAX_LAYERS:
        return None
    label = f"synthetic network {index}: {len(n.nodes)} layers @{res}" + (" mixed" if mix else f" {kind}")
    return Probe("chain", (3, res, res), tuple(n.nodes), target=None, label=label, names=tuple(n.names))


def chains(rng: random.Random, count: int = CHAINS) -> list[Probe]:
    out: list[Probe] = []
    tries = 0
    while len(out) < count and tries < count * 50:
        tries += 1
        p = chain(rng, len(out))
        if p is not None:
            out.append(p)
    return out
