"""From measured probes to the calibration document: layer times, the fit, the held-out checks."""

from __future__ import annotations

from lwbench.predict import calfile, context, model, speed
from lwbench.predict.design import Probe, probe_net
from lwbench.predict.features import node_key, work_scale
from lwbench.predict.probetime import check_statistic, layer_ms, probe_ms


def overhead_points(probes: list[Probe], records: dict[str, dict], stat: str = "median") -> list[tuple[int, float]]:
    return [(len(p.nodes), probe_ms(records[p.id], stat=stat)) for p in probes
            if p.group == "overhead" and p.id in records]


def layer_samples(probes: list[Probe], records: dict[str, dict], overhead: dict, batch: int = 1,
                  less_layout: bool = False, stat: str = "median", nchwc: dict | None = None,
                  profiler_ms: float = 0.0) -> list[dict]:
    """One sample per measured single-layer probe: {key, x, t_ms, madds, mac_elems, id}. t_ms = the probe's
    median less the fixed forward cost (or less its `minus` probe's median, which holds that cost too), and with
    `less_layout` less ORT's layout conversions around it (fit_ort), each less `profiler_ms`, the profiler's own
    cost per node it timed (profiler_cost)."""
    from lwbench.count import count
    from lwbench.predict.layout import probe_reorders

    out = []
    by_id = {p.id: p for p in probes}
    for p in probes:
        rec = records.get(p.id)
        if rec is None or p.target is None or p.group == "overhead":
            continue
        if p.minus is not None and p.minus not in records:
            continue
        net = probe_net(p)
        node = net.nodes[p.target]
        key, x = node_key(node, nchwc)
        row = count(net, batch).layers[p.target if p.target >= 0 else len(net.nodes) + p.target]
        bias = profiler_ms * len(probe_reorders(net, nchwc)) if less_layout and profiler_ms else 0.0
        # a `minus` probe (the squeeze-excite multiply's global pooling) is taken out as measured: less its own
        # conversions too when the layer's are (the pooling on the probe's input is reordered in, lwbench.predict.nchwc)
        base = overhead["fixed_ms"]
        share = {"per_node_ms": profiler_ms, "fixed_ms": overhead["fixed_ms"]} if less_layout else {}
        if p.minus:
            mb = profiler_ms * len(probe_reorders(probe_net(by_id[p.minus]), nchwc)) if less_layout else 0.0
            base = probe_ms(records[p.minus], less_layout, stat, mb, **share)
        out.append({"id": p.id, "key": key, "x": x, "madds": row.madds * work_scale(node, nchwc), "mac_elems": row.mac_elems,
                    "t_ms": max(model.MIN_MS, probe_ms(rec, less_layout, stat, bias, **share) - base)})
    return out


def _pooled_heldout(samples: list[dict], fitted: dict) -> dict:
    errs, by_cat = [], {}
    by_key: dict[str, list[dict]] = {}
    for s in samples:
        by_key.setdefault(s["key"], []).append(s)
    for key, data in by_key.items():
        m = fitted["kinds"][key]
        if m["method"] == "constant":
            continue
        e = model._cv_errors(m["method"], data)
        errs += e
        by_cat.setdefault(key.split(":")[0], []).extend(e)
    return {"all": model.summarize(errs), "by_op": {k: model.summarize(v) for k, v in sorted(by_cat.items())}}


def alone_model(fitted: dict) -> dict:
    """The fitted model without its context: every layer predicted as if timed alone (no in-context scale)."""
    raw = {k: v for k, v in fitted.items() if k != "context"}
    raw["context_scale"] = {"scale": 1.0}
    return raw


def _predicted_alone(probes: list[Probe], records: dict[str, dict], fitted: dict, batch: int, group: str):
    """(probe, record, prediction) for each measured probe of `group`, its layers predicted as if alone (no
    context model, no in-context scale)."""
    from lwbench.predict.predict import predict_net

    raw = alone_model(fitted)
    for p in probes:
        rec = records.get(p.id)
        if p.group == group and rec is not None:
            yield p, rec, predict_net(probe_net(p), raw, batch)


def _blocks(probes: list[Probe], records: dict[str, dict], fitted: dict, batch: int,
            stat: str = "median") -> list[dict]:
    """Per measured block: measured ms, faults per call, fixed cost and the unscaled Σ of predicted layers."""
    return [{"label": p.label, "measured_ms": probe_ms(rec, stat=stat), "faults": rec.get("faults_per_call") or 0.0,
             "layers_ms": res["total_ms"] - res["fixed_ms"], "fixed_ms": res["fixed_ms"]}
            for p, rec, res in _predicted_alone(probes, records, fitted, batch, "block")]


