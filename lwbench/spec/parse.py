"""YAML network -> Net (IR): block expansion, repeats, branches, width/resolution scaling, shape inference.

One pass walks the YAML tree with the current tensor in hand, so `$in` (channels entering a layer) is
always known, and each node gets its shapes as it is made. Pure Python: no torch here.
See configs/README.md for the format.
"""

from __future__ import annotations

import math
from math import prod

from lwbench.errors import ConfigError, UnknownNameError, suggest
from lwbench.ir import Net, Node, Ref, Shape
from lwbench.ops import REQUIRED, ShapeError, get_op
from lwbench.ops.registry import NO_PARAMS, Attr
from lwbench.spec.docs import EXPECT_FIGURES, EXPECT_KEYS, TOP_KEYS, read_doc, variant_names
from lwbench.spec.expr import BASE_FUNCS
from lwbench.spec.limits import MAX_DIM, MAX_ELEMS, MAX_LAYERS, MAX_NESTING, MAX_REPEAT
from lwbench.spec.names import name_problem
from lwbench.spec.values import Values
from lwbench.spec.yamlio import line_of

__all__ = ["compile_doc", "read_doc", "variant_names", "TOP_KEYS", "EXPECT_FIGURES", "EXPECT_KEYS"]
FORMS = ("op", "block", "layers", "parallel")
COMMON = ("name", "if", "repeat", "first")
MERGES = ("add", "mul", "concat")
RESERVED_PARAMS = ("in", "in_size", "width", "resolution")
_BOOL, _INTS = Attr("bool"), Attr("ints")
_PRIM_KEYS: dict = {}  # op kind -> (its OpDef, the keys an `op:` item of it may have)


