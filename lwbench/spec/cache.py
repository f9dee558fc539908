"""Parse a YAML file once; expand width/resolution variants cheaply.

A grid asks for hundreds of variants of one network. `lwbench.spec.load` pays the YAML parse (about 1 ms) and
the block expansion (2-4 ms) every time; here the parse is cached per file (keyed by path, size, mtime and
inode; the sha256 of the bytes is kept as the file's identity), and one *traced* compile per (file, variant,
width) records what the expansion decided. Another resolution is then only shape inference over the recorded
nodes, which is what compile_doc would do, provided nothing it decided depended on the spatial size:

- no expression read `$in_size` or `$resolution` (a watched environment records it; a traced file that does
  is compiled in full for every resolution);
- every node keeps the channel count (and rank) of each output, so every `$in` and `split: half` it read is
  the same;
- every `residual: auto` still sees equal (or unequal) shapes;
- no op's shape inference fails (a ShapeError: the full compile runs and reports it as it always does), and
  no tensor is over lwbench.spec.limits' bounds (the full compile refuses it with its line).

If any check fails the variant is compiled in full, so the result is always the Net compile_doc gives
(tests/test_spec_cache.py compares them node by node across the zoo). Nodes with the same op, attributes and
input shapes share one shape inference and one cost evaluation (a memo per trace), and `totals` gives a
variant's whole-network counts for several batches and dtypes without building per-layer rows. A load at the
traced resolution itself is the traced Net, copied (nothing to re-infer); the replay plan is made at the first
other resolution.

The file's bytes are read once (their sha256 is the file's identity) and parsed only when needed: `load` asks,
in order, this process's traces (a copy or a replay), the Nets the persistent store gave this process, the
store itself (lwbench.spec.store: the Net any process compiled before from the same bytes, variant, width,
resolution, lwbench and compiler code, read back from JSON without a parse or an expansion), and only then
compiles; what it compiled in full is stored (a replay is not: it is cheap, and a sweep would write thousands).
Errors are never stored, so a bad file is reported by the compile every time.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from math import prod

from lwbench.ir import Net, Node
from lwbench.ops import ShapeError, get_op
from lwbench.spec import store
from lwbench.spec.limits import MAX_DIM, MAX_ELEMS, LimitError, read_limited
from lwbench.spec.parse import _Compiler, compile_doc, read_doc
from lwbench.spec.zoo import resolve
from lwbench.vocab import DTYPE_BYTES

SPATIAL_NAMES = frozenset(("in_size", "resolution"))
MAX_DOCS, MAX_TRACES, MAX_MEMO = 64, 256, 200_000   # bounded: a long sweep cannot grow them without limit


class _Watch(dict):
    """The environment an expression is evaluated in; records a read of the spatial size."""

    __slots__ = ("owner",)

    def __getitem__(self, key):
        if key in SPATIAL_NAMES:
            self.owner.spatial = True
        return dict.__getitem__(self, key)


class _Tracing(_Compiler):
    spatial = False

    def __init__(self, *args):
        super().__init__(*args)
        self.autos: list = []

    def local_env(self, env, x):   # _Compiler.local_env's environment, watched (one copy, not two)
        s = self.shapes[x]
        w = _Watch(env)
        w["in"], w["in_size"], w.owner = s[0], s[1] if len(s) == 3 else 1, self
        return w

    def residual(self, holder, key, full, x, y, env):
        if holder.get("residual") == "auto":
            self.autos.append(((x.node, x.index), (y.node, y.index), self.shapes[x] == self.shapes[y]))
        return super().residual(holder, key, full, x, y, env)


def _chans(outs) -> tuple:
    if len(outs) == 1:
        s = outs[0]
        return ((len(s), s[0]),)
    return tuple((len(s), s[0]) for s in outs)


@dataclass
class Trace:
    """One traced compile of (file, variant, width) and what a replay at another resolution needs."""

    net: Net
    base: str
    width: float | None
    spatial: bool
    traced_autos: list              # (x, y, were they equal) per residual: auto, as the compile saw them
    memo: dict = field(default_factory=dict)   # (signature, input shapes) -> (outputs, channels, figures)
    _plan: tuple | None = None

    def plan(self) -> tuple[list, list]:
        """(per node: (signature id, input getter, single input?, channels, node, op); per residual: auto: (slot
        of x, slot of y, were they equal)), made at the first replay (a load at the traced resolution needs
        none)."""
        if self._plan is None:
            self._plan = _plan(self.net, self.traced_autos)
        return self._plan


def _plan(net: Net, traced_autos) -> tuple[list, list]:
    """Tensors are numbered in order (the input is 0, then each node's outputs), so a replay appends them."""
    from operator import itemgetter

    slot = {("input", 0): 0}
    sig_ids: dict = {}
    plan = []
    for n in net.nodes:
        ids = [slot[(r.node, r.index)] for r in n.inputs]
        sig = sig_ids.setdefault((n.op, tuple(n.attrs.items())), len(sig_ids))
        plan.append((sig, itemgetter(*ids), len(ids) == 1, _chans(n.out_shapes), n, get_op(n.op)))
        for i in range(len(n.out_shapes)):
            slot[(n.name, i)] = len(slot)
    autos = [(slot[x], slot[y], eq) for x, y, eq in traced_autos]
    return plan, autos


_DOCS: OrderedDict = OrderedDict()
_TRACES: OrderedDict = OrderedDict()
_NETS: OrderedDict = OrderedDict()     # (file, digest, variant, width, resolution) -> what the store gave


def _remember(cache: OrderedDict, key, value, limit: int):
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)
    return value


