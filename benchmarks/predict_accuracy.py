"""Issue 16's goal: latency predicted from a calibration against latency measured, on held-out networks.

    python benchmarks/predict_accuracy.py [--out results] [--reuse-calibration] [--wait 600]

1. waits (up to --wait s) for the 1-minute load to fall below 1.0, and records the load it started at;
2. `lwbench calibrate --device cpu --threads 1 -o OUT/predict-calib-cpu.json` (single layers and small blocks
   on the designed grid: no zoo network is measured);
3. `lwbench bench` of the held-out networks (every seed family, plus width and resolution variants), 1 thread,
   a fresh worker per network, --min-time 3;
4. `lwbench predict --validate` on those rows (with `--faults`: also the opt-in correction that counts the page
   faults of one untimed forward): OUT/predict-validate-cpu.csv, .txt, and the predicted-vs-measured figure
   OUT/predict-vs-measured-cpu.png; a per-category breakdown against `profile --time` for a few networks;
5. prints the figures against the goal (>= 90% within ±10%, >= 60% within ±5%, median <= 5%, worst <= 20%,
   Kendall τ >= 0.8 inside equal-madds bands) and exits 1 when one is not met.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

NETS = ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
        "shufflenet_v1_g1_x1_0", "shufflenet_v1_g2_x0_5", "shufflenet_v1_g3_x0_5", "shufflenet_v1_g3_x1_0",
        "shufflenet_v1_g3_x2_0", "shufflenet_v1_g8_x1_0",
        "mobilenet_v1", "mobilenet_v1_x0_5", "mobilenet_v1_x0_75", "mobilenet_v1_r128",
        "mobilenet_v2", "mobilenet_v2_x1_4", "mobilenet_v3_small", "mobilenet_v3_large",
        "mnasnet0_5", "mnasnet1_0", "efficientnet_b0", "efficientnet_b1", "squeezenet1_0", "squeezenet1_1",
        "xception", "resnet18"]
WIDTH = (0.75, ["mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "mnasnet1_0"])
RESOLUTION = (160, ["mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0", "efficientnet_b0", "squeezenet1_1"])
BREAKDOWN = ["mobilenet_v2", "shufflenet_v2_x1_0", "efficientnet_b0", "squeezenet1_1", "mobilenet_v3_small"]
GOAL = {"within_10_pct": 90.0, "within_5_pct": 60.0, "median_abs_pct": 5.0, "worst_abs_pct": 20.0, "tau": 0.8}


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_quiet(limit_s: float) -> dict:
    t0, first = time.time(), load1()
    while load1() >= 1.0 and time.time() - t0 < limit_s:
        time.sleep(10)
    return {"load_when_asked": first, "load_at_start": load1(), "waited_s": round(time.time() - t0),
            "quiet": load1() < 1.0}


def lwbench(*args: str) -> None:
    cmd = [sys.executable, "-m", "lwbench", *args]
    print("+ lwbench " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


def breakdown(cal: Path, out: Path, min_time: str) -> list[dict]:
    """Where the error sits: per op category, the in-network per-layer times (`profile --time`, forward hooks)
    beside the predicted per-layer times, for a few networks; written to OUT/predict-breakdown-cpu.csv."""
    import pandas as pd

    rows = []
    tmp = out / ".predict-tmp"
    tmp.mkdir(exist_ok=True)
    for net in BREAKDOWN:
        meas, pred = tmp / f"{net}-time.csv", tmp / f"{net}-pred.csv"
        lwbench("profile", net, "--time", "--threads", "1", "--min-time", min_time, "-o", str(meas))
        lwbench("predict", net, "-c", str(cal), "-o", str(pred))
        m = pd.read_csv(meas, comment="#")[["layer", "category", "kind", "time_ms"]]
        p = pd.read_csv(pred, comment="#")[["layer", "model_key", "predicted_ms"]]
        j = m.merge(p, on="layer")
        for cat, g in j.groupby("category"):
            rows.append({"model": net, "category": cat, "layers": len(g), "measured_ms": g["time_ms"].sum(),
                         "predicted_ms": g["predicted_ms"].sum(),
                         "error_pct": 100 * (g["predicted_ms"].sum() / g["time_ms"].sum() - 1)})
        rows.append({"model": net, "category": "(all layers, hooked)", "layers": len(j),
                     "measured_ms": j["time_ms"].sum(), "predicted_ms": j["predicted_ms"].sum(),
                     "error_pct": 100 * (j["predicted_ms"].sum() / j["time_ms"].sum() - 1)})
    pd.DataFrame(rows).to_csv(out / "predict-breakdown-cpu.csv", index=False, float_format="%.4f")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results")
    ap.add_argument("--reuse-calibration", action="store_true")
    ap.add_argument("--wait", type=float, default=600)
    ap.add_argument("--min-time", default="3")
    ap.add_argument("--reuse-bench", action="store_true", help="keep bench files already in --out")
    ap.add_argument("--also", action="append", default=[],
                    help="another bench export of this machine type to validate on too (e.g. a quiet earlier run)")
    a = ap.parse_args()
    out = Path(a.out)
    cal, fig = out / "predict-calib-cpu.json", out / "predict-vs-measured-cpu.png"
    benches = [out / "predict-bench-cpu.csv", out / "predict-bench-cpu-w075.csv", out / "predict-bench-cpu-r160.csv"]
    log = {"wait": wait_quiet(a.wait)}
    t = time.time()
    if not (a.reuse_calibration and cal.exists()):
        lwbench("calibrate", "--device", "cpu", "--threads", "1", "-o", str(cal))
    log["calibrate_s"] = round(time.time() - t)
    log["load_after_calibrate"] = load1()
    common = ["--device", "cpu", "--threads", "1", "--batch", "1", "--min-time", a.min_time]
    for path, extra in ((benches[0], NETS), (benches[1], [*WIDTH[1], "--width", str(WIDTH[0])]),
                        (benches[2], [*RESOLUTION[1], "--resolution", str(RESOLUTION[0])])):
        if not (a.reuse_bench and path.exists()):
            lwbench("bench", *extra, *common, "-o", str(path))
    log["load_after_bench"] = load1()
    val = out / "predict-validate-cpu.csv"
    valid = [x for b in benches for x in ("--validate", str(b))]
    lwbench("predict", "-c", str(cal), *valid, "--faults", "-o", str(val), "--plot", str(fig))
    lwbench("predict", "-c", str(cal), *valid, "--faults", "-f", "table", "-o", str(out / "predict-validate-cpu.txt"))
    for i, other in enumerate(a.also):
        lwbench("predict", "-c", str(cal), "--validate", other, "--faults", "-o", str(out / f"predict-validate-also{i}-cpu.csv"),
                "--plot", str(out / f"predict-vs-measured-also{i}-cpu.png"))
    log["breakdown"] = breakdown(cal, out, a.min_time)
    summary = next(json.loads(line.split(":", 1)[1]) for line in val.read_text().splitlines()
                   if line.startswith("# summary:"))
    m = summary["model"]
    got = {**{k: m[k] for k in GOAL if k != "tau"}, "tau": m["band_tau"]["tau"]}
    ok = (got["within_10_pct"] >= GOAL["within_10_pct"] and got["within_5_pct"] >= GOAL["within_5_pct"]
          and got["median_abs_pct"] <= GOAL["median_abs_pct"] and got["worst_abs_pct"] <= GOAL["worst_abs_pct"]
          and (got["tau"] or 0) >= GOAL["tau"])
    doc = json.loads(cal.read_text())
    log.update(goal=GOAL, got=got, met=ok, with_faults=summary.get("model_with_faults"),
               madds_fit=summary["madds_fit"], calibration_cost=doc["cost"],
               heldout_layers=doc["checks"]["heldout_layers"]["all"], blocks=doc["checks"]["blocks_summary"],
               ms_per_fault=doc["model"].get("faults"))
    (out / "predict-run-cpu.json").write_text(json.dumps(log, indent=1) + "\n")
    print(json.dumps(log, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
