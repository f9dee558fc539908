"""ONNX Runtime's NCHWc layout pass at `ort_opt=all`, simulated on the IR: which tensors stay blocked, which residual
adds (and the activations after them) run inside a convolution, and where a tensor is converted (ReorderInput into
the blocked layout, ReorderOutput out of it).

ORT first folds batch norms and activations into convolutions (`conv_groups` below), then walks the
graph in order, keeping a tensor blocked when the op that makes it can run on blocked tensors:

- a convolution the NCHWc rule blocks (`blocked` below); it reads a plain input through a
  ReorderInput, except a dense one of fewer input channels than the block (the stem; a squeeze-excite expand of 4-8
  channels), which reads NCHW directly, a blocked input converted out;
- max and average pooling when their channels are a multiple of the block (a plain input is reordered in; an
  average pooling in ceil mode runs plain); global average pooling only when its input is already blocked (or is
  the graph input: a lone probe) and its channels are a multiple of the block;
- add and mul when every input is blocked with the same shape (a squeeze-excite multiply broadcasts: plain); an
  add is fused into the convolution that makes one of its inputs when that output has no other reader, the
  convolution has no activation and no add yet (the other input must be blocked: shufflenet_v1_g1's stage 2 adds
  read a plain residual, so ORT runs them apart);
- concat when every input is blocked and has a multiple of the block of channels (shufflenet_v1's stride-2 units
  join a 24-channel pooled input: plain on AVX-512, block 16; xception's 728-channel pooling: plain);
- relu, sigmoid and tanh on a blocked tensor (fused into the convolution that makes it when it may), swish
  (sigmoid and mul) and a lone batch norm (a depthwise convolution) likewise;
- every other op runs plain: each blocked tensor it reads is converted once (ReorderOutput), and so is a blocked
  network output.

A convolution outside the rule runs NCHW, where ORT fuses an add that is its only reader (FusedConv's sum input)
and the activation after it, as the IR rules had it before the pass. Identity and dropout pass their input on.
Checked against ORT 1.32's optimised graph of every accuracy network (tests/test_predict_ort.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from lwbench.ir import Ref

LEVELS = {"disable": 0, "basic": 1, "extended": 2, "all": 3}
ACTS = {"relu": 2, "relu6": 2, "sigmoid": 2, "hardsigmoid": 2, "tanh": 2, "hardswish": 3}   # op: level it fuses at
# fused into a convolution, these are applied by ORT's MLAS kernels as a second pass over the output (relu in the
# kernel itself): measured on G, a 144x56x56 depthwise convolution took 100 µs alone, 181 with relu6 fused, 218 with
# hardswish, 226 with sigmoid (the activations alone: 57, 149, 127 µs); a pointwise one the same with or without
OUTPUT_PASS = ("relu6", "hardsigmoid", "sigmoid", "tanh", "hardswish")
MIN_BLOCK = 8                      # the block read for a calibration made before the rule was stored
PASS_ON = ("identity", "dropout")
STANDALONE_ACTS = ("relu", "sigmoid", "tanh")
POOLS = ("maxpool", "avgpool")


def blocked(node, rules: dict | None) -> bool:
    """Whether ORT runs this convolution in NCHWc (`rules`: detect_rules; None: every convolution)."""
    if node.op != "conv2d":
        return False
    if not rules:
        return True
    cin, cout, g = node.in_shapes[0][0], node.out_shapes[0][0], int(node.attrs.get("groups", 1))

    def multiple(c: int, key: str) -> bool:   # a multiple of 0: ORT blocked none of that kind here
        return rules[key] > 0 and c % rules[key] == 0

    if g == 1:
        return cin < rules["block"] or multiple(cin, "channels")
    if g == cin == cout:
        return multiple(cin, "channels")
    return multiple(cin // g, "group") and multiple(cout // g, "group")


def _consumers(net) -> dict[str, list]:
    out: dict[str, list] = {n.name: [] for n in net.nodes}
    for n in net.nodes:
        for r in n.inputs:
            if r.node in out:
                out[r.node].append(n)
    out.setdefault(net.output.node, []).append(None)      # the network's output is read by the caller
    return out


def _sole(name: str, cons: dict[str, list]):
    c = cons.get(name) or []
    return c[0] if len(c) == 1 and c[0] is not None and len(c[0].inputs) >= 1 else None


def conv_groups(net, ort_opt: str = "all") -> dict[str, str]:
    """{layer: its convolution} for what ORT folds before its layout pass: a batch norm that is a convolution's only
    reader (`basic`) and the activation after it (`extended`; hardswish at `all`)."""
    level = LEVELS.get(ort_opt, 3)
    cons = _consumers(net)
    out: dict[str, str] = {}
    for conv in net.nodes:
        if conv.op != "conv2d" or level < 1:
            continue
        tail = conv
        nxt = _sole(tail.name, cons)
        if nxt is not None and nxt.op == "batchnorm":
            out[nxt.name], tail = conv.name, nxt
            nxt = _sole(tail.name, cons)
        if nxt is not None and ACTS.get(nxt.op, 9) <= level and nxt.name not in out:
            out[nxt.name] = conv.name
    return out


@dataclass
class Plan:
    fused: dict[str, str]                                   # layer -> the convolution it runs inside
    blocked: set[str] = field(default_factory=set)           # layers whose output stays blocked
    reorders: list[tuple[str, int]] = field(default_factory=list)   # ('in' | 'out', elements per image)


class _Pass:
    """One walk of the network in order: the blocked tensors, the convolutions that write them and what is fused
    into those, and the tensors converted in or out."""

    def __init__(self, net, rules: dict | None, base: dict[str, str]):
        self.net, self.rules, self.fused = net, rules, dict(base)
        self.block = rules["block"] if rules else MIN_BLOCK
        self.node = {n.name: n for n in net.nodes}
        self.shape = {Ref(n.name, i): s for n in net.nodes for i, s in enumerate(n.out_shapes)}
        self.shape[Ref("input", 0)] = tuple(net.input_shape)
        self.ch: dict[Ref, int] = {}            # blocked tensors: their logical channels
        self.conv: dict[Ref, list] = {}         # a tensor a convolution writes: [host, has activation, has add]
        self.ins: dict[Ref, int] = {}
        self.outs: dict[Ref, int] = {}
        self.uses = self._uses()

    def src(self, r: Ref) -> Ref:
        while r.node in self.node and self.node[r.node].op in PASS_ON:
            r = self.node[r.node].inputs[0]
        return r

    def _uses(self) -> dict[Ref, int]:
        u: dict[Ref, int] = {}
        for n in self.net.nodes:
            if n.op not in PASS_ON:
                for r in n.inputs:
                    u[self.src(r)] = u.get(self.src(r), 0) + 1
        out = self.src(self.net.output)
        u[out] = u.get(out, 0) + 1
        return u

    def plain_reads(self, n) -> None:
        for r in n.inputs:
            t = self.src(r)
            if t in self.ch:
                self.outs[t] = prod(self.shape[t])

    def keep(self, n, channels: int, conv: list | None = None) -> None:
        out = Ref(n.name, 0)
        self.ch[out] = channels
        if conv is not None:
            self.conv[out] = conv

    def reorder_in(self, t: Ref) -> None:
        if t not in self.ch:
            self.ins[t] = prod(self.shape[t])

    def visit(self, n) -> None:
        if n.op in PASS_ON:
            return
        host = self.fused.get(n.name)
        if host is not None and n.op != "conv2d":
            self._member(n, host)
        elif n.op == "conv2d":
            self._conv(n)
        elif n.op in POOLS or n.op in ("global_avgpool", "adaptive_avgpool"):
            self._pool(n)
        elif n.op in ("add", "mul"):
            self._binary(n)
        elif n.op == "concat":
            ts = [self.src(r) for r in n.inputs]
            if all(t in self.ch and self.ch[t] % self.block == 0 for t in ts):
                self.keep(n, sum(self.ch[t] for t in ts))
            else:
                self.plain_reads(n)
        elif n.op in STANDALONE_ACTS:
            self._act(n)
        elif n.op in ("swish", "batchnorm") and self.src(n.inputs[0]) in self.ch:
            self.keep(n, self.ch[self.src(n.inputs[0])])
        else:
            self.plain_reads(n)

    def _member(self, n, host: str) -> None:
        """A batch norm or activation folded into its convolution: the group's tensor is where the convolution
        writes (blocked as the convolution is)."""
        t = self.src(n.inputs[0])
        if t in self.ch:
            st = list(self.conv.get(t, [host, False, False]))
            st[1] = st[1] or n.op != "batchnorm"
            self.keep(n, self.ch[t], st)

    def _conv(self, n) -> None:
        t = self.src(n.inputs[0])
        if not blocked(n, self.rules):
            self.plain_reads(n)
            return
        if int(n.attrs.get("groups", 1)) == 1 and n.in_shapes[0][0] < self.block:
            self.plain_reads(n)          # reads NCHW directly: a blocked input is converted out
        else:
            self.reorder_in(t)
        self.keep(n, n.out_shapes[0][0], [n.name, False, False])

    def _pool(self, n) -> None:
        t, c = self.src(n.inputs[0]), n.in_shapes[0][0]
        glob = n.op == "global_avgpool" or (n.op == "adaptive_avgpool" and tuple(n.out_shapes[0][1:]) == (1, 1))
        tiles = n.op != "adaptive_avgpool" or glob or all(a % b == 0 for a, b in zip(n.in_shapes[0][1:],
                                                                                       n.out_shapes[0][1:]))
        ceil = n.op == "avgpool" and n.attrs.get("ceil_mode")        # ORT's blocked AveragePool has no ceil mode
        fed = t in self.ch or t.node == "input"   # a global pool on the graph input: ORT reorders it in (lone probes)
        if c % self.block or not tiles or ceil or (glob and not fed):
            self.plain_reads(n)
            return
        self.reorder_in(t)
        self.keep(n, c)

    def _binary(self, n) -> None:
        ts = [self.src(r) for r in n.inputs]
        same = len({self.shape[t] for t in ts}) == 1
        if not (same and all(t in self.ch for t in ts)):
            self._plain_add(n, ts)
            return
        if n.op == "add" and len(ts) == 2:
            for t in ts:
                st = self.conv.get(t)
                if st and not st[1] and not st[2] and self.uses.get(t) == 1:
                    self.fused[n.name] = st[0]
                    self.keep(n, self.ch[t], [st[0], False, True])
                    return
        self.keep(n, self.ch[ts[0]])

    def _plain_add(self, n, ts: list[Ref]) -> None:
        """An add (or mul) that runs plain; an add that is the only reader of an NCHW convolution's output (no
        activation) is fused into it, and so is the activation after it."""
        self.plain_reads(n)
        if n.op != "add" or len(ts) != 2:
            return
        for t in ts:
            host = self._nchw_host(t)
            if host and self.uses.get(t) == 1:
                self.fused[n.name] = host
                after = [m for m in self.net.nodes if any(self.src(r) == Ref(n.name, 0) for r in m.inputs)]
                if len(after) == 1 and self.uses.get(Ref(n.name, 0)) == 1 and ACTS.get(after[0].op, 9) <= 3:
                    self.fused.setdefault(after[0].name, host)
                return

    def _nchw_host(self, t: Ref) -> str | None:
        """The plain convolution whose group (convolution and batch norm, no activation) writes `t`."""
        name = t.node
        while name in self.fused and self.node[name].op == "batchnorm":
            name = self.fused[name]
        n = self.node.get(name)
        if n is None or n.op != "conv2d" or blocked(n, self.rules) or t.node != name and \
                self.node[t.node].op != "batchnorm":
            return None
        return name

    def _act(self, n) -> None:
        t = self.src(n.inputs[0])
        if t not in self.ch:
            self.plain_reads(n)
            return
        st = self.conv.get(t)
        if st and not st[1] and self.uses.get(t) == 1:
            self.fused[n.name] = st[0]
            self.keep(n, self.ch[t], [st[0], True, st[2]])
            return
        self.keep(n, self.ch[t])


def plan(net, ort_opt: str = "all", rules: dict | None = None) -> Plan:
    """ORT's fusions and NCHWc layout for `net` at `ort_opt` (`rules`: lwbench.predict.layout.detect_rules; None: a
    calibration made before the rule: every convolution blocked, a block of MIN_BLOCK)."""
    base = conv_groups(net, ort_opt)
    if LEVELS.get(ort_opt, 3) < 3:
        return Plan(base)
    p = _Pass(net, rules, base)
    for n in net.nodes:
        p.visit(n)
    out = p.src(net.output)
    if out in p.ch:
        p.outs[out] = prod(p.shape[out])
    blocked = {r.node for r in p.ch}
    return Plan(p.fused, blocked, [("in", e) for e in p.ins.values()] + [("out", e) for e in p.outs.values()])
