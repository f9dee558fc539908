"""What would more synthetic networks buy the context model? Its forms and a learning curve, on a stored run.

The context model (lwbench/predict/context.py) is fitted on the calibration's synthetic networks (36 now) and
chosen by their leave-one-network-out error. This script measures nothing: from a calibration file and the bench
files of the same run (`benchmarks/predict_accuracy.py` writes both), it reports

- per candidate form: its held-out error on the synthetic networks (as the calibration stored it) and, fitted on
  all of them, its figures on the zoo networks the bench files hold (within ±5/±10/±15%, median, worst, band τ);
- a learning curve: each of two forms fitted on K of the synthetic networks drawn at random (`--draws` times per
  K, a fixed seed), its zoo median error and share within ±10% (median and p10-p90 over the draws).

The zoo figures are for reading only: nothing is fitted or chosen on them (the calibration chooses on its
synthetic networks). A flat curve says more synthetic networks of the same kind would not lift that form.

    python benchmarks/context_forms.py --out results [--calibration results/predict-calib-cpu.json] [--tag cpu]

Writes OUT/context-forms-TAG.csv (one row per form, then per K and form) and OUT/context-forms-TAG.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CURVE_FORMS = ("overhead+traffic", "overhead/category+traffic")


def _args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("results"))
    ap.add_argument("--calibration", type=Path, default=None, help="default OUT/predict-calib-TAG.json")
    ap.add_argument("--bench", type=Path, nargs="*", default=None,
                    help="default OUT/predict-bench-TAG.csv, -w075, -r160 (the run's first bench round)")
    ap.add_argument("--tag", default="cpu", help="cpu (torch) or cpu-ort")
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--sizes", type=int, nargs="*", default=[12, 18, 24, 30])
    return ap.parse_args(argv)


def zoo_rows(doc: dict, paths: list[Path]) -> list[dict]:
    """Each usable bench row (as `predict --validate` reads them: lwbench.predict.validate.bench_rows) as a context
    row (lwbench.predict.context.chain_row): its layers predicted alone."""
    from lwbench.predict import context
    from lwbench.predict.fitcal import alone_model
    from lwbench.predict.predict import predict_net
    from lwbench.predict.validate import bench_rows, parse_model
    from lwbench.spec import load

    fitted = doc["model"]
    raw = alone_model(fitted)
    col = f"{fitted.get('statistic', 'median')}_ms"
    out = []
    for path in paths:
        for r in bench_rows(str(path), doc["fingerprint"])[0]:
            name, width, res = parse_model(r["model"])
            p = predict_net(load(name, width, res), raw, int(r.get("batch") or 1))
            row = context.chain_row(p["layers"], float(r[col]), p["fixed_ms"] + p.get("layout_ms", 0.0), r["model"])
            out.append({**row, "madds": p["madds"]})
    return out


def synthetic_rows(doc: dict) -> list[dict]:
    from lwbench.predict import fitcal
    from lwbench.predict.design import Probe

    probes = [Probe.from_dict(m) for m in doc["measurements"]]
    records = {m["id"]: m for m in doc["measurements"]}
    fitted = doc["model"]
    return fitcal._chains(probes, records, fitted, doc["settings"].get("batch", 1), fitted.get("statistic", "median"))


def zoo_scores(zoo: list[dict], coef: dict) -> dict:
    from lwbench.predict.context import predict_chain
    from lwbench.predict.validate import scores

    return scores([z["measured_ms"] for z in zoo], [predict_chain(z, coef) for z in zoo], [z["madds"] for z in zoo])


def _line(s: dict) -> dict:
    return {"within_5_pct": round(s["within_5_pct"], 1), "within_10_pct": round(s["within_10_pct"], 1),
            "within_15_pct": round(s["within_15_pct"], 1), "median_abs_pct": round(s["median_abs_pct"], 2),
            "worst_abs_pct": round(s["worst_abs_pct"], 2), "band_tau": s["band_tau"]["tau"]}


def forms(doc: dict, chains: list[dict], zoo: list[dict]) -> list[dict]:
    from lwbench.predict import context

    cats = sorted({k for c in chains for k in c["layers"]})
    stored = doc["model"]["context"]
    rows = []
    for form in context.CANDIDATES:
        cand = stored.get("candidates", {}).get(form, {})
        held = (cand.get("heldout") or {}).get("mean_abs_pct")
        row = {"part": "form", "form": form, "networks": len(chains), "chosen": form == stored.get("method"),
               "synthetic_heldout_mean_abs_pct": None if held is None else round(held, 2),
               "skipped": cand.get("skipped", "")}
        if not row["skipped"]:
            row.update(_line(zoo_scores(zoo, context._fit(chains, form, cats))))
        rows.append(row)
    return rows


def curve(chains: list[dict], zoo: list[dict], sizes: list[int], draws: int) -> list[dict]:
    from lwbench.predict import context

    cats = sorted({k for c in chains for k in c["layers"]})
    rng, rows = random.Random(0), []
    for k in [s for s in sizes if s < len(chains)] + [len(chains)]:
        for form in CURVE_FORMS:
            got = [zoo_scores(zoo, context._fit(rng.sample(chains, k), form, cats))
                   for _ in range(draws if k < len(chains) else 1)]
            med = sorted(g["median_abs_pct"] for g in got)
            w10 = sorted(g["within_10_pct"] for g in got)
            rows.append({"part": "curve", "form": form, "networks": k, "draws": len(got),
                         "median_abs_pct": round(statistics.median(med), 2),
                         "median_abs_pct_p10": round(med[len(med) // 10], 2),
                         "median_abs_pct_p90": round(med[(9 * len(med)) // 10], 2),
                         "within_10_pct": round(statistics.median(w10), 1),
                         "within_10_pct_p10": round(w10[len(w10) // 10], 1),
                         "within_10_pct_p90": round(w10[(9 * len(w10)) // 10], 1)})
    return rows


def main(argv=None) -> int:
    a = _args(argv)
    cal = a.calibration or a.out / f"predict-calib-{a.tag}.json"
    bench = a.bench or [a.out / f"predict-bench-{a.tag}{s}.csv" for s in ("", "-w075", "-r160")]
    doc = json.loads(cal.read_text())
    chains, zoo = synthetic_rows(doc), zoo_rows(doc, [p for p in bench if p.exists()])
    rows = forms(doc, chains, zoo) + curve(chains, zoo, a.sizes, a.draws)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    out = a.out / f"context-forms-{a.tag}.csv"
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    summary = {"calibration": str(cal), "bench": [str(p) for p in bench], "machine": doc.get("machine"),
               "synthetic_networks": len(chains), "zoo_networks": len(zoo), "rows": rows,
               "command": " ".join(["python", "benchmarks/context_forms.py", *(argv or sys.argv[1:])])}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1, default=str))
    for r in rows:
        print({k: v for k, v in r.items() if v not in ("", None)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
