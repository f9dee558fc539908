"""How much faster is the analytic count than fvcore's count of the same network? One process, every zoo network.

    python benchmarks/count_vs_fvcore.py                          # -> results/count_vs_fvcore.csv
    python benchmarks/count_vs_fvcore.py --models 'mobilenet*' --repeats 11 --fvcore-repeats 5 -o /tmp/x.csv

Two comparisons per network, both medians after one untimed warm-up:

1. The count itself (headline, `speedup`): each tool counting a network it already holds.
   - count_ms: `lwbench.count(net)` on the IR already loaded (`--repeats` calls);
   - fvcore_ms: `FlopCountAnalysis(model, x).total()` on the module already built (`lwbench.build`, not
     timed: a user of fvcore has the model in hand), a fresh analysis per call (fvcore caches its result),
     `--fvcore-repeats` calls. fvcore traces the model with torch.jit, so this includes one real forward
     pass at batch 1 on the CPU;
   - speedup = fvcore_ms / count_ms.
2. From the YAML file: what a user pays from a config on disk to the counts, against fvcore's start from the
   same file (`fvcore_from_yaml_ms` = build_ms + fvcore_ms: `lwbench.build(net)` once, timed, then the count).
   Four figures for lwbench, each `lwbench.count(lwbench.load(yaml))`:
   - from_yaml_ms: through the warm in-process cache (lwbench.spec.cache: the file parsed once and expanded
     once per width; each call checks the file (stat), copies the cached Net and counts every layer), as a
     sweep or a profile of many variants calls it;
   - from_yaml_store_ms: every in-process cache emptied before each call (untimed: freeing them is no part of
     a load, and a fresh process has nothing to free), the persistent store of compiled networks warm
     (lwbench.spec.store: the file's bytes read and hashed, the stored Net read back from JSON, no YAML parse,
     expansion or shape inference): what a new process pays for a file it has compiled before;
   - from_yaml_fresh_proc_ms: the same, truly in a fresh process: `--procs` `python -c` processes each import
     lwbench, load and count a *different* zoo network (imports, op registry and code identity warmed, as
     any second call of a real process finds them), then time this network's load + count once; the median;
   - from_yaml_cold_ms: the first-ever compile (in-process caches emptied and the store off: YAML parse,
     block expansion and shape inference every call), what the very first load of a file (or of an edited
     one) pays.
   speedup_from_yaml* = fvcore_from_yaml_ms / the figure. Issue 15's goal (100x on mobilenet_v2,
   shufflenet_v2_x1_0, efficientnet_b0, mobilenet_v3_large) is judged on the store and fresh-process
   figures (both must hold): the warm-cache one re-reads nothing of the YAML file, while these read the
   file and rebuild the Net from disk. The first-ever figure is printed beside it: it does not reach 100x
   (parse + expansion cost 3-5 ms), and only a file never compiled before (on this machine, with this
   lwbench) pays it. The benchmark uses a store of its own in a temp folder (removed at the end), so the
   user's ~/.cache/lwbench is neither read nor written.

Both run on one thread by default (`--threads`): the analytic count is single-threaded Python, and with two
OpenMP threads on a 2-core machine that other processes also use, fvcore's forward can stall 10-50x. Process
CPU times (`*_cpu_ms`), which competing processes inflate far less than wall time, are kept beside, and the
load averages are recorded. torchcount_ms (lwbench's own torch-side counter, meta device) is there for
context. madds_analytic vs madds_fvcore (fvcore's conv + linear/matmul "flops", one multiply-add = 1) must be
equal; fvcore_flops_total also holds its batch-norm and pooling counts (one per element), which are not madds.

The garbage collector is off while a call is timed. The CSV is rewritten (atomically) after each network, so
an interrupted run keeps the rows done; `# key: value` lines describe the machine (pandas: comment="#").
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import platform
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import lwbench
from lwbench.measure.machine import cpu_model, git_commit
from lwbench.report.write import atomic_write, to_csv
from lwbench.verify import zoo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from count_speed import _timed as timed  # noqa: E402 - the sibling script's timer (gc off, wall + CPU ms)

ROOT = Path(__file__).resolve().parent.parent
DENORMALS = ("fvcore runs with torch.set_flush_denormal(True): with untrained (random-init) weights the activations "
             "shrink into denormal floats layer by layer, which slows fvcore's CPU forward 10-20x on some networks; "
             "flushing them is fvcore's best case and changes no count")
SPEEDUP_GOAL = 50  # issue 4: the analytic count should be at least 50x faster than fvcore's, network by network
FROM_YAML_GOAL = 100  # issue 15: from the YAML file, at least 100x faster than fvcore on these four
FROM_YAML_NETS = ("mobilenet_v2", "shufflenet_v2_x1_0", "efficientnet_b0", "mobilenet_v3_large")
MATMUL_OPS = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")


def median_of(fn, args, repeats: int, setup=None) -> tuple[object, float, float]:
    """(last result, median wall ms, median CPU ms) of `repeats` timed calls after one untimed warm-up;
    `setup()` runs untimed before each call (emptying the in-process caches: freeing them is no part of a load)."""
    if setup:
        setup()
    out = fn(*args)  # warm-up, untimed
    walls, cpus = [], []
    for _ in range(repeats):
        if setup:
            out = None
            setup()
        out, w, c = timed(fn, *args)
        walls.append(w)
        cpus.append(c)
    return out, statistics.median(walls), statistics.median(cpus)


def analytic(target: str):
    return lwbench.count(lwbench.load(target))


def analytic_cold(target: str):
    from lwbench.spec import store

    with store.suspended():
        return lwbench.count(lwbench.load(target))


def clear_caches():
    from lwbench.spec import cache

    cache.clear()


FRESH = """import gc, sys, time
import lwbench
lwbench.count(lwbench.load(sys.argv[2]))
gc.disable()
t0 = time.perf_counter_ns()
lwbench.count(lwbench.load(sys.argv[1]))
print((time.perf_counter_ns() - t0) / 1e6)
"""


def fresh_process_ms(target: str, other: str, procs: int) -> float:
    """Median over `procs` fresh processes of one load + count of `target`, after one of `other` (untimed)."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    times = []
    for _ in range(procs):
        out = subprocess.run([sys.executable, "-c", FRESH, target, other], env=env, capture_output=True, text=True,
                             timeout=300, check=True)
        times.append(float(out.stdout.split()[-1]))
    return statistics.median(times)


