"""A persistent store of compiled networks, like Python's __pycache__: a fresh process skips the YAML parse, the
block expansion and the shape inference of a file it has compiled before.

lwbench.spec.cache.load writes each Net it compiled in full (not the cheap resolution replays) once, as plain
JSON, to `$LWBENCH_CACHE/nets/KEY.json` (default ~/.cache/lwbench/nets). KEY is the sha256 of what decides the
Net: the sha256 of the YAML file's bytes, its resolved real path, the variant asked for (None: the file's own),
width, resolution, lwbench's version, the store format and the *code identity* of the modules that compile it
(name, size and mtime of lwbench/spec/*.py, lwbench/ops/*.py, ir.py and version.py, the PyYAML version and
parser, Python's version; computed once per process), so an edited file or compiler never gets a stale Net.
`Net.file` is the path asked for, whatever path wrote the entry.

A file is one JSON object: `{"format": 1, "lwbench": VERSION, "key": KEY, "sha256": SHA, "net": BODY}`, where
SHA is the sha256 of BODY's bytes as written (a truncated or altered file fails it). BODY holds tables of the
distinct shapes (and lists of them), tensors (Refs, and lists of them), op kinds, key paths and attribute
mappings, and the nodes as columns of indices into them: decoding builds each shape tuple, Ref and attribute
mapping once, then each node field with one C-level map. JSON arrays are tuples; a list is `{"list": [...]}`, a
mapping `{"dict": {...}}`; numbers, text, true/false and null are themselves (1 and 1.0 stay an int and a
float); an attribute mapping of plain values only (most) is used as JSON gives it (`attr_kinds`).

Only what compiled is stored: an error is never written, so it is reported by the full compile every time.
Nets with an op kind registered outside lwbench (lwbench.ops.BUILTIN) and values of other types are not stored.
Reading is bounded (MAX_BYTES); a missing, oversized, unreadable, truncated or other-version file, or one that
does not decode, is ignored (the caller compiles and overwrites it, through a temp file and os.replace). A
folder that cannot be written is never an error: the store is skipped. The folder keeps at most MAX_FILES
entries: when a write makes more, the least recently used are removed (a hit refreshes a file's mtime).
`LWBENCH_NET_STORE=0` (or off, false, no) turns the store off. No torch here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import sys
from contextlib import contextmanager
from itertools import repeat

from lwbench.ir import Net, Node, Ref
from lwbench.ops import BUILTIN
from lwbench.spec.limits import LimitError, read_limited
from lwbench.version import __version__, cache_root

FORMAT = 1
MAX_BYTES = 8 << 20       # one store file (the largest zoo Net is about 0.4 MB)
MAX_FILES = 2000          # entries in the folder; a write over it prunes to PRUNE_TO
PRUNE_TO = 1500
OFF = ("0", "off", "false", "no")
_SEP = b', "net": '
_CODE: list = []          # the code identity, computed once per process
_SEQ = itertools.count()  # temp file names of this process


class _Unstorable(Exception):
    """A value the format does not hold exactly (the Net is then not stored)."""


def enabled() -> bool:
    return os.environ.get("LWBENCH_NET_STORE", "1").strip().lower() not in OFF


def folder() -> str | None:
    """$LWBENCH_CACHE/nets, or None where no cache folder can be named (no home directory)."""
    try:
        return str(cache_root() / "nets")
    except (RuntimeError, KeyError, OSError):
        return None


@contextmanager
def suspended():
    """`with suspended():` loads neither read nor write the store (the benchmarks' first-ever compile)."""
    was = os.environ.get("LWBENCH_NET_STORE")
    os.environ["LWBENCH_NET_STORE"] = "0"
    try:
        yield
    finally:
        if was is None:
            os.environ.pop("LWBENCH_NET_STORE", None)
        else:
            os.environ["LWBENCH_NET_STORE"] = was


def code_identity() -> str:
    """A hash of (name, size, mtime) of every module that decides a Net, and of the YAML parser and Python."""
    if not _CODE:
        import yaml

        pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        names = sorted(f"{sub}/{f}" for sub in ("spec", "ops") for f in os.listdir(os.path.join(pkg, sub))
                       if f.endswith(".py")) + ["ir.py", "version.py"]
        h = hashlib.sha256(f"{yaml.__version__} {hasattr(yaml, 'CSafeLoader')} {sys.version}".encode())
        for name in names:
            st = os.stat(os.path.join(pkg, name))
            h.update(f"\n{name} {st.st_size} {st.st_mtime_ns}".encode())
        _CODE.append(h.hexdigest())
    return _CODE[0]


def key(file: str, digest: str, variant: str | None, width, resolution) -> str | None:
    """The store key of a load, or None where the store is off or the request is not one it keeps."""
    if not enabled() or not digest or (width is not None and type(width) not in (int, float)) \
            or (resolution is not None and type(resolution) is not int):
        return None
    try:
        ident = [FORMAT, __version__, code_identity(), digest, os.path.realpath(file), variant, repr(width), resolution]
    except OSError:         # a module file that cannot be stat'ed: no identity, no store
        return None
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()


# ---------------------------------------------------------------- values
_SCALARS = (str, int, float, bool, type(None))
_ref = tuple.__new__     # a Ref from (node, index) without the named tuple's Python-level __new__


def _enc(v):
    t = type(v)
    if t in _SCALARS:
        return v
    if t is tuple:
        return [_enc(x) for x in v]
    if t is list:
        return {"list": [_enc(x) for x in v]}
    if t is dict and all(type(k) is str for k in v):
        return {"dict": {k: _enc(x) for k, x in v.items()}}
    raise _Unstorable(t.__name__)


def _dec(v):
    t = type(v)
    if t is list:
        return tuple(_dec(x) for x in v)
    if t is dict:
        (tag, inner), = v.items()
        if tag == "list":
            return [_dec(x) for x in inner]
        if tag == "dict" and type(inner) is dict:
            return {k: _dec(x) for k, x in inner.items()}
        raise ValueError(f"unknown tag {tag!r}")
    if t not in _SCALARS:
        raise ValueError(t.__name__)
    return v


def _mutable(v) -> bool:
    return type(v) in (list, dict) or (type(v) is tuple and any(map(_mutable, v)))


# ---------------------------------------------------------------- a Net as JSON
def _attr_key(a: dict):
    """A key equal only for equal attribute mappings (keys in order, values of the same types: 1, 1.0 and True,
    0.0 and -0.0 differ); for values other than numbers, text and tuples of integers, their JSON."""
    vals = tuple(a.values())
    types = tuple(map(type, vals))
    try:
        if tuple in types and not all(type(x) is int for v in vals if type(v) is tuple for x in v):
            raise TypeError
        key = (tuple(a.items()), types)
        if float in types:
            key += (tuple(math.copysign(1.0, v) for v in vals if type(v) is float),)
        hash(key)
        return key
    except TypeError:           # a list, a mapping, a tuple of other values
        return json.dumps([[k, _enc(v)] for k, v in a.items()])


def _shape_ok(s) -> bool:
    return type(s) is tuple and all(type(d) is int for d in s)


def _kind(attrs: dict) -> int:
    """0: numbers, text, true/false, null only (the JSON mapping is the attributes); 1: tuples too (decoded once
    and shared: immutable); 2: lists or mappings (decoded for each node)."""
    vals = attrs.values()
    if all(type(v) in _SCALARS for v in vals):
        return 0
    return 2 if any(map(_mutable, vals)) else 1


def _rows(net: Net) -> tuple[list, dict]:
    """The nodes as columns of indices into tables of distinct values: shape tuples and lists of them, op
    kinds, attribute mappings, key paths, tensors as (node position (-1: the input), output index), and the
    lists of tensors nodes read."""
    out: dict = {t: [] for t in ("shapes", "lists", "ops", "attrs", "attr_kinds", "srcs", "refs", "inlists")}
    seen: dict = {t: {} for t in out}
    pos = {"input": -1}

    def new(table: str, key, value) -> int:
        i = seen[table][key] = len(out[table])
        out[table].append(value)
        return i

    def shape_list(ss) -> int:
        key = tuple(ss)
        i = lists.get(key)
        if i is None:
            if not all(map(_shape_ok, key)):
                raise _Unstorable("shape")
            i = new("lists", key, [shapes[s] if s in shapes else new("shapes", s, s) for s in key])
        return i

    lists, shapes, ops, attrs, srcs, refs, inlists = (seen[t] for t in ("lists", "shapes", "ops", "attrs", "srcs",
                                                                        "refs", "inlists"))
    cols: tuple[list, ...] = ([], [], [], [], [], [], [])
    names, op_i, attr_i, ins, in_i, out_i, src_i = cols
    for j, n in enumerate(net.nodes):
        if type(n.name) is not str or type(n.src) is not str or n.op not in BUILTIN:
            raise _Unstorable(f"node {n.name!r}")
        ids = []
        for r in n.inputs:
            k = (pos[r.node], r.index) if type(r) is Ref and type(r.index) is int else None
            ids.append(refs[k] if k in refs else new("refs", k, k) if k else _bad("ref"))
        ids, ak = tuple(ids), _attr_key(n.attrs)
        if ak not in attrs:
            out["attr_kinds"].append(_kind(n.attrs))
        names.append(n.name)
        op_i.append(ops[n.op] if n.op in ops else new("ops", n.op, n.op))
        attr_i.append(attrs[ak] if ak in attrs else new("attrs", ak, {k: _enc(v) for k, v in n.attrs.items()}))
        ins.append(inlists[ids] if ids in inlists else new("inlists", ids, ids))
        in_i.append(shape_list(n.in_shapes))
        out_i.append(shape_list(n.out_shapes))
        src_i.append(srcs[n.src] if n.src in srcs else new("srcs", n.src, n.src))
        pos[n.name] = j
    refs_out = out.pop("refs")
    out["ref_nodes"], out["ref_index"] = [p for p, _ in refs_out], [i for _, i in refs_out]
    return list(cols), out


def _bad(what: str):
    raise _Unstorable(what)


def encode(net: Net) -> dict:
    """The JSON body of a Net (raises _Unstorable where the format would not give it back exactly)."""
    head = [net.name, net.family, net.source, net.notes]
    o = net.output
    if not all(type(x) is str for x in head) or type(net.params) is not dict or type(net.expect) is not dict \
            or not _shape_ok(net.input_shape) or type(o) is not Ref or type(o.node) is not str or type(o.index) is not int:
        raise _Unstorable("net")
    cols, tables = _rows(net)
    return {"head": head, "params": _enc(net.params), "expect": _enc(net.expect), "input_shape": net.input_shape,
            "output": o, **tables, "nodes": cols}


def decode(body: dict, file: str) -> Net:
    """The Net of a JSON body (any malformed body raises). Tables first, then each node field as one column
    (C-level maps), then the nodes in one pass."""
    cols = body["nodes"]
    names, op_i, attr_i, ins, in_i, out_i, src_i = cols
    if any(len(c) != len(names) for c in cols):
        raise ValueError("columns of different lengths")
    shapes = list(map(tuple, body["shapes"]))
    if not all(type(d) is int for s in shapes for d in s) or not BUILTIN.issuperset(body["ops"]):
        raise ValueError("shape or op kind")
    lists = [tuple(map(shapes.__getitem__, ids)) for ids in body["lists"]]
    at = [*names, "input"].__getitem__                      # position -1: the network input
    refs = list(map(_ref, repeat(Ref), zip(map(at, body["ref_nodes"]), body["ref_index"], strict=True)))
    inlists = [tuple(map(refs.__getitem__, ids)) for ids in body["inlists"]]
    raw, kinds = body["attrs"], body["attr_kinds"]
    shared = [enc if k == 0 else {a: _dec(v) for a, v in enc.items()} if k == 1 else None
              for enc, k in zip(raw, kinds, strict=True)]
    if 2 in kinds:      # a list or mapping among the values: decoded for each node that has it
        attrs = [{k: _dec(v) for k, v in raw[a].items()} if shared[a] is None else shared[a].copy() for a in attr_i]
    else:
        attrs = list(map(dict.copy, map(shared.__getitem__, attr_i)))
    nodes = list(map(Node, names, map(body["ops"].__getitem__, op_i), attrs, map(list, map(inlists.__getitem__, ins)),
                     map(list, map(lists.__getitem__, in_i)), map(list, map(lists.__getitem__, out_i)),
                     map(body["srcs"].__getitem__, src_i)))
    name, family, source, notes = body["head"]
    params, expect, (out, idx) = _dec(body["params"]), _dec(body["expect"]), body["output"]
    if type(params) is not dict or type(expect) is not dict or type(out) is not str or type(idx) is not int:
        raise ValueError("net")
    return Net(name=name, nodes=nodes, input_shape=tuple(body["input_shape"]), output=Ref(out, idx), file=file,
               family=family, source=source, notes=notes, params=params, expect=expect)


# ---------------------------------------------------------------- files
def get(k: str, file: str) -> Net | None:
    """The stored Net of key `k` (its `file` set to the path asked for), or None: absent or unusable."""
    hit = fetch(k, file)
    return hit[0] if hit is not None else None


def fetch(k: str, file: str) -> tuple[Net, dict] | None:
    """(the stored Net of key `k`, the JSON body it was decoded from, which decodes again to an equal Net), or
    None: absent or unusable."""
    d = folder()
    if d is None:
        return None
    path = os.path.join(d, k + ".json")
    try:
        data = read_limited(path, MAX_BYTES)
    except (OSError, LimitError):
        return None
    try:
        cut = data.index(_SEP)
        head = json.loads(data[:cut] + b"}")
        body = data[cut + len(_SEP):-2]
        if head != {"format": FORMAT, "lwbench": __version__, "key": k, "sha256": hashlib.sha256(body).hexdigest()} \
                or not data.endswith(b"}\n"):
            return None
        body = json.loads(body)
        net = decode(body, file)
    except Exception:  # noqa: BLE001 - whatever is wrong with a store file, the full compile answers instead
        return None
    try:
        os.utime(path)      # recently used: pruned last
    except OSError:
        pass
    return net, body


def put(k: str, net: Net) -> None:
    """Store `net` under key `k`, atomically; silently nothing where it cannot be stored or written."""
    try:
        body = json.dumps(encode(net), separators=(",", ":")).encode()
    except (_Unstorable, ValueError, TypeError, KeyError, RecursionError):
        return
    head = json.dumps({"format": FORMAT, "lwbench": __version__, "key": k,
                       "sha256": hashlib.sha256(body).hexdigest()}).encode()
    data = head[:-1] + _SEP + body + b"}\n"
    if len(data) > MAX_BYTES:
        return
    d = folder()
    if d is None:
        return
    tmp = os.path.join(d, f".{k}.{os.getpid()}.{next(_SEQ)}.tmp")
    try:
        os.makedirs(d, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(d, k + ".json"))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        prune(d)
    except OSError:
        return


def prune(d: str) -> int:
    """Past MAX_FILES entries, remove the least recently used down to PRUNE_TO; returns how many were removed."""
    names = os.listdir(d)
    if len(names) <= MAX_FILES:
        return 0
    aged = []
    for name in names:
        try:
            aged.append((os.stat(os.path.join(d, name)).st_mtime_ns, name))
        except OSError:
            continue
    aged.sort()
    gone = 0
    for _, name in aged[:max(0, len(aged) - PRUNE_TO)]:
        try:
            os.unlink(os.path.join(d, name))
            gone += 1
        except OSError:
            continue
    return gone
