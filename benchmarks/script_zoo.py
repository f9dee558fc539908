"""`--mode script` on every zoo network: TorchScript (scripted + frozen, as `bench --mode script`) compiles and
its output equals eager's. Writes results/script-zoo.csv (machine block first); exits 1 if any network fails.
Small resolution (64, or the smallest that fits) so the whole zoo runs in minutes: scripting does not depend on it.

    PYTHONPATH=$PWD python benchmarks/script_zoo.py results/script-zoo.csv
"""

from __future__ import annotations

import sys
import time

import torch

from lwbench.build import build, example_input
from lwbench.measure.timer import prepare
from lwbench.onnx.joincheck import small, write_zoo_rows
from lwbench.spec.zoo import index


def main(out: str) -> int:
    rows = []
    for name in index():
        net = small(name, ((None, 64), (None, 96), (None, 128)))
        model, x = build(net), example_input(net)
        t0 = time.perf_counter()
        try:
            with torch.inference_mode():
                fn, xs, _ = prepare(model, x, mode="script")
                y, ref = fn(xs), model(x)
            err = float((y - ref).abs().max() / ref.abs().max().clamp_min(1e-30))
            rows.append({"model": name, "input": "x".join(map(str, net.input_shape)), "scripted": True,
                         "rel_err": err, "ok": err <= 1e-4, "script_s": time.perf_counter() - t0, "error": ""})
        except Exception as e:  # noqa: BLE001 - recorded
            rows.append({"model": name, "input": "", "scripted": False, "rel_err": None, "ok": False,
                         "script_s": time.perf_counter() - t0, "error": str(e).splitlines()[0][:200]})
        print(name, rows[-1]["ok"], flush=True)
    return write_zoo_rows(rows, out, "script and match eager")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "results/script-zoo.csv"))