def _chains(probes: list[Probe], records: dict[str, dict], fitted: dict, batch: int,
            stat: str = "median") -> list[dict]:
    """Per measured synthetic network (lwbench.predict.chains): its layers predicted alone, by category."""
    return [context.chain_row(res["layers"], probe_ms(rec, stat=stat), res["fixed_ms"] + res.get("layout_ms", 0.0),
                              p.label, layer_ms(rec, stat))
            for p, rec, res in _predicted_alone(probes, records, fitted, batch, "chain")]


def _block_error(b: dict, scale: float, per_fault: float) -> float:
    pred = b["fixed_ms"] + scale * b["layers_ms"] + b["faults"] * per_fault
    return pred / b["measured_ms"] - 1.0


def context_scale(blocks: list[dict], per_fault: float | None) -> dict:
    """The factor between layers timed alone and the same layers inside a block (inputs just written by another
    layer, other weights in between), fitted on the calibration's blocks (never on networks): the median of
    measured (less fixed cost and page faults) / Σ layers. Kept only when it lowers the blocks' leave-one-out
    error; the figures with and without it are stored."""
    pf = per_fault or 0.0
    ratios = [(b["measured_ms"] - b["fixed_ms"] - b["faults"] * pf) / b["layers_ms"] for b in blocks
              if b["layers_ms"] > 0]
    if len(ratios) < 5:
        return {"scale": 1.0, "n": len(ratios), "reason": "too few blocks"}

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    loo = [_block_error(b, med(ratios[:i] + ratios[i + 1:]), pf) for i, b in enumerate(blocks)]
    plain = [_block_error(b, 1.0, pf) for b in blocks]
    better = med([abs(e) for e in loo]) < med([abs(e) for e in plain])
    return {"scale": med(ratios) if better else 1.0, "fitted_scale": med(ratios), "n": len(ratios),
            "heldout_blocks_scaled": model.summarize(loo), "heldout_blocks_unscaled": model.summarize(plain)}


def block_checks(blocks: list[dict], fitted: dict) -> list[dict]:
    """Measured block latency against fixed + scale·Σ predicted layers + its page faults × their cost."""
    scale = fitted["context_scale"]["scale"]
    pf = (fitted.get("faults") or {}).get("ms_per_fault") or 0.0
    return [{"label": b["label"], "measured_ms": b["measured_ms"], "faults": b["faults"],
             "predicted_ms": b["fixed_ms"] + scale * b["layers_ms"] + b["faults"] * pf,
             "error_pct": 100.0 * _block_error(b, scale, pf)} for b in blocks]


def layout_cost(probes: list[Probe], records: dict[str, dict], batch: int = 1, nchwc: dict | None = None,
                share: dict | None = None) -> dict:
    """ORT's NCHWc conversion cost (per conversion, per element) from what its profiler timed around lone layers;
    with `share` ({per_node_ms, fixed_ms, stat}), from what layer_samples takes out of each probe for them (their
    share of the timed call, the profiler's own cost out)."""
    from lwbench.predict.layout import fit_cost, probe_reorders

    pts = []
    for p in probes:
        rec = records.get(p.id)
        if rec is None or p.target is None or p.group == "overhead" or rec.get("layout_ms") is None:
            continue
        conv = probe_reorders(probe_net(p), nchwc)
        if conv:
            y = rec["layout_ms"]
            if share is not None:      # what layer_samples takes out of the probe: profiler-free, a share
                per = share["per_node_ms"]
                y = probe_ms(rec, stat=share["stat"]) - probe_ms(rec, True, share["stat"], per * len(conv),
                                                                   per_node_ms=per, fixed_ms=share["fixed_ms"])
            pts.append((len(conv), sum(e for _, e in conv) * batch, y))
    return fit_cost(pts)


def profiler_cost(cost: dict, overhead: dict, probes: list[Probe], records: dict[str, dict]) -> dict:
    """The conversion cost of a network's reorders, less what ORT's profiler adds to every node it times. The
    profiler's per-node figure holds its own bookkeeping: 32 ReLUs on a 16x4x4 map take 0.38 µs each in a plain
    session and read 3.6 µs each in the profile (machine G; results/README.md). So the profiled conversions of a
    lone layer (`layout_ms`) read a few µs each too high, the fit took too much out of small layers (a blocked
    depthwise layer of machine G predicted 0.6 µs alone, 13-15 µs inside a network) and the fixed cost per
    conversion it fitted (1.9-7.1 µs on C, F, G) was mostly the profiler's. `profiler_ms_per_node`, the excess, is
    measured where the identity chains were profiled too (their profiled time per node, the slope over chains of
    1-32, less their plain `per_layer_ms`), else inferred (the fitted fixed cost per conversion less `per_layer_ms`:
    a conversion then costs what a tiny node costs, plus its elements); it is given back to every probe's
    conversions (layer_samples) and taken out of the conversions' fixed cost."""
    per_node = overhead.get("per_layer_ms") or 0.0
    pts = [(len(p.nodes), records[p.id]["profiled"]["kernels_ms"]) for p in probes
           if p.group == "overhead" and (records.get(p.id) or {}).get("profiled")]
    fixed = cost.get("per_reorder_ms") or 0.0
    if len(pts) >= 3:
        slope = sum(n * k for n, k in pts) / sum(n * n for n, _ in pts)
        excess, how = max(0.0, slope - per_node), "measured (identity chains, profiled)"
    elif cost.get("n"):
        excess, how = max(0.0, fixed - per_node), "inferred (the conversions' fixed cost less a tiny node's)"
    else:
        excess, how = 0.0, "none (no conversion measured)"
    return {**cost, "profiled_per_reorder_ms": fixed, "per_reorder_ms": max(0.0, fixed - excess),
            "profiler_ms_per_node": excess, "profiler_cost": how}