def fvcore_count(model, x):
    from fvcore.nn import FlopCountAnalysis

    fa = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return fa.total(), fa.by_operator()


def one_network(name: str, target: str, repeats: int, fv_repeats: int, other: str, procs: int) -> dict:
    import torch

    _, cold_ms, _ = median_of(analytic_cold, (target,), repeats, clear_caches)
    _, store_ms, _ = median_of(analytic, (target,), repeats, clear_caches)    # the warm-up call stores the Net
    fresh_ms = fresh_process_ms(target, other, procs)
    prof, y_ms, y_cpu = median_of(analytic, (target,), repeats)
    net = lwbench.load(target)
    model, build_ms, _ = timed(lwbench.build, net)
    x = torch.randn(1, *net.input_shape)
    _, c_ms, c_cpu = median_of(lwbench.count, (net,), repeats)
    _, tc_ms, _ = median_of(lambda: lwbench.count_module(model, net.input_shape, device="meta"), (), 3)
    flushed = torch.set_flush_denormal(True)  # see DENORMALS
    try:
        with torch.no_grad():
            (total, by_op), f_ms, f_cpu = median_of(fvcore_count, (model, x), fv_repeats)
    finally:
        if flushed:
            torch.set_flush_denormal(False)
    madds_fv = sum(v for k, v in by_op.items() if k in MATMUL_OPS)
    tot = prof.totals
    return {
        "model": name, "input": prof.input, "layers": len(prof.layers), "params": tot["params"],
        "madds_analytic": tot["madds"], "madds_fvcore": int(madds_fv), "fvcore_flops_total": int(total),
        "madds_agree": int(madds_fv) == tot["madds"],
        "count_ms": round(c_ms, 3), "fvcore_ms": round(f_ms, 1), "speedup": round(f_ms / c_ms, 1),
        "count_cpu_ms": round(c_cpu, 3), "fvcore_cpu_ms": round(f_cpu, 1),
        "speedup_cpu": round(f_cpu / c_cpu, 1) if c_cpu > 0 else None,
        "from_yaml_ms": round(y_ms, 3), "build_ms": round(build_ms, 1),
        "fvcore_from_yaml_ms": round(build_ms + f_ms, 1), "speedup_from_yaml": round((build_ms + f_ms) / y_ms, 1),
        "from_yaml_store_ms": round(store_ms, 3), "speedup_from_yaml_store": round((build_ms + f_ms) / store_ms, 1),
        "from_yaml_fresh_proc_ms": round(fresh_ms, 3),
        "speedup_from_yaml_fresh_proc": round((build_ms + f_ms) / fresh_ms, 1),
        "from_yaml_cold_ms": round(cold_ms, 3), "speedup_from_yaml_cold": round((build_ms + f_ms) / cold_ms, 1),
        "from_yaml_cpu_ms": round(y_cpu, 3), "torchcount_ms": round(tc_ms, 1),
        "repeats_analytic": repeats, "repeats_fvcore": fv_repeats, "fresh_procs": procs, "error": "",
    }


