"""`lwbench predict --validate BENCH.csv`: predictions joined to measured `bench` rows, error figures beside
those of the best madds-only fit.

Figures (percent errors e = predicted / measured − 1): share within ±5 / ±10 / ±15%, median and worst |e|,
RMSPE, and Kendall's τ inside bands of networks with madds within ±15% of each other: over every pair of
networks whose madds differ by at most 15% (max/min ≤ 1.15), τ = (concordant − discordant) / pairs, the
order of the predictions against the order of the measurements. A global rank correlation says little
(madds alone rank a zoo well); inside a band madds cannot separate the networks, latency must.

The madds-only fit is t = a + b·madds by least squares on relative error over the same rows it is scored on
(fitted on the answers: the most madds can do).
"""

from __future__ import annotations

import math
import re

BAND = 1.15
_NAME = re.compile(r"^(?P<name>[^\[]+)(?:\[(?P<args>[^\]]*)\])?$")


def parse_model(text: str) -> tuple[str, float | None, int | None]:
    """'mobilenet_v2[width=0.75,resolution=160]' -> ('mobilenet_v2', 0.75, 160)."""
    m = _NAME.match(str(text).strip())
    if not m:
        return str(text), None, None
    width = resolution = None
    for part in (m.group("args") or "").split(","):
        k, _, v = part.partition("=")
        if k.strip() == "width":
            width = float(v)
        elif k.strip() == "resolution":
            resolution = int(v)
    return m.group("name"), width, resolution


def madds_fit(madds: list[float], ms: list[float]) -> tuple[float, float]:
    """(a, b) minimising Σ ((a + b·madds − t) / t)²."""
    s = [[1 / t, m / t, 1.0] for m, t in zip(madds, ms)]
    s11 = sum(r[0] * r[0] for r in s)
    s12 = sum(r[0] * r[1] for r in s)
    s22 = sum(r[1] * r[1] for r in s)
    y1 = sum(r[0] for r in s)
    y2 = sum(r[1] for r in s)
    det = s11 * s22 - s12 * s12
    if abs(det) < 1e-300:
        return 0.0, sum(ms) / max(1.0, sum(madds))
    return (y1 * s22 - y2 * s12) / det, (s11 * y2 - s12 * y1) / det


def band_tau(madds: list[float], measured: list[float], predicted: list[float], band: float = BAND) -> dict:
    conc = disc = pairs = 0
    for i in range(len(madds)):
        for j in range(i + 1, len(madds)):
            lo, hi = sorted((madds[i], madds[j]))
            if lo <= 0 or hi / lo > band:
                continue
            pairs += 1
            s = (measured[i] - measured[j]) * (predicted[i] - predicted[j])
            conc += s > 0
            disc += s < 0
    return {"pairs": pairs, "tau": (conc - disc) / pairs if pairs else None, "concordant": conc, "discordant": disc}