def fault_cost(probes: list[Probe], records: dict[str, dict], stat: str = "median") -> dict:
    """ms per page fault: the `fault` probes against their `fault-base` twins (same layer, default allocator)."""
    base = {p.input: records[p.id] for p in probes if p.group == "fault-base" and p.id in records}
    per = []
    for p in probes:
        b, f = base.get(p.input), records.get(p.id)
        if p.group != "fault" or b is None or f is None:
            continue
        df = (f.get("faults_per_call") or 0) - (b.get("faults_per_call") or 0)
        if df >= 16:
            per.append((probe_ms(f, stat=stat) - probe_ms(b, stat=stat)) / df)
    per.sort()
    return {"ms_per_fault": per[len(per) // 2] if per else None, "pairs": len(per),
            "spread_ms": [per[0], per[-1]] if per else None}


# --------------------------------------------------------------------------- ONNX Runtime
# A lone layer probe pays ORT's NCHWc conversions (ReorderInput / ReorderOutput, timed by the profiler in
# `layout_ms`). Two fits are made from the same measurements: `taken_out` (the layer is the probe less its
# conversions; a network pays one conversion per region border, lwbench.predict.layout) and `kept_in` (the layer
# is the whole probe; no layout term). The one whose synthetic networks (lwbench.predict.chains, never a zoo
# network) are predicted better, held out, with their context model fitted is kept; without enough measured
# synthetic networks, the one whose small blocks are nearer their measured latency. Both figures are stored in
# `model.layout`. (The blocks alone decided before: 25 blocks of 2-4 layers, whose few conversions are a few lone
# readings, flipped the choice with the noise of one run: results/README.md, "Predicted latency".)
def _sum_error(blocks: list[dict]) -> float | None:
    errs = sorted(abs((b["fixed_ms"] + b["layers_ms"]) / b["measured_ms"] - 1.0) for b in blocks if b["measured_ms"] > 0)
    return 100.0 * errs[len(errs) // 2] if errs else None


def _chains_error(probes, records: dict, fitted: dict, batch: int, stat: str) -> float | None:
    """Mean |error| of the synthetic networks, each held out of its context model's fit (None: too few)."""
    ctx = context.fit_context(_chains(probes, records, fitted, batch, stat))
    if "candidates" not in ctx:
        return None
    return ctx["candidates"][ctx["method"]]["heldout"]["mean_abs_pct"]


LAYOUT_TIE_PCT = 1.0    # points of held-out error kept_in must win by (fit_ort)


def layout_pick(nets: dict, blocks: dict | None = None) -> str:
    """taken_out, the decomposition ORT's profiler measures, unless the synthetic networks' held-out error is lower
    with kept_in by more than LAYOUT_TIE_PCT points (the noise of the figure) and the blocks, where measured, do not
    say otherwise: two sets of evidence must agree before the measured conversions are dropped. On F the networks
    read 12.1 and 12.4% after a layer-model change, then 10.7 against 11.9% on the min, while the blocks read 8.1%
    for taken_out against 12.5%; kept_in put every ShuffleNet 20-40% low there (results/README.md)."""
    if None in nets.values() or not nets["kept_in"] < nets["taken_out"] - LAYOUT_TIE_PCT:
        return "taken_out"
    if blocks and None not in blocks.values() and blocks["taken_out"] < blocks["kept_in"]:
        return "taken_out"
    return "kept_in"


def fit_ort(probes, records: dict, overhead: dict, settings: dict) -> tuple[list[dict], dict]:
    """(samples, fitted model) for an ORT calibration: fusion and layout chosen as above."""
    batch = settings["batch"]
    fusion = {"runtime": "onnxruntime", "ort_opt": settings.get("ort_opt", "all")}
    out, blocks, nets = {}, {}, {}
    stat = settings.get("statistic", "median")
    rules = settings.get("nchwc") if fusion["ort_opt"] == "all" else None
    if rules:                  # blocked convolutions seen with their padded channels (features.node_key)
        rules = {**rules, "padded": True}
    cost = profiler_cost(layout_cost(probes, records, batch, rules), overhead, probes, records)
    if cost["profiler_cost"].startswith("measured"):    # the probes' profiled kernels were recorded with it
        share = {"per_node_ms": cost["profiler_ms_per_node"], "fixed_ms": overhead["fixed_ms"], "stat": stat}
        cost = {**cost, **layout_cost(probes, records, batch, rules, share), "taken_out_as": "share"}
    for variant in ("taken_out", "kept_in"):
        samples = layer_samples(probes, records, overhead, batch, less_layout=variant == "taken_out", stat=stat,
                                nchwc=rules, profiler_ms=cost["profiler_ms_per_node"])
        fitted = model.fit(samples, overhead)
        fitted["fusion"] = fusion
        fitted["layout"] = {**(cost if variant == "taken_out" else
                               {"per_reorder_ms": 0.0, "per_elem_ms": 0.0, "n": 0}), "rules": rules}
        blocks[variant] = _sum_error(_blocks(probes, records, fitted, batch, stat))
        nets[variant] = _chains_error(probes, records, fitted, batch, stat)
        out[variant] = (samples, fitted)
    by = "networks" if None not in nets.values() else "blocks"
    pick = layout_pick(nets, blocks) if by == "networks" else layout_pick(blocks)
    samples, fitted = out[pick]
    fitted["layout"] = {**fitted["layout"], "choice": pick, "chosen_on": by, "blocks_median_abs_pct": blocks,
                        "networks_heldout_mean_abs_pct": nets}
    return samples, fitted


def refit(doc: dict, statistic: str | None = None) -> dict:
    """The calibration fitted again from its own raw measurements (a model change needs no new measurement);
    `statistic` (median, min): fit that statistic of every probe instead of the one it was fitted on."""
    probes = [Probe.from_dict(m) for m in doc["measurements"]]
    records = {m["id"]: m for m in doc["measurements"]}
    settings = {**doc["settings"], **({"statistic": statistic} if statistic else {})}
    out = build_document(probes, records, settings, doc["fingerprint"], doc.get("machine") or {},
                         doc["cost"].get("seconds_last_run", 0.0), doc["cost"].get("problems", []))
    out["cost"] = {**doc["cost"], "refitted": True}
    return out


def build_document(probes: list[Probe], records: dict[str, dict], settings: dict, fp: dict, machine: dict,
                   seconds: float, problems: list[str]) -> dict:
    """The calibration file's content (plain JSON types only)."""
    from lwbench.errors import InputError

    stat = check_statistic(settings.get("statistic", "median"))
    pts = overhead_points(probes, records, stat)
    if len(pts) < 2:
        raise InputError("calibrate: the overhead probes (identity chains) were not measured; nothing to fit "
                         f"({'; '.join(problems) or 'no worker finished'}); the partial file is kept, run again")
    overhead = model.fit_overhead(pts)
    if settings.get("runtime") == "onnxruntime":     # per fused group (predict.fusion), layout: fit_ort
        samples, fitted = fit_ort(probes, records, overhead, settings)
    else:
        samples = layer_samples(probes, records, overhead, settings["batch"], stat=stat)
        fitted = model.fit(samples, overhead)
    fitted["statistic"] = stat
    fitted["faults"] = fault_cost(probes, records, stat)
    measured = [dict(p.to_dict(), **{k: v for k, v in records[p.id].items() if k not in ("id", "group")})
                for p in probes if p.id in records]
    raw_blocks = _blocks(probes, records, fitted, settings["batch"], stat)
    fitted["context_scale"] = context_scale(raw_blocks, fitted["faults"]["ms_per_fault"])
    blocks = block_checks(raw_blocks, fitted)
    nets = _chains(probes, records, fitted, settings["batch"], stat)
    fitted["context"] = context.fit_context(nets)
    block_errs = [b["error_pct"] / 100 for b in blocks if b["error_pct"] is not None]
    shares = [r.get("cpu_share") for r in records.values() if r.get("cpu_share") is not None]
    return {
        "format": calfile.FORMAT, "version": calfile.VERSION, "fingerprint": fp, "machine": machine,
        "settings": settings,
        "cost": {"measurements": len(measured), "probes_in_grid": len(probes), "seconds_last_run": round(seconds, 1),
                 "complete": len(measured) == len(probes), "problems": problems,
                 "min_cpu_share": min(shares) if shares else None,
                 "contended_probes": sum(s < 0.85 for s in shares)},
        "measurements": measured,
        "model": fitted,
        "checks": {"heldout_layers": _pooled_heldout(samples, fitted), "blocks": blocks,
                   "blocks_summary": model.summarize(block_errs), "networks": context.checks(nets, fitted["context"]),
                   "speed": speed.summary(probes, records, stat)},
    }
