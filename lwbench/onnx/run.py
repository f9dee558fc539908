"""Time an ONNX Runtime session through lwbench's own timer, after checking its output against torch's.

Correctness comes first: the session's output on a seeded input is compared with the float32 torch module's
output on the same input. float32: the largest absolute error relative to the largest |reference| value
(`rel_err`) must be at most FP32_TOLERANCE; int8: the relative L2 error (`l2_rel_err`) at most
quant.INT8_TOLERANCE. A graph beyond its tolerance is not timed: the row is an error saying so (a fast wrong
graph is not a result). Timing: `lwbench.measure.timer.autorange` (the same first run, warm-up, auto-range and
statistics as torch rows); CPU: each sample is one `session.run` on the input made once outside the loop;
CUDA: the input and output bound on the GPU (IOBinding), so a sample is the run, not host<->device copies.
"""

from __future__ import annotations

import time

FP32_TOLERANCE = 1e-4
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
    `valid`. A shape mismatch or a non-finite output is invalid."""
    import numpy as np

    from lwbench.onnx.quant import INT8_TOLERANCE

    metric, tol = ("l2_rel_err", INT8_TOLERANCE) if dtype == "int8" else ("rel_err", FP32_TOLERANCE)
    out = {"tolerance_metric": metric, "tolerance": tol}
    y, ref = np.asarray(y, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if y.shape != ref.shape:
        return {**out, "max_abs_err": None, "rel_err": None, "l2_rel_err": None, "valid": False,
                "why": f"output shape {list(y.shape)}, torch's {list(ref.shape)}"}
    diff = np.abs(y - ref)
    scale, norm = float(np.abs(ref).max()), float(np.linalg.norm(ref))
    out.update(max_abs_err=float(diff.max()) if diff.size else 0.0,
               rel_err=float(diff.max() / scale) if scale > 0 else float(diff.max()),
               l2_rel_err=float(np.linalg.norm(y - ref) / norm) if norm > 0 else float(np.linalg.norm(y - ref)))
    finite = bool(np.isfinite(y).all())
    out["valid"] = finite and out[metric] <= tol
    if not out["valid"]:
        out["why"] = "non-finite output" if not finite else f"{metric} {out[metric]:.3g} > tolerance {tol:g}"
    return out


def runner(sess, x, device: str):
    """A zero-argument callable running one inference of `x` on `sess` (CUDA: bound on the device)."""
    name = sess.get_inputs()[0].name
    if not str(device).startswith("cuda"):
        feeds = {name: x}
        return lambda: sess.run(None, feeds)
    import onnxruntime as ort

    dev_id = int(device.split(":", 1)[1]) if ":" in device else 0
    io = sess.io_binding()
    io.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(x, "cuda", dev_id))
    for o in sess.get_outputs():
        io.bind_output(o.name, "cuda", dev_id)

    def run():
        sess.run_with_iobinding(io)
        io.synchronize_outputs()
    return run


def time_session(sess, x, device: str, cfg, threads: int | None):
    """lwbench's autorange over `sess` runs; Timing with extra cpu_share (process CPU time per thread)."""
    from lwbench.measure.timer import autorange

    fn = runner(sess, x, device)
    clock = time.perf_counter

    def run_once() -> float:
        t = clock()
        fn()
        return (clock() - t) * 1000.0

    c0, w0 = time.process_time(), time.perf_counter()
    t = autorange(run_once, cfg)
    cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
    t.extra["cpu_share"] = cpu_s / wall_s / max(1, threads or 1) if wall_s > 0 else None
    return t
