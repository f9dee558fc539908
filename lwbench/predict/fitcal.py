"""From measured probes to the calibration document: layer times, the fit, the held-out checks."""

from __future__ import annotations

from lwbench.predict import calfile, model
from lwbench.predict.design import Probe, probe_net
from lwbench.predict.features import node_key
from lwbench.predict.probetime import probe_ms


def overhead_points(probes: list[Probe], records: dict[str, dict]) -> list[tuple[int, float]]:
    return [(len(p.nodes), probe_ms(records[p.id])) for p in probes
            if p.group == "overhead" and p.id in records]


def layer_samples(probes: list[Probe], records: dict[str, dict], overhead: dict, batch: int = 1) -> list[dict]:
    """One sample per measured single-layer probe: {key, x, t_ms, madds, mac_elems, id}. t_ms = the probe's
    median less the fixed forward cost (or less its `minus` probe's median, which holds that cost too)."""
    from lwbench.count import count

    out = []
    for p in probes:
        rec = records.get(p.id)
        if rec is None or p.target is None or p.group == "overhead":
            continue
        if p.minus is not None and p.minus not in records:
            continue
        net = probe_net(p)
        node = net.nodes[p.target]
        key, x = node_key(node)
        row = count(net, batch).layers[p.target if p.target >= 0 else len(net.nodes) + p.target]
        base = probe_ms(records[p.minus]) if p.minus else overhead["fixed_ms"]
        out.append({"id": p.id, "key": key, "x": x, "t_ms": max(model.MIN_MS, probe_ms(rec) - base),
                    "madds": row.madds, "mac_elems": row.mac_elems})
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


def block_checks(probes: list[Probe], records: dict[str, dict], fitted: dict, batch: int = 1) -> list[dict]:
    """Measured block latency against fixed + Σ predicted layers (the additivity check)."""
    from lwbench.predict.predict import predict_net

    out = []
    for p in probes:
        if p.group != "block" or p.id not in records:
            continue
        res = predict_net(probe_net(p), fitted, batch)
        meas = probe_ms(records[p.id])
        out.append({"label": p.label, "measured_ms": meas, "predicted_ms": res["total_ms"],
                    "error_pct": 100.0 * (res["total_ms"] / meas - 1.0) if meas > 0 else None})
    return out


def fault_cost(probes: list[Probe], records: dict[str, dict]) -> dict:
    """ms per page fault: the `fault` probes against their `fault-base` twins (same layer, default allocator)."""
    base = {p.input: records[p.id] for p in probes if p.group == "fault-base" and p.id in records}
    per = []
    for p in probes:
        b, f = base.get(p.input), records.get(p.id)
        if p.group != "fault" or b is None or f is None:
            continue
        df = (f.get("faults_per_call") or 0) - (b.get("faults_per_call") or 0)
        if df >= 16:
            per.append((probe_ms(f) - probe_ms(b)) / df)
    per.sort()
    return {"ms_per_fault": per[len(per) // 2] if per else None, "pairs": len(per),
            "spread_ms": [per[0], per[-1]] if per else None}


def build_document(probes: list[Probe], records: dict[str, dict], settings: dict, fp: dict, machine: dict,
                   seconds: float, problems: list[str]) -> dict:
    """The calibration file's content (plain JSON types only)."""
    from lwbench.errors import InputError

    pts = overhead_points(probes, records)
    if len(pts) < 2:
        raise InputError("calibrate: the overhead probes (identity chains) were not measured; nothing to fit "
                         f"({'; '.join(problems) or 'no worker finished'}); the partial file is kept, run again")
    overhead = model.fit_overhead(pts)
    samples = layer_samples(probes, records, overhead, settings["batch"])
    fitted = model.fit(samples, overhead)
    fitted["faults"] = fault_cost(probes, records)
    measured = [dict(p.to_dict(), **{k: v for k, v in records[p.id].items() if k not in ("id", "group")})
                for p in probes if p.id in records]
    blocks = block_checks(probes, records, fitted, settings["batch"])
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
                   "blocks_summary": model.summarize(block_errs)},
    }
