"""Which layers ONNX Runtime fuses into a convolution: the IR rules, by graph optimisation level.

ORT's CPU optimiser folds a batch norm that is a convolution's only consumer into its weights (`basic`), fuses
the activation that follows into the convolution (`extended`: Relu, Clip (relu6), Sigmoid, HardSigmoid, Tanh),
and at `all` a hardswish (HardSigmoid → Mul) after the convolution, and its NCHWc layout pass fuses a residual Add
("Sum") and the activation after it where its layout allows (lwbench.predict.nchwc: the add's other input must be
blocked too). Identity and Dropout are
eliminated from `basic` up. A fused group costs what its convolution costs: the ORT model predicts it from the
convolution's shapes with the efficiency fitted on ORT's own probes; the layers folded into it cost 0.

The rules were read from ORT 1.32's optimised graphs of the zoo (the `profile --time --runtime onnxruntime`
join, lwbench.onnx.graphmap); tests/test_predict_ort.py checks them against that join on zoo networks.
"""

from __future__ import annotations

from lwbench.predict.nchwc import LEVELS

ELIMINATED = ("identity", "dropout")


def folded(net, ort_opt: str = "all", rules: dict | None = None) -> dict[str, str]:
    """{layer name: the convolution it is fused into} for every layer ORT folds at level `ort_opt`: the groups
    above and, at `all`, the residual adds (and activations after them) its NCHWc pass fuses
    (lwbench.predict.nchwc; `rules`: the calibration's NCHWc rule)."""
    from lwbench.predict.nchwc import plan

    return plan(net, ort_opt, rules).fused


def costs_nothing(op: str, ort_opt: str) -> bool:
    """Layers ORT removes from the graph at this level (identity, dropout)."""
    return op in ELIMINATED and LEVELS.get(ort_opt, 3) >= 1
