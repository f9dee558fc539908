"""How fast is the analytic path? Times `lwbench.load` (YAML -> IR with shapes) and `lwbench.count` (cost
rules -> per-layer rows) for every network of the zoo, in one process, without torch.

    python benchmarks/count_speed.py                       # -> results/count_speed.csv
    python benchmarks/count_speed.py --repeats 21 -o /tmp/speed.csv --models 'resnet*'

Per network: one untimed warm-up call (the first call also builds the zoo index and imports the op
registry), then `--repeats` timed calls of load and of count; `load_ms` is lwbench.load as it is (the file
parsed once, each call checking it (stat) and copying the cached Net of lwbench.spec.cache, whose shapes are
re-inferred only for another resolution), `load_cold_ms` the
same with the cache emptied and the persistent store (lwbench.spec.store) off (YAML parse and block expansion
every time: the first-ever load of a file); the CSV gives the medians in milliseconds
(`total_ms` is the median of load + count per call, not the sum of the two medians); `total_cpu_ms` is the
same in process CPU time, which other processes competing for the cores inflate far less than wall time
(the load average at the start and the end of the run is recorded). As timeit does, the garbage collector
is off while a call is timed. The leading `# key: value` lines describe the machine and
the run (pandas: `read_csv(path, comment="#")`). The file is written atomically.
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import os
import statistics
import sys
import time
from pathlib import Path

T_IMPORT = time.perf_counter()
import lwbench  # noqa: E402  (timed: the cost of `import lwbench` is part of every CLI call)
from lwbench.errors import LwbenchError  # noqa: E402
from lwbench.measure.machine import cpu_model, git_commit  # noqa: E402
from lwbench.report.write import atomic_write, to_csv  # noqa: E402
from lwbench.spec import index, read_doc  # noqa: E402
from lwbench.spec.parse import variant_names  # noqa: E402
from lwbench.spec.zoo import configs_dir  # noqa: E402

IMPORT_MS = (time.perf_counter() - T_IMPORT) * 1e3
ROOT = Path(__file__).resolve().parent.parent
LOAD_START = 0.0


def zoo_networks() -> tuple[list[tuple[str, str]], list[str]]:
    """(zoo name, what to pass to lwbench.load) for every network, and one message per file that fails.

    The names come from the zoo index when every file parses; otherwise each good file is taken on its own
    (by `path:variant`) and the bad ones are reported, so one broken file does not hide the rest.
    """
    try:
        return [(name, name) for name in sorted(index())], []
    except LwbenchError:
        pass
    nets, skipped = [], []
    for path in sorted(configs_dir().glob("*.yaml")):
        try:
            nets += [(v, f"{path}:{v}") for v in variant_names(read_doc(path))]
        except LwbenchError as e:
            skipped.append(f"{path.name}: {e}")
    return sorted(nets), skipped


def _timed(fn, *args):
    """fn(*args), wall milliseconds, process CPU milliseconds."""
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        c0, t0 = time.process_time_ns(), time.perf_counter_ns()
        out = fn(*args)
        t1, c1 = time.perf_counter_ns(), time.process_time_ns()
        return out, (t1 - t0) / 1e6, (c1 - c0) / 1e6
    finally:
        if gc_was_on:
            gc.enable()


def _load_cold(target: str):
    from lwbench.spec import cache, store

    cache.clear()              # the parse cache emptied: YAML parse + block expansion, as before the cache
    with store.suspended():    # and not the persistent store (lwbench.spec.store): the first-ever compile
        return lwbench.load(target)


def time_network(target: str, repeats: int) -> dict:
    prof = lwbench.count(lwbench.load(target))  # warm-up, untimed
    loads, counts, totals, cpus, colds, cold_cpus = [], [], [], [], [], []
    for _ in range(repeats):
        _, cold_ms, cold_cpu = _timed(_load_cold, target)
        colds.append(cold_ms)
        cold_cpus.append(cold_cpu)
        net, t_load, c_load = _timed(lwbench.load, target)
        prof, t_count, c_count = _timed(lwbench.count, net)
        loads.append(t_load)
        counts.append(t_count)
        totals.append(t_load + t_count)
        cpus.append(c_load + c_count)
    return {
        "layers": len(prof.layers),
        "load_cold_ms": round(statistics.median(colds), 3),
        "load_cold_cpu_ms": round(statistics.median(cold_cpus), 3),
        "load_ms": round(statistics.median(loads), 3),
        "count_ms": round(statistics.median(counts), 3),
        "total_ms": round(statistics.median(totals), 3),
        "total_cpu_ms": round(statistics.median(cpus), 3),
    }


def run(repeats: int, patterns: list[str]) -> tuple[list[dict], list[str]]:
    nets, skipped = zoo_networks()
    rows = []
    for name, target in nets:
        if patterns and not any(fnmatch.fnmatch(name, p) for p in patterns):
            continue
        try:
            row = {"model": name, **time_network(target, repeats)}
        except LwbenchError as e:  # record it and carry on with the rest of the zoo
            skipped.append(f"{name}: {e}")
            print(f"{name:28s} skipped: {e}", file=sys.stderr)
            continue
        rows.append(row)
        print(f"{name:28s} {row['layers']:5d} layers {row['total_ms']:9.3f} ms", file=sys.stderr)
    return rows, skipped


def comments(repeats: int, rows: list[dict], skipped: list[str]) -> dict:
    import platform
    from datetime import datetime, timezone

    out = {
        "benchmark": "lwbench.load + lwbench.count (analytic path), median of repeats per network, milliseconds",
        "cpu_model": cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "lwbench": lwbench.__version__,
        "git_commit": git_commit(),
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "repeats": f"{repeats} timed calls per network after 1 untimed warm-up; gc off while timing",
        "cores_logical": os.cpu_count(),
        "loadavg_1m": f"{LOAD_START:.2f} at start, {os.getloadavg()[0]:.2f} at end",
        "import_lwbench_ms": round(IMPORT_MS, 1),
        "torch_imported": "torch" in sys.modules,
        "networks": len(rows),
        "zoo_total_ms": round(sum(r["total_ms"] for r in rows), 1),
        # issue 12's "the whole zoo profiles in under 1 s", cold: every network parsed, expanded and counted
        "zoo_cold_total_ms": round(sum(r["load_cold_ms"] + r["count_ms"] for r in rows), 1),
    }
    if skipped:
        out["skipped"] = "; ".join(skipped)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed calls per network (default 7)")
    ap.add_argument("-o", "--output", default=str(ROOT / "results" / "count_speed.csv"), help="CSV path")
    ap.add_argument("--models", nargs="*", default=[], help="glob patterns of zoo names (default: all)")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    global LOAD_START
    LOAD_START = os.getloadavg()[0]
    rows, skipped = run(args.repeats, args.models)
    if not rows:
        print("no network matched", file=sys.stderr)
        return 2
    atomic_write(args.output, to_csv(rows, comments(args.repeats, rows, skipped)))
    print(f"wrote {args.output} ({len(rows)} networks)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
