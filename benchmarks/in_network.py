"""Why is a layer slower inside a network than alone? One factor at a time (issue 16).

    python benchmarks/in_network.py                 # -> results/in_network-cpu.csv (about 6 min, 1 thread)
    python benchmarks/in_network.py --quick -o /tmp/x.csv

`lwbench calibrate` times each layer alone: the same module called again and again, so its weights, its input
and its output stay in the core's caches between calls. In a network every other layer runs in between. The
quiet calibration (results/README.md, "Prediction") predicts every zoo network LOW (median -38%), and its 2-4
layer blocks show no penalty. This script measures, for a few shape-preserving layers of the kinds networks
are made of, the time per layer:

- `alone`: one layer, called repeatedly (what the calibration measures);
- `shared_N`: the same module applied N times in a row in one forward (weights stay hot; the activations
  ping-pong between fresh buffers as in a network);
- `distinct_N`: N copies with their own weights (the footprint of the weights grows with N, as in a network);
- `flushed`: one layer with every cache flushed before each call (a 96 MiB buffer written; only the layer's
  call is timed): its weights *and* its input come from DRAM.

per-layer ms = (forward ms - empty forward ms) / N, the empty forward being an nn.Sequential of N Identities
(the Python/module-call cost, which the calibration also subtracts). If `distinct_N` grows with N while
`shared_N` stays at `alone`, a layer in a network is slower because its weights were evicted; if both grow,
the activations' traffic (or the allocator) is the cause; `flushed` bounds the cold-cache cost.
Timing: lwbench.measure.timer.time_callable (warm-up, median of many calls), gc off, one thread. Nothing here
is a test; the CSV carries the machine block (`# key: value` lines, pandas: comment="#").
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from additivity import flushed  # noqa: E402 - the sibling script's flushed-cache timer

ROOT = Path(__file__).resolve().parent.parent
FLUSH_MB = 96


def layers():
    """(label, factory of one module, input shape): shape-preserving layers of the kinds networks repeat."""
    from torch import nn

    def pw(c):
        return lambda: nn.Conv2d(c, c, 1, bias=False)

    def dw(c, k=3):
        return lambda: nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False)

    def bn(c):
        return lambda: nn.BatchNorm2d(c).eval()

    return [
        ("pointwise 96@28", pw(96), (96, 28, 28)),
        ("pointwise 320@14", pw(320), (320, 14, 14)),
        ("pointwise 960@7", pw(960), (960, 7, 7)),
        ("pointwise 32@112", pw(32), (32, 112, 112)),
        ("depthwise3 144@56", dw(144), (144, 56, 56)),
        ("depthwise3 576@14", dw(576), (576, 14, 14)),
        ("depthwise5 480@14", dw(480, 5), (480, 14, 14)),
        ("batchnorm 144@56", bn(144), (144, 56, 56)),
        ("batchnorm 576@14", bn(576), (576, 14, 14)),
        ("relu6 144@56", lambda: nn.ReLU6(), (144, 56, 56)),
        ("hardswish 576@14", lambda: nn.Hardswish(), (576, 14, 14)),
        ("linear 1280", lambda: nn.Linear(1280, 1280), (1280,)),
    ]


class Repeat:
    """The same module applied n times (a plain function: torch.nn.Sequential would copy nothing either)."""

    def __init__(self, m, n):
        self.m, self.n = m, n

    def __call__(self, x):
        m = self.m
        for _ in range(self.n):
            x = m(x)
        return x


def median_ms(fn, x, min_time: float) -> float:
    from lwbench.measure.timer import TimerConfig, time_callable

    cfg = TimerConfig(warmup_runs=3, warmup_s=0.05, min_runs=15, min_time_s=min_time, max_time_s=4 * min_time)
    return time_callable(lambda: fn(x), cfg).median_ms


def flushed_ms(fn, x, runs: int) -> float:
    """additivity.flushed with a buffer 3x the L3 written before each call: the layer's data is evicted."""
    import torch

    return flushed(lambda: fn(x), torch.empty(FLUSH_MB * 2**20 // 4), runs)


def one_layer(label, make, shape, ns, min_time, flush_runs) -> list[dict]:
    import torch
    from torch import nn

    x = torch.randn(1, *shape)
    rows = []
    with torch.inference_mode():
        base1 = median_ms(nn.Sequential(nn.Identity()), x, min_time)
        alone = median_ms(make(), x, min_time) - base1
        rows.append({"layer": label, "mode": "alone", "n": 1, "per_layer_ms": alone, "ratio": 1.0})
        rows.append({"layer": label, "mode": "flushed", "n": 1, "ratio": None,
                     "per_layer_ms": flushed_ms(make(), x, flush_runs) - base1})
        for n in ns:
            base = median_ms(nn.Sequential(*[nn.Identity() for _ in range(n)]), x, min_time)
            for mode, fn in (("shared", Repeat(make(), n)), ("distinct", nn.Sequential(*[make() for _ in range(n)]))):
                weights = sum(p.numel() for p in (fn.m if mode == "shared" else fn).parameters()) * 4
                ms = (median_ms(fn, x, min_time) - base) / n
                rows.append({"layer": label, "mode": mode, "n": n, "per_layer_ms": ms, "weights_bytes": weights})
    act = 4 * x.numel()
    for r in rows:
        r["ratio"] = r["per_layer_ms"] / alone if alone > 0 else None
        r["act_bytes"] = act
    return rows


def header(args) -> list[str]:
    import torch

    from lwbench.measure.machine import cpu_model, git_commit

    meta = {"benchmark": "a layer alone vs. repeated (same weights) vs. N distinct copies vs. caches flushed; "
                         "per_layer_ms = (forward - empty forward of N identities) / N; ratio = per_layer / alone",
            "cpu_model": cpu_model(), "cores_logical": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "git_commit": git_commit(),
            "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "loadavg_1m": os.getloadavg()[0], "flush_mib": FLUSH_MB, "command": " ".join(sys.argv)}
    return [f"# {k}: {v}" for k, v in meta.items()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", default=str(ROOT / "results" / "in_network-cpu.csv"))
    ap.add_argument("--quick", action="store_true", help="three layers, N in (1, 8), short timings")
    args = ap.parse_args(argv)
    import torch

    from lwbench.measure.heap import keep_heap
    from lwbench.report.write import atomic_write, to_csv

    torch.set_num_threads(1)
    heap = keep_heap()            # as bench's worker: no page fault per forward (issue #18)
    ns, min_time, flush_runs, todo = (1, 4, 16, 64), 0.3, 60, layers()
    if args.quick:
        ns, min_time, flush_runs, todo = (1, 8), 0.05, 10, todo[::4]
    head = header(args) + [f"# heap: {heap}"]
    rows: list[dict] = []
    gc.disable()
    for label, make, shape in todo:
        rows += one_layer(label, make, shape, ns, min_time, flush_runs)
        by = {(r["mode"], r["n"]): r["ratio"] for r in rows if r["layer"] == label}
        print(f"{label:22s} flushed {by[('flushed', 1)]:.2f}x  " + "  ".join(
            f"N={n}: shared {by[('shared', n)]:.2f}x distinct {by[('distinct', n)]:.2f}x" for n in ns), flush=True)
        atomic_write(args.out, "\n".join(head) + "\n" + to_csv(rows))
    head.append(f"# loadavg_1m_end: {os.getloadavg()[0]}")
    atomic_write(args.out, "\n".join(head) + "\n" + to_csv(rows))
    print(json.dumps({"rows": len(rows), "out": args.out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
