"""Why did `lwbench bench` read ~10% above torch.utils.benchmark (issue #18)? One experiment per factor.

Each experiment has a base variant and variants that change one thing; all are run once per round, in an
order rotated from round to round, `--rounds` times. A variant's figure is the median over rounds of its
per-round median (ms per call, 1 thread, batch 1); `ratio` is the median of its per-round ratios to the base
of the same round (least affected by slow drift of the machine). Every variant carries its minor page
faults per call, the lowest CPU share it got and the 1-minute load range, and `cpu_ms` = ms x CPU share
(the CPU time a call got, which other load inflates much less than wall time; on a contended machine the
cpu_ratio_to_base is the steadier figure).

  heap     the C heap (lwbench.measure.heap): the CLI path's fresh worker with the heap kept (base, the fix) and
           with glibc's defaults (LWBENCH_HEAP=trim, before the fix), and torch.utils.benchmark in a fresh
           process of its own in both heap states
  warmup   a cold process: the worker with --warmup 0.5 s (base) and 3 s, in both heap states
  gc       the garbage collector: lwbench-style per-call timing in this process with gc on (base) and off
           (timeit's way); `gc_collections` counts the collections during the gc-on phases
  blocking per-call timing: lwbench's median of single calls (base), the mean of the same calls, and
           torch.utils.benchmark-style blocks of 10 calls (median of block means)
  threads  what the worker sets: a fresh process like the worker (OMP/MKL_NUM_THREADS=1 in its environment,
           torch.set_num_threads(1), set_num_interop_threads(1); base), then without the environment
           variables, without set_num_interop_threads, and pinned to core 0 (sched_setaffinity)
  parent   the parent while the worker measures: run_jobs with nothing else running (base), the real
           `lwbench bench NET -t 1 -f json -o F` with its stderr on a terminal (script(1): the rich progress
           bar refreshes at 10 Hz) and with stderr on a pipe (no bar drawn)

    python benchmarks/timer_factors.py [--nets mobilenet_v2] [--experiments heap,warmup,...] [--rounds 5]
                                       [--min-time 0.5] [--output results/timer_factors.csv]

Rows of a run replace the rows of the same (model, experiment) already in --output; the others are kept.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import fidelity_common as fc

EXPERIMENTS = ("heap", "warmup", "gc", "blocking", "threads", "parent")
HERE = os.path.abspath(__file__)


# --- variants run in a fresh child process -----------------------------------------------------------------

def child(argv: list[str]) -> int:
    """`--child ref|time NET MIN_TIME [--no-interop] [--pin CPU]`: one measurement in this fresh process, JSON
    on stdout. ref: torch.utils.benchmark; time: lwbench's time_module as the worker calls it."""
    kind, name, min_time = argv[0], argv[1], float(argv[2])
    if "--pin" in argv:
        os.sched_setaffinity(0, {int(argv[argv.index("--pin") + 1])})
    import torch

    from lwbench.measure.heap import keep_heap
    from lwbench.measure.timer import TimerConfig

    torch.set_num_threads(1)
    if "--no-interop" not in argv:
        torch.set_num_interop_threads(1)
    keep_heap()                                   # honours LWBENCH_HEAP=trim like the worker
    model, x = fc.case(name)
    if kind == "ref":
        out = fc.torch_ref(model, x, min_time)
    else:
        out = fc.inproc(model, x, TimerConfig(min_time_s=min_time))
    print(json.dumps(out))
    return 0


def spawn(kind: str, name: str, min_time: float, *flags: str, **env: str | None) -> dict:
    with fc.environ(**env):
        p = subprocess.run([sys.executable, HERE, "--child", kind, name, str(min_time), *flags],
                           capture_output=True, text=True, check=False)
    if p.returncode:
        raise SystemExit(f"child {kind} {name} failed: {p.stderr.strip().splitlines()[-1:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
NO_ENV = {"OMP_NUM_THREADS": None, "MKL_NUM_THREADS": None}


def real_cli(name: str, tty: bool) -> dict:
    """`python -m lwbench bench NAME -t 1 -f json -o F`; on a pseudo-terminal (script -qfec) when `tty`."""
    with tempfile.TemporaryDirectory(prefix="lwbench-factors-") as tmp:
        out = os.path.join(tmp, "bench.json")
        cmd = [sys.executable, "-m", "lwbench", "bench", name, "-t", "1", "-f", "json", "-o", out]
        if tty:
            cmd = ["script", "-qfec", shlex.join(cmd), "/dev/null"]
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       check=True, env={**os.environ, "COLUMNS": "120"})
        with open(out, encoding="utf-8") as f:
            row = json.load(f)["rows"][0]
    return {"ms": row["median_ms"], "share": row["cpu_share"], "faults": None, "calls": row.get("n")}


