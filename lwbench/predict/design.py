"""The calibration grid: single layers and small blocks, built as lwbench IR from the op registry.

A probe is a tiny network (an IR `Net`, built by `lwbench.build` like any zoo network, so a probe's layer
is the very module kind, with the very attributes, that a network's layer is). Its layer's time is the
probe's latency less the fixed cost of one forward call (measured by chains of identities, the `overhead`
group); a `minus` probe is subtracted too where the layer needs a helper (a broadcast multiply needs the
global pooling that makes its Cx1x1 operand).

The grid is designed, not drawn from the zoo: channels, spatial sizes, kernels, strides, groups and
expansions come from general value lists, sampled log-uniformly with a fixed seed under a size bound, so no
zoo network (and no list of zoo layer shapes) is in it. `grid()` has at most 1,500 probes.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field

from lwbench.ir import Net, Node, Ref

CHANNELS = (3, 8, 12, 16, 20, 24, 32, 40, 48, 56, 64, 72, 80, 96, 112, 120, 128, 144, 160, 192, 232, 240, 256,
            288, 320, 384, 464, 480, 512, 576, 640, 672, 768, 960, 1024, 1152, 1280, 1536, 2048)
SIZES = (4, 5, 6, 7, 8, 10, 12, 13, 14, 16, 19, 20, 24, 27, 28, 32, 37, 40, 48, 55, 56, 64, 74, 80, 96, 112,
         120, 128, 147, 150, 160)
MAX_ELEMS = 3_600_000          # per feature map (in or out) of one probe
MAX_MADDS = 1_500_000_000
GROUPS = ("speed", "overhead", "pointwise", "depthwise", "conv", "grouped", "unaligned", "linear", "norm-act", "merge",
          "pool", "block", "chain", "fault-base", "fault", "speed-end")
# the `fault` group runs with glibc told to mmap every block of 64 KiB or more (and unmap it when freed), so each
# call page-faults its whole output; `fault-base` is the same probes with the default allocator: the difference
# per fault is the cost of one page fault on this machine (eager torch networks fault every forward, see
# lwbench.predict.faults)
FAULT_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
FAULT_SHAPES = ((16, 64), (32, 64), (64, 56), (96, 56), (128, 56), (64, 112), (96, 112), (256, 56), (32, 28),
                (64, 28), (128, 28), (256, 28), (24, 112), (144, 56), (192, 28), (48, 112))


@dataclass(frozen=True)
class Probe:
    """One calibration measurement: a tiny network. nodes: (op, attrs, inputs) with inputs 'x' (the probe's
    input) or the index of an earlier node; `target` is the node the measurement calibrates (None: a block,
    every node counts); `minus`: the id of a probe whose time is subtracted (a helper layer); `names`: the
    layers' dotted module names (a synthetic network is named as networks are: a built module reaches a nested
    layer through one attribute lookup per level, which costs per call), default n0, n1, ..."""

    group: str
    input: tuple[int, ...]
    nodes: tuple = ()
    target: int | None = -1
    minus: str | None = None
    label: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    names: tuple = ()

    @property
    def id(self) -> str:
        parts = [self.group, list(self.input), _plain(self.nodes), self.target, self.minus]
        if self.names:                      # absent from the ids of probes with the default names
            parts.append(list(self.names))
        text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        d = {"id": self.id, "group": self.group, "input": list(self.input), "nodes": _plain(self.nodes),
             "target": self.target, "minus": self.minus, "label": self.label}
        if self.names:
            d["names"] = list(self.names)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Probe:
        nodes = tuple((op, dict(attrs), tuple(tuple(r) if isinstance(r, list) else r for r in ins))
                      for op, attrs, ins in d["nodes"])
        return cls(group=d["group"], input=tuple(d["input"]), nodes=nodes, target=d["target"], minus=d["minus"],
                   label=d.get("label", ""), names=tuple(d.get("names") or ()))


def _plain(nodes) -> list:
    return [[op, {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(attrs.items())},
             [list(r) if isinstance(r, tuple) else r for r in ins]] for op, attrs, ins in nodes]


def _ref(r, names: tuple = ()) -> Ref:
    """'x' (the input), i (node i) or (i, j) (output j of node i)."""
    if r == "x":
        return Ref("input")
    i, j = (int(r[0]), int(r[1])) if isinstance(r, (list, tuple)) else (int(r), 0)
    return Ref(names[i] if names else f"n{i}", j)


def probe_net(p: Probe) -> Net:
    """The probe as an IR Net (shape inference by each op's own rule; attributes completed by its defaults)."""
    from lwbench.ops import REQUIRED, get_op

    nodes: list[Node] = []
    shapes: dict[str, list] = {"input": [tuple(p.input)]}
    for i, (op, attrs, ins) in enumerate(p.nodes):
        d = get_op(op)
        full = {k: (attrs[k] if k in attrs else a.default) for k, a in d.attrs.items()}
        missing = [k for k, v in full.items() if v is REQUIRED]
        if missing:
            raise ValueError(f"probe {p.label}: {op} needs {missing}")
        refs = [_ref(r, p.names) for r in ins]
        in_shapes = [shapes[r.node][r.index] for r in refs]
        out = d.infer(full, in_shapes)
        name = p.names[i] if p.names else f"n{i}"
        nodes.append(Node(name, d.kind, full, refs, in_shapes, out, src=f"probe.nodes[{i}]"))
        shapes[name] = out
    return Net(name=f"probe_{p.id}", nodes=nodes, input_shape=tuple(p.input), output=Ref(nodes[-1].name),
               family="calibration probe")


# --------------------------------------------------------------------------- sampling helpers
def _pick(rng: random.Random, values, lo=None, hi=None):
    vs = [v for v in values if (lo is None or v >= lo) and (hi is None or v <= hi)]
    return rng.choice(vs)


def _sample(rng, n, make, tries=40) -> list[Probe]:
    """n distinct probes from make(rng) (None = rejected by a size bound)."""
    out: dict[str, Probe] = {}
    for _ in range(n * tries):
        if len(out) >= n:
            break
        p = make(rng)
        if p is not None:
            out.setdefault(p.id, p)
    return list(out.values())


def _fits(*elems: int, madds: int = 0) -> bool:
    return max(elems) <= MAX_ELEMS and madds <= MAX_MADDS


def _out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _conv_probe(group, c, h, cout, k, s, g, bias, label) -> Probe | None:
    o = _out(h, k, s, k // 2)
    if o < 1 or not _fits(c * h * h, cout * o * o, madds=cout * o * o * (c // g) * k * k):
        return None
    attrs = {"out": cout, "kernel": k, "stride": s, "groups": g, "bias": bias}
    return Probe(group, (c, h, h), (("conv2d", attrs, ("x",)),), label=f"{label} {c}->{cout} @{h} k{k}s{s}g{g}")


# --------------------------------------------------------------------------- the grid, group by group
def _overhead() -> list[Probe]:
    out = []
    for n in (1, 2, 4, 8, 16, 32):
        for c in (8, 64):
            nodes = tuple(("identity", {}, ("x" if i == 0 else i - 1,)) for i in range(n))
            out.append(Probe("overhead", (c, 8, 8), nodes, target=None, label=f"{n} identities", extra={"n": n}))
    return out


def _pointwise(rng) -> list[Probe]:
    def dense(r):
        return _conv_probe("pointwise", _pick(r, CHANNELS, 8), _pick(r, SIZES), _pick(r, CHANNELS, 8), 1, 1, 1,
                           r.random() < 0.3, "pw")

    def se(r):  # 1x1 convolutions on a 1x1 map (squeeze-and-excitation)
        c = _pick(r, CHANNELS + (2304, 2688, 3072, 3840), 8)
        return _conv_probe("pointwise", c, 1, max(4, _pick(r, (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160,
                                                                240))), 1, 1, 1, True, "se-reduce") \
            if r.random() < 0.5 else _conv_probe("pointwise", _pick(r, (8, 16, 24, 32, 48, 64, 96, 128, 160), 8), 1,
                                                 c, 1, 1, 1, True, "se-expand")

    def s2(r):
        return _conv_probe("pointwise", _pick(r, CHANNELS, 16), _pick(r, SIZES, 7), _pick(r, CHANNELS, 32), 1, 2, 1,
                           False, "pw-s2")

    return _sample(rng, 220, dense) + _sample(rng, 40, se) + _sample(rng, 20, s2)


def _depthwise(rng) -> list[Probe]:
    out = []
    for k, s, n in ((3, 1, 80), (3, 2, 55), (5, 1, 60), (5, 2, 40), (7, 1, 10)):
        def make(r, k=k, s=s):
            c = _pick(r, CHANNELS, 8)
            return _conv_probe("depthwise", c, _pick(r, SIZES, 4), c, k, s, c, r.random() < 0.2, "dw")
        out += _sample(rng, n, make)
    return out


def _dense_conv(rng) -> list[Probe]:
    out = []
    for k, s, n in ((3, 1, 70), (3, 2, 30), (5, 1, 10), (7, 1, 4)):
        def make(r, k=k, s=s):
            return _conv_probe("conv", _pick(r, CHANNELS, 8, 512), _pick(r, SIZES, 5), _pick(r, CHANNELS, 8, 512),
                               k, s, 1, r.random() < 0.4, "conv")
        out += _sample(rng, n, make)
    for k, s, n in ((3, 2, 15), (7, 2, 8), (11, 4, 4), (5, 2, 4)):   # stems: an image in, large maps
        def stem(r, k=k, s=s):
            return _conv_probe("conv", 3, _pick(r, (96, 128, 160, 192, 224, 227, 240, 260, 299, 300)),
                               _pick(r, (8, 16, 24, 32, 40, 48, 64, 96)), k, s, 1, r.random() < 0.3, "stem")
        out += _sample(rng, n, stem)
    return out


def _grouped(rng) -> list[Probe]:
    def pw(r):
        g = r.choice((2, 3, 4, 8))
        c, co = g * _pick(r, CHANNELS, 4, 256), g * _pick(r, CHANNELS, 4, 256)
        return _conv_probe("grouped", c, _pick(r, SIZES, 7, 56), co, 1, 1, g, False, "gpw")

    def g3(r):
        g, s = 32, r.choice((1, 1, 2))
        c = g * _pick(r, (4, 8, 16, 32))
        return _conv_probe("grouped", c, _pick(r, SIZES, 7, 56), c, 3, s, g, False, "g32")

    return _sample(rng, 100, pw) + _sample(rng, 18, g3)


def _linear(rng) -> list[Probe]:
    def make(r):
        fin = _pick(r, (64, 128, 256, 512, 576, 960, 1024, 1280, 1536, 2048, 4096, 9216))
        fout = _pick(r, (10, 100, 128, 512, 1000, 1024, 1280, 4096))
        if fin * fout > 40_000_000:
            return None
        return Probe("linear", (fin,), (("linear", {"out": fout, "bias": True}, ("x",)),), label=f"fc {fin}->{fout}")
    return _sample(rng, 25, make)


def _fmap(r, cmin=8):
    c, h = _pick(r, CHANNELS, cmin), _pick(r, SIZES)
    return (c, h, h) if c * h * h <= MAX_ELEMS else None


def _one(group, op, attrs, shape, label) -> Probe | None:
    return None if shape is None else Probe(group, shape, ((op, attrs, ("x",)),), label=f"{label} {shape}")


def _norm_act(rng) -> list[Probe]:
    out = _sample(rng, 60, lambda r: _one("norm-act", "batchnorm", {}, _fmap(r), "bn"))
    for op, n, n1 in (("relu", 35, 6), ("relu6", 25, 0), ("hardswish", 25, 0), ("hardsigmoid", 12, 10),
                      ("sigmoid", 12, 14), ("swish", 30, 6), ("tanh", 8, 0)):
        out += _sample(rng, n, lambda r, op=op: _one("norm-act", op, {}, _fmap(r), op))
        out += _sample(rng, n1, lambda r, op=op: _one("norm-act", op, {}, (_pick(r, CHANNELS, 4) * 2, 1, 1), op))
    return out


def _gap(shape) -> Probe:
    return Probe("merge", shape, (("global_avgpool", {}, ("x",)),), label=f"gap {shape}")


def _nary(op: str, n: int, shape) -> Probe | None:
    """`op` over n copies of the probe's input (add, same-shape mul, concat)."""
    return None if shape is None else Probe("merge", shape, ((op, {}, ("x",) * n),), label=f"{op}{n} {shape}")


def _merge(rng) -> list[Probe]:
    out = _sample(rng, 35, lambda r: _nary("add", 2, _fmap(r)))
    out += _sample(rng, 10, lambda r: _nary("mul", 2, _fmap(r)))

    def bcast(r):
        s = _fmap(r, 16)
        if s is None:
            return None
        return Probe("merge", s, (("global_avgpool", {}, ("x",)), ("mul", {}, ("x", 0))), minus=_gap(s).id,
                     label=f"se-mul {s}")
    muls = _sample(rng, 35, bcast)
    out += muls + [_gap(p.input) for p in muls]
    for n, count in ((2, 30), (4, 10)):
        out += _sample(rng, count, lambda r, n=n: _nary("concat", n, _fmap(r)))

    def split(r):
        s = _fmap(r, 16)
        return s and Probe("merge", s, (("split", {"sizes": [s[0] // 2, s[0] - s[0] // 2]}, ("x",)),),
                           label=f"split {s}")

    def shuffle(r):
        g = r.choice((2, 2, 3, 4, 8))
        c, h = g * _pick(r, CHANNELS, 4, 512), _pick(r, SIZES, 4, 112)
        return None if c * h * h > MAX_ELEMS else Probe("merge", (c, h, h), (("shuffle", {"groups": g}, ("x",)),),
                                                        label=f"shuffle g{g} {c}x{h}")
    return out + _sample(rng, 25, split) + _sample(rng, 40, shuffle)


def _pool(rng) -> list[Probe]:
    out = []
    for op, k, s, pads, n in (("maxpool", 3, 2, (0, 1), 32), ("maxpool", 2, 2, (0,), 14), ("maxpool", 3, 1, (1,), 10),
                              ("avgpool", 3, 2, (1,), 20), ("avgpool", 2, 2, (0,), 6)):
        def make(r, op=op, k=k, s=s, pads=pads):
            attrs = {"kernel": k, "stride": s, "padding": r.choice(pads), "ceil_mode": r.random() < 0.4}
            return _one("pool", op, attrs, _fmap(r), op)
        out += _sample(rng, n, make)
    out += _sample(rng, 30, lambda r: _one("pool", "global_avgpool", {}, _fmap(r), "gap"))
    out += _sample(rng, 5, lambda r: _one("pool", "adaptive_avgpool", {"output": r.choice((6, 7))},
                                          (_pick(r, CHANNELS, 64, 512), *([_pick(r, SIZES, 12, 28)] * 2)), "adaptive"))
    return out


def layer_groups(rng: random.Random) -> list[list[Probe]]:
    """The single-layer probes, group by group, drawn in this order from `rng` (the order fixes the grid)."""
    return [_overhead(), _pointwise(rng), _depthwise(rng), _dense_conv(rng), _grouped(rng), _linear(rng),
            _norm_act(rng), _merge(rng), _pool(rng)]


def fault_probes() -> list[Probe]:
    return [Probe(g, (c, h, h), (("relu", {}, ("x",)),), target=None, label=f"{g} relu {c}x{h}x{h}")
            for g in ("fault-base", "fault") for c, h in FAULT_SHAPES]
