"""Does lwbench's timer agree with torch.utils.benchmark? (issue #5 acceptance: medians within 3%).

For each network, in one process, on CPU with 1 intra-op thread and batch 1, alternate (A B A B ...):
  A = lwbench.measure.time_module (warm-up by count and time, per-call samples, median)
  B = torch.utils.benchmark.Timer("model(x)", num_threads=1).adaptive_autorange() (median of block means)
Each side's headline is the median of its per-round medians; short rounds (about --min-time s each, both
timers capped at 2x that) alternated many times spread any drift of the machine (other load, frequency
changes) over both timers equally. `paired_ratio_median` is the median of the per-round ratios A/B, the
figure least affected by slow drift; the 1-minute load average before and after is recorded.

On a shared machine other processes steal the core: each round records the CPU share the process got
(process CPU time / wall time, per thread) while each timer ran. Only rounds where both got >= 95% are
"clean" and make the headline (all rounds if fewer than 3 are clean); every round is still listed.

    python benchmarks/timer_fidelity.py [NET ...] [--rounds 7] [--min-time 1.0] [--output results/timer_fidelity.csv]

Writes one row per network (model, lwbench_median_ms, torch_median_ms, ratio, agree_within_3pct, ...) with the
machine block as leading `# machine: {json}` lines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

DEFAULT_NETS = ("mobilenet_v2", "shufflenet_v2_x1_0")
CLEAN_SHARE = 0.95   # a round counts when both timers' process got >= 95% of a core per thread


def fidelity(name: str, rounds: int, min_time: float, threads: int = 1) -> dict:
    import torch
    from torch.utils.benchmark import Timer

    import lwbench
    from lwbench.build import example_input
    from lwbench.measure import TimerConfig, time_module

    net = lwbench.load(name)
    model = lwbench.build(net).eval()
    x = example_input(net, 1)
    cfg = TimerConfig(warmup_runs=2, warmup_s=0.2, min_runs=10, min_time_s=min_time, max_time_s=2 * min_time)
    ours, theirs, ours_iqr, theirs_iqr, shares, n_ours, n_theirs = [], [], [], [], [], 0, 0
    with torch.inference_mode():
        for r in range(rounds):
            c0, w0 = time.process_time(), time.perf_counter()
            t = time_module(model, x, device="cpu", threads=threads, cfg=cfg)
            c1, w1 = time.process_time(), time.perf_counter()
            m = Timer("model(x)", globals={"model": model, "x": x}, num_threads=threads,
                      label=name).adaptive_autorange(threshold=0.1, min_run_time=min_time, max_run_time=2 * min_time)
            c2, w2 = time.process_time(), time.perf_counter()
            shares.append(min((c1 - c0) / (w1 - w0), (c2 - c1) / (w2 - w1)) / threads)
            ours.append(t.median_ms)
            theirs.append(m.median * 1e3)
            ours_iqr.append(t.iqr_ms)
            theirs_iqr.append(m.iqr * 1e3)
            n_ours += t.n
            n_theirs += sum(m.number_per_run for _ in m.raw_times)
            print(f"  {name} round {r + 1}/{rounds}: lwbench {t.median_ms:.3f} ms  torch {m.median * 1e3:.3f} ms  "
                  f"cpu share {shares[-1]:.2f}", file=sys.stderr)
    clean = [i for i, sh in enumerate(shares) if sh >= CLEAN_SHARE]
    use = clean if len(clean) >= 3 else list(range(rounds))
    a, b = statistics.median(ours[i] for i in use), statistics.median(theirs[i] for i in use)
    ratio = a / b
    return {"model": name, "threads": threads, "batch": 1, "rounds": rounds, "clean_rounds": len(clean),
            "lwbench_median_ms": round(a, 4), "torch_median_ms": round(b, 4), "ratio": round(ratio, 4),
            "agree_within_3pct": abs(ratio - 1) <= 0.03,
            "lwbench_iqr_ms": round(statistics.median(ours_iqr), 4),
            "torch_iqr_ms": round(statistics.median(theirs_iqr), 4),
            "lwbench_runs": n_ours, "torch_runs": n_theirs,
            "paired_ratio_median": round(statistics.median(ours[i] / theirs[i] for i in use), 4),
            "round_ratios": " ".join(f"{o / t:.3f}" for o, t in zip(ours, theirs)),
            "round_cpu_shares": " ".join(f"{sh:.2f}" for sh in shares)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("nets", nargs="*", default=list(DEFAULT_NETS))
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--output", default=str(Path(__file__).resolve().parent.parent / "results" / "timer_fidelity.csv"))
    args = ap.parse_args(argv)

    import os

    from lwbench.measure import machine_info
    from lwbench.report.write import atomic_write, to_csv

    rows = []
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    for name in args.nets:
        rows.append(fidelity(name, args.rounds, args.min_time, args.threads))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        atomic_write(args.output, to_csv(rows, comments={"machine": machine_info(),
                                                          "load_average_1min": f"{load_before} before, {load} after",
                                                          "method": "median of per-round medians, ABAB in one "
                                                          "process; torch side: Timer.adaptive_autorange"}))
    for r in rows:
        print(f"{r['model']}: lwbench {r['lwbench_median_ms']} ms, torch {r['torch_median_ms']} ms, "
              f"ratio {r['ratio']} ({'agree' if r['agree_within_3pct'] else 'DISAGREE'} within 3%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
