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
  fresh  torch's method again, in a fresh process per round (benchmarks/timer_factors.py --child ref: 1 thread,
         interop 1, the heap kept as the worker keeps it): what a fresh process's speed varies by on this machine
The model here is made exactly as the worker makes it (lwbench.build seeds 0, then example_input).

`--runtime onnxruntime` (issue #18's last line; results/timer_fidelity-ort.csv), each round:
  cli    the CLI path as `lwbench bench NET --runtime onnxruntime -t 1` runs it: run_jobs on a LocalTarget, a
         fresh worker that exports (cached), checks against torch and times the session with lwbench's timer
  perf   an independent onnxruntime.InferenceSession made here (onnxruntime's API, not lwbench.onnx.session) on
         the same .onnx file the worker timed (checked by path and sha256 every round), with the CLI's settings
         written out again: intra-op 1, inter-op 1, ORT_SEQUENTIAL, ORT_ENABLE_ALL (= ort_opt all), CPU EP;
         onnxruntime_perf_test's way: --ort-warmup (10) warm-up runs, then runs timed one by one for >= --min-time s (and >= 20
         runs); the median of the per-run times. The reference of cli_ratio.
  timeit timeit.Timer(session.run).autorange() blocks (gc off) for >= --min-time s; the median block mean
  fresh  perf again in a fresh process per round (as onnxruntime_perf_test always runs; the CLI's worker is a
         fresh process too): its round-to-round spread is the machine's process-to-process spread for ORT
A new session per round and method, as a fresh onnxruntime_perf_test process would make.

Each method's headline is the median of its per-round figures over the clean rounds (every method's process
had >= 95% of a core; all rounds if fewer than 3 are clean). cli_ratio = cli / torch; the goal: within 3%,
or within the machine's own round-to-round spread where that is larger: torch's ((p75 - p25) / median of its
per-round medians) and, for the torch runtime, fresh's (the CLI's worker is a fresh process every round). Every figure carries its CPU share and minor page faults per call; the 1-minute load is recorded per
round, and cli_cpu_ratio compares ms x CPU share (the CPU time per call, steadier under other load). `--heap keep` (default): this process keeps its C heap mapped as the worker does (lwbench.measure.heap),
so every method runs without per-call page faults; `--heap trim`: glibc's defaults everywhere (LWBENCH_HEAP=trim
for the worker), the state before issue #18's fix.

    python benchmarks/timer_fidelity.py [NET ... | --models A,B] [--rounds 8] [--min-time 1.0] [--heap keep|trim]
                                        [--runtime torch|onnxruntime] [--dtype float32|int8 (onnxruntime)]
                                        [--ort-warmup 10]
                                        [--output results/timer_fidelity-cli.csv | -ort.csv]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import fidelity_common as fc

DEFAULT_NETS = ("mobilenet_v2", "shufflenet_v2_x1_0", "mobilenet_v3_small", "resnet18")
METHODS = ("cli", "inproc", "torch", "timm", "fresh")   # --runtime torch; the reference is "torch"
ORT_METHODS = ("cli", "perf", "timeit", "fresh")   # --runtime onnxruntime; the reference is "perf"
OUTPUTS = {"torch": "timer_fidelity-cli.csv", "onnxruntime": "timer_fidelity-ort.csv"}


def torch_case(name: str, min_time: float, dtype: str, ort_warmup: int = 10) -> tuple[dict, str]:
    """The four torch methods of one network ({method: () -> figure}, reference method)."""
    from timer_factors import spawn

    model, x = fc.case(name)
    return {"cli": lambda: fc.cli(name), "inproc": lambda: fc.inproc(model, x),
            "torch": lambda: fc.torch_ref(model, x, min_time), "timm": lambda: fc.timm_loop(model, x),
            "fresh": lambda: spawn("ref", name, min_time)}, "torch"


