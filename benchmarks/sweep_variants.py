"""How many width/resolution variants a second does the analytic side of `lwbench sweep` count, on one core?

    python benchmarks/sweep_variants.py                       # -> results/sweep_variants.csv
    python benchmarks/sweep_variants.py --models mobilenet_v2 --before-variants 20 -o /tmp/v.csv

Per mobile zoo network, the grid a user sweeps: widths 0.25-1.5 step 0.05 (26) x resolutions 96-288 step 8 (25)
= 650 variants for a network with a channel rule; a fixed-width network (ShuffleNet, EfficientNet: their
widths are named variants) gets the 25 resolutions. Three ways to count each variant's params, madds and mac:

- before (`before_per_s`): what `lwbench.load` + `lwbench.count` did before the parse cache: read and parse the
  YAML, expand the blocks, count per layer, every variant (a sample of `--before-variants` variants, spread over
  the grid, is timed: it is slow);
- sweep (`sweep_per_s`, the goal: >= 1,000): `lwbench.spec.cache.totals`, the sweep's analytic job, starting
  with empty caches, so the one parse per file and the one traced compile per width are inside the time;
- load + count (`load_count_per_s`): `lwbench.count(lwbench.load(...))` through the caches, per-layer rows and a
  Net per variant (what `lwbench profile` users get), also from empty caches.

Times are process CPU time (other processes on the machine inflate it far less than wall time) and wall time;
the garbage collector is off while timing, as timeit does. One thread (the count is single-threaded Python).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import lwbench
from lwbench.measure.machine import cpu_model, git_commit
from lwbench.report.write import atomic_write, to_csv
from lwbench.spec import cache, compile_doc, read_doc, resolve

ROOT = Path(__file__).resolve().parent.parent
MOBILE = ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "mnasnet1_0",
          "shufflenet_v1_g3_x1_0", "shufflenet_v2_x1_0", "efficientnet_b0", "squeezenet1_1")
WIDTHS = [round(0.25 + 0.05 * i, 10) for i in range(26)]
RESOLUTIONS = list(range(96, 289, 8))
GOAL = 1000


def _clock(fn, items) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of fn(item) for every item, gc off."""
    gc.collect()
    gc.disable()
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        for it in items:
            fn(*it)
        return time.process_time() - c0, time.perf_counter() - t0
    finally:
        gc.enable()


def _before(name: str, width, res):
    file, variant = resolve(name)
    doc = read_doc(file)
    return lwbench.count(compile_doc(doc, file, variant or str(doc["name"]), width, res))


def one(name: str, n_before: int) -> dict:
    doc = cache.document(resolve(name)[0])[0]
    widths = WIDTHS if "channels" in doc else [None]
    grid = [(name, w, r) for w in widths for r in RESOLUTIONS]
    sample = grid[:: max(1, len(grid) // n_before)][:n_before]
    _before(*sample[0])                                     # imports, zoo index: untimed
    b_cpu, b_wall = _clock(_before, sample)
    cache.clear()
    s_cpu, s_wall = _clock(lambda n, w, r: cache.totals(n, w, r), grid)
    cache.clear()
    l_cpu, l_wall = _clock(lambda n, w, r: lwbench.count(lwbench.load(n, w, r)), grid)
    for n, w, r in sample[:5]:                              # the three agree
        want = _before(n, w, r).totals
        got = cache.totals(n, w, r)[2][0]
        assert all(got[k] == want[k] for k in want), (n, w, r)
    return {"model": name, "layers": len(lwbench.load(name).nodes), "widths": len(widths),
            "resolutions": len(RESOLUTIONS), "variants": len(grid),
            "before_per_s": round(len(sample) / b_cpu), "sweep_per_s": round(len(grid) / s_cpu),
            "load_count_per_s": round(len(grid) / l_cpu), "speedup": round(b_cpu / len(sample) / (s_cpu / len(grid)), 1),
            "before_ms": round(b_cpu / len(sample) * 1e3, 3), "sweep_ms": round(s_cpu / len(grid) * 1e3, 3),
            "load_count_ms": round(l_cpu / len(grid) * 1e3, 3), "sweep_wall_per_s": round(len(grid) / s_wall),
            "before_sample": len(sample), "goal_met": len(grid) / s_cpu >= GOAL}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MOBILE), help="comma list of zoo names")
    ap.add_argument("--before-variants", type=int, default=40, help="variants timed the old way, per network")
    ap.add_argument("-o", "--output", default=str(ROOT / "results" / "sweep_variants.csv"))
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # one core
    load0 = os.getloadavg()[0]
    rows = []
    for name in args.models.split(","):
        rows.append(one(name.strip(), args.before_variants))
        r = rows[-1]
        print(f"{r['model']:22s} {r['variants']:4d} variants: before {r['before_per_s']:5d}/s  sweep "
              f"{r['sweep_per_s']:6d}/s  load+count {r['load_count_per_s']:5d}/s  x{r['speedup']}", flush=True)
    meta = {
        "benchmark": "analytic variants per second (process CPU time), one core, caches empty at the start of each "
                     "network; before = read_doc + compile_doc + count per variant (the old lwbench.load + count)",
        "cpu_model": cpu_model(), "cores_logical": os.cpu_count(), "python": platform.python_version(),
        "lwbench": lwbench.__version__, "git_commit": git_commit(),
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "grid": "widths 0.25-1.5 step 0.05 (networks with a channel rule) x resolutions 96-288 step 8",
        "loadavg_1m": f"{load0:.2f} at start, {os.getloadavg()[0]:.2f} at end",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    atomic_write(args.output, to_csv(rows, meta))
    print(f"wrote {args.output}; goal {GOAL}/s met on {sum(r['goal_met'] for r in rows)}/{len(rows)}")
    return 0 if all(r["goal_met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
