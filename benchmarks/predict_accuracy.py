"""Issue 16's goal: latency predicted from a calibration against latency measured, on held-out networks.

    python benchmarks/predict_accuracy.py [--out results] [--runtime torch|onnxruntime] [--reuse-calibration]
                                          [--wait 600] [--retest] [--refit] [--smoke]

`--refit` measures nothing: the calibration already in --out is refitted from its own measurements (`calibrate
--refit`, a model change) and scored again on the bench files there, the run's log kept with `refitted` added.
On another machine than the calibration's the page-fault correction (`predict --faults`, counted here) is left
out, and the log says so (`faults_skipped`).

`--runtime onnxruntime` runs the same steps for ONNX Runtime (ort_opt all; the model predicts per fused group)
and writes every file with `-ort` after `cpu` (predict-calib-cpu-ort.json, predict-validate-cpu-ort.csv, ...).
`--smoke` checks the pipeline end to end in a few minutes: a calibration of 6 probes per group
(`calibrate --smoke 6`), three small networks, --min-time 0.2, no wait for a quiet machine; its files get
`-smoke` in their names and are never results; it exits 0 when the pipeline ran (the goal is not judged).

1. waits (up to --wait s) for the 1-minute load to fall below 1.0, and records the load it started at;
2. `lwbench calibrate --device cpu --threads 1 -o OUT/predict-calib-cpu.json` (single layers and small blocks
   on the designed grid: no zoo network is measured);
3. `lwbench bench` of the held-out networks (every seed family, plus width and resolution variants), 1 thread,
   a fresh worker per network, --min-time 3;
4. `lwbench predict --validate` on those rows (torch, with `--faults`: also the opt-in correction that counts the
   page faults of one untimed forward; with the heap kept by the bench worker that count is ~0): OUT/predict-validate-cpu.csv, .txt, and the predicted-vs-measured figure
   OUT/predict-vs-measured-cpu.png; a per-category breakdown against `profile --time` for a few networks;
   then the same calibration refitted on each probe's fastest call (`calibrate --refit --statistic min`) and
   validated against the bench rows' min_ms: OUT/predict-validate-cpu-min.csv, .txt, .png;
5. with --retest: `lwbench bench` of the same networks once more (OUT/predict-bench-cpu-retest*.csv) and the
   repeatability of the measurement itself, scored like a prediction (the second round "predicting" the first,
   median and min): the ceiling no predictor can beat on this machine, in OUT/predict-run-cpu.json;
   after each bench round, `calibrate --check` times the calibration's speed reference again
   (OUT/predict-check-cpu*.json; `speed_checks` in the log: how far the machine moved since its calibration) and
   `speed_adjusted` in the log scores the predictions scaled by that ratio: a diagnostic of how much of the
   error is the machine's drift, never the goal's figures;
6. prints the figures against the goal (>= 90% within ±10%, >= 60% within ±5%, median <= 5%, worst <= 20%,
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
SMOKE_NETS = ["mobilenet_v2", "shufflenet_v2_x0_5", "squeezenet1_1"]
GOAL = {"within_10_pct": 90.0, "within_5_pct": 60.0, "median_abs_pct": 5.0, "worst_abs_pct": 20.0, "tau": 0.8}


def _made_here(cal: Path, elsewhere: bool = False) -> bool:
    """Whether the calibration is this machine's (predict --faults, which counts here, needs it): lwbench's own
    check (CPU model, arch, cores, torch; the vector features where the calibration records them), unless told
    `elsewhere` (a calibration from before `cpu_isa`, of another VM with the same model string)."""
    from lwbench.predict.calfile import machine_mismatch
    from lwbench.predict.calibrate import machine_info_for

    fp = json.loads(cal.read_text()).get("fingerprint") or {}
    return not elsewhere and machine_mismatch(fp, machine_info_for(fp.get("runtime") or "torch")) is None


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


def _group_rows(meas, pred, ort: bool):
    """(measured, predicted) per layer (torch) or per ORT group: the predicted time of a group is Σ its layers'."""
    import pandas as pd

    p = pred.set_index("layer")["predicted_ms"]
    if not ort:
        m = meas[["layer", "category", "time_ms"]].copy()
        m["predicted_ms"] = m["layer"].map(p)
        return m.dropna(subset=["predicted_ms"])
    m = meas[["layer", "layers", "category", "time_ms"]].copy()
    m["predicted_ms"] = [sum(p.get(x, 0.0) for x in str(ls).split()) if isinstance(ls, str) and ls else None
                         for ls in m["layers"]]
    return pd.concat([m[m["predicted_ms"].notna()], m[m["predicted_ms"].isna()].assign(predicted_ms=0.0)])


