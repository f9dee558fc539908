"""ORT's NCHWc layout pass as lwbench simulates it (lwbench.predict.nchwc) against ORT's own optimised graph, for
every zoo network (issue 16): the ReorderInput and ReorderOutput nodes ORT inserts and the residual adds it fuses
into a convolution (a Conv / FusedConv with a sum input), beside the plan's, with the NCHWc rule read here.
Full-size networks with lively weights (ORT's pass reorders the filters, so it needs them); a few minutes.
Writes results/nchwc-zoo.csv (the machine block and the rule in its header); exits 1 if any network disagrees.
tests/test_predict_ort.py checks eight of them the same way.

    python benchmarks/nchwc_zoo.py results/nchwc-zoo.csv
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def check(name: str, rules: dict | None, tmp: Path) -> dict:
    from lwbench.build import build
    from lwbench.onnx.export import export_onnx
    from lwbench.onnx.graphmap import read_graph
    from lwbench.onnx.run import lively
    from lwbench.onnx.session import session
    from lwbench.predict.nchwc import plan
    from lwbench.spec import load

    net = load(name)
    path = export_onnx(net, 1, model=lively(build(net), net), cache=tmp)
    session(str(path), "cpu", 1, "all", optimized_path=str(tmp / "opt.onnx"))
    opt = read_graph(tmp / "opt.onnx")
    got, ops = plan(net, "all", rules), {n.name: n.op for n in net.nodes}
    row = {"model": name,
           "ort_reorder_in": sum(n.op == "ReorderInput" for n in opt.nodes),
           "plan_reorder_in": sum(k == "in" for k, _ in got.reorders),
           "ort_reorder_out": sum(n.op == "ReorderOutput" for n in opt.nodes),
           "plan_reorder_out": sum(k == "out" for k, _ in got.reorders),
           "ort_sum_fused": sum(n.op in ("Conv", "FusedConv") and len(n.inputs) >= 4 and bool(n.inputs[3])
                                for n in opt.nodes),
           "plan_sum_fused": sum(ops[lay] == "add" for lay in got.fused)}
    row["ok"] = all(row[f"ort_{k}"] == row[f"plan_{k}"] for k in ("reorder_in", "reorder_out", "sum_fused"))
    return row


def main(out: str) -> int:
    from lwbench.measure.machine import machine_info
    from lwbench.predict.layout import detect_rules
    from lwbench.report.write import atomic_write, to_csv
    from lwbench.verify import all_names

    rules = detect_rules()
    rows = []
    for name in all_names():
        with tempfile.TemporaryDirectory() as d:
            rows.append(check(name, rules, Path(d)))
        print(name, rows[-1]["ok"], flush=True)
    atomic_write(out, to_csv(rows, comments={"machine": machine_info(), "nchwc_rule": rules}))
    bad = [r["model"] for r in rows if not r["ok"]]
    print(f"{len(rows) - len(bad)}/{len(rows)} networks: the plan's conversions and fused adds are ORT's"
          + (f"; not: {bad}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "results/nchwc-zoo.csv"))
