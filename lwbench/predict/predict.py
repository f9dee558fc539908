"""Predicted latency of a network from a calibration: per layer, beside its madds and mac, and the total.

total = fixed + Σ layer: `fixed` is one forward call of a graph with no layer (the calibration's identity
chains), each layer is its kind's fitted model (lwbench.predict.model) at its sizes, taken into the context of a
network by the calibration's context model (per category `scale · alone + overhead`, fitted on its synthetic
networks: lwbench.predict.context). A calibration made before the synthetic networks has instead one in-context
factor from its small blocks (`context_scale`, 1 when it does not lower the blocks' held-out error). Zoo networks and YAML
files are read as IR (the same nodes the counter walks, so every layer has its kind, attributes and shapes);
`--module` models are counted by lwbench.torchcount and each counted row is matched to its module's
attributes (kernel, stride, groups) where it has a module.
"""

from __future__ import annotations

from lwbench.ir import Net
from lwbench.predict.features import layer_key, node_key, work_scale
from lwbench.predict.model import predict_layer
from lwbench.predict.nchwc import OUTPUT_PASS


def _rows(profile, keyed: list[tuple[str, list[float]]], fitted: dict,
          fused: dict[str, str] | None = None, extra_ms: float = 0.0) -> tuple[list[dict], float]:
    """fused: {layer: the layer it is fused into} (ONNX Runtime); such a layer costs 0, its host carries it,
    except an activation ORT's kernels apply as a pass over the convolution's output (nchwc.OUTPUT_PASS), which
    costs that pass (_output_pass_ms). extra_ms: time no layer holds (ORT's layout conversions)."""
    from lwbench.predict.context import in_context

    fixed = fitted["overhead"]["fixed_ms"]
    ctx = fitted.get("context")
    coef = (ctx.get("coef") or {}) if ctx else None     # None: a calibration before the context model
    scale = (fitted.get("context_scale") or {}).get("scale", 1.0) if coef is None else 1.0
    rows, total = [], fixed + extra_ms
    fused = fused or {}
    for r, (key, x, *work) in zip(profile.layers, keyed):
        if r.layer in fused:
            host = fused[r.layer]
            ms, note = 0.0, "eliminated (onnxruntime)" if host == "(eliminated)" else f"fused into {host} (onnxruntime)"
            if host != "(eliminated)" and key in OUTPUT_PASS:
                ms, note = _output_pass_ms(fitted, key, r.mac_elems), note + ", a pass over its output"
        else:
            ms, note = predict_layer(fitted, key, x, r.madds * (work[0] if work else 1.0), r.mac_elems)
            if coef:                      # in the context of a network (lwbench.predict.context)
                ms = in_context(coef, r.category, ms, r.params, r.mac_elems)
        ms *= scale
        total += ms
        rows.append({"model": r.model, "layer": r.layer, "kind": r.kind, "category": r.category,
                     "in_shape": r.in_shape, "out_shape": r.out_shape, "model_key": key, "params": r.params,
                     "madds": r.madds, "mac_elems": r.mac_elems, "mac_bytes": r.mac_bytes, "predicted_ms": ms,
                     "note": note})
    for row in rows:
        row["predicted_pct"] = 100.0 * row["predicted_ms"] / total if total > 0 else None
    return rows, total


PASS_REF_ELEMS = 32768         # a map in any L2 (128 KiB): where a fused activation's pass finds its data


def _output_pass_ms(fitted: dict, key: str, mac_elems: float) -> float:
    """A fused activation's pass over its convolution's output, applied block by block while the block is in cache
    (ORT's MLAS): its elements at the activation's cost per element alone on a map that fits the L2, not its cost
    alone on its own map (a standalone hardswish on 384x64x64 reads and writes 12 MB from memory: 1.1 ms on C)."""
    from math import log

    ref = predict_layer(fitted, key, [log(PASS_REF_ELEMS)], 0, 2 * PASS_REF_ELEMS)[0]
    return ref * (mac_elems / 2) / PASS_REF_ELEMS


def predict_net(net: Net, fitted: dict, batch: int = 1, dtype: str = "float32") -> dict:
    """{"model", "layers": rows, "fixed_ms", "total_ms", "madds", "mac_elems"} for an IR network."""
    from lwbench.count import count

    prof = count(net, batch, dtype)
    fused = fused_layers(net, fitted)
    rules = nchwc_rules(fitted)
    conv = []
    if fused or fitted.get("layout"):
        from lwbench.predict.layout import cost_ms, reorders

        conv = reorders(net, (fitted.get("fusion") or {}).get("ort_opt", "all"), rules)
    layout = cost_ms(conv, fitted, batch) if conv else 0.0
    rows, total = _rows(prof, [(*node_key(n, rules), work_scale(n, rules)) for n in net.nodes], fitted, fused, layout)
    return {**_result(prof, rows, total, fitted), "layout_ms": layout, "reorders": len(conv)}