def breakdown(cal: Path, out: Path, min_time: str, tag: str, nets: list[str], ort: bool,
              reuse: bool = False, here: bool = True) -> list[dict]:
    """Where the error sits: per op category, the in-network per-layer times (`profile --time`: forward hooks for
    torch, ORT's profiler per fused group for onnxruntime) beside the predicted per-layer times, for a few
    networks; written to OUT/predict-breakdown-cpu{tag}.csv. ORT's own rows (layout conversions) are predicted by
    the layout model (the prediction's `layout_ms`). A refit of another machine's calibration (`here` false)
    profiles nothing here: a network without its stored profile is left out, and with none the file stays as it
    was (the breakdown of the fit before)."""
    import pandas as pd

    rows = []
    tmp = out / ".predict-tmp"
    tmp.mkdir(exist_ok=True)
    rt = ["--runtime", "onnxruntime"] if ort else []
    for net in nets:
        meas, pred = tmp / f"{net}{tag}-time.csv", tmp / f"{net}{tag}-pred.csv"
        if not (reuse and meas.exists()):
            if not here:
                continue
            lwbench("profile", net, "--time", *rt, "--threads", "1", "--min-time", min_time, "-o", str(meas))
        lwbench("predict", net, "-c", str(cal), "-o", str(pred))
        j = _group_rows(pd.read_csv(meas, comment="#"), pd.read_csv(pred, comment="#"), ort)
        layout = _comment(pred, "totals")[0].get("layout_ms") or 0.0
        j.loc[j["category"] == "layout (ORT)", "predicted_ms"] = layout / max(1, (j["category"] == "layout (ORT)").sum())
        for cat, g in j.groupby("category"):
            rows.append({"model": net, "category": cat, "rows": len(g), "measured_ms": g["time_ms"].sum(),
                         "predicted_ms": g["predicted_ms"].sum(),
                         "error_pct": 100 * (g["predicted_ms"].sum() / g["time_ms"].sum() - 1)})
        rows.append({"model": net, "category": "(all rows, profiled)", "rows": len(j),
                     "measured_ms": j["time_ms"].sum(), "predicted_ms": j["predicted_ms"].sum(),
                     "error_pct": 100 * (j["predicted_ms"].sum() / j["time_ms"].sum() - 1)})
    if rows:
        pd.DataFrame(rows).to_csv(out / f"predict-breakdown-cpu{tag}.csv", index=False, float_format="%.4f")
    return rows


def _commit() -> str | None:
    """The code the refit ran: HEAD, `-dirty` when lwbench/ or benchmarks/ differ from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=root).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        return (head + ("-dirty" if git("status", "--porcelain", "--", "lwbench", "benchmarks") else "")) or None
    except OSError:
        return None


def _comment(path: Path, key: str):
    """The JSON value of an export's `# key: ...` line (`summary` of a validation, `totals` of a prediction)."""
    return next(json.loads(line.split(":", 1)[1]) for line in path.read_text().splitlines()
                if line.startswith(f"# {key}:"))


def _args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results")
    ap.add_argument("--runtime", choices=("torch", "onnxruntime"), default="torch")
    ap.add_argument("--reuse-calibration", action="store_true")
    ap.add_argument("--wait", type=float, default=600)
    ap.add_argument("--min-time", default="3")
    ap.add_argument("--rounds", default="1", help="bench each network in this many round-robin rounds of "
                    "min-time/rounds (`bench --rounds`), samples pooled: for a drifting machine")
    ap.add_argument("--reuse-bench", action="store_true", help="keep bench files already in --out")
    ap.add_argument("--also", action="append", default=[],
                    help="another bench export of this machine type to validate on too (e.g. a quiet earlier run)")
    ap.add_argument("--retest", action="store_true", help="bench the networks a second time and score the "
                    "measurement's own repeatability (the ceiling on this machine)")
    ap.add_argument("--refit", action="store_true", help="measure nothing: refit the calibration in --out from its "
                    "own measurements (a model change) and score it again on the bench files there (implies "
                    "--reuse-calibration --reuse-bench; refuses when a bench file is missing; the breakdown reuses "
                    "its profiles, profiling only a network it has none of, and none when the calibration is another machine's)")
    ap.add_argument("--elsewhere", action="store_true", help="with --refit: the calibration is another machine's "
                    "even where lwbench cannot tell (one made before `cpu_isa` on a VM of the same CPU model string): "
                    "count no page faults and profile nothing here")
    ap.add_argument("--smoke", action="store_true", help="a few minutes, end to end: tiny calibration, three "
                    "small networks, files named -smoke (never results)")
    a = ap.parse_args()
    if a.smoke:
        a.wait, a.min_time = 0.0, "0.2"
    if a.refit:
        a.reuse_calibration = a.reuse_bench = True
    return a