class _Compiler(Values):
    def __init__(self, file: str, doc: dict, env: dict, input_shape: Shape):
        self.file = file
        self.blocks = doc.get("blocks") or {}
        self.env = env
        self.nodes: list[Node] = []
        self.shapes: dict[Ref, Shape] = {Ref("input"): input_shape}
        self.names: set[str] = {"input"}
        self.containers: set[str] = set()  # every proper prefix of a layer name (a plain torch container)
        self.depth = 0  # nested layer lists being compiled (bounded by MAX_NESTING)
        self.stack: list[str] = []  # blocks being expanded, outermost first (a block may not use itself)
        self.funcs = dict(BASE_FUNCS)
        rule = doc.get("channels")
        if rule is not None:
            self.funcs["ch"] = self._channel_rule(rule)


    # ------------------------------------------------------------ graph building
    def add_node(self, name, op, attrs, inputs, key, mapping):
        prefixes = self.check_name(name, key, mapping)
        shapes = self.shapes
        in_shapes = [shapes[inputs[0]]] if len(inputs) == 1 else [shapes[r] for r in inputs]
        opdef = get_op(op)
        try:
            outs = opdef.infer(attrs, in_shapes)
        except ShapeError as e:
            k = f"{key}.{e.key}" if e.key else key
            self.fail(k, str(e), mapping=mapping, sub=e.key or None)
        self.check_size(opdef, attrs, in_shapes, outs, key, mapping)
        self.names.add(name)
        if prefixes:
            self.containers.update(prefixes)
        self.nodes.append(Node(name, op, attrs, inputs, in_shapes, outs, key))  # `inputs`: a fresh list per call
        ref = Ref(name, 0)
        if len(outs) == 1:
            shapes[ref] = outs[0]
        else:
            for i, s in enumerate(outs):
                shapes[Ref(name, i)] = s
        return ref

    def check_name(self, name, key, mapping) -> list[str]:
        """Refuse a name the graph cannot hold; returns its proper prefixes ('a', 'a.b' of 'a.b.c')."""
        if name == "input":
            self.fail(key + ".name", "'input' names the network's input; choose another name", mapping=mapping,
                      sub="name")
        if name in self.names:
            self.fail(key + ".name", f"layer name '{name}' is used twice", mapping=mapping, sub="name")
        if len(self.nodes) >= MAX_LAYERS:
            self.fail(key, f"more than {MAX_LAYERS:,} layers after expansion", mapping=mapping)
        parent = name.rpartition(".")[0]
        if not parent or parent in self.containers:  # no new prefix, and a container's prefixes are no layers
            if name in self.containers:
                self.fail(key + ".name", f"layer name '{name}' nests other layers (a torch module cannot be both a "
                          "layer and a container)", mapping=mapping, sub="name")
            return []
        prefixes, i = [], name.find(".")
        while i >= 0:
            prefixes.append(name[:i])
            i = name.find(".", i + 1)
        names = self.names
        leaf = next((p for p in prefixes if p in names), None)
        if leaf or name in self.containers:
            self.fail(key + ".name", f"layer name '{name}' nests {'inside layer ' + repr(leaf) if leaf else 'other layers'}"
                      " (a torch module cannot be both a layer and a container)", mapping=mapping, sub="name")
        return prefixes

    def check_size(self, opdef, attrs, in_shapes, outs, key, mapping):
        """Tensors and weights a machine could hold: refused at load, not when torch runs out of memory."""
        if len(outs) == 1:
            s = outs[0]
            big, top = prod(s), max(s, default=0)
        else:
            big, top = max((prod(s) for s in outs), default=0), max((d for s in outs for d in s), default=0)
        if big > MAX_ELEMS or top > MAX_DIM:
            self.fail(key, f"output {'x'.join(map(str, max(outs, key=prod)))} is larger than {MAX_ELEMS:,} "
                      "elements", mapping=mapping)
        params = 0 if opdef.cost in NO_PARAMS else opdef.cost(attrs, in_shapes, outs).params
        if params > MAX_ELEMS:
            self.fail(key, f"{params:,} parameters in one layer (at most {MAX_ELEMS:,})", mapping=mapping)

    def local_env(self, env, x: Ref):
        s = self.shapes[x]
        return {**env, "in": s[0], "in_size": s[1] if len(s) == 3 else 1}

    def seq(self, items, key, prefix, x: Ref, env, mapping=None, sub=None) -> Ref:
        if items is None:
            return x
        if not isinstance(items, list):
            self.fail(key, "expected a list of layers", type(items).__name__, mapping, sub)
        if self.depth >= MAX_NESTING:
            self.fail(key, f"layers nested deeper than {MAX_NESTING} levels", mapping=mapping, sub=sub)
        self.depth += 1
        for i, item in enumerate(items):
            x = self.item(item, f"{key}[{i}]", prefix, x, env, str(i))
        self.depth -= 1
        return x

    def item(self, item, key, prefix, x: Ref, env, default_name) -> Ref:
        if not isinstance(item, dict):
            self.fail(key, f"expected a mapping with one of {', '.join(FORMS)}", item)
        if ("op" in item) + ("block" in item) + ("layers" in item) + ("parallel" in item) != 1:
            forms = [f for f in FORMS if f in item]
            self.fail(key, f"expected exactly one of {', '.join(FORMS)}", ", ".join(forms) or "none", item)
        lenv = self.local_env(env, x)
        if "if" in item and not self.typed(item["if"], _BOOL, lenv, f"{key}.if", item, "if"):
            return x
        name = item.get("name", default_name)
        problem = name_problem(name)
        if problem:
            self.fail(f"{key}.name", problem, name, item, "name")
        name = str(name)
        full = f"{prefix}.{name}" if prefix else name
        if "repeat" not in item:
            if "first" in item:
                self.fail(f"{key}.first", "only allowed with repeat", mapping=item, sub="first")
            return self.one(item, key, full, x, env, lenv)
        n = self.as_int(self.expr(item["repeat"], lenv, f"{key}.repeat", item, "repeat"), f"{key}.repeat", item, "repeat")
        if n < 1:
            self.fail(f"{key}.repeat", "must be at least 1 (use if: to drop a layer)", n, item, "repeat")
        if n > MAX_REPEAT:
            self.fail(f"{key}.repeat", f"must be at most {MAX_REPEAT:,}", n, item, "repeat")
        first = item.get("first") or {}
        if not isinstance(first, dict):
            self.fail(f"{key}.first", "expected a mapping of keys for the first repeat", first, item, "first")
        base = {k: v for k, v in item.items() if k not in ("repeat", "first", "name", "if")}
        for r in range(n):
            this = dict(base)
            if r == 0:
                this.update(first)
            else:
                this.pop("stride", None)  # the paper-table convention: stride applies to the first repeat
            x = self.one(this, key, f"{full}.{r}", x, env, lenv if r == 0 else None)
        return x

    def one(self, item, key, full, x: Ref, env, lenv=None) -> Ref:
        """One layer form; `lenv`: local_env(env, x), where the caller has it already."""
        lenv = self.local_env(env, x) if lenv is None else lenv
        if "op" in item:
            return self.prim(item, key, full, x, env, lenv)
        if "block" in item:
            return self.call(item, key, full, x, env, lenv)
        if "layers" in item:
            self.allowed(item, key, ("layers", "residual"))
            y = self.seq(item["layers"], f"{key}.layers", full, x, env, item, "layers")
            return self.residual(item, key, full, x, y, lenv)
        return self.parallel(item, key, full, x, env, lenv)

    def allowed(self, item, key, extra):
        ok = COMMON + tuple(extra)
        for k in item:
            if k not in ok:
                self.fail(f"{key}.{k}", f"unknown key{suggest(k, ok)}", mapping=item, sub=k)

    def prim(self, item, key, full, x, env, lenv) -> Ref:
        kind = item["op"]
        if isinstance(kind, str) and "$" in kind:  # `op: $act`: a block argument naming the op
            kind = self.loose(kind, lenv, f"{key}.op", item, "op")
        try:
            opdef = get_op(str(kind))
        except UnknownNameError as e:
            self.fail(f"{key}.op", str(e), mapping=item, sub="op")
        attrs = {}
        ok = _PRIM_KEYS.get(opdef.kind)
        if ok is None or ok[0] is not opdef:
            ok = _PRIM_KEYS[opdef.kind] = (opdef, frozenset((*COMMON, "op", *opdef.attrs)))
        if not ok[1].issuperset(item):
            self.allowed(item, key, ("op", *opdef.attrs))
        for k, spec in opdef.attrs.items():
            if k not in item:
                if spec.default is REQUIRED:
                    self.fail(f"{key}.{k}", f"missing (required by op {opdef.kind})", mapping=item, sub="op")
                attrs[k] = spec.default
            else:
                attrs[k] = self.typed(item[k], spec, lenv, f"{key}.{k}", item, k)
        if opdef.inputs != "one":
            self.fail(f"{key}.op", f"{opdef.kind} merges branches: write it as parallel: ... merge: {opdef.kind}",
                      mapping=item, sub="op")
        return self.add_node(full, opdef.kind, attrs, [x], key, item)

    def call(self, item, key, full, x, env, lenv) -> Ref:
        bname = item["block"]
        if not isinstance(bname, str) or bname not in self.blocks:
            self.fail(f"{key}.block", f"unknown block '{bname}'{suggest(bname, self.blocks)}", mapping=item, sub="block")
        bdef = self.blocks[bname]
        bkey = f"blocks.{bname}"
        if not isinstance(bdef, dict) or "layers" not in bdef:
            self.fail(bkey, "expected a mapping with args and layers", mapping=self.blocks, sub=bname)
        for k in bdef:
            if k not in ("args", "layers", "residual", "doc"):
                self.fail(f"{bkey}.{k}", f"unknown key{suggest(k, ('args', 'layers', 'residual', 'doc'))}", mapping=bdef, sub=k)
        spec = bdef.get("args") or {}
        if not isinstance(spec, dict):
            self.fail(f"{bkey}.args", "expected a mapping of argument: default (or required)", spec, bdef, "args")
        args = {}
        for k, v in item.items():
            if k in ("block", "residual") or k in COMMON:
                continue
            if k not in spec:
                self.fail(f"{key}.{k}", f"unknown argument of block {bname}{suggest(k, spec)}", mapping=item, sub=k)
            args[k] = self.loose(v, lenv, f"{key}.{k}", item, k)
        for k, default in spec.items():
            if k in RESERVED_PARAMS:
                self.fail(f"{bkey}.args.{k}", "is a reserved name (in, in_size, width, resolution)", mapping=spec, sub=k)
            if k not in args:
                if default == "required":
                    self.fail(f"{key}", f"missing argument '{k}' of block {bname}", mapping=item, sub="block")
                args[k] = self.loose(default, lenv, f"{bkey}.args.{k}", spec, k)
        if bname in self.stack:
            chain = " > ".join([*self.stack[self.stack.index(bname):], bname])
            self.fail(f"{key}.block", f"block {bname} uses itself ({chain}); write repeat: to repeat layers",
                      mapping=item, sub="block")
        benv = {**self.env, **args}
        self.stack.append(bname)
        y = self.seq(bdef["layers"], f"{key} > {bkey}.layers", full, x, benv, bdef, "layers")
        self.stack.pop()
        renv = self.local_env(benv, x)
        y = self.residual(bdef, f"{key} > {bkey}", full, x, y, renv)
        return self.residual(item, key, full, x, y, renv)

    def residual(self, holder, key, full, x, y, env) -> Ref:
        if "residual" not in holder:
            return y
        raw = holder["residual"]
        if raw == "auto":  # add the identity shortcut exactly when the body keeps the shape
            if self.shapes[x] != self.shapes[y]:
                return y
        elif not self.typed(raw, _BOOL, env, f"{key}.residual", holder, "residual"):
            return y
        return self.add_node(f"{full}.add", "add", {}, [x, y], f"{key}.residual", holder)

    def parallel(self, item, key, full, x, env, lenv) -> Ref:
        self.allowed(item, key, ("parallel", "merge", "split"))
        branches = item["parallel"]
        if isinstance(branches, list):
            named = [(f"branch{i}", b) for i, b in enumerate(branches)]
        elif isinstance(branches, dict):
            named = list(branches.items())
        else:
            self.fail(f"{key}.parallel", "expected a list (or mapping) of branches", branches, item, "parallel")
        if len(named) < 2:
            self.fail(f"{key}.parallel", "expected at least two branches", len(named), item, "parallel")
        merge = item.get("merge")
        if merge not in MERGES:
            self.fail(f"{key}.merge", f"expected one of {', '.join(MERGES)}{suggest(merge, MERGES)}", merge, item, "merge")
        inputs = [x] * len(named)
        if "split" in item:
            raw = item["split"]
            c = self.shapes[x][0]
            if raw == "half":
                if c % 2:
                    self.fail(f"{key}.split", f"half needs even in-channels, got {c}", mapping=item, sub="split")
                raw = [c // 2] * len(named) if len(named) == 2 else None
            sizes = self.typed(raw, _INTS, lenv, f"{key}.split", item, "split")
            if len(sizes) != len(named):
                self.fail(f"{key}.split", f"expected {len(named)} sizes, one per branch", list(sizes), item, "split")
            s = self.add_node(f"{full}.split", "split", {"sizes": sizes}, [x], f"{key}.split", item)
            inputs = [Ref(s.node, i) for i in range(len(named))]
        outs = []
        for (bname, branch), xin in zip(named, inputs):
            problem = name_problem(bname)
            if problem:
                self.fail(f"{key}.parallel.{bname}", problem, bname, branches, bname)
            outs.append(self.seq(branch, f"{key}.parallel.{bname}", f"{full}.{bname}", xin, env, branches, bname))
        if merge == "mul" and len(outs) != 2:
            self.fail(f"{key}.merge", "mul takes exactly two branches", len(outs), item, "merge")
        return self.add_node(f"{full}.{merge}", merge, {}, outs, f"{key}.merge", item)


# ---------------------------------------------------------------- variants, loading
def _check_width(width, file: str, key: str, line: int | None = None) -> None:
    """A width multiplier is a finite number above 0 (0 or less would make channel counts of 0 or less)."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise ConfigError(file, key, "expected a width multiplier above 0 (a finite number)", width, line)


def _input(doc: dict, over: dict, file: str) -> tuple:
    inp = doc.get("input") or {}
    if not isinstance(inp, dict):
        raise ConfigError(file, "input", "expected {channels: C, resolution: R}", inp)
    for k in inp:
        if k not in ("channels", "resolution"):
            raise ConfigError(file, f"input.{k}", f"unknown key{suggest(k, ('channels', 'resolution'))}", line=line_of(inp, k))
    return inp.get("channels", 3), over.get("resolution", inp.get("resolution", 224))


def compile_doc(doc: dict, file: str, variant: str | None = None, width: float | None = None,
                resolution: int | None = None, compiler=None) -> Net:
    """Turn a parsed document (and one of its variants) into a Net with shapes. `compiler`: a _Compiler
    subclass (lwbench.spec.cache traces a compile with one, to re-infer other resolutions cheaply)."""
    base_name = str(doc["name"])
    variants = doc.get("variants") or {}
    if not isinstance(variants, dict):
        raise ConfigError(file, "variants", "expected a mapping of name: overrides", type(variants).__name__)
    over: dict = {}
    if variant and variant != base_name:
        if variant not in variants:
            raise ConfigError(file, "variants", f"no variant '{variant}'{suggest(variant, variants)}")
        over = variants[variant] or {}
        for k in over:
            if k not in ("params", "resolution", "expect", "notes"):
                raise ConfigError(file, f"variants.{variant}.{k}", "unknown key (params, resolution, expect, notes)",
                                  line=line_of(over, k))
    params = dict(doc.get("params") or {})
    params.update(over.get("params") or {})
    for k in params:
        if k in RESERVED_PARAMS and k != "width":
            raise ConfigError(file, f"params.{k}", "is a reserved name (in, in_size, resolution: use input.resolution)")
    chans, res = _input(doc, over, file)
    name = variant or base_name
    expect = dict((over if over else doc).get("expect") or {})  # a variant states its own figures, or none
    tag = []
    if width is not None:
        _check_width(width, file, "--width")
        if "channels" not in doc:
            raise ConfigError(file, "channels", "--width needs a channel rule (channels: {round: ...}); none given")
        params["width"] = float(width)
        tag.append(f"width={width:g}")
    if resolution is not None:
        res = resolution
        tag.append(f"resolution={resolution}")
    if tag:
        name = f"{name}[{','.join(tag)}]"
        expect = {}
    if width is None and "width" in params:  # the file's own width multiplier: the same rule as --width
        from_variant = "width" in (over.get("params") or {})
        holder = (over.get("params") if from_variant else doc.get("params"))
        key = f"variants.{variant}.params.width" if from_variant else "params.width"
        _check_width(params["width"], file, key, line_of(holder, "width"))
    params.setdefault("width", 1.0)
    res_key = "input.resolution" if resolution is None else "--resolution"
    for k, v in (("input.channels", chans), (res_key, res)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(file, k, "expected a positive integer", v)
        if v > MAX_DIM:
            raise ConfigError(file, k, f"expected a positive integer of at most {MAX_DIM:,}", v)
    params["resolution"] = res
    shape = (chans, res, res)
    comp = (compiler or _Compiler)(file, doc, params, shape)
    out = comp.seq(doc["layers"], "layers", "", Ref("input"), params, doc, "layers")
    if not comp.nodes:
        raise ConfigError(file, "layers", "the network has no layers")
    return Net(name=name, nodes=comp.nodes, input_shape=shape, output=out, file=file,
               family=str(doc.get("family", "")), source=str(doc.get("source", "")),
               notes=str(over.get("notes", doc.get("notes", ""))), params=params, expect=expect)