def _entry(file: str) -> list | None:
    """[sha256 of the bytes, parsed document or None, the bytes until parsed] of a YAML file, read once while it
    is unchanged (keyed by path, size, mtime and inode); None where it cannot be read (read_doc then says why)."""
    try:
        st = os.stat(file)
    except OSError:
        return None
    stamp = (file, st.st_size, st.st_mtime_ns, st.st_ino)
    hit = _DOCS.get(stamp)
    if hit is not None:
        _DOCS.move_to_end(stamp)
        return hit
    try:
        data = read_limited(file)
    except (OSError, LimitError):
        return None
    return _remember(_DOCS, stamp, [hashlib.sha256(data).hexdigest(), None, data], MAX_DOCS)


def document(file: str) -> tuple[dict, str]:
    """The parsed document of a YAML file and the sha256 of its bytes, parsed once while the file is unchanged
    (a file that does not parse is parsed, and its error raised, every time)."""
    e = _entry(file)
    if e is None:
        return read_doc(file), ""           # read_doc reports the missing/unreadable file as always
    if e[1] is None:
        e[1], e[2] = read_doc(file, e[2]), None
    return e[1], e[0]


def clear() -> None:
    """Forget every cached parse, trace and store hit (tests and the cold benchmark): a fresh process's state."""
    _DOCS.clear()
    _TRACES.clear()
    _NETS.clear()


def _trace(file: str, doc: dict, digest: str, asked: str | None, variant: str, width, resolution) -> Trace:
    key = (file, digest, asked, width, resolution is None)
    hit = _TRACES.get(key)
    if hit is not None:
        return hit
    box: list[_Tracing] = []

    def factory(*args):
        box.append(_Tracing(*args))
        return box[-1]

    net = compile_doc(doc, file, variant, width, resolution, compiler=factory)
    tr = Trace(net=net, base=variant, width=width, spatial=box[-1].spatial, traced_autos=box[-1].autos)
    return _remember(_TRACES, key, tr, MAX_TRACES)


def _figures(op, attrs, ins: list, outs: tuple, strict: bool = False):
    """Per image: (params, madds, activations read + written, weights read, output elements), or None where the
    cost rule fails (strict: it raises, as lwbench.count would)."""
    try:
        c = op.cost(attrs, ins, list(outs))
    except Exception:  # noqa: BLE001 - a load must not fail on it; totals asks again, strict
        if strict:
            raise
        return None
    return c.params, c.madds, c.act_in + c.act_out, c.params + c.buffers, 0 if op.free else sum(map(prod, outs))


def _step(n: Node, op, single: bool, ins):
    """One node at new input shapes: (outputs, channels, figures), or None over lwbench.spec.limits' bounds (the
    full compile then reports it with its line). A ShapeError propagates."""
    il = [ins] if single else list(ins)
    outs = tuple(op.infer(n.attrs, il))
    for o in outs:
        if prod(o) > MAX_ELEMS or (o and max(o) > MAX_DIM):
            return None
    return outs, _chans(outs), _figures(op, n.attrs, il, outs)


def _replay(tr: Trace, res: int):
    """(tensor shapes in slot order, per-node memo entries) at resolution `res`, or None where the traced
    structure may not hold there (the caller then compiles in full)."""
    memo = tr.memo
    if len(memo) > MAX_MEMO:
        memo.clear()
    plan, autos = tr.plan()
    slots = [(tr.net.input_shape[0], res, res)]
    hits = []
    seen, extend, append = memo.get, slots.extend, hits.append
    try:
        for sig, get, single, ch, n, op in plan:
            ins = get(slots)
            hit = seen((sig, ins))
            if hit is None:
                hit = _step(n, op, single, ins)
                if hit is None:
                    return None
                memo[(sig, ins)] = hit
            if hit[1] != ch:
                return None
            extend(hit[0])
            append(hit)
    except ShapeError:
        return None
    for x, y, equal in autos:
        if (slots[x] == slots[y]) != equal:
            return None
    return slots, hits


def _name_params(tr: Trace, res: int | None) -> tuple[str, dict, dict]:
    if res is None:
        return tr.net.name, dict(tr.net.params), dict(tr.net.expect)
    tag = ([f"width={tr.width:g}"] if tr.width is not None else []) + [f"resolution={res}"]
    return f"{tr.base}[{','.join(tag)}]", {**tr.net.params, "resolution": res}, {}


def _replayable(resolution) -> bool:
    return resolution is None or (type(resolution) is int and 1 <= resolution <= MAX_DIM)


