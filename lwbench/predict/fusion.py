"""Which layers ONNX Runtime fuses into a convolution: the IR rules, by graph optimisation level.

ORT's CPU optimiser folds a batch norm that is a convolution's only consumer into its weights (`basic`), fuses
the activation that follows into the convolution (`extended`: Relu, Clip (relu6), Sigmoid, HardSigmoid, Tanh),
and at `all` its NCHWc layout transformer also fuses a residual Add (the convolution's only consumer, "Sum") and
the activation after it, and a hardswish (HardSigmoid → Mul) after the convolution. Identity and Dropout are
eliminated from `basic` up. A fused group costs what its convolution costs: the ORT model predicts it from the
convolution's shapes with the efficiency fitted on ORT's own probes; the layers folded into it cost 0.

The rules were read from ORT 1.32's optimised graphs of the zoo (the `profile --time --runtime onnxruntime`
join, lwbench.onnx.graphmap); tests/test_predict_ort.py checks them against that join on zoo networks.
"""

from __future__ import annotations

LEVELS = {"disable": 0, "basic": 1, "extended": 2, "all": 3}
ACTS = {"relu": 2, "relu6": 2, "sigmoid": 2, "hardsigmoid": 2, "tanh": 2, "hardswish": 3}   # op: level it fuses at
ELIMINATED = ("identity", "dropout")


def _consumers(net) -> dict[str, list]:
    out: dict[str, list] = {n.name: [] for n in net.nodes}
    for n in net.nodes:
        for r in n.inputs:
            if r.node in out:
                out[r.node].append(n)
    out.setdefault(net.output.node, []).append(None)      # the network's output is read by the caller
    return out


def _sole(name: str, cons: dict[str, list]):
    c = cons.get(name) or []
    return c[0] if len(c) == 1 and c[0] is not None and len(c[0].inputs) >= 1 else None


def folded(net, ort_opt: str = "all") -> dict[str, str]:
    """{layer name: the convolution it is fused into} for every layer ORT folds at level `ort_opt`."""
    level = LEVELS.get(ort_opt, 3)
    cons = _consumers(net)
    out: dict[str, str] = {}
    for conv in net.nodes:
        if conv.op != "conv2d" or conv.name in out:
            continue
        tail = conv
        nxt = _sole(tail.name, cons)
        if level >= 1 and nxt is not None and nxt.op == "batchnorm":
            out[nxt.name], tail = conv.name, nxt
            nxt = _sole(tail.name, cons)
        if level >= 3 and nxt is not None and nxt.op == "add" and nxt.name not in out:
            out[nxt.name], tail = conv.name, nxt
            nxt = _sole(tail.name, cons)
        if nxt is not None and ACTS.get(nxt.op, 9) <= level and nxt.name not in out:
            out[nxt.name] = conv.name
    return out


def costs_nothing(op: str, ort_opt: str) -> bool:
    """Layers ORT removes from the graph at this level (identity, dropout)."""
    return op in ELIMINATED and LEVELS.get(ort_opt, 3) >= 1
