"""Does `bench --rounds N` repeat better than one pass of the same length on a drifting machine?

Two runs of the same networks minutes apart, once each way, same total measured time per row (--min-time):
A: one pass (--rounds 1), B: --rounds N (each row in N round-robin rounds of min-time/N, fresh workers, samples
pooled). The order is A1, B1, A2, B2, so that drift over the whole script hits both ways alike. For each way,
the second run's median (and min) against the first's, per network: within ±2/5/10%, median and worst |ratio−1|;
and the rows' rounds_spread (how far the machine moved during one row's rounds).

    python benchmarks/bench_rounds.py --out results [--rounds 6] [--min-time 3]

Writes results/bench-rounds-cpu.csv (one row per network × way × run) and results/bench-rounds-cpu.json (the
summary, the machine block, the load, the commands). A benchmark: nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

NETS = ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v1_g3_x1_0", "mobilenet_v1_x0_5", "mobilenet_v2",
        "mobilenet_v3_small", "mobilenet_v3_large", "mnasnet0_5", "efficientnet_b0", "squeezenet1_1", "resnet18",
        "xception"]


def bench(out: Path, nets: list[str], min_time: float, rounds: int) -> tuple[list[dict], dict, list[str]]:
    cmd = [sys.executable, "-m", "lwbench", "bench", *nets, "--threads", "1", "--min-time", str(min_time),
           "--rounds", str(rounds), "-o", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    doc = json.loads(out.read_text())
    return doc["rows"], doc["machine"], cmd


def spread(errs: list[float]) -> dict:
    """How well a figure repeats: the share of |ratio - 1| within ±2/5/10%, the median and the worst."""
    n = len(errs)
    return {"n": n, **{f"within_{p}_pct": round(100 * sum(e <= p / 100 for e in errs) / n, 1) for p in (2, 5, 10)},
            "median_err_pct": round(100 * statistics.median(errs), 2), "worst_err_pct": round(100 * max(errs), 2)}


def agreement(a: dict, b: dict, key: str) -> dict:
    return spread([abs(b[m][key] / a[m][key] - 1) for m in a if a[m].get(key) and b.get(m, {}).get(key)])


def drift_args(description: str, rounds: int, min_time: float, name: str, argv=None) -> tuple:
    """(options, scratch folder) of the drift benchmarks (this one, speed_reference.py): where, how many rounds,
    how long; the scratch folder OUT/.NAME-TAG made."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", type=Path, default=Path("results"))
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--min-time", type=float, default=min_time)
    ap.add_argument("--nets", nargs="*", default=NETS)
    ap.add_argument("--tag", default="cpu")
    a = ap.parse_args(argv)
    tmp = a.out / f".{name}-{a.tag}"
    tmp.mkdir(parents=True, exist_ok=True)
    return a, tmp


def main(argv=None) -> int:
    a, tmp = drift_args(__doc__.splitlines()[0], 6, 3.0, "bench-rounds", argv)
    load = [os.getloadavg()[0]]
    runs: dict = {}
    cmds, machine, t0 = [], None, time.time()
    for k in (1, 2):
        for way, rounds in (("A", 1), ("B", a.rounds)):
            rows, machine, cmd = bench(tmp / f"{way}{k}.json", a.nets, a.min_time, rounds)
            runs[f"{way}{k}"] = {r["model"]: r for r in rows if not r["error"]}
            cmds.append(" ".join(cmd[1:]))
            load.append(os.getloadavg()[0])
            print(f"{way}{k} done at {time.strftime('%H:%M:%S')}, load {load[-1]:.2f}", flush=True)
    summary = {}
    for way, rounds in (("A", 1), ("B", a.rounds)):
        r1, r2 = runs[f"{way}1"], runs[f"{way}2"]
        spreads = [r["rounds_spread"] for r in (*r1.values(), *r2.values()) if r.get("rounds_spread") is not None]
        summary[f"rounds={rounds}"] = {
            "median": agreement(r1, r2, "median_ms"), "min": agreement(r1, r2, "min_ms"),
            "noisy_rows": sum(bool(r.get("noisy")) for r in (*r1.values(), *r2.values())),
            "contended_rows": sum(bool(r.get("contended")) for r in (*r1.values(), *r2.values())),
            **({"rounds_spread_median": round(statistics.median(spreads), 3),
                "rounds_spread_max": round(max(spreads), 3)} if spreads else {})}
    csv = ["way,run,rounds,model,median_ms,min_ms,iqr_ms,n,rounds_spread,noisy,contended"]
    for key, rows in runs.items():
        for m, r in rows.items():
            csv.append(",".join(str(x) for x in (key[0], key[1], r.get("rounds") or 1, m, r["median_ms"], r["min_ms"],
                                                r["iqr_ms"], r["n"], r.get("rounds_spread") or "", r["noisy"],
                                                r["contended"])))
    (a.out / f"bench-rounds-{a.tag}.csv").write_text("\n".join(csv) + "\n")
    meta = {"summary": summary, "machine": machine, "load_1m": load, "minutes": round((time.time() - t0) / 60, 1),
            "commands": cmds, "order": "A1 B1 A2 B2", "min_time_s": a.min_time, "rounds": a.rounds, "nets": a.nets}
    (a.out / f"bench-rounds-{a.tag}.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