def _prepare(file: str, asked: str | None, width, resolution):
    """(document, variant, trace or None where this resolution needs the full compile)."""
    doc, digest = document(file)
    variant = asked or str(doc["name"])
    if not _replayable(resolution):
        return doc, variant, None
    tr = _trace(file, doc, digest, asked, variant, width, resolution)
    if tr.spatial and resolution is not None and resolution != tr.net.resolution:
        return doc, variant, None
    return doc, variant, tr


def load(name_or_path: str, width: float | None = None, resolution: int | None = None) -> Net:
    """lwbench.spec.load through the caches: the same Net, node for node. In this process first (the traced
    compile of this file, variant and width: a copy, or a replay at another resolution), then the persistent
    store (lwbench.spec.store: a Net compiled before, by any process), then the compile, whose Net is stored."""
    file, asked = resolve(name_or_path)
    e = _entry(file) if _replayable(resolution) else None
    k = None
    if e is not None:
        tr = _TRACES.get((file, e[0], asked, width, resolution is None))
        net = _at(tr, resolution) if tr is not None else None
        if net is not None:
            return net
        near = (file, e[0], asked, width, resolution)
        net = _stored(near)
        if net is not None:
            return net
        k = store.key(file, e[0], asked, width, resolution)
        hit = store.fetch(k, file) if k else None
        if hit is not None:
            _remember(_NETS, near, hit[1], MAX_DOCS)      # the JSON body: decoded (once) at the next load
            return hit[0]
    doc, variant, tr = _prepare(file, asked, width, resolution)
    net = _at(tr, resolution) if tr is not None else None
    if net is None:
        net = compile_doc(doc, file, variant, width, resolution)
    if k:
        store.put(k, net)
    return net


def _stored(near: tuple) -> Net | None:
    """A copy of the Net a store hit of this process gave for this load, or None."""
    hit = _NETS.get(near)
    if hit is None:
        return None
    if type(hit) is dict:
        hit = _NETS[near] = store.decode(hit, near[0])
    return _copy(hit)


def _at(tr: Trace, resolution) -> Net | None:
    """The traced Net at `resolution` (a copy at the traced one, else a replay), or None where the full compile
    must answer."""
    if resolution is None or resolution == tr.net.resolution:
        return _copy(tr.net)            # the traced compile is compile_doc's Net at this resolution
    done = None if tr.spatial else _replay(tr, resolution)
    if done is None:
        return None
    ref, res = tr.net, resolution
    name, params, expect = _name_params(tr, resolution)
    nodes = []
    for (_, get, single, _, n, _), (outs, _, _) in zip(tr.plan()[0], done[1]):
        ins = get(done[0])
        nodes.append(Node(n.name, n.op, dict(n.attrs), list(n.inputs), [ins] if single else list(ins), list(outs),
                          n.src))
    return Net(name=name, nodes=nodes, input_shape=(ref.input_shape[0], res, res), output=ref.output, file=ref.file,
               family=ref.family, source=ref.source, notes=ref.notes, params=params, expect=expect)


def _copy(net: Net) -> Net:
    """A Net of its own (nodes, attributes, lists) for the caller, so nothing it changes reaches the cache."""
    nodes = [Node(n.name, n.op, dict(n.attrs), list(n.inputs), list(n.in_shapes), list(n.out_shapes), n.src)
             for n in net.nodes]
    return Net(name=net.name, nodes=nodes, input_shape=net.input_shape, output=net.output, file=net.file,
               family=net.family, source=net.source, notes=net.notes, params=dict(net.params), expect=dict(net.expect))


def totals(name_or_path: str, width: float | None = None, resolution: int | None = None,
           batches=(1,), dtypes=("float32",)) -> tuple[str, str, list[dict]]:
    """(network name, input shape 'CxHxW', rows): one row per batch × dtype with the whole-network figures
    lwbench.count gives (params, madds, mac_elems, mac_bytes, out_elems, layers), without per-layer rows."""
    file, asked = resolve(name_or_path)
    doc, variant, tr = _prepare(file, asked, width, resolution)
    res = tr.net.resolution if tr is not None and resolution is None else resolution
    done = _replay(tr, res) if tr is not None else None
    if done is None or any(h[2] is None for h in done[1]):  # the full compile, the same sums (and errors)
        net = compile_doc(doc, file, variant, width, resolution)
        figs = [_figures(get_op(n.op), n.attrs, n.in_shapes, tuple(n.out_shapes), strict=True) for n in net.nodes]
        name, shape = net.name, "x".join(map(str, net.input_shape))
    else:
        figs = [h[2] for h in done[1]]
        name, shape = _name_params(tr, resolution)[0], f"{tr.net.input_shape[0]}x{res}x{res}"
    p, m, act, w, oe = (sum(col) for col in zip(*figs))
    rows = []
    for b in batches:
        for dt in dtypes:
            mac = b * act + w
            rows.append({"batch": b, "dtype": dt, "layers": len(figs), "params": p, "madds": b * m,
                         "mac_elems": mac, "mac_bytes": mac * DTYPE_BYTES[dt], "out_elems": b * oe})
    return name, shape, rows
