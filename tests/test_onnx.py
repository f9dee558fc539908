"""ONNX Runtime as a runtime, for real (onnxruntime 1.32, CPUExecutionProvider; no mocks).

References: torch's own output on the same input (the correctness check is the second runtime checking the
first), the analytic layer list (every layer in exactly one group, every profiled kernel microsecond in a row),
and hand-made broken graphs (a corrupted weight must be flagged; its latency must not be reported).
Timings are never asserted.
"""

from __future__ import annotations

import json

import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from lwbench.measure.jobs import Job  # noqa: E402
from lwbench.spec import load  # noqa: E402

TINY = {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 3, "min_time_s": 0.0, "max_time_s": 1.0, "max_runs": 5}


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LWBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "lwbench-cache"))


def _job(net="mobilenet_v1_x0_25", dtype="float32", **kw):
    return Job(net=net, resolution=kw.pop("resolution", 64), threads=1, dtype=dtype, runtime="onnxruntime",
               timer=TINY, **kw)


def test_every_op_kind_has_an_emitter():
    from lwbench.onnx.emit import EMITTERS
    from lwbench.ops.registry import all_ops

    assert sorted(set(all_ops()) - set(EMITTERS)) == []


def test_adaptive_pool_matrix_is_torchs_windows():
    """Up- and down-sampling adaptive average pooling (5 -> 3, 2 -> 7) equals torch's to float precision."""
    import numpy as np
    import torch

    from lwbench.onnx.emit import _adaptive_matrix

    for h, oh in ((5, 3), (2, 7), (7, 7)):
        x = torch.randn(1, 2, h, h)
        ref = torch.nn.functional.adaptive_avg_pool2d(x, oh).numpy()
        a = _adaptive_matrix(h, oh)
        assert np.allclose(a @ x.numpy() @ a.T, ref, atol=1e-6)


def test_export_is_cached_by_content(tmp_path):
    from lwbench.onnx.export import export_onnx, read_meta

    net = load("mobilenet_v1_x0_25", resolution=64)
    p1 = export_onnx(net, 1)
    mtime = p1.stat().st_mtime_ns
    assert export_onnx(load("mobilenet_v1_x0_25", resolution=64), 1) == p1 and p1.stat().st_mtime_ns == mtime
    assert export_onnx(net, 2) != p1                                   # batch is in the key
    assert export_onnx(load("mobilenet_v1_x0_25", resolution=96), 1) != p1   # so is the graph
    meta = read_meta(p1)
    assert meta["network"].startswith("mobilenet_v1_x0_25") and meta["opset"] == 17 and meta["exporter"] == "lwbench.onnx.emit"
    assert meta["input"] == [1, 3, 64, 64]
    p1.write_bytes(p1.read_bytes()[:-10])                              # a damaged cache file is exported again
    assert export_onnx(net, 1) == p1 and read_meta(p1)["sha256"] != "" and onnx.load(str(p1)) is not None
    names = {n.name for n in onnx.load(str(p1)).graph.node}
    assert {n.name for n in net.nodes} <= names                       # every layer is a node of its own name


def test_fp32_rows_match_torch():
    from lwbench.runtimes.ort import measure

    for net in ("mobilenet_v1_x0_25", "shufflenet_v2_x0_5", "mobilenet_v3_small"):
        r = measure(_job(net))
        assert r.ok, r.error
        e = r.extra
        assert e["valid"] and e["rel_err"] <= 1e-4 and e["ep"] == "CPUExecutionProvider" and e["ort_opt"] == "all"
        assert e["onnxruntime"] == ort.__version__ and e["opset"] == 17
        assert r.timing["n"] == len(r.samples_ms) >= 3 and r.interop_threads == 1


