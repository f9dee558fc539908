"""Check the analytic count against two independent counts of the built torch module.

For each network:
1. params: the analytic total == `sum(p.numel() for p in module.parameters())` of `lwbench.build(net)`;
2. fvcore: per conv/linear layer, analytic madds == `FlopCountAnalysis(module, x).by_module()[layer]`
   (fvcore counts one multiply-add as one "flop"), joined on the layer name; its trace is a real forward
   pass (a random image, batch 1, native resolution), in which every layer's output must have the IR's shape;
3. torch-side counter (`lwbench.count_module`, aten dispatch): per layer, params, madds and mac_elems equal;
4. the ops fvcore reports as unsupported, and the aten ops / layers lwbench has no rule for, by name.

fvcore also counts some "flops" outside conv/linear (one per element for batch norm and adaptive pooling);
those are reported beside the check (`fvcore_other_flops`), not compared: lwbench's madds are the papers'
multiply-adds of conv/linear only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lwbench.errors import LwbenchError, UnknownNameError, suggest
from lwbench.ir import Net, fmt_shape
from lwbench.report.rows import VerifyRow

MATMUL_KINDS = ("conv2d", "linear")
TORCH_KEYS = ("params", "madds", "mac_elems")


@dataclass
class NetCheck:
    """The outcome of verifying one network."""

    model: str
    status: str = "ok"  # ok | mismatch | error
    params_analytic: int = 0
    params_module: int = 0
    layers: int = 0
    torch_layers_agree: int = 0
    fvcore_layers: int = 0
    fvcore_layers_agree: int = 0
    fvcore_unsupported: dict = field(default_factory=dict)
    lwbench_unsupported: dict = field(default_factory=dict)
    fvcore_other_flops: dict = field(default_factory=dict)
    forward_input: str = ""  # the real forward pass (fvcore's trace): its input, batch 1 at native resolution
    forward_layers_agree: int = 0  # layers whose output in that forward has the IR's shape
    mismatches: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def summary_line(self) -> str:
        if self.status == "error":
            return f"{self.model}: ERROR {self.error}"
        head = "OK" if self.ok else f"MISMATCH ({len(self.mismatches)} differences)"
        eq = "==" if self.params_analytic == self.params_module else "!="
        parts = [f"{self.model}: {head}",
                 f"params {self.params_analytic:,} {eq} built module {self.params_module:,}",
                 f"torch-side {self.torch_layers_agree}/{self.layers} layers agree (params, madds, mac_elems)"]
        if self.fvcore_layers or self.fvcore_unsupported:
            parts.append(f"forward {self.forward_input}: {self.forward_layers_agree}/{self.layers} "
                         "layer shapes agree")
            parts.append(f"fvcore {self.fvcore_layers_agree}/{self.fvcore_layers} conv/linear layers agree")
            parts.append("fvcore unsupported: " + (_counts(self.fvcore_unsupported) or "none"))
        else:
            parts.append("fvcore skipped")
        parts.append("lwbench no rule: " + (_counts(self.lwbench_unsupported) or "none"))
        if self.fvcore_other_flops:
            from lwbench.report.human import si

            parts.append(f"fvcore also counts {si(sum(self.fvcore_other_flops.values()))} 'flops' in "
                         f"{', '.join(sorted(self.fvcore_other_flops))} (not madds; not compared)")
        return "; ".join(parts) + f" ({self.seconds:.1f}s)"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def _counts(d: dict) -> str:
    return ", ".join(f"{k}×{v}" for k, v in sorted(d.items()))


# ---------------------------------------------------------------- the zoo, one file at a time
def zoo(root: str | Path | None = None) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """(name -> (file, variant), file -> error) for every YAML in the configs folder.

    Unlike `lwbench.spec.index()`, a broken file does not hide the others: its error is returned by file.
    """
    from lwbench.spec.parse import read_doc, variant_names
    from lwbench.spec.zoo import configs_dir

    names: dict[str, tuple[str, str]] = {}
    errors: dict[str, str] = {}
    for path in sorted(Path(root or configs_dir()).glob("*.yaml")):
        try:
            for name in variant_names(read_doc(path)):
                names.setdefault(name, (str(path), name))
        except Exception as e:  # noqa: BLE001 - one broken file is recorded, the others still run
            errors[str(path)] = f"{type(e).__name__}: {e}" if not isinstance(e, LwbenchError) else str(e)
    return names, errors


def load_net(name: str, width: float | None = None, resolution: int | None = None,
             names: dict[str, tuple[str, str]] | None = None) -> Net:
    """A zoo name (from `zoo()`, so that another broken file does not matter) or a YAML path -> Net."""
    from lwbench.spec import compile_doc, read_doc, resolve

    names = names if names is not None else zoo()[0]
    if name in names:
        file, variant = names[name]
    else:
        text = str(name)
        if not (text.endswith((".yaml", ".yml")) or "/" in text or Path(text.partition(":")[0]).is_file()):
            raise UnknownNameError(f"unknown network '{text}'{suggest(text, names)} (lwbench list shows the zoo)")
        file, variant = resolve(text)
    doc = read_doc(file)
    return compile_doc(doc, file, variant or str(doc["name"]), width, resolution)


# ---------------------------------------------------------------- the checks
def _fvcore(module, net: Net):
    """fvcore's per-module counts and unsupported ops, from its jit trace: one real forward pass of a random
    image (batch 1, native resolution); also the output shapes each layer (and the whole model, key '') made
    in that forward, without the batch dimension."""
    import torch
    from fvcore.nn import FlopCountAnalysis

    x = torch.randn(1, *net.input_shape)
    layers = {n.name for n in net.nodes}
    seen: dict[str, list] = {}

    def record(name, out):
        outs = out if isinstance(out, (tuple, list)) else (out,)
        seen.setdefault(name, [tuple(int(d) for d in t.shape[1:]) for t in outs])  # traced sizes are tensors

    hooks = [m.register_forward_hook(lambda mod, args, out, name=name: record(name, out))
             for name, m in module.named_modules() if name in layers or name == ""]
    fa = FlopCountAnalysis(module, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    # untrained weights shrink activations layer by layer into denormals, which slow the CPU forward of
    # fvcore's trace 10-20x; flushing them changes no count
    flushed = torch.set_flush_denormal(True)
    try:
        return fa.by_module(), dict(fa.unsupported_ops()), seen
    finally:
        for h in hooks:
            h.remove()
        if flushed:
            torch.set_flush_denormal(False)


def _shapes(shapes) -> str:
    return "+".join(fmt_shape(s) for s in shapes) if shapes is not None else "not run"


def _mismatch(res: NetCheck, layer: str, kind: str, quantity: str, analytic, other, counter: str) -> None:
    diff = (other - analytic) if isinstance(other, int) and isinstance(analytic, int) else None
    res.mismatches.append({"model": res.model, "layer": layer, "kind": kind, "quantity": quantity,
                           "analytic": analytic, counter: other, "counter": counter, "diff": diff})


def verify_net(net: Net, fvcore: bool = True) -> NetCheck:
    """Run checks 1-4 on one network; mismatches are collected on the result, never raised."""
    import torch

    from lwbench.build import build
    from lwbench.count import count
    from lwbench.measure.torchcount import count_module

    t0 = time.perf_counter()
    res = NetCheck(model=net.name)
    prof = count(net)
    res.params_analytic = prof.totals["params"]
    res.layers = len(prof.layers)
    module = build(net) if fvcore else build(net, device="meta")
    res.params_module = sum(p.numel() for p in module.parameters())
    if res.params_module != res.params_analytic:
        _mismatch(res, "(total)", "", "params", res.params_analytic, res.params_module, "module")

    tprof = count_module(module, net.input_shape, name=net.name, device="meta")
    res.lwbench_unsupported = dict(tprof.extra.get("unsupported", {}))
    for k, v in res.lwbench_unsupported.items():
        _mismatch(res, "(ops)", k, "no rule", 0, v, "torch")
    fv_by_module: dict = {}
    if fvcore:
        with torch.no_grad():
            fv_by_module, res.fvcore_unsupported, seen = _fvcore(module, net)
        _check_forward(res, net, seen)
    torch_rows = tprof.by_layer()
    for r in prof.layers:
        res.rows.append(_check_layer(res, net, r, torch_rows.pop(r.layer, None),
                                     fv_by_module if fvcore else None))
    for name, t in torch_rows.items():  # rows only the torch side has
        _mismatch(res, name, t.kind, "layer", "missing", "present", "torch")
    res.status = "ok" if not res.mismatches else "mismatch"
    res.seconds = time.perf_counter() - t0
    return res


def _check_forward(res: NetCheck, net: Net, seen: dict) -> None:
    """Every layer's output in the real forward pass has the IR's shape (and so has the network's output)."""
    res.forward_input = fmt_shape((1, *net.input_shape))
    for n in net.nodes:
        got = seen.get(n.name)
        if got == [tuple(s) for s in n.out_shapes]:
            res.forward_layers_agree += 1
        else:
            _mismatch(res, n.name, n.op, "out_shape", _shapes(n.out_shapes), _shapes(got), "forward")
    if seen.get("") != [tuple(net.output_shape)]:
        _mismatch(res, "(output)", "", "out_shape", fmt_shape(net.output_shape), _shapes(seen.get("")), "forward")


def _check_layer(res: NetCheck, net: Net, r, t, fv_by_module: dict | None) -> dict:
    """One analytic row `r` against the torch-side row `t` (None: missing) and fvcore's madds (None: skipped);
    mismatches recorded on `res`; returns the export row."""
    row = {"model": net.name, "layer": r.layer, "kind": r.kind}
    agree = t is not None
    for k in TORCH_KEYS:
        row[f"{k}_analytic"] = getattr(r, k)
        row[f"{k}_torch"] = getattr(t, k) if t is not None else None
        if t is not None and getattr(t, k) != getattr(r, k):
            agree = False
            _mismatch(res, r.layer, r.kind, k, getattr(r, k), getattr(t, k), "torch")
    if t is None:
        _mismatch(res, r.layer, r.kind, "layer", "present", "missing", "torch")
    res.torch_layers_agree += agree
    row["madds_fvcore"] = None
    if fv_by_module is not None:
        fv = int(fv_by_module.get(r.layer, 0))
        if r.kind in MATMUL_KINDS:
            row["madds_fvcore"] = fv
            res.fvcore_layers += 1
            if fv == r.madds:
                res.fvcore_layers_agree += 1
            else:
                agree = False
                _mismatch(res, r.layer, r.kind, "madds", r.madds, fv, "fvcore")
        elif fv:
            res.fvcore_other_flops[r.kind] = res.fvcore_other_flops.get(r.kind, 0) + fv
    row["agree"] = agree
    return asdict(VerifyRow(**row))          # the export's columns, in order (report.rows)


def verify(names: list[str], fvcore: bool = True, width: float | None = None, resolution: int | None = None,
           on_result=None) -> list[NetCheck]:
    """Verify each network; an error in one (a broken YAML, a build failure) is recorded and the rest run.

    `on_result(check)` is called as each network finishes (for streaming summary lines).
    """
    known, file_errors = zoo()
    out = []
    for name in names:
        t0 = time.perf_counter()
        if name in file_errors:
            res = NetCheck(model=Path(name).stem, status="error", error=file_errors[name])
        else:
            try:
                res = verify_net(load_net(name, width, resolution, known), fvcore=fvcore)
            except Exception as e:  # noqa: BLE001 - one network's failure is recorded, the others still run
                msg = str(e) if isinstance(e, LwbenchError) else f"{type(e).__name__}: {' '.join(str(e).split())}"
                res = NetCheck(model=name, status="error", error=msg[:500])
        res.seconds = time.perf_counter() - t0
        out.append(res)
        if on_result:
            on_result(res)
    return out


def all_names() -> list[str]:
    """Every network of the zoo, plus the path of each YAML file that does not parse (verified as an error)."""
    known, errors = zoo()
    return [*known, *errors]