def ort_case(name: str, min_time: float, dtype: str, ort_warmup: int = 10) -> tuple[dict, str]:
    """The ONNX Runtime methods of one network. One untimed CLI run first exports the network (cached) and names the
    .onnx file the worker times; the references load that same file, and every CLI round must time it again."""
    first = fc.cli(name, timer={"min_time_s": 0.05, "warmup_s": 0.05}, runtime="onnxruntime", dtype=dtype)
    path, sha = first["onnx_file"], first["onnx_sha256"]
    print(f"  {name}: {path} ({first['ep']}, sha256 {str(sha)[:12]})", file=sys.stderr)

    def cli() -> dict:
        got = fc.cli(name, runtime="onnxruntime", dtype=dtype)
        if (got["onnx_file"], got["onnx_sha256"]) != (path, sha):
            raise SystemExit(f"{name}: the worker timed {got['onnx_file']}, not the reference's {path}")
        return got

    return {"cli": cli, "perf": lambda: fc.ort_perf(path, min_time, warm=ort_warmup),
            "timeit": lambda: fc.ort_timeit(path, min_time),
            "fresh": lambda: ort_fresh(path, min_time, ort_warmup)}, "perf"


def ort_fresh(path: str, min_time: float, warm: int) -> dict:
    """perf in a fresh process (as onnxruntime_perf_test always runs): `--child-ort PATH MIN_TIME WARM`."""
    import json
    import subprocess

    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child-ort", path, str(min_time), str(warm)],
                       capture_output=True, text=True, check=False)
    if p.returncode:
        raise SystemExit(f"fresh ORT child failed: {p.stderr.strip().splitlines()[-1:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def child_ort(argv: list[str]) -> int:
    import json

    path, min_time, warm = argv[0], float(argv[1]), int(argv[2])
    print(json.dumps(fc.ort_perf(path, min_time, warm=warm)))
    return 0


def one_round(name: str, run: dict, r: int) -> dict:
    methods = tuple(run)
    order = methods[r % len(methods):] + methods[:r % len(methods)]
    out = {"load": fc.load1()}
    for m in order:
        out[m] = run[m]()
    print(f"  {name} round {r + 1}: " + "  ".join(f"{m} {out[m]['ms']:.2f} ms ({fc.fmt(out[m]['share'], 2)}, "
                                                   f"{fc.fmt(out[m]['faults'], 0)} flt)" for m in methods)
          + f"  load {out['load']}", file=sys.stderr)
    return out


def summarize(name: str, rounds: list[dict], methods: tuple[str, ...], ref: str, extra: dict) -> dict:
    """One network's row: each method's median over the clean rounds, its ratio to `ref`, the goal check of the
    CLI (within 3% or within the reference's own round-to-round spread)."""
    use, n_clean = fc.clean_rounds(rounds, methods)
    med = {m: statistics.median(r[m]["ms"] for r in use) for m in methods}
    spread = fc.spread([r[ref]["ms"] for r in use])
    # the machine's own round-to-round spread: the reference's in this process and, where measured, the same
    # reference's in a fresh process per round (as the CLI's worker is): a fresh process's speed varies with it
    fresh_spread = fc.spread([r["fresh"]["ms"] for r in use]) if "fresh" in methods else 0.0
    tol = max(0.03, spread, fresh_spread)
    ratio = med["cli"] / med[ref]
    loads = [r["load"] for r in rounds if r["load"] is not None]
    row = {"model": name, "threads": 1, "batch": 1, **extra, "reference": ref, "rounds": len(rounds),
           "clean_rounds": n_clean}
    row.update({f"{m}_median_ms": round(med[m], 4) for m in methods})
    row.update({f"{m}_ratio": round(med[m] / med[ref], 4) for m in methods if m != ref})
    row.update({f"{ref}_round_spread": round(spread, 4), "goal_tolerance": round(tol, 4),
                "cli_within_goal": abs(ratio - 1) <= tol,
                **({"fresh_round_spread": round(fresh_spread, 4),
                    "cli_within_goal_vs_fresh": abs(med["cli"] / med["fresh"] - 1) <= tol} if "fresh" in methods else {}),
                "cli_cpu_ratio": round(statistics.median(fc.cpu_ms(r["cli"]) for r in use)
                                       / statistics.median(fc.cpu_ms(r[ref]) for r in use), 4),
                "paired_cli_ratio_median": round(statistics.median(r["cli"]["ms"] / r[ref]["ms"] for r in use), 4)})
    if all(r["cli"].get("mean_ms") for r in use):       # like with like: a mean per call, as block means are
        cli_mean = statistics.median(r["cli"]["mean_ms"] for r in use)
        row.update({"cli_mean_ms": round(cli_mean, 4), "cli_mean_ratio": round(cli_mean / med[ref], 4)})
    row.update({f"{m}_faults_per_call": round(statistics.median(r[m]["faults"] or 0 for r in rounds), 1)
                for m in methods})
    row.update({f"{m}_cpu_share_min": round(min(r[m]["share"] or 0 for r in rounds), 3) for m in methods})
    row.update({"load_1min_min": min(loads, default=None), "load_1min_max": max(loads, default=None),
                "contended": n_clean < len(rounds) / 2 or max(loads, default=0) >= fc.CONTENDED_LOAD})
    row.update({f"round_{m}_ms": " ".join(f"{r[m]['ms']:.3f}" for r in rounds) for m in ("cli", ref)})
    row["round_loads"] = " ".join(str(r["load"]) for r in rounds)
    return row


def report(r: dict) -> str:
    ref = r["reference"]
    others = ", ".join(f"{k[:-6]} {v}" for k, v in r.items() if k.endswith("_ratio") and k[:-6] not in ("cli", ref)
                       and not k.startswith(("cli_", "paired_")))
    return (f"{r['model']}: cli {r['cli_median_ms']} ms, {ref} {r[f'{ref}_median_ms']} ms, ratio {r['cli_ratio']} "
            f"(tolerance {r['goal_tolerance']}: {'within' if r['cli_within_goal'] else 'OUTSIDE'}); "
            f"cli mean/{ref} {r.get('cli_mean_ratio')}; {others}; "
            f"clean rounds {r['clean_rounds']}/{r['rounds']}{', CONTENDED' if r['contended'] else ''}")


METHOD_NOTE = {"torch": "cli = run_jobs on a fresh LocalTarget worker; fresh = torch.utils.benchmark (as torch) in a fresh "
               "process per round (benchmarks/timer_factors.py --child ref: 1 thread, interop 1, heap kept as the worker "
               "keeps it); goal tolerance = max(3%, torch's and fresh's round-to-round spread)",
               "onnxruntime": "cli = run_jobs on a fresh LocalTarget worker, --runtime onnxruntime --ort-opt all; perf "
               "= an InferenceSession made here on the same .onnx file (intra 1, inter 1, sequential, "
               "ORT_ENABLE_ALL), --ort-warmup runs untimed, per-run times for >= --min-time s and 20 runs, median; timeit = "
               "timeit.Timer.autorange blocks for >= --min-time s, median block mean; fresh = perf in a fresh process per "
               "round; goal tolerance = max(3%, perf's and fresh's round-to-round spread)"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child-ort"]:
        return child_ort(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("nets", nargs="*", default=list(DEFAULT_NETS))
    ap.add_argument("--models", help="comma list of networks (instead of the positional names)")
    ap.add_argument("--runtime", choices=tuple(OUTPUTS), default="torch")
    ap.add_argument("--dtype", choices=("float32", "int8"), default="float32", help="onnxruntime only")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--min-time", type=float, default=1.0, help="the references' measured time per round (s)")
    ap.add_argument("--heap", choices=("keep", "trim"), default="keep")
    ap.add_argument("--ort-warmup", type=int, default=10, help="onnxruntime: perf's untimed runs before timing")
    ap.add_argument("--output", help=f"default results/{OUTPUTS['torch']} (torch), results/{OUTPUTS['onnxruntime']}")
    args = ap.parse_args(argv)
    if args.dtype != "float32" and args.runtime == "torch":
        ap.error("--dtype int8 is for --runtime onnxruntime")
    nets = args.models.split(",") if args.models else args.nets
    output = args.output or str(fc.ROOT / "results" / OUTPUTS[args.runtime])

    from lwbench.measure.heap import keep_heap

    if args.heap == "trim":
        os.environ["LWBENCH_HEAP"] = "trim"
    extra = {"runtime": args.runtime, "dtype": args.dtype, "heap": keep_heap()}
    if args.runtime == "onnxruntime":
        extra["perf_warmup_runs"] = args.ort_warmup
    make = torch_case if args.runtime == "torch" else ort_case
    load_before = fc.load1()
    rows = []
    for name in nets:
        run, ref = make(name, args.min_time, args.dtype, args.ort_warmup)
        rounds = [one_round(name, run, r) for r in range(args.rounds)]
        rows.append(summarize(name, rounds, tuple(run), ref, extra))
        fc.write_csv(output, rows, "median over clean rounds of each method's per-round figure; methods rotated "
                     "each round; " + METHOD_NOTE[args.runtime], load_before)
    for r in rows:
        print(report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