# --- variants run in this process --------------------------------------------------------------------------

def per_call(model, x, min_time: float, gc_on: bool, counter: list | None = None) -> dict:
    """Single calls for >= min_time s after 3 untimed ones, gc on or off; the median (and the mean)."""
    import torch

    def cb(phase: str, info: dict) -> None:
        if phase == "stop" and counter is not None:
            counter.append(info["generation"])

    torch.set_num_threads(1)
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        was = gc.isenabled()
        gc.enable() if gc_on else gc.disable()
        gc.callbacks.append(cb)
        try:
            with fc.Meter() as m:
                xs, t_end = [], time.perf_counter() + min_time
                while time.perf_counter() < t_end or len(xs) < 10:
                    t = time.perf_counter()
                    model(x)
                    xs.append((time.perf_counter() - t) * 1e3)
        finally:
            gc.callbacks.remove(cb)
            gc.enable() if was else gc.disable()
    r = m.result(statistics.median(xs), len(xs))
    r["mean_ms"] = statistics.fmean(xs)
    return r


def blocked(model, x, min_time: float, block: int = 10) -> dict:
    """Blocks of `block` calls timed together for >= min_time s; the median of block means."""
    import torch

    with torch.inference_mode(), fc.Meter() as m:
        means, t_end = [], time.perf_counter() + min_time
        while time.perf_counter() < t_end or len(means) < 3:
            t = time.perf_counter()
            for _ in range(block):
                model(x)
            means.append((time.perf_counter() - t) * 1e3 / block)
    return m.result(statistics.median(means), block * len(means))


def variants(exp: str, name: str, model, x, min_time: float, gc_counter: list) -> dict:
    """{variant: thunk -> measurement} of one experiment, base first."""
    if exp == "heap":
        return {"cli_keep": lambda: fc.cli(name), "cli_trim": lambda: fc.cli(name, LWBENCH_HEAP="trim"),
                "ref_fresh_keep": lambda: spawn("ref", name, min_time, LWBENCH_HEAP=None),
                "ref_fresh_trim": lambda: spawn("ref", name, min_time, LWBENCH_HEAP="trim")}
    if exp == "warmup":
        return {"keep_w0.5": lambda: fc.cli(name), "keep_w3": lambda: fc.cli(name, {"warmup_s": 3.0}),
                "trim_w0.5": lambda: fc.cli(name, LWBENCH_HEAP="trim"),
                "trim_w3": lambda: fc.cli(name, {"warmup_s": 3.0}, LWBENCH_HEAP="trim")}
    if exp == "gc":
        return {"gc_on": lambda: per_call(model, x, min_time, True, gc_counter),
                "gc_off": lambda: per_call(model, x, min_time, False)}
    if exp == "blocking":
        def mean() -> dict:
            r = per_call(model, x, min_time, True)
            return {**r, "ms": r["mean_ms"]}

        return {"per_call_median": lambda: per_call(model, x, min_time, True), "per_call_mean": mean,
                "blocked_10_median": lambda: blocked(model, x, min_time)}
    if exp == "threads":
        return {"worker_like": lambda: spawn("time", name, min_time, **WORKER_ENV),
                "no_omp_env": lambda: spawn("time", name, min_time, **NO_ENV),
                "no_interop_call": lambda: spawn("time", name, min_time, "--no-interop", **WORKER_ENV),
                "pinned_core0": lambda: spawn("time", name, min_time, "--pin", "0", **WORKER_ENV)}
    return {"run_jobs": lambda: fc.cli(name), "bench_tty": lambda: real_cli(name, True),
            "bench_pipe": lambda: real_cli(name, False)}


# --- rounds, rows, main --------------------------------------------------------------------------------------