def machine_lines(args, start_load) -> dict:
    import fvcore
    import torch

    return {
        "benchmark": "lwbench.count on the loaded IR vs fvcore FlopCountAnalysis.total() on the built model; "
                     "medians, milliseconds; speedup = fvcore_ms / count_ms; from YAML: speedup_from_yaml = "
                     "(build_ms + fvcore_ms) / from_yaml_ms (lwbench.load + lwbench.count; _store: in-process caches "
                     "empty, the persistent store warm; _fresh_proc: in a fresh process; _cold: first-ever compile)",
        "cpu_model": cpu_model(), "cores_logical": os.cpu_count(), "arch": platform.machine(),
        "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "fvcore": getattr(fvcore, "__version__", "?"), "lwbench": lwbench.__version__, "git_commit": git_commit(),
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "repeats": f"analytic {args.repeats}, fvcore {args.fvcore_repeats}, torchcount 3; one untimed warm-up "
                   "each; gc off while timing",
        "denormals": DENORMALS,
        "loadavg_1m": f"{start_load:.2f} at start, {os.getloadavg()[0]:.2f} now",
        "net_store": f"lwbench.spec.store in a temp folder of its own (removed at the end); {args.procs} fresh "
                     "processes per network for from_yaml_fresh_proc_ms (gc off for the timed call, as in-process)",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="*", help="globs over zoo names, comma-separated (default: all)")
    ap.add_argument("--repeats", type=int, default=7, help="timed analytic calls per network")
    ap.add_argument("--fvcore-repeats", type=int, default=3, help="timed fvcore calls per network")
    ap.add_argument("--procs", type=int, default=5, help="fresh processes per network (from_yaml_fresh_proc_ms)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads for fvcore's forward (default 1: the analytic count is one Python "
                         "thread, and on a shared machine 2 OpenMP threads on 2 cores wait on each other)")
    ap.add_argument("-o", "--output", default=str(ROOT / "results" / "count_vs_fvcore.csv"))
    args = ap.parse_args(argv)
    import shutil
    import tempfile

    import torch

    torch.set_num_threads(args.threads)
    start_load = os.getloadavg()[0]
    names, errors = zoo()
    rows: list[dict] = [{"model": Path(path).stem, "error": err} for path, err in errors.items()]
    own = tempfile.mkdtemp(prefix="lwbench-cvf-store-")     # a store of its own, for this process and its children
    os.environ.update(LWBENCH_CACHE=own, LWBENCH_NET_STORE="1")
    try:
        for name, (file, variant) in names.items():
            if not any(fnmatch.fnmatch(name, p.strip()) for p in args.models.split(",")):
                continue
            other = next(f"{f}:{v}" for f, v in names.values() if f != file)
            try:
                row = one_network(name, f"{file}:{variant}", args.repeats, args.fvcore_repeats, other, args.procs)
            except Exception as e:  # noqa: BLE001 - one network's failure is recorded, the rest still run
                row = {"model": name, "error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"}
            rows.append(row)
            print(f"{name:32s} count {row.get('count_ms', '-'):>8} ms  fvcore {row.get('fvcore_ms', '-'):>8} ms  "
                  f"x{row.get('speedup', '-')}  (from YAML: x{row.get('speedup_from_yaml', '-')} warm, "
                  f"x{row.get('speedup_from_yaml_store', '-')} store, x{row.get('speedup_from_yaml_fresh_proc', '-')}"
                  f" fresh process, x{row.get('speedup_from_yaml_cold', '-')} first ever)  {row.get('error', '')}",
                  flush=True)
            atomic_write(args.output, to_csv(rows, machine_lines(args, start_load)))
    finally:
        shutil.rmtree(own, ignore_errors=True)
    ok = [r for r in rows if not r.get("error")]
    return 0 if all(r.get("madds_agree") for r in ok) and len(ok) == len(rows) and summary(ok) else 1


FROM_YAML_COLS = (("speedup_from_yaml_store", "store warm, in-process caches empty: the goal"),
                  ("speedup_from_yaml_fresh_proc", "a fresh process, store warm: the goal"),
                  ("speedup_from_yaml_cold", "first-ever compile: parse + expansion + count"),
                  ("speedup_from_yaml", "through the warm in-process cache"))


def summary(ok: list[dict]) -> bool:
    """Print the medians and the goals; True where both are met."""
    if ok:
        for col in ("speedup", *(c for c, _ in FROM_YAML_COLS)):
            sp = sorted(r[col] for r in ok)
            print(f"{len(ok)} networks: {col} min {sp[0]}x, median {statistics.median(sp)}x, max {sp[-1]}x")
        print(f"madds agree on {sum(r['madds_agree'] for r in ok)}/{len(ok)}; "
              f"speedup >= {SPEEDUP_GOAL}x on {sum(r['speedup'] >= SPEEDUP_GOAL for r in ok)}/{len(ok)}")
    four = [r for r in ok if r["model"] in FROM_YAML_NETS]
    for col, what in FROM_YAML_COLS if four else ():
        print(f"from YAML ({what}) >= {FROM_YAML_GOAL}x on {sum(r[col] >= FROM_YAML_GOAL for r in four)}/"
              f"{len(four)} of {', '.join(FROM_YAML_NETS)}")
    goal_met = all(r["speedup"] >= SPEEDUP_GOAL for r in ok) and all(
        r[col] >= FROM_YAML_GOAL for r in four for col, _ in FROM_YAML_COLS[:2])
    if not goal_met:
        print(f"goal missed: the count is not {SPEEDUP_GOAL}x faster than fvcore on every network (or not "
              f"{FROM_YAML_GOAL}x from YAML, store warm and in a fresh process, on the four)")
    return goal_met


if __name__ == "__main__":
    sys.exit(main())