def test_int8_rows_are_quantized_and_checked():
    """At 96 px: at 64 px mobilenet_v1_x0_25's 2x2 maps make int8 rounding compound to l2 0.55 (full-range weights)
    - 0.82 (7-bit, a CPU without VNNI: quant.reduce_range_rule), too near the tolerance to say anything."""
    from lwbench.onnx.quant import reduce_range_rule
    from lwbench.runtimes.ort import measure

    r = measure(_job("mobilenet_v1_x0_25", "int8", resolution=96))
    assert r.ok, r.error
    e = r.extra
    assert e["quantization"]["format"] == "QDQ" and e["quantization"]["per_channel"]
    assert (e["quantization"]["reduce_range"], e["quantization"]["reduce_range_rule"]) == reduce_range_rule()
    assert e["tolerance_metric"] == "l2_rel_err" and e["valid"]
    assert 1e-5 < e["l2_rel_err"] <= e["tolerance"]        # int8 really differs from fp32, within its tolerance
    ops = {n.op_type for n in onnx.load(e["onnx_file"]).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_int8_kernels_compute_the_quantized_graph():
    """ORT's fused int8 kernels against the same QDQ graph evaluated unfused (dequantize, float conv, quantize):
    with full-range weights on an x86 CPU without VNNI the kernels' int16 sums saturate and the two differ by
    56% (mobilenet_v2 at 64 px, AMD EPYC AVX2), and by 20% on an AMD EPYC with AVX-512 VNNI (machine G; there
    mobilenet_v1_x0_25 and squeezenet1_1 agree exactly); with the 7-bit weights quant.reduce_range_rule picks on
    x86-64, 0.8% on both."""
    import numpy as np

    from lwbench.build import build
    from lwbench.onnx.export import export_onnx
    from lwbench.onnx.run import lively, reference
    from lwbench.onnx.session import session

    net = load("mobilenet_v2", resolution=64)
    model = lively(build(net), net)
    path = export_onnx(net, 1, dtype="int8", model=model)
    x, _ = reference(net, 1, model)

    def run(opt):
        s = session(str(path), threads=1, opt=opt)
        return s.run(None, {s.get_inputs()[0].name: x})[0]

    fused, graph = run("all"), run("disable")
    assert np.linalg.norm(fused - graph) / np.linalg.norm(graph) < 0.15


def test_reduce_range_rule_reads_the_cpu(tmp_path):
    from lwbench.onnx.quant import cpu_flags, reduce_range_rule

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(str(info)) == {"fpu", "sse2", "avx2", "fma"} and cpu_flags(str(tmp_path / "none")) is None
    assert reduce_range_rule("x86_64", {"avx2", "fma"})[0] is True
    rr, why = reduce_range_rule("x86_64", {"avx2", "avx512f", "avx512_vnni"})   # machine G: VNNI did not save it
    assert rr is True and why.startswith("x86-64 with avx512_vnni: 7-bit weights")
    assert reduce_range_rule("aarch64", {"asimd"})[0] is False and reduce_range_rule("AMD64", set())[0] is True


def test_a_targets_rule_comes_from_its_machine_block():
    """A remote target's int8 files are quantized on the host by the target's CPU: its runner reports the VNNI/AMX
    flags of its /proc/cpuinfo (`cpu_flags_int8`), the host decides with them."""
    from lwbench.onnx.quant import reduce_range_rule, rule_for
    from lwbench.targets.runner import int8_flags

    assert int8_flags("processor : 0\nflags : fpu avx2 avx512f avx512_vnni amx_int8\n") == ["amx_int8", "avx512_vnni"]
    assert int8_flags("processor : 0\nflags : fpu avx2 fma\n") == []
    assert int8_flags("processor : 0\nFeatures : fp asimd asimddp\nCPU part : 0xd0b\n") is None   # ARM
    assert rule_for({"arch": "x86_64", "cpu_flags_int8": []})[0] is True
    assert rule_for({"arch": "x86_64", "cpu_flags_int8": ["avx_vnni"]}) == reduce_range_rule("x86_64", {"avx_vnni"})
    assert rule_for({"arch": "aarch64", "cpu_flags_int8": None})[0] is False
    assert rule_for({"arch": "x86_64"})[0] is True and "flags unknown" in rule_for({"arch": "x86_64"})[1]


def _corrupt(path):
    """Scale the first convolution's weights by 3 in place, keeping the sidecar's sha256 in step (a cache
    entry that is consistent but wrong, as a broken emitter would write)."""
    import hashlib

    from onnx import numpy_helper

    m = onnx.load(str(path))
    w = next(i for i in m.graph.initializer if i.name.endswith(".weight"))
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * 3.0, w.name))
    onnx.save(m, str(path))
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text())
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    side.write_text(json.dumps(meta))