def experiment(exp: str, name: str, model, x, rounds: int, min_time: float) -> list[dict]:
    gc_counter: list = []
    vs = variants(exp, name, model, x, min_time, gc_counter)
    names = list(vs)
    per: list[dict] = []
    for r in range(rounds):
        got = {"load": fc.load1()}
        for v in names[r % len(names):] + names[:r % len(names)]:
            got[v] = vs[v]()
        per.append(got)
        print(f"  {name} {exp} round {r + 1}: " + "  ".join(f"{v} {got[v]['ms']:.2f} ({fc.fmt(got[v]['share'], 2)}, "
                                                        f"{fc.fmt(got[v]['faults'], 0)} flt)" for v in names)
              + f"  load {got['load']}", file=sys.stderr)
    loads = [g["load"] for g in per if g["load"] is not None]
    rows = []
    for v in names:
        shares = [g[v]["share"] or 0 for g in per]
        faults = [g[v]["faults"] for g in per if g[v]["faults"] is not None]
        rows.append({"model": name, "experiment": exp, "variant": v, "base": names[0], "rounds": rounds,
                     "median_ms": round(statistics.median(g[v]["ms"] for g in per), 4),
                     "ratio_to_base": round(statistics.median(g[v]["ms"] / g[names[0]]["ms"] for g in per), 4),
                     "round_spread": round(fc.spread([g[v]["ms"] for g in per]), 4),
                     "cpu_ms_median": round(statistics.median(fc.cpu_ms(g[v]) for g in per), 4),
                     "cpu_ratio_to_base": round(statistics.median(fc.cpu_ms(g[v]) / fc.cpu_ms(g[names[0]])
                                                                  for g in per), 4),
                     "faults_per_call": round(statistics.median(faults), 1) if faults else None,
                     "sys_ms_per_call": _median_of(per, v, "sys_ms"), "user_ms_per_call": _median_of(per, v, "user_ms"),
                     "cpu_share_min": round(min(shares), 3), "clean_rounds": sum(s >= fc.CLEAN_SHARE for s in shares),
                     "load_1min_min": min(loads, default=None), "load_1min_max": max(loads, default=None),
                     "contended": min(shares) < fc.CLEAN_SHARE or max(loads, default=0) >= fc.CONTENDED_LOAD,
                     "gc_collections": len(gc_counter) if v == "gc_on" else None,
                     "round_ms": " ".join(f"{g[v]['ms']:.3f}" for g in per)})
    return rows


def _median_of(per: list[dict], v: str, key: str) -> float | None:
    xs = [g[v][key] for g in per if g[v].get(key) is not None]
    return round(statistics.median(xs), 4) if xs else None


def merged(path: str, rows: list[dict]) -> list[dict]:
    """Earlier rows of `path` whose (model, experiment) this run did not measure, then this run's."""
    done = {(r["model"], r["experiment"]) for r in rows}
    try:
        import csv

        with open(path, encoding="utf-8") as f:
            old = list(csv.DictReader(line for line in f if not line.startswith("#")))
    except OSError:
        old = []
    return [r for r in old if (r["model"], r["experiment"]) not in done] + rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", default="mobilenet_v2")
    ap.add_argument("--experiments", default=",".join(EXPERIMENTS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--output", default=str(fc.ROOT / "results" / "timer_factors.csv"))
    args = ap.parse_args(argv)
    exps = [e.strip() for e in args.experiments.split(",") if e.strip()]
    bad = [e for e in exps if e not in EXPERIMENTS]
    if bad:
        ap.error(f"--experiments: unknown {', '.join(bad)} (expected {', '.join(EXPERIMENTS)})")

    from lwbench.measure.heap import keep_heap

    keep_heap()        # this process's in-process variants run with the heap kept, like the worker
    load_before, rows = fc.load1(), []
    for name in [n.strip() for n in args.nets.split(",") if n.strip()]:
        model, x = fc.case(name)
        for exp in exps:
            rows += experiment(exp, name, model, x, args.rounds, args.min_time)
            fc.write_csv(args.output, merged(args.output, rows), "per variant: median over rounds of its per-round "
                         "median; ratio_to_base: median of per-round ratios; variants rotated each round",
                         load_before)
    for r in rows:
        print(f"{r['model']} {r['experiment']:8} {r['variant']:18} {r['median_ms']:8.3f} ms  ratio {r['ratio_to_base']:.3f}"
              f"  faults {r['faults_per_call']}  share>={r['cpu_share_min']}{'  CONTENDED' if r['contended'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
