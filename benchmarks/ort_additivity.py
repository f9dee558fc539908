"""ONNX Runtime: each layer of a real network timed alone at its real shapes, as a calibration probe is, beside the
calibration's prediction of it alone and in context and its time inside the network (issue 16).

    python benchmarks/ort_additivity.py -c results/predict-calib-cpu-ort-G4.json mobilenet_v2 \\
        --categories depthwise,pointwise,conv -o /tmp/ort-additivity.csv

For every layer ORT runs as its own node (a fused group is its convolution; the layers folded into it ride along):
`alone_ms`, the layer alone in an ORT session (lwbench.predict.orttime.time_probe_ort: the calibration's timer and
check) less the fixed forward cost and less its profiled conversions, the profiler's own cost per node given
back (the calibration's `profiler_ms_per_node`) — what the calibration's fit would take from that probe;
`predicted_alone_ms` and `predicted_ms` (in context) from the calibration; `in_network_ms`, the group's kernel time
in `profile --time --runtime onnxruntime` (each node's figure holds the profiler's few µs: docs/runtimes.md). So
predicted_alone vs alone is the layer model's error at that shape, alone vs in_network what the network adds.
The calibration must be of this machine's settings (threads, ort_opt). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def in_network(net_name: str, tmp: str) -> dict[str, float]:
    """{first layer of each ORT group: its kernel ms in the network} from `profile --time --runtime onnxruntime`."""
    import pandas as pd

    out = Path(tmp) / f"{net_name}-time.csv"
    subprocess.run([sys.executable, "-m", "lwbench", "profile", net_name, "--time", "--runtime", "onnxruntime",
                    "--threads", "1", "--min-time", "2", "-o", str(out)], check=True, capture_output=True)
    m = pd.read_csv(out, comment="#")
    return {str(ls).split()[0]: float(t) for ls, t in zip(m["layers"], m["time_ms"]) if isinstance(ls, str) and ls}


def layer_rows(cal: dict, net_name: str, categories: set[str], tmp: str) -> list[dict]:
    from lwbench.measure.timer import TimerConfig
    from lwbench.predict.design import Probe, probe_net
    from lwbench.predict.fitcal import alone_model
    from lwbench.predict.layout import probe_reorders
    from lwbench.predict.orttime import time_probe_ort
    from lwbench.predict.predict import predict_net
    from lwbench.spec import load

    fitted, st = cal["model"], dict(cal["settings"])
    lay = fitted.get("layout") or {}
    per_node, rules = lay.get("profiler_ms_per_node", 0.0), lay.get("rules")
    net = load(net_name)
    ctx = {r["layer"]: r for r in predict_net(net, fitted)["layers"]}
    alone = {r["layer"]: r["predicted_ms"] for r in predict_net(net, alone_model(fitted))["layers"]}
    inside = in_network(net_name, tmp)
    cfg, rows = TimerConfig(**st["timer"]), []
    for n in net.nodes:
        r = ctx[n.name]
        if r["category"] not in categories or r["note"].startswith(("fused", "eliminated")):
            continue
        if len(n.in_shapes) != 1:  # a probe has one input: two-input layers (SE's multiply, adds) are not timed here
            continue
        pn = probe_net(Probe(group="additivity", input=tuple(n.in_shapes[0]), nodes=((n.op, dict(n.attrs), ("x",)),),
                             target=0))
        with tempfile.TemporaryDirectory(dir=tmp) as d:
            t, facts = time_probe_ort(pn, st, cfg, d)
        conv = max(0.0, facts["layout_ms"] - per_node * len(probe_reorders(pn, rules)))
        rows.append({"model": net_name, "layer": n.name, "category": r["category"], "key": r["model_key"],
                     "in_shape": "x".join(map(str, n.in_shapes[0])),
                     "alone_ms": t.median_ms - conv - fitted["overhead"]["fixed_ms"], "layout_ms": facts["layout_ms"],
                     "predicted_alone_ms": alone[n.name], "predicted_ms": r["predicted_ms"],
                     "in_network_ms": inside.get(n.name)})
    return rows


def main(argv: list[str] | None = None) -> int:
    from lwbench.measure.machine import machine_info
    from lwbench.report.write import atomic_write, to_csv

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("nets", nargs="+")
    ap.add_argument("-c", "--calibration", required=True)
    ap.add_argument("--categories", default="depthwise,pointwise,conv,grouped")
    ap.add_argument("-o", "--out", default="ort-additivity.csv")
    a = ap.parse_args(argv)
    cal = json.loads(Path(a.calibration).read_text())
    rows = []
    with tempfile.TemporaryDirectory(prefix="lwbench-ortadd-") as tmp:
        for name in a.nets:
            got = layer_rows(cal, name, set(a.categories.split(",")), tmp)
            rows += got
            tot = {k: sum(r[k] or 0.0 for r in got) for k in ("alone_ms", "predicted_alone_ms", "in_network_ms")}
            print(name, {k: round(v, 3) for k, v in tot.items()}, flush=True)
    atomic_write(a.out, to_csv(rows, comments={"machine": machine_info(), "calibration": a.calibration}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
