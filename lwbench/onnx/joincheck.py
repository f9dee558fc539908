"""How completely ORT's profiled kernels join to a network's layers (tests and benchmarks/ort_join_zoo.py).

Structure only by default: the module is built on the meta device and exported with zero weights, so even VGG's
100M-parameter classifier costs no initialisation; the graph, ORT's fusions and the kernels are the same.
"""

from __future__ import annotations

from pathlib import Path

JOIN_SIZES = ((0.25, 32), (None, 32), (None, 64), (None, 96))   # (width, resolution), smallest first


def small(name: str, sizes=JOIN_SIZES):
    """The zoo network `name` at the first (width, resolution) it allows (not every YAML has a width rule, and
    deep networks need a larger input)."""
    from lwbench.errors import LwbenchError
    from lwbench.spec import load

    for width, res in sizes:
        try:
            return load(name, width, res)
        except LwbenchError:
            continue
    return load(name)


def join_check(net, workdir, runs: int = 2, threads: int = 1, ort_opt: str = "all") -> dict:
    """Shares of the profiled kernel time: on layers, on ORT's layout/transfer/quant rows, unattributed."""
    import numpy as np

    from lwbench.build import build
    from lwbench.count import count
    from lwbench.onnx import layers as L
    from lwbench.onnx.emit import emit
    from lwbench.onnx.graphmap import map_chain, read_graph
    from lwbench.onnx.session import session

    d = Path(workdir)
    proto = emit(net, build(net, device="meta"), 1)
    path = d / "model.onnx"
    path.write_bytes(proto.SerializeToString())
    sess = session(path, "cpu", threads, ort_opt, profile_prefix=str(d / "prof"), optimized_path=str(d / "opt.onnx"))
    x = np.zeros((1, *net.input_shape), dtype=np.float32)
    for _ in range(runs + 1):
        sess.run(None, {"input": x})
    kruns, meta = L.kernel_runs(sess.end_profiling())
    layers = [n.name for n in net.nodes]
    rows = L.join(count(net, 1), map_chain([read_graph(proto), read_graph(d / "opt.onnx")], layers),
                  L.node_medians(kruns[1:]), meta)
    a = L.attribution(rows)
    explained = sum(a[f"{k}_share"] or 0.0 for k in ("layers", "layout", "transfer", "quant"))
    return {"model": net.name, "input": "x".join(map(str, net.input_shape)), **a, "explained_share": explained,
            "layers": len(layers), "layers_in_groups": sum(r["n_layers"] for r in rows),
            "groups": sum(1 for r in rows if r["attribution"] == "layers"),
            "fused_groups": sum(1 for r in rows if r["n_layers"] > 1),
            "eliminated": sum(1 for r in rows if r["ort_ops"] == "(eliminated)"),
            "unattributed": [r["layer"] for r in rows if r["attribution"] == "unattributed"]}


def write_zoo_rows(rows: list[dict], out: str, what: str) -> int:
    """The zoo benchmarks' ending: CSV with the machine block (atomic), one summary line; 1 if a row is not ok."""
    from lwbench.measure.machine import machine_info
    from lwbench.report.write import atomic_write, to_csv

    atomic_write(out, to_csv(rows, comments={"machine": machine_info()}))
    bad = [r["model"] for r in rows if not r["ok"]]
    print(f"{len(rows) - len(bad)}/{len(rows)} networks {what}" + (f"; not: {bad}" if bad else ""))
    return 1 if bad else 0
