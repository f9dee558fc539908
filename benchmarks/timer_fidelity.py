"""Does `lwbench bench` agree with the references users hold it against? (issues #5 and #18).

For each network, on CPU with 1 thread and batch 1, `--rounds` rounds; in each round, in an order rotated
from round to round (so slow drift of the machine falls on every method alike):
  cli    the CLI path: lwbench.measure.jobs.run_jobs on a LocalTarget, i.e. a fresh
         `python -m lwbench.measure.worker` that loads, builds and times the network with the CLI's default
         timer (warm-up 0.5 s, >= 1 s measured), as `lwbench bench NET -t 1` does; its median
  inproc lwbench.measure.time_module in this process (same defaults), on the model built here; its median
  torch  torch.utils.benchmark.Timer("model(x)", num_threads=1).adaptive_autorange(min_run_time=--min-time)
         under torch.inference_mode(), in this process; the median of its block means
  timm   a timm benchmark.py-style loop: 10 warm-up calls, 50 calls timed as one block; the mean
The model here is made exactly as the worker makes it (lwbench.build seeds 0, then example_input).

Each method's headline is the median of its per-round figures over the clean rounds (every method's process
had >= 95% of a core; all rounds if fewer than 3 are clean). cli_ratio = cli / torch; the goal: within 3%,
or within torch's own round-to-round spread ((p75 - p25) / median of its per-round medians) where that is
larger. Every figure carries its CPU share and minor page faults per call; the 1-minute load is recorded per
round, and cli_cpu_ratio compares ms x CPU share (the CPU time per call, steadier under other load). `--heap keep` (default): this process keeps its C heap mapped as the worker does (lwbench.measure.heap),
so every method runs without per-call page faults; `--heap trim`: glibc's defaults everywhere (LWBENCH_HEAP=trim
for the worker), the state before issue #18's fix.

    python benchmarks/timer_fidelity.py [NET ...] [--rounds 8] [--min-time 1.0] [--heap keep|trim]
                                        [--output results/timer_fidelity-cli.csv]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import fidelity_common as fc

DEFAULT_NETS = ("mobilenet_v2", "shufflenet_v2_x1_0", "mobilenet_v3_small", "resnet18")
METHODS = ("cli", "inproc", "torch", "timm")


def one_round(name: str, model, x, r: int, min_time: float) -> dict:
    run = {"cli": lambda: fc.cli(name), "inproc": lambda: fc.inproc(model, x),
           "torch": lambda: fc.torch_ref(model, x, min_time), "timm": lambda: fc.timm_loop(model, x)}
    order = METHODS[r % len(METHODS):] + METHODS[:r % len(METHODS)]
    out = {"load": fc.load1()}
    for m in order:
        out[m] = run[m]()
    print(f"  {name} round {r + 1}: " + "  ".join(f"{m} {out[m]['ms']:.2f} ms ({fc.fmt(out[m]['share'], 2)}, "
                                                   f"{fc.fmt(out[m]['faults'], 0)} flt)" for m in METHODS)
          + f"  load {out['load']}", file=sys.stderr)
    return out


def summarize(name: str, rounds: list[dict], heap: str) -> dict:
    use, n_clean = fc.clean_rounds(rounds, METHODS)
    med = {m: statistics.median(r[m]["ms"] for r in use) for m in METHODS}
    spread = fc.spread([r["torch"]["ms"] for r in use])
    tol = max(0.03, spread)
    ratio = med["cli"] / med["torch"]
    loads = [r["load"] for r in rounds if r["load"] is not None]
    row = {"model": name, "threads": 1, "batch": 1, "heap": heap, "rounds": len(rounds), "clean_rounds": n_clean}
    row.update({f"{m}_median_ms": round(med[m], 4) for m in METHODS})
    row.update({"cli_ratio": round(ratio, 4), "inproc_ratio": round(med["inproc"] / med["torch"], 4),
                "timm_ratio": round(med["timm"] / med["torch"], 4), "torch_round_spread": round(spread, 4),
                "goal_tolerance": round(tol, 4), "cli_within_goal": abs(ratio - 1) <= tol,
                "cli_cpu_ratio": round(statistics.median(fc.cpu_ms(r["cli"]) for r in use)
                                       / statistics.median(fc.cpu_ms(r["torch"]) for r in use), 4),
                "paired_cli_ratio_median": round(statistics.median(r["cli"]["ms"] / r["torch"]["ms"] for r in use), 4)})
    row.update({f"{m}_faults_per_call": round(statistics.median(r[m]["faults"] or 0 for r in rounds), 1)
                for m in METHODS})
    row.update({f"{m}_cpu_share_min": round(min(r[m]["share"] or 0 for r in rounds), 3) for m in METHODS})
    row.update({"load_1min_min": min(loads, default=None), "load_1min_max": max(loads, default=None),
                "contended": n_clean < len(rounds) / 2 or max(loads, default=0) >= 1.0})
    row.update({f"round_{m}_ms": " ".join(f"{r[m]['ms']:.3f}" for r in rounds) for m in ("cli", "torch")})
    row["round_loads"] = " ".join(str(r["load"]) for r in rounds)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("nets", nargs="*", default=list(DEFAULT_NETS))
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--min-time", type=float, default=1.0, help="torch.utils.benchmark's min_run_time (s)")
    ap.add_argument("--heap", choices=("keep", "trim"), default="keep")
    ap.add_argument("--output", default=str(fc.ROOT / "results" / "timer_fidelity-cli.csv"))
    args = ap.parse_args(argv)

    from lwbench.measure.heap import keep_heap

    if args.heap == "trim":
        os.environ["LWBENCH_HEAP"] = "trim"
    heap = keep_heap()
    load_before = fc.load1()
    rows = []
    for name in args.nets:
        model, x = fc.case(name)
        rows.append(summarize(name, [one_round(name, model, x, r, args.min_time) for r in range(args.rounds)], heap))
        fc.write_csv(args.output, rows, "median over clean rounds of each method's per-round figure; methods "
                     "rotated each round; cli = run_jobs on a fresh LocalTarget worker", load_before)
    for r in rows:
        print(f"{r['model']}: cli {r['cli_median_ms']} ms, torch {r['torch_median_ms']} ms, ratio {r['cli_ratio']}"
              f" (tolerance {r['goal_tolerance']}: {'within' if r['cli_within_goal'] else 'OUTSIDE'}); inproc "
              f"{r['inproc_ratio']}, timm {r['timm_ratio']}; clean rounds {r['clean_rounds']}/{r['rounds']}"
              f"{', CONTENDED' if r['contended'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
