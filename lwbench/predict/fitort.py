"""The ONNX Runtime fit: per fused group, and whether the layout conversions around a lone layer come out of it.

A lone layer probe pays ORT's NCHWc conversions (ReorderInput / ReorderOutput, timed by the profiler in
`layout_ms`). Two fits are made from the same measurements: `taken_out` (the layer is the probe less its
conversions; a network pays one conversion per region border, lwbench.predict.layout) and `kept_in` (the layer
is the whole probe; no layout term). The one whose predicted blocks (the calibration's 25 small blocks, never a
network) are nearer their measured latency is kept; both median block errors are stored in `model.layout`.
"""

from __future__ import annotations

from lwbench.predict import model


def _block_error(blocks: list[dict]) -> float | None:
    errs = sorted(abs((b["fixed_ms"] + b["layers_ms"]) / b["measured_ms"] - 1.0) for b in blocks if b["measured_ms"] > 0)
    return 100.0 * errs[len(errs) // 2] if errs else None


def fit_ort(probes, records: dict, overhead: dict, settings: dict) -> tuple[list[dict], dict]:
    """(samples, fitted model) for an ORT calibration: fusion and layout chosen as above."""
    from lwbench.predict.fitcal import _blocks, layer_samples, layout_cost

    batch = settings["batch"]
    fusion = {"runtime": "onnxruntime", "ort_opt": settings.get("ort_opt", "all")}
    out, errors = {}, {}
    for variant in ("taken_out", "kept_in"):
        samples = layer_samples(probes, records, overhead, batch, less_layout=variant == "taken_out")
        fitted = model.fit(samples, overhead)
        fitted["fusion"] = fusion
        fitted["layout"] = layout_cost(probes, records, batch) if variant == "taken_out" else \
            {"per_reorder_ms": 0.0, "per_elem_ms": 0.0, "n": 0}
        errors[variant] = _block_error(_blocks(probes, records, fitted, batch))
        out[variant] = (samples, fitted)
    e_out, e_in = errors["taken_out"], errors["kept_in"]
    pick = "kept_in" if e_out is not None and e_in is not None and e_in < e_out else "taken_out"
    samples, fitted = out[pick]
    fitted["layout"] = {**fitted["layout"], "choice": pick, "blocks_median_abs_pct": errors}
    return samples, fitted



