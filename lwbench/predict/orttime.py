"""Timing one calibration probe in ONNX Runtime, as `bench --runtime onnxruntime` times a network.

The probe (an IR Net) is built by lwbench.build with lively weights, written to ONNX by lwbench's IR emitter
(lwbench.onnx.export, into the worker's own temporary cache: a calibration's 1,400 tiny graphs do not belong
in the user's cache), loaded in a session with the options every ORT row uses (lwbench.onnx.session: intra-op
threads, inter-op 1, sequential, graph optimisation `ort_opt`), checked against torch's output on a seeded input
(a probe beyond tolerance is an error record, not a time) and timed by lwbench.measure.timer.autorange: one sample
is one `session.run`; with one thread (ORT then computes in the calling thread) the calls another process
preempted are set apart as for torch probes (lwbench.predict.probetime.autorange_clean), else through
lwbench.onnx.run.time_session.
"""

from __future__ import annotations


def time_probe_ort(net, st: dict, cfg, cache: str | None):
    """(Timing, facts) of one probe net under ONNX Runtime; ValueError when its output differs from torch's."""
    from lwbench.build import build
    from lwbench.onnx.export import export_onnx
    from lwbench.onnx.run import check_outputs, lively, reference, time_session
    from lwbench.onnx.session import session

    model = lively(build(net), net)
    path = export_onnx(net, st["batch"], model=model, cache=cache)
    sess = session(str(path), st["device"], st["threads"], st.get("ort_opt", "all"))
    x, ref = reference(net, st["batch"], model)
    chk = check_outputs(sess.run(None, {sess.get_inputs()[0].name: x})[0], ref, "float32")
    if not chk["valid"]:
        raise ValueError(f"onnxruntime output differs from torch's ({chk['why']})")
    if st["device"] == "cpu" and st["threads"] == 1:   # ORT runs in this thread: preempted calls set apart
        from lwbench.onnx.run import runner
        from lwbench.predict.probetime import autorange_clean

        t, clean = autorange_clean(runner(sess, x, st["device"]), cfg)
    else:
        t, clean = time_session(sess, x, st["device"], cfg, st["threads"]), {"clean_median_ms": None, "clean_n": 0}
    runs = int(min(25, max(5, 50.0 / max(1e-3, t.median_ms))))        # about 50 ms of profiled runs, 5 to 25
    return t, {**clean, "rel_err": chk["rel_err"], "layout_ms": layout_ms(str(path), x, st, runs)}


def layout_ms(path: str, x, st: dict, runs: int = 25) -> float:
    """Median per run of the kernel time of the layout conversions ORT inserts around an NCHWc region
    (ReorderInput/ReorderOutput), from ORT's profiler on a second session. A layer alone pays one on its input and
    one on its output; inside a network a region pays them once at its borders, so the fit takes them out of
    the probe's time (lwbench.predict.probetime.probe_ms)."""
    import tempfile

    from lwbench.measure.timer import percentile
    from lwbench.onnx.graphmap import LAYOUT_OPS
    from lwbench.onnx.layers import kernel_runs
    from lwbench.onnx.session import session

    with tempfile.TemporaryDirectory(prefix="lwbench-ortprof-") as d:
        sess = session(path, st["device"], st["threads"], st.get("ort_opt", "all"), profile_prefix=f"{d}/p")
        feeds = {sess.get_inputs()[0].name: x}
        for _ in range(runs + 2):
            sess.run(None, feeds)
        per_run, meta = kernel_runs(sess.end_profiling())
    lay = sorted(sum(ms for n, ms in r.items() if meta.get(n, {}).get("op") in LAYOUT_OPS) for r in per_run[-runs:])
    return percentile(lay, 50) if lay else 0.0


def versions() -> dict:
    """The versions an ORT calibration holds for (its fingerprint's runtime_versions)."""
    from lwbench.onnx.session import info

    i = info()
    return {"onnxruntime": i.get("onnxruntime"), "onnx": i.get("onnx")}