def scores(measured: list[float], predicted: list[float], madds: list[float]) -> dict:
    errs = [p / m - 1.0 for p, m in zip(predicted, measured)]
    a = sorted(abs(e) for e in errs)
    n = len(a)
    if not n:
        return {"n": 0}
    med = a[n // 2] if n % 2 else (a[n // 2 - 1] + a[n // 2]) / 2
    return {"n": n, **{f"within_{w}_pct": 100.0 * sum(e <= w / 100 + 1e-12 for e in a) / n for w in (5, 10, 15)},
            "median_abs_pct": 100 * med, "worst_abs_pct": 100 * a[-1],
            "rmspe_pct": 100 * math.sqrt(sum(e * e for e in errs) / n),
            "mean_pct": 100 * sum(errs) / n, "band_tau": band_tau(madds, measured, predicted)}


def validate_rows(rows: list[dict], predict, stat: str = "median") -> tuple[list[dict], dict]:
    """rows: bench rows (model, median_ms or min_ms, batch, ...); predict(name, width, resolution, batch) -> result;
    stat: the calibration's statistic (median, min), the bench column compared with.
    Returns (one row per network with both predictions and errors, {"model": scores, "madds_fit": scores})."""
    from lwbench.errors import InputError

    col = f"{stat}_ms"
    out = []
    for r in rows:
        if r.get(col) is None or (isinstance(r[col], float) and math.isnan(r[col])):
            raise InputError(f"--validate: bench row {r['model']} has no {col} (the calibration's statistic is {stat})")
        name, width, res = parse_model(r["model"])
        p = predict(name, width, res, int(r.get("batch") or 1))
        out.append({"model": r["model"], "madds": p["madds"], "mac_elems": p["mac_elems"],
                    "layers": len(p["layers"]), "measured_ms": float(r[col]), "statistic": stat, "predicted_ms": p["total_ms"],
                    "iqr_ms": r.get("iqr_ms"), "noisy": r.get("noisy"), "cpu_share": r.get("cpu_share"),
                    "uncalibrated_layers": p["uncalibrated_layers"],
                    **{k: p[k] for k in ("faults_per_forward", "fault_ms", "total_with_faults_ms") if k in p}})
    if not out:
        return out, {}
    meas = [o["measured_ms"] for o in out]
    madds = [float(o["madds"]) for o in out]
    a, b = madds_fit(madds, meas)
    for o in out:
        o["error_pct"] = 100.0 * (o["predicted_ms"] / o["measured_ms"] - 1.0)
        o["madds_fit_ms"] = a + b * o["madds"]
        o["madds_fit_error_pct"] = 100.0 * (o["madds_fit_ms"] / o["measured_ms"] - 1.0)
    if all("total_with_faults_ms" in o for o in out):
        for o in out:
            o["with_faults_error_pct"] = 100.0 * (o["total_with_faults_ms"] / o["measured_ms"] - 1.0)
    summary = {"statistic": stat, "model": scores(meas, [o["predicted_ms"] for o in out], madds),
               "madds_fit": {**scores(meas, [o["madds_fit_ms"] for o in out], madds),
                             "a_ms": a, "b_ms_per_gmadd": b * 1e9}}
    if "with_faults_error_pct" in out[0]:
        summary["model_with_faults"] = scores(meas, [o["total_with_faults_ms"] for o in out], madds)
    return out, summary


def _mismatch(r: dict, fp: dict) -> str | None:
    """Why a bench row was not measured with the calibration's settings (None when it was)."""
    want = {"threads": fp.get("threads"), "batch": fp.get("batch"), "dtype": fp.get("dtype"),
            "device": fp.get("device"), "runtime": fp.get("runtime"), "mode": "eager", "layout": "nchw",
            "target": fp.get("target")}
    for k, v in want.items():
        got = r.get(k)
        if v is None or got is None or (isinstance(got, float) and math.isnan(got)) or got == "":
            continue
        if str(got) != str(v) and not (k in ("threads", "batch") and int(float(got)) == int(v)):
            return f"{k} {got}, calibration {v}"
    if fp.get("runtime") == "onnxruntime":
        opts = dict(p.split("=", 1) for p in str(r.get("options") or "").replace(";", ",").split(",") if "=" in p)
        got = opts.get("ort_opt", "all")
        if got != fp.get("ort_opt", "all"):
            return f"ort_opt {got}, calibration {fp.get('ort_opt', 'all')}"
    return None


def _version_note(path: str, machine: dict, fp: dict) -> list[str]:
    """A bench export measured with another onnxruntime than the calibration's: said, not refused."""
    if fp.get("runtime") != "onnxruntime":
        return []
    got = (machine.get("onnxruntime") or {}).get("onnxruntime") if isinstance(machine, dict) else None
    want = (fp.get("runtime_versions") or {}).get("onnxruntime")
    return [f"{path}: measured with onnxruntime {got}, calibrated with {want}"] if got and want and got != want else []


def bench_rows(path: str, fp: dict) -> tuple[list[dict], dict, list[str]]:
    """The usable rows of a bench export: no error, and measured with the calibration's settings (threads,
    batch, dtype, device, runtime, target; eager, NCHW). Returns (rows, machine block, notes on what was left out)."""
    from lwbench.errors import InputError
    from lwbench.report.load import load_export

    ex = load_export(path)
    if ex.kind not in ("timing", "bench"):
        raise InputError(f"--validate {path}: expected a `lwbench bench` export, got a {ex.kind} export")
    notes, rows = [], []
    for r in ex.frame.to_dict("records"):
        err = r.get("error")
        if isinstance(err, str) and err.strip():
            notes.append(f"{r['model']}: failed row left out")
            continue
        why = _mismatch(r, fp)
        if why:
            notes.append(f"{r['model']}: {why}: left out")
            continue
        rows.append(r)
    if not rows:
        raise InputError(f"--validate {path}: no row to compare (errors, or rows measured with other settings than "
                         "the calibration's)")
    return rows, ex.machine, notes + _version_note(path, ex.machine, fp)


def figure(rows: list[dict], summary: dict, path: str, title: str = "") -> None:
    """Predicted against measured latency, both predictors, with the ±10% lines."""
    from lwbench.report.plots import _figure, _save

    fig, ax = _figure(6.4, 5.6)
    meas = [r["measured_ms"] for r in rows]
    lo, hi = min(meas) * 0.8, max(meas) * 1.25
    ax.plot([lo, hi], [lo, hi], color="black", lw=1)
    for f, style in ((1.1, "--"), (0.9, "--"), (1.05, ":"), (0.95, ":")):
        ax.plot([lo, hi], [lo * f, hi * f], color="grey", lw=0.8, ls=style)
    m, s = summary["model"], summary["madds_fit"]
    ax.scatter(meas, [r["madds_fit_ms"] for r in rows], marker="x", color="tab:orange",
               label=f"best madds-only fit: {s['within_10_pct']:.0f}% within ±10%, median {s['median_abs_pct']:.1f}%")
    ax.scatter(meas, [r["predicted_ms"] for r in rows], color="tab:blue",
               label=f"lwbench predict: {m['within_10_pct']:.0f}% within ±10%, median {m['median_abs_pct']:.1f}%")
    if "model_with_faults" in summary:
        w = summary["model_with_faults"]
        ax.scatter(meas, [r["total_with_faults_ms"] for r in rows], marker="^", color="tab:green",
                   label=f"+ counted page faults: {w['within_10_pct']:.0f}% within ±10%, median "
                         f"{w['median_abs_pct']:.1f}%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"measured latency (ms, {summary.get('statistic', 'median')})")
    ax.set_ylabel("predicted latency (ms)")
    ax.set_title(title or f"{len(rows)} networks: predicted vs measured (dashed ±10%, dotted ±5%)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    _save(fig, path)