def _bench_paths(out: Path, tag: str, suffix: str = "") -> list[Path]:
    return [out / f"predict-bench-cpu{tag}{suffix}{s}.csv" for s in ("", "-w075", "-r160")]


def _bench_sets(a, out: Path, tag: str, rt: list[str], suffix: str = "") -> list[Path]:
    """`lwbench bench` of the held-out networks (skipped per file with --reuse-bench); the files."""
    nets = SMOKE_NETS if a.smoke else NETS
    width = (WIDTH[0], WIDTH[1][:1] if a.smoke else WIDTH[1])
    res = (RESOLUTION[0], RESOLUTION[1][:1] if a.smoke else RESOLUTION[1])
    benches = _bench_paths(out, tag, suffix)
    common = ["--device", "cpu", "--threads", "1", "--batch", "1", "--min-time", a.min_time, "--rounds", a.rounds,
              *rt]
    for path, extra in ((benches[0], nets), (benches[1], [*width[1], "--width", str(width[0])]),
                        (benches[2], [*res[1], "--resolution", str(res[0])])):
        if not (a.reuse_bench and path.exists()):
            lwbench("bench", *extra, *common, "-o", str(path))
    return benches


def repeatability(first: list[Path], second: list[Path]) -> dict:
    """The second bench round scored as a prediction of the first (same networks, same machine, minutes later),
    for the median and the min: what the measurement itself repeats to."""
    import pandas as pd

    from lwbench.predict.validate import scores

    def rows(paths):
        d = pd.concat([pd.read_csv(p, comment="#") for p in paths])
        d = d[d["error"].isna()] if "error" in d else d
        return d.set_index("model")

    a, b = rows(first), rows(second)
    both = [m for m in a.index if m in b.index]
    madds = [float(a.loc[m, "madds"]) for m in both]
    return {stat: scores([float(a.loc[m, f"{stat}_ms"]) for m in both], [float(b.loc[m, f"{stat}_ms"]) for m in both],
                         madds) for stat in ("median", "min")}


def _measure(a, out: Path, tag: str, cal: Path, rt: list[str], log: dict) -> list[Path]:
    """The calibration and the bench rows (each skipped when reused); returns the bench files."""
    t = time.time()
    if not (a.reuse_calibration and cal.exists()):
        lwbench("calibrate", "--device", "cpu", "--threads", "1", *rt, *(["--smoke", "6"] if a.smoke else []),
                "-o", str(cal))
    log["calibrate_s"] = round(time.time() - t)
    log["load_after_calibrate"] = load1()
    benches = _bench_sets(a, out, tag, rt)
    log["load_after_bench"] = load1()
    log["bench_rounds"] = int(a.rounds)
    log["speed_checks"] = {"after_bench": speed_check(cal, out / f"predict-check-cpu{tag}.json")}
    return benches


def speed_check(cal: Path, path: Path) -> dict | None:
    """`calibrate --check` (its default ±10%, three readings): the calibration's speed reference timed now (None: a
    calibration without one); exit 1 (beyond, unsteady) is a verdict, kept in the log."""
    p = subprocess.run([sys.executable, "-m", "lwbench", "calibrate", "--check", str(cal), "-o", str(path)],
                       capture_output=True, text=True)
    if p.returncode not in (0, 1):
        return None
    res = json.loads(path.read_text())
    return {k: res[k] for k in ("checked_at", "calibration_ms", "now_ms", "readings_ms", "spread_pct", "ratio",
                                "change_pct", "verdict", "tolerance_pct", "now_cpu_share")}


def speed_adjusted(val: Path, ratio: float) -> dict:
    """A diagnostic, never the goal's figures: the predictions scaled by the speed check's ratio (the machine's
    speed at bench time over its speed at calibration) against the same rows: what of the error is the machine's
    drift since the calibration, as the reference reads it."""
    import pandas as pd

    from lwbench.predict.validate import scores

    d = pd.read_csv(val, comment="#").dropna(subset=["measured_ms", "predicted_ms"])
    return {"ratio": ratio, **scores(list(d["measured_ms"]), list(d["predicted_ms"] * ratio), list(d["madds"]))}


