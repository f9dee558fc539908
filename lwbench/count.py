"""Walk the IR with the cost rules: exact per-layer params, madds and memory access cost.

madds: multiply-adds (one multiply-add = 1; the papers' "FLOPs").
mac: memory access cost as ShuffleNet V2 (Sec. 2) defines it: feature-map elements read and written plus
weights read. With batch N: mac = N·(inputs + outputs) + params + buffers (weights are read once per batch).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from math import prod

from lwbench.errors import InputError, suggest
from lwbench.ir import Net, fmt_shape
from lwbench.ops import get_op
from lwbench.vocab import CATEGORIES, DTYPE_BYTES, TOTAL_KEYS, category_key  # noqa: F401 - their home is vocab


@dataclass
class LayerRow:
    """One layer's counts. All figures for the whole batch, except params."""

    model: str
    layer: str
    kind: str
    category: str
    in_shape: str
    out_shape: str
    params: int
    madds: int
    mac_elems: int
    mac_bytes: int
    out_elems: int
    note: str = ""


@dataclass
class Profile:
    model: str
    input: str
    batch: int
    dtype: str
    layers: list[LayerRow]
    bn_policy: str = "separate"
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        return {k: sum(getattr(r, k) for r in self.layers) for k in TOTAL_KEYS}

    def _group(self, attr: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: {"layers": 0, **{k: 0 for k in TOTAL_KEYS}})
        for r in self.layers:
            g = out[getattr(r, attr)]
            g["layers"] += 1
            for k in TOTAL_KEYS:
                g[k] += getattr(r, k)
        return dict(out)

    def by_kind(self) -> dict[str, dict[str, int]]:
        return self._group("kind")

    def by_category(self) -> dict[str, dict[str, int]]:
        return self._group("category")

    def by_layer(self) -> dict[str, LayerRow]:
        return {r.layer: r for r in self.layers}

    def to_dict(self) -> dict:
        """The JSON export schema (README: 'Export schema')."""
        return {
            "model": self.model,
            "input": self.input,
            "batch": self.batch,
            "dtype": self.dtype,
            "bn_policy": self.bn_policy,
            "totals": self.totals,
            "madds_by_kind": {k: v["madds"] for k, v in self.by_kind().items()},
            "mac_elems_by_kind": {k: v["mac_elems"] for k, v in self.by_kind().items()},
            "layers": [asdict(r) for r in self.layers],
            # the torch-side counter (lwbench.measure.torchcount) says what it could not count: {op: calls}
            **({"unsupported": self.extra["unsupported"]} if "unsupported" in self.extra else {}),
            **({"params_not_run": self.extra["params_not_run"]} if "params_not_run" in self.extra else {}),
        }

    def summary(self) -> dict:
        """One row for the whole network (the `--summary` / `--all` export)."""
        row = {"model": self.model, "input": self.input, "batch": self.batch, "dtype": self.dtype,
               "layers": len(self.layers), **self.totals}
        cats = self.by_category()
        for key in ("madds", "mac_elems"):
            for cat in CATEGORIES:
                row[f"{key}_{category_key(cat)}"] = cats.get(cat, {}).get(key, 0)
        return row

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.layers])


def _folded_bns(net: Net) -> dict[str, str]:
    """BN node -> the conv/linear it folds into (the BN's sole producer, whose output only the BN reads)."""
    consumers: dict[str, int] = defaultdict(int)
    for n in net.nodes:
        for r in n.inputs:
            consumers[r.node] += 1
    kinds = {n.name: n.op for n in net.nodes}
    out = {}
    for n in net.nodes:
        src = n.inputs[0].node
        if n.op == "batchnorm" and kinds.get(src) in ("conv2d", "linear") and consumers[src] == 1:
            out[n.name] = src
    return out


@lru_cache(maxsize=8192)
def _shape_text(shapes: tuple) -> str:
    """'32x112x112' (several inputs joined by '+'); a grid repeats the same few shapes, so each is formatted once."""
    return "+".join(fmt_shape(s) for s in shapes)