def test_corrupted_graph_is_flagged_and_not_timed(tmp_path, monkeypatch):
    from lwbench.onnx.export import export_onnx

    monkeypatch.setenv("LWBENCH_CACHE", str(tmp_path))       # its own cache: the corrupted entry stays here
    from lwbench.build import build
    from lwbench.onnx.run import lively
    from lwbench.runtimes.ort import measure

    net = load("mobilenet_v1_x0_25", resolution=64)
    _corrupt(export_onnx(net, 1, model=lively(build(net), net)))
    r = measure(_job())
    assert not r.ok and r.timing is None and r.samples_ms == []
    assert "differs from torch" in r.error and r.extra["valid"] is False and r.extra["rel_err"] > 1e-2


def test_wrong_output_is_flagged():
    import numpy as np

    from lwbench.onnx.run import check_outputs

    ref = np.linspace(-1, 1, 100).reshape(1, 100)
    assert check_outputs(ref + 1e-7, ref, "float32")["valid"]
    assert not check_outputs(ref * 1.01, ref, "float32")["valid"]
    assert not check_outputs(ref[:, :50], ref, "float32")["valid"]             # wrong shape
    assert not check_outputs(ref * np.nan, ref, "int8")["valid"]               # non-finite
    assert check_outputs(ref * 1.05, ref, "int8")["valid"] and not check_outputs(-ref, ref, "int8")["valid"]


def test_runtime_refusals_are_one_line():
    from lwbench.errors import InputError
    from lwbench.runtimes.ort import check

    for job, words in ((_job(mode="script"), "--mode script"), (_job(dtype="float16"), "--dtype float16"),
                       (_job(layout="nhwc"), "--layout nhwc"), (_job(options={"ort_opt": "max"}), "--ort-opt"),
                       (_job(device="cuda"), "CUDAExecutionProvider")):
        with pytest.raises(InputError, match=words):
            check(job)


def test_a_cuda_session_that_fell_back_to_the_cpu_is_refused():
    """onnxruntime-gpu lists CUDAExecutionProvider where it cannot start it; the session then runs on the CPU."""
    from lwbench.errors import InputError
    from lwbench.onnx.session import check_ep

    check_ep("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"], "1.32.0")
    check_ep("cpu", ["CPUExecutionProvider"], "1.32.0")
    for used in (["CPUExecutionProvider"], []):
        with pytest.raises(InputError, match=r"^--device cuda:1 --runtime onnxruntime: onnxruntime 1.32.0 could not "
                           r"start its CUDAExecutionProvider here and fell back to"):
            check_ep("cuda:1", used, "1.32.0")


def test_missing_extra_names_it(monkeypatch):
    import builtins

    from lwbench.errors import InputError
    from lwbench.onnx.session import require_ort

    real = builtins.__import__

    def no_ort(name, *a, **k):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'", name="onnxruntime")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ort)
    with pytest.raises(InputError, match=r"lwbench\[onnx\]"):
        require_ort()


