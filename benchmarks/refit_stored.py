"""Score the current model on every stored accuracy run (issue 16): refit each kept calibration, measure nothing.

results/ keeps, for machines C, F and G, the calibration of each accuracy run and its bench rounds (first and
`-retest`). A change to the model (layer models, context forms, layout rule) can be judged on all of them in a
minute: each calibration is refitted from its own raw measurements on the statistic its machine is judged on
(C: median, its rounds repeat on the median; F, G: min, theirs repeat only on the min; results/README.md) and
scored on its first bench round, as `lwbench predict --validate` scores it. Nothing here is fitted or chosen on
the zoo networks; it is the reading that tells whether a change carries across CPUs.

    python benchmarks/refit_stored.py [--out /tmp/refit] [--only C-torch F-torch]

Writes OUT/refit-stored.csv (one row per run: within ±5/±10/±15%, median, worst, band τ, the chosen context form
and layout) and prints it. The refitted calibrations stay in OUT (OUT/RUN.json).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
R = ROOT / "results"

# run: (calibration, statistic its machine is judged on, bench prefix of its first round)
RUNS = {
    "C-torch": ("predict-calib-cpu.json", "median", "predict-bench-cpu"),
    "F-torch": ("predict-calib-cpu-F.json", "min", "predict-bench-cpu-F"),
    "G-torch": ("predict-calib-cpu-G.json", "min", "predict-bench-cpu-G"),
    "G3-torch": ("predict-calib-cpu-G3.json", "min", "predict-bench-cpu-G3"),
    "C-ort": ("predict-calib-cpu-ort.json", "median", "predict-bench-cpu-ort"),
    "F-ort": ("predict-calib-cpu-ort-F.json", "median", "predict-bench-cpu-ort-F"),
    "G-ort": ("predict-calib-cpu-ort-G.json", "min", "predict-bench-cpu-ort-G"),
    "G2-ort": ("predict-calib-cpu-ort-G2.json", "min", "predict-bench-cpu-ort-G2"),
    "G3-ort": ("predict-calib-cpu-ort-G3.json", "min", "predict-bench-cpu-ort-G3"),
    "G4-ort": ("predict-calib-cpu-ort-G4.json", "min", "predict-bench-cpu-ort-G4"),
    "G5-ort": ("predict-calib-cpu-ort-G5.json", "min", "predict-bench-cpu-ort-G5"),
    "G6-ort": ("predict-calib-cpu-ort-G6.json", "min", "predict-bench-cpu-ort-G6"),
}


def score(name: str, out: Path) -> dict:
    from lwbench.cli import main
    from lwbench.predict import fitcal

    cal, stat, prefix = RUNS[name]
    doc = fitcal.refit(json.loads((R / cal).read_text()), stat)
    path = out / f"{name}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    bench = [str(R / f"{prefix}{s}.csv") for s in ("", "-w075", "-r160")]
    val = out / f"{name}-validate.csv"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["predict", "-c", str(path), *[x for b in bench for x in ("--validate", b)], "-o", str(val)])
    if rc:
        raise SystemExit(f"{name}: predict --validate exited {rc}")
    line = next(ln for ln in val.read_text().splitlines() if ln.startswith("# summary:"))
    m = json.loads(line.split(":", 1)[1])["model"]
    model = doc["model"]
    return {"run": name, "statistic": stat, "networks": m["n"], "within_5_pct": round(m["within_5_pct"], 1),
            "within_10_pct": round(m["within_10_pct"], 1), "within_15_pct": round(m["within_15_pct"], 1),
            "median_abs_pct": round(m["median_abs_pct"], 2), "worst_abs_pct": round(m["worst_abs_pct"], 2),
            "band_tau": round(m["band_tau"]["tau"], 3), "context": model["context"]["method"],
            "layout": (model.get("layout") or {}).get("choice", ""),
            "heldout_layers_median_pct": round(doc["checks"]["heldout_layers"]["all"]["median_abs_pct"], 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/lwbench-refit-stored"))
    ap.add_argument("--only", nargs="*", choices=sorted(RUNS), default=None)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    rows = [score(n, a.out) for n in (a.only or RUNS)]
    with open(a.out / "refit-stored.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        print(f"{r['run']:9} {r['statistic']:6} {r['within_5_pct']:5.1f} / {r['within_10_pct']:5.1f} / "
              f"{r['within_15_pct']:5.1f}%  median {r['median_abs_pct']:5.2f}%  worst {r['worst_abs_pct']:5.2f}%  "
              f"τ {r['band_tau']:.2f}  {r['context']} {r['layout']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
