"""The per-layer join of ORT's profiler for every zoo network (including the > 25M-parameter ones the tests
leave out): share of profiled kernel time on layers, on ORT's own layout rows, unattributed. Structure-only
exports (meta-device weights), small inputs (width 0.25 / resolution 32 where the network allows), 2 runs.
Writes results/ort-join-zoo.csv; exits 1 if any network has > 1% unattributed or < 99% explained.

    PYTHONPATH=$PWD python benchmarks/ort_join_zoo.py results/ort-join-zoo.csv
"""

from __future__ import annotations

import sys
import tempfile

from lwbench.onnx.joincheck import join_check, small, write_zoo_rows
from lwbench.spec.zoo import index


def main(out: str) -> int:
    rows = []
    for name in index():
        with tempfile.TemporaryDirectory() as d:
            rep = join_check(small(name), d)
        rep["unattributed"] = " ".join(rep["unattributed"])
        rep["ok"] = rep["unattributed_share"] <= 0.01 and rep["explained_share"] >= 0.99
        rows.append(rep)
        print(name, rep["ok"], f"{rep['layers_share']:.3f}", flush=True)
    return write_zoo_rows(rows, out, "fully joined")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "results/ort-join-zoo.csv"))