def count(net: Net, batch: int = 1, dtype: str = "float32", fold_bn: bool = False) -> Profile:
    """Per-layer params, madds, mac (elements and bytes) of a Net, for `batch` images of `dtype`."""
    if dtype not in DTYPE_BYTES:
        raise InputError(f"--dtype: expected one of {', '.join(DTYPE_BYTES)}{suggest(dtype, DTYPE_BYTES)}, got {dtype}")
    if batch < 1:
        raise InputError(f"--batch: expected a positive integer, got {batch}")
    nbytes = DTYPE_BYTES[dtype]
    folded = _folded_bns(net) if fold_bn else {}
    gains_bias = {conv for conv in folded.values()}
    rows = []
    kinds: dict = {}  # op kind -> (OpDef, its fixed category or None), looked up once per kind
    model = net.name
    for n in net.nodes:
        if folded and n.name in folded:
            continue
        kind = kinds.get(n.op)
        if kind is None:
            op = get_op(n.op)
            kind = kinds[n.op] = (op, op.fixed_category)
        op, cat = kind
        ins, outs = n.in_shapes, n.out_shapes
        c = op.cost(n.attrs, ins, outs)
        params, note = c.params, ""
        if gains_bias and n.name in gains_bias and not n.attrs.get("bias"):
            params += n.out_shape[0]
            note = "bn folded in (+bias)"
        mac = batch * (c.act_in + c.act_out) + params + c.buffers
        out_elems = 0 if op.free else batch * (prod(outs[0]) if len(outs) == 1 else sum(prod(s) for s in outs))
        rows.append(LayerRow(  # positional, in field order (model, layer, kind, category, in/out shape, figures)
            model, n.name, n.op, cat or op.category(n.attrs, ins, outs), _shape_text(tuple(ins)),
            _shape_text(tuple(outs)), params, batch * c.madds, mac, mac * nbytes, out_elems, note,
        ))
    return Profile(model=net.name, input=fmt_shape(net.input_shape), batch=batch, dtype=dtype, layers=rows,
                   bn_policy="folded into the preceding conv" if fold_bn else "separate", source=net.source)


def check_expect(net: Net, profile: Profile | None = None) -> list[str]:
    """Compare a Net's `expect:` figures with its counts; returns one message per mismatch.

    `params` / `madds` are exact. `params_m` / `madds_m` (millions) and `madds_b` (billions) are a paper's
    rounded figures: they hold within one unit of their last printed digit (write "0.70" as a string to
    keep a trailing zero that YAML would drop). `madds_conv` (and `_m`, `_b`)
    is the multiply-adds of the conv2d layers alone, for papers that leave the classifier out (ShuffleNet
    V1, Table 1).
    """
    p = profile or count(net)
    tot = dict(p.totals)
    tot["madds_conv"] = sum(r.madds for r in p.layers if r.kind == "conv2d")
    bad = []
    for key, want in net.expect.items():
        if key in ("source", "notes", "doc"):
            continue
        base, unit = (key[:-2], key[-1]) if key.endswith(("_m", "_b")) else (key, "")
        if base not in ("params", "madds", "madds_conv"):
            bad.append(f"{net.name}: expect.{key}: unknown figure (params, madds, madds_conv, each also _m or _b)")
            continue
        got = tot[base]
        if unit == "":
            if got != want:
                bad.append(f"{net.name}: {base} {got:,} != expected {want:,}")
            continue
        scale = 1e6 if unit == "m" else 1e9
        text = want.strip() if isinstance(want, str) else repr(want)  # "0.70" keeps its printed digits
        try:
            want = float(text)
        except ValueError:
            bad.append(f"{net.name}: expect.{key}: expected a number, got {text!r}")
            continue
        digits = len(text.split(".")[1]) if "." in text else 0
        tol = 10.0 ** -digits
        if abs(got / scale - want) > tol + 1e-9:
            bad.append(f"{net.name}: {base} {got / scale:.4f}{unit.upper()} != paper {want}{unit.upper()} (±{tol:g})")
    return bad
