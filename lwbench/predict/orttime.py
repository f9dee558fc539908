"""Timing one calibration probe in ONNX Runtime, as `bench --runtime onnxruntime` times a network.

The probe (an IR Net) is built by lwbench.build with lively weights, written to ONNX by lwbench's IR emitter
(lwbench.onnx.export, into the worker's own temporary cache: a calibration's 1,400 tiny graphs do not belong
in the user's cache), loaded in a session with the options every ORT row uses (lwbench.onnx.session: intra-op
threads, inter-op 1, sequential, graph optimisation `ort_opt`), checked against torch's output on a seeded input
(a probe beyond tolerance is an error record, not a time) and timed by lwbench.measure.timer.autorange: one sample
is one `session.run`; with one thread (ORT then computes in the calling thread) the calls another process
preempted are set apart as for torch probes (lwbench.predict.probetime.autorange_clean), else through
lwbench.onnx.run.time_session. The check and the timing are lwbench.onnx.ortcore.time_probe, the code a remote
target runs for `calibrate --target` (lwbench.predict.remotecal ships it with the exported probes).
"""

from __future__ import annotations


def time_probe_ort(net, st: dict, cfg, cache: str | None):
    """(Timing, facts) of one probe net under ONNX Runtime; ValueError when its output differs from torch's."""
    from lwbench.onnx.ortcore import time_probe
    from lwbench.onnx.session import session

    path, x, ref = export_probe(net, st["batch"], cache)
    sess = session(str(path), st["device"], st["threads"], st.get("ort_opt", "all"))
    return time_probe(sess, x, ref, st["device"], st["threads"], cfg, _profiled(str(path), st), layout_ops())


def export_probe(net, batch: int, cache: str | None):
    """(.onnx path, seeded check input, torch's output on it) of a probe net with lively weights: the file and
    the check a local probe runs, and the ones `calibrate --target` ships (lwbench.predict.remotecal)."""
    from lwbench.build import build
    from lwbench.onnx.export import export_onnx
    from lwbench.onnx.run import lively, reference

    model = lively(build(net), net)
    path = export_onnx(net, batch, model=model, cache=cache)
    x, ref = reference(net, batch, model)
    return path, x, ref


def layout_ops() -> list[str]:
    """The ORT ops whose kernel time is `layout_ms` (lwbench.onnx.graphmap.LAYOUT_OPS)."""
    from lwbench.onnx.graphmap import LAYOUT_OPS

    return sorted(LAYOUT_OPS)


def _profiled(path: str, st: dict):
    from lwbench.onnx.session import session

    return lambda prefix: session(path, st["device"], st["threads"], st.get("ort_opt", "all"), profile_prefix=prefix)


def versions() -> dict:
    """The versions an ORT calibration holds for (its fingerprint's runtime_versions)."""
    from lwbench.onnx.session import info

    i = info()
    return {"onnxruntime": i.get("onnxruntime"), "onnx": i.get("onnx")}