def test_bench_cli_sweeps_runtimes(tmp_path):
    from lwbench.cli import main

    out = tmp_path / "b.json"
    assert main(["bench", "mobilenet_v1_x0_25", "--resolution", "64", "--runtime", "torch,onnxruntime",
                 "--ort-opt", "basic,all", "--threads", "1", "--min-time", "0", "--min-runs", "3", "--warmup", "0",
                 "--in-process", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    rows = {(r["runtime"], r["options"]): r for r in doc["rows"]}
    assert set(rows) == {("torch", ""), ("onnxruntime", "ort_opt=basic"), ("onnxruntime", "ort_opt=all")}
    assert all(not r["error"] for r in rows.values())
    assert rows[("onnxruntime", "ort_opt=all")]["valid"] is True and rows[("torch", "")]["valid"] is None
    assert doc["machine"]["onnxruntime"]["onnxruntime"] == ort.__version__


def test_profile_time_ort_groups_fusions(tmp_path):
    from lwbench.cli import main

    out = tmp_path / "p.json"
    assert main(["profile", "shufflenet_v2_x0_5", "--resolution", "64", "--time", "--runtime", "onnxruntime",
                 "--threads", "1", "--min-time", "0", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    rows, e2e = doc["layers"], doc["end_to_end"]
    fused = [r for r in rows if r["attribution"] == "layers" and r["n_layers"] > 1]
    assert any(r["kind"] == "conv2d+batchnorm+relu" for r in fused)            # Conv+BN+ReLU is one row
    assert any(r["attribution"] == "layout" and r["kind"].startswith("Reorder") for r in rows)
    assert e2e["unattributed_share"] == 0 and abs(e2e["layers_share"] + e2e["layout_share"] - 1) < 1e-9
    assert {c["category"] for c in doc["by_category"]} >= {"pointwise", "depthwise", "shuffle", "layout (ORT)"}


def _zoo_small():
    from lwbench.count import count
    from lwbench.onnx.joincheck import small
    from lwbench.spec.zoo import index

    nets = [(n, small(n)) for n in index()]
    return [n for n, net in nets if count(net, 1).totals["params"] <= 25_000_000]


@pytest.mark.parametrize("name", _zoo_small())
def test_join_covers_every_kernel(name, tmp_path):
    """Every profiled node is in a row; >= 99% of kernel time is on the network's layers or ORT's own layout
    rows, nothing unattributed; every layer is in exactly one group. Structure only: meta-device weights
    (zeros), so the big networks stay fast. Networks over 25M parameters at this size are in
    benchmarks/ort_join_zoo.py (results/ort-join-zoo.csv)."""
    from lwbench.onnx.joincheck import join_check, small

    rep = join_check(small(name), tmp_path)
    assert rep["unattributed_share"] <= 0.01, rep["unattributed"]
    assert rep["explained_share"] >= 0.99
    assert rep["layers_in_groups"] == rep["layers"]


@pytest.mark.parametrize("name", ["shufflenet_v2_x0_5", "googlenet", "efficientnet_b0", "squeezenet1_1"])
def test_script_mode_compiles(name):
    """`--mode script` on a sample (every zoo network: benchmarks/script_zoo.py): TorchScript output = eager."""
    import torch

    from lwbench.build import build, example_input
    from lwbench.measure.timer import prepare

    net = load(name, resolution=64)
    model, x = build(net), example_input(net)
    with torch.inference_mode():
        fn, xs, _ = prepare(model, x, mode="script")
        assert torch.allclose(fn(xs), model(x), rtol=1e-4, atol=1e-5)


def test_guidelines_quick_on_onnxruntime(tmp_path):
    """`guidelines --runtime onnxruntime`: every row exported, checked and timed by ORT; the config records it."""
    from lwbench.cli import main

    out = tmp_path / "g.csv"
    assert main(["guidelines", "G4", "--quick", "--runtime", "onnxruntime", "-o", str(out)]) == 0
    text = out.read_text()
    config = json.loads(next(ln for ln in text.splitlines() if ln.startswith("# config:")).split(": ", 1)[1])
    assert config["runtime"] == "onnxruntime" and config["options"] == {"ort_opt": "all"}
    machine = json.loads(text.splitlines()[0].split(": ", 1)[1])
    assert machine["onnxruntime"]["onnxruntime"] == ort.__version__
    assert main(["guidelines", "--breakdown", "--runtime", "onnxruntime", "--ort-opt", "most"]) == 2
