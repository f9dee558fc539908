"""Is a network the sum of its layers timed alone? Each layer of a real network, at its real shapes (issue 16).

    python benchmarks/additivity.py mobilenet_v2 shufflenet_v2_x0_5 -o results/additivity-cpu.csv
    python benchmarks/additivity.py mobilenet_v2 --calibration results/predict-calib-cpu.json
    python benchmarks/additivity.py chain:12 chain:30    # synthetic networks of the calibration (grid seed 0)

For each network: the built module end to end (`e2e_ms`, lwbench's timer, one thread, batch 1), and every layer
alone (`alone_ms`: the very module of the built network, called on random inputs of its real shapes, less the
cost of calling an nn.Identity the same way), summed (`sum_alone_ms`). e2e / sum_alone is the in-network
factor the calibration cannot see (it times layers alone too). With `--calibration`, the model's prediction of
each layer (`predicted_ms`) is beside its measured alone time, which separates the model's error on a layer
alone (predicted vs alone) from the in-network penalty (alone vs in the network). `--flush 4,96` also times
each layer with a buffer of that many MiB written before every call (only the call timed): past the L2, past the
L3, so its weights and input come from farther away, as they may inside a network. Writes one row per layer
(`--layers-out`) and one per network (`-o`). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timer(min_time: float):
    from lwbench.measure.timer import TimerConfig

    return TimerConfig(warmup_runs=3, warmup_s=0.05, min_runs=15, min_time_s=min_time, max_time_s=4 * min_time)


def flushed(fn, buf, runs: int) -> float:
    """Median ms of fn() with `buf` written before each call (its lines evict the layer's data); only the call
    is timed."""
    import statistics
    import time

    fn()
    samples = []
    for _ in range(runs):
        buf.fill_(1.0)
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def layer_times(net, gm, min_time: float, flush_mib: tuple[int, ...] = (), flush_runs: int = 40) -> list[dict]:
    """Per layer: alone_ms (hot), and flushed_<M>mib_ms for each flush size (caches evicted before each call)."""
    import torch
    from torch import nn

    from lwbench.measure.timer import time_callable

    mods = dict(gm.named_modules())
    cfg = timer(min_time)
    ident = nn.Identity()
    bufs = {m: torch.empty(m * 2**20 // 4) for m in flush_mib}
    out = []
    for n in net.nodes:
        xs = [torch.randn(1, *s) for s in n.in_shapes]
        m = mods[n.name]
        ms = time_callable(lambda m=m, xs=xs: m(*xs), cfg).median_ms
        base = time_callable(lambda xs=xs: ident(xs[0]), cfg).median_ms
        row = {"alone_ms": max(0.0, ms - base)}
        for mib, buf in bufs.items():
            row[f"flushed_{mib}mib_ms"] = max(0.0, flushed(lambda m=m, xs=xs: m(*xs), buf, flush_runs) - base)
        out.append(row)
    return out


def synthetic(name: str):
    """`chain:N`: synthetic network N of the calibration grid (lwbench.predict.chains, the grid's seed 0)."""
    import random

    from lwbench.predict.chains import chains
    from lwbench.predict.design import probe_net

    return probe_net(chains(random.Random(1))[int(name.split(":")[1])])


def one(name: str, fitted: dict | None, min_time: float, e2e_time: float, flush_mib=()) -> tuple[dict, list[dict]]:
    import torch

    import lwbench
    from lwbench.build import build, example_input
    from lwbench.measure.timer import time_callable

    net = synthetic(name) if name.startswith("chain:") else lwbench.load(name)
    gm = build(net)
    x = example_input(net)
    with torch.inference_mode():
        e2e = time_callable(lambda: gm(x), timer(e2e_time)).median_ms
        alone = layer_times(net, gm, min_time, flush_mib)
        e2e_after = time_callable(lambda: gm(x), timer(e2e_time)).median_ms
    rows = [{"model": name, "layer": n.name, "op": n.op, "in_shape": "x".join(map(str, n.in_shapes[0])), **a}
            for n, a in zip(net.nodes, alone)]
    pred_sum = None
    if fitted is not None:
        from lwbench.predict.features import node_key
        from lwbench.predict.model import predict_layer

        prof = lwbench.count(net)
        for r, n, lr in zip(rows, net.nodes, prof.layers):
            key, feats = node_key(n)
            r["model_key"] = key
            r["predicted_ms"] = predict_layer(fitted, key, feats, lr.madds, lr.mac_elems)[0]
        pred_sum = sum(r["predicted_ms"] for r in rows)
    s = sum(a["alone_ms"] for a in alone)
    med = (e2e + e2e_after) / 2
    summary = {"model": name, "layers": len(rows), "e2e_ms": e2e, "e2e_after_ms": e2e_after, "sum_alone_ms": s,
               "e2e_over_sum": med / s if s else None, "sum_predicted_ms": pred_sum,
               "predicted_over_alone": pred_sum / s if pred_sum and s else None}
    for mib in flush_mib:
        f = sum(a[f"flushed_{mib}mib_ms"] for a in alone)
        summary[f"sum_flushed_{mib}mib_ms"] = f
        summary[f"e2e_over_flushed_{mib}mib"] = med / f if f else None
    return summary, rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("-o", "--out", default=str(ROOT / "results" / "additivity-cpu.csv"))
    ap.add_argument("--layers-out", default=None, help="per-layer rows (default: OUT with -layers before .csv)")
    ap.add_argument("--calibration", default=None)
    ap.add_argument("--min-time", type=float, default=0.1, help="seconds per layer alone")
    ap.add_argument("--e2e-time", type=float, default=2.0, help="seconds per network end to end")
    ap.add_argument("--flush", default="", help="comma-separated MiB: also time each layer with a buffer this "
                    "large written before every call (e.g. 4,96: past the L2, past the L3)")
    args = ap.parse_args(argv)
    import torch

    from lwbench.measure.heap import keep_heap
    from lwbench.measure.machine import cpu_model, git_commit
    from lwbench.report.write import atomic_write, to_csv

    torch.set_num_threads(1)
    heap = keep_heap()            # as bench's worker: no page fault per forward (issue #18)
    fitted = json.loads(Path(args.calibration).read_text())["model"] if args.calibration else None
    meta = {"benchmark": "each layer of a network timed alone at its real shapes (its own module, random inputs, "
                         "less an nn.Identity call) vs the network end to end, one thread, batch 1",
            "cpu_model": cpu_model(), "cores_logical": os.cpu_count(), "torch": torch.__version__,
            "git_commit": git_commit(), "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "loadavg_1m": os.getloadavg()[0], "calibration": args.calibration, "heap": heap,
            "command": " ".join(sys.argv)}
    layers_out = args.layers_out or str(Path(args.out).with_name(Path(args.out).stem + "-layers.csv"))
    sums, rows = [], []
    gc.disable()
    for name in args.models:
        s, r = one(name, fitted, args.min_time, args.e2e_time, tuple(int(v) for v in args.flush.split(",") if v))
        sums.append(s)
        rows += r
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in s.items()}), flush=True)
        meta["loadavg_1m_now"] = os.getloadavg()[0]
        atomic_write(args.out, to_csv(sums, meta))
        atomic_write(layers_out, to_csv(rows, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
