"""Time an ONNX Runtime session through lwbench's own timer, after checking its output against torch's.

Correctness comes first: the session's output on a seeded input is compared with the float32 torch module's
output on the same input. float32: the largest absolute error relative to the largest |reference| value
(`rel_err`) must be at most FP32_TOLERANCE; int8: the relative L2 error (`l2_rel_err`) at most
quant.INT8_TOLERANCE. A graph beyond its tolerance is not timed: the row is an error saying so (a fast wrong
graph is not a result). Timing: `lwbench.measure.timer.autorange` (the same first run, warm-up, auto-range and
statistics as torch rows); CPU: each sample is one `session.run` on the input made once outside the loop;
CUDA: the input and output bound on the GPU (IOBinding), so a sample is the run, not host<->device copies.
The check and the timing loop live in lwbench.onnx.ortcore (standard library at module level), the code a
remote target runs too.
"""

from __future__ import annotations

from lwbench.onnx.ortcore import FP32_TOLERANCE, check_facts, runner, time_session  # noqa: F401

REFERENCE_SEED = 1234


def lively(model, net, seed: int = 0):
    """Weights under which every layer matters to the output, so the check can see a wrong graph: torch's default
    init shrinks activations ~3x per layer (a deep random network's output is then just the last bias, and a
    graph with a wrong weight would pass). Convolutions and linears get He-normal weights (fan-in, ReLU gain);
    batch norms get running statistics measured on a seeded random batch (train-mode forward, cumulative
    averages), so each normalises what reaches it. Latency does not depend on the values.

    The statistics are measured on one intra-op thread whatever the caller's setting: a reduction's order
    depends on the thread count, so without this the same seed gave running statistics that differ in the last
    bits from one process to another, and an export cached by one process (its key has no weights) then
    disagreed with the model another process checked it against (rel_err 1.8e-4 on shufflenet_v2_x0_5 at
    resolution 32, for a correct graph)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _lively_weights(model, net, g)
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def _lively_weights(model, net, g) -> None:
    import torch
    from torch import nn

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        model.train()
        model(torch.randn(4, *net.input_shape, generator=g))


def reference(net, batch: int, model):
    """(input, torch output) as numpy, the input seeded so every runtime sees the same one."""
    import torch

    g = torch.Generator().manual_seed(REFERENCE_SEED)
    x = torch.randn(batch, *net.input_shape, generator=g)
    with torch.inference_mode():
        y = model.eval()(x)
    return x.numpy(), y.numpy()


def check_outputs(y, ref, dtype: str) -> dict:
    """max_abs_err, rel_err (max |y − ref| / max |ref|), l2_rel_err (‖y − ref‖ / ‖ref‖), the tolerance used and
    `valid`. A shape mismatch or a non-finite output is invalid (lwbench.onnx.ortcore.check_facts, the code a
    remote target checks with)."""
    from lwbench.onnx.quant import INT8_TOLERANCE

    metric, tol = ("l2_rel_err", INT8_TOLERANCE) if dtype == "int8" else ("rel_err", FP32_TOLERANCE)
    return check_facts(y, ref, metric, tol)