def main() -> int:
    a = _args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ort = a.runtime == "onnxruntime"
    tag = ("-ort" if ort else "") + ("-smoke" if a.smoke else "")
    rt = ["--runtime", "onnxruntime"] if ort else []
    cal, fig = out / f"predict-calib-cpu{tag}.json", out / f"predict-vs-measured-cpu{tag}.png"
    run_log = out / f"predict-run-cpu{tag}.json"
    if a.refit:      # the measurements' log stays; the fit is new
        if not cal.exists():
            raise SystemExit(f"--refit: no calibration {cal} to refit")
        missing = [p for suffix in ("", "-retest") if suffix == "" or a.retest
                   for p in _bench_paths(out, tag, suffix) if not p.exists()]
        if missing:     # before the refit: a refused run leaves the calibration as it was
            raise SystemExit(f"--refit measures nothing; missing bench file(s): {', '.join(map(str, missing))}")
        log = json.loads(run_log.read_text()) if run_log.exists() else {"runtime": a.runtime}
        lwbench("calibrate", "--refit", str(cal), "-o", str(cal))
        log["refitted"] = {"at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "code": _commit()}
        benches = _bench_sets(a, out, tag, rt)
    else:
        log = {"runtime": a.runtime, "smoke": a.smoke, "wait": wait_quiet(a.wait)}
        benches = _measure(a, out, tag, cal, rt, log)
    val = out / f"predict-validate-cpu{tag}.csv"
    valid = [x for b in benches for x in ("--validate", str(b))]
    here = _made_here(cal, a.elsewhere)
    faults = [] if ort or not here else ["--faults"]
    if not ort and not here:   # --faults counts on this machine and refuses another's calibration (a refit elsewhere)
        log["faults_skipped"] = "the calibration was made on another machine: page faults not counted here"
    lwbench("predict", "-c", str(cal), *valid, *faults, "-o", str(val), "--plot", str(fig))
    lwbench("predict", "-c", str(cal), *valid, *faults, "-f", "table", "-o", str(out / f"predict-validate-cpu{tag}.txt"))
    for i, other in enumerate(a.also):
        lwbench("predict", "-c", str(cal), "--validate", other, *faults, "-o",
                str(out / f"predict-validate-also{i}-cpu{tag}.csv"), "--plot", str(out / f"predict-vs-measured-also{i}-cpu{tag}.png"))
    cal_min = out / f"predict-calib-cpu{tag}-min.json"
    lwbench("calibrate", "--refit", str(cal), "--statistic", "min", "-o", str(cal_min))
    val_min = out / f"predict-validate-cpu{tag}-min.csv"
    lwbench("predict", "-c", str(cal_min), *valid, "-o", str(val_min), "--plot",
            str(out / f"predict-vs-measured-cpu{tag}-min.png"))
    lwbench("predict", "-c", str(cal_min), *valid, "-f", "table", "-o", str(out / f"predict-validate-cpu{tag}-min.txt"))
    if a.retest:
        log["repeatability"] = repeatability(benches, _bench_sets(a, out, tag, rt, "-retest"))
        if not a.refit:
            log["speed_checks"]["after_retest"] = speed_check(cal, out / f"predict-check-cpu{tag}-retest.json")
    after = (log.get("speed_checks") or {}).get("after_bench")
    if after:
        log["speed_adjusted"] = speed_adjusted(val, after["ratio"])
    log["breakdown"] = breakdown(cal, out, a.min_time, tag, BREAKDOWN[:2] if a.smoke else BREAKDOWN, ort, a.refit,
                                 here)
    if a.refit and not here and not log["breakdown"]:
        log["breakdown_kept"] = "refitted on another machine: no stored profiles, the breakdown file is the fit's before"
    summary = _comment(val, "summary")
    log["min_statistic"] = {k: _comment(val_min, "summary")[k] for k in ("model", "madds_fit")}
    m = summary["model"]
    got = {**{k: m[k] for k in GOAL if k != "tau"}, "tau": m["band_tau"]["tau"]}
    ok = (got["within_10_pct"] >= GOAL["within_10_pct"] and got["within_5_pct"] >= GOAL["within_5_pct"]
          and got["median_abs_pct"] <= GOAL["median_abs_pct"] and got["worst_abs_pct"] <= GOAL["worst_abs_pct"]
          and (got["tau"] or 0) >= GOAL["tau"])
    doc = json.loads(cal.read_text())
    log.update(goal=GOAL, got=got, met=ok, with_faults=summary.get("model_with_faults"),
               madds_fit=summary["madds_fit"], calibration_cost=doc["cost"],
               heldout_layers=doc["checks"]["heldout_layers"]["all"], blocks=doc["checks"]["blocks_summary"],
               ms_per_fault=doc["model"].get("faults"), layout=doc["model"].get("layout"))
    run_log.write_text(json.dumps(log, indent=1) + "\n")
    print(json.dumps(log, indent=1))
    return 0 if ok or a.smoke else 1     # a smoke run checks the pipeline, not the goal


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