def nchwc_rules(fitted: dict) -> dict | None:
    """The NCHWc rule an ONNX Runtime calibration read from ORT (lwbench.predict.layout); None otherwise."""
    if (fitted.get("fusion") or {}).get("runtime") != "onnxruntime":
        return None
    return (fitted.get("layout") or {}).get("rules")


def fused_layers(net: Net, fitted: dict) -> dict[str, str]:
    """The layers the calibrated runtime fuses away (ONNX Runtime: lwbench.predict.fusion; torch eager: none)."""
    fusion = fitted.get("fusion") or {}
    if fusion.get("runtime") != "onnxruntime":
        return {}
    from lwbench.predict.fusion import costs_nothing, folded

    out = folded(net, fusion.get("ort_opt", "all"), nchwc_rules(fitted))
    out.update({n.name: "(eliminated)" for n in net.nodes if costs_nothing(n.op, fusion.get("ort_opt", "all"))})
    return out


def _result(prof, rows, total, fitted) -> dict:
    tot = prof.totals
    return {"model": prof.model, "input": prof.input, "batch": prof.batch, "layers": rows,
            "fixed_ms": fitted["overhead"]["fixed_ms"], "total_ms": total, "madds": tot["madds"],
            "mac_elems": tot["mac_elems"], "params": tot["params"],
            "uncalibrated_layers": sum("not calibrated" in r["note"] for r in rows),
            "fused_layers": sum("fused into" in r["note"] for r in rows),
            "outside_range_layers": sum("outside" in r["note"] for r in rows)}


def add_faults(res: dict, faults: float, fitted: dict) -> dict:
    """The opt-in correction: `faults` page faults per forward (counted on this machine) × the calibrated cost."""
    from lwbench.errors import InputError

    per = (fitted.get("faults") or {}).get("ms_per_fault")
    if per is None:
        raise InputError("predict --faults: this calibration has no page-fault cost (calibrate again with this "
                         "lwbench)")
    res.update(faults_per_forward=faults, fault_ms=faults * per, total_with_faults_ms=res["total_ms"] + faults * per)
    return res


def _shapes(text: str) -> list[tuple[int, ...]]:
    out = []
    for part in str(text).split("+"):
        try:
            out.append(tuple(int(v) for v in part.split("x") if v))
        except ValueError:
            out.append(())
    return out or [()]


_MODULE_ATTRS = {"Conv2d": ("kernel_size", "stride", "groups", "dilation"), "MaxPool2d": ("kernel_size", "stride"),
                 "AvgPool2d": ("kernel_size", "stride"), "ChannelShuffle": ("groups",)}


def _module_key(row, mod) -> tuple[str, list[float]]:
    ins, outs = _shapes(row.in_shape), _shapes(row.out_shape)
    attrs: dict = {}
    if mod is not None:
        for a in _MODULE_ATTRS.get(type(mod).__name__, ()):
            v = getattr(mod, a)
            attrs[{"kernel_size": "kernel"}.get(a, a)] = tuple(v) if isinstance(v, (list, tuple)) else v
        if type(mod).__name__ in ("MaxPool2d", "AvgPool2d") and attrs.get("stride") is None:
            attrs["stride"] = attrs["kernel"]
    if "shuffle" in row.kind:
        attrs.setdefault("groups", 2)
    kind = row.kind.split(":")[-1]
    try:
        if any(len(s) == 0 for s in ins + outs):
            raise ValueError
        return layer_key(kind, attrs, ins, outs)
    except (KeyError, ValueError, IndexError, TypeError, ZeroDivisionError):
        return f"module:{row.kind}", []


def predict_module(spec: str, input_shape: str | None, fitted: dict, batch: int = 1, dtype: str = "float32") -> dict:
    """A `--module package.module:factory` model: torchcount's rows, each keyed by its module's attributes."""
    from lwbench.measure.torchcount import load_factory, profile_factory

    prof = profile_factory(spec, input_shape, batch, dtype)
    named = dict(load_factory(spec).named_modules())
    keyed = [_module_key(r, named.get(r.layer)) for r in prof.layers]
    rows, total = _rows(prof, keyed, fitted)
    if (fitted.get("fusion") or {}).get("runtime") == "onnxruntime":   # no IR: ORT's fused groups are not known
        for r in rows:
            r["note"] = "; ".join(x for x in (r["note"], "unfused: --module has no IR for ORT's fusion rules") if x)
    return _result(prof, rows, total, fitted)
