"""Does the calibration's speed reference (`lwbench calibrate --check`) read the machine's drift as networks feel it?

`calibrate --check` times one fixed synthetic network and reports how far the machine has moved since its
calibration. That is only worth saying if a network's latency moves with it. This script makes a small
calibration (`--smoke 1`: it holds the reference at its start and end), then runs R rounds, each: a check, one
`lwbench bench` pass of 12 networks (1 thread), a check (each check three readings, a fresh worker each). For every pair of rounds (i < j) and every network it
compares the network's change (its median, and its min, in round j over round i) with the reference's change
(the mean of the two checks around each bench pass): raw, the network's change alone (how well a latency
repeats between rounds); corrected, the network's change divided by the reference's (how well it repeats once
the reference's reading of the machine is taken out). If the reference tracks the machine, corrected is
smaller than raw; the Pearson correlation of log changes (per pair of rounds, the networks' geometric mean
against the reference) says how closely.

    python benchmarks/speed_reference.py --out results [--rounds 8] [--min-time 1.5]

Writes results/speed-reference-{tag}.csv (one row per network x round: median, min, the reference before and
after) and results/speed-reference-{tag}.json (the figures, the checks, the machine block, the load, the
commands). A benchmark: nothing here is a test.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_rounds import drift_args, spread  # the same 12 networks and options (benchmarks/ is on sys.path)
from predict_accuracy import speed_check


def lw(*args: str) -> list[str]:
    return [sys.executable, "-m", "lwbench", *args]


def check(cal: Path, out: Path) -> dict:
    """`calibrate --check` (3 readings, ±10%: exit 1 is a verdict, not a failure), as predict_accuracy runs it."""
    res = speed_check(cal, out)
    if res is None:
        raise SystemExit(f"calibrate --check {cal} failed")
    return res


def bench(out: Path, nets: list[str], min_time: float) -> tuple[dict, dict, list[str]]:
    cmd = lw("bench", *nets, "--threads", "1", "--min-time", str(min_time), "-o", str(out))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    doc = json.loads(out.read_text())
    return {r["model"]: r for r in doc["rows"] if not r.get("error")}, doc["machine"], cmd


def pearson(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return None if sx == 0 or sy == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / (sx * sy)


def analyse(rounds: list[dict], nets: list[str]) -> dict:
    out = {}
    for key in ("median_ms", "min_ms"):
        raw, corr, lx, ly = [], [], [], []
        for a, b in itertools.combinations(rounds, 2):
            ref = b["reference_ms"] / a["reference_ms"]
            logs = []
            for m in nets:
                if m in a["rows"] and m in b["rows"]:
                    ch = b["rows"][m][key] / a["rows"][m][key]
                    raw.append(abs(ch - 1))
                    corr.append(abs(ch / ref - 1))
                    logs.append(math.log(ch))
            if logs:
                lx.append(math.log(ref))
                ly.append(statistics.fmean(logs))
        out[key] = {"raw": spread(raw), "corrected": spread(corr), "pearson_log_change": pearson(lx, ly),
                    "pairs": len(lx)}
    return out


def main(argv=None) -> int:
    a, tmp = drift_args(__doc__.splitlines()[0], 8, 1.5, "speed-reference", argv)
    cal = tmp / "cal.json"
    t0, load = time.time(), [os.getloadavg()[0]]
    cal_cmd = lw("calibrate", "--smoke", "1", "-o", str(cal))
    subprocess.run(cal_cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rounds, machine, bench_cmd = [], None, None
    for k in range(a.rounds):
        before = check(cal, tmp / f"check-{k}a.json")
        rows, machine, bench_cmd = bench(tmp / f"bench-{k}.json", a.nets, a.min_time)
        after = check(cal, tmp / f"check-{k}b.json")
        ref = (before["now_ms"] + after["now_ms"]) / 2
        rounds.append({"round": k, "at": time.time(), "rows": rows, "reference_ms": ref,
                       "before_ms": before["now_ms"], "after_ms": after["now_ms"],
                       "readings_ms": before["readings_ms"] + after["readings_ms"],
                       "verdicts": [before["verdict"], after["verdict"]]})
        load.append(os.getloadavg()[0])
        print(f"round {k}: reference {before['now_ms']:.2f} / {after['now_ms']:.2f} ms, load {load[-1]:.2f}",
              flush=True)
    res = analyse(rounds, a.nets)
    calib = json.loads(cal.read_text())["checks"]["speed"]
    with open(a.out / f"speed-reference-{a.tag}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["round", "model", "median_ms", "min_ms", "noisy", "reference_before_ms", "reference_after_ms"])
        for r in rounds:
            for m in a.nets:
                row = r["rows"].get(m)
                if row:
                    w.writerow([r["round"], m, row["median_ms"], row["min_ms"], row.get("noisy"), r["before_ms"],
                                r["after_ms"]])
    doc = {"summary": res, "calibration_speed": calib,
           "reference_ms": [{"round": r["round"], "before": r["before_ms"], "after": r["after_ms"],
                             "readings": r["readings_ms"], "verdicts_at_10pct": r["verdicts"]} for r in rounds],
           "machine": machine, "load_1m": load, "minutes": round((time.time() - t0) / 60, 1),
           "commands": {"calibrate": cal_cmd[2:], "check": lw("calibrate", "--check", "CAL")[2:],
                        "bench": (bench_cmd or [])[2:]}, "rounds": a.rounds, "min_time_s": a.min_time,
           "nets": a.nets}
    (a.out / f"speed-reference-{a.tag}.json").write_text(json.dumps(doc, indent=1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
