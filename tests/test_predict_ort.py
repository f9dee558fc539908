"""lwbench calibrate / predict --runtime onnxruntime (issue 16): ORT's model works on the groups ORT fuses.

The fit and the prediction on a synthetic ORT calibration with a known answer (layers folded into a convolution
cost nothing, the layout conversions around a lone layer are taken out), the IR fusion rules by optimisation level
and against ORT's own optimised graph (a real onnxruntime), the fingerprint refusal across runtimes and ORT
settings, the file round trip, `--validate` on ORT bench rows, and a tiny real ORT calibration. No timing asserted.
"""

from __future__ import annotations

import json

import pytest

from lwbench.cli import main
from lwbench.count import count
from lwbench.predict import calfile
from lwbench.predict.design import Probe, probe_net
from lwbench.predict.features import node_key
from lwbench.predict.fitcal import build_document
from lwbench.predict.fusion import folded
from lwbench.predict.grid import grid, subset
from lwbench.predict.layout import reorders
from lwbench.predict.nchwc import OUTPUT_PASS
from lwbench.predict.predict import PASS_REF_ELEMS, fused_layers, predict_net
from lwbench.spec import load
from tests.test_predict import MACHINE, SETTINGS, _write, truth_layer

FIXED = 0.006                      # ms: one session.run of an empty-ish graph
LAYOUT_PER_ELEM = 2e-7             # ms per element reordered into / out of NCHWc
PER_REORDER = 0.002                # ms per conversion
PROFILER = 0.003                   # ms ORT's profiler adds to each node it times (G: ~3 µs)
ORT_SETTINGS = {**SETTINGS, "runtime": "onnxruntime", "ort_opt": "all"}
ORT_MACHINE = {**MACHINE, "onnxruntime": {"onnxruntime": "1.32.0"}}


def _layout(net, ort_opt: str = "all") -> float:
    """The NCHWc conversions at the borders of the network's blocked regions (a lone convolution pays one on its
    input and one on its output: what ORT's profiler shows as ReorderInput / ReorderOutput)."""
    return sum(PER_REORDER + e * LAYOUT_PER_ELEM for _, e in reorders(net, ort_opt))


def _passes(net, gone: dict, rows) -> float:
    """The synthetic machine's fused relu6 / hardswish / sigmoid: a pass over the convolution's output, at the
    activation's cost per element on an in-cache map (lwbench.predict.predict._output_pass_ms)."""
    ref = PASS_REF_ELEMS
    return sum(truth_layer(n.op, 0, 2 * ref) * (r.mac_elems / 2) / ref for n, r in zip(net.nodes, rows)
               if n.name in gone and n.op in OUTPUT_PASS)


def truth_ort(net, ort_opt: str = "all") -> float:
    """The synthetic ORT machine: fixed + Σ of the layers ORT does not fold away (the fused group costs what its
    convolution costs) + the layout conversions."""
    gone = folded(net, ort_opt)
    rows = count(net).layers
    return FIXED + _layout(net, ort_opt) + _passes(net, gone, rows) + sum(truth_layer(node_key(n)[0], r.madds, r.mac_elems)
                                                        for n, r in zip(net.nodes, rows)
                                                        if n.name not in gone and n.op not in ("identity", "dropout"))


@pytest.fixture(scope="module")
def ort_synthetic():
    probes = grid(0, runtime="onnxruntime")
    records = {}
    for p in probes:
        net = probe_net(p)
        conv = len(reorders(net))             # ORT's profiler adds PROFILER to every node it times
        records[p.id] = {"timing": {"median_ms": truth_ort(net)}, "cpu_share": 1.0,
                         "layout_ms": _layout(net) + conv * PROFILER}
        if p.group == "overhead":
            n = len(p.nodes)
            records[p.id]["profiled"] = {"kernels_ms": truth_ort(net) - FIXED + n * PROFILER, "nodes": n}
    fp = calfile.fingerprint(ORT_SETTINGS, ORT_MACHINE, {"torch": "2.13.0+cpu", "onnxruntime": "1.32.0"})
    return probes, build_document(probes, records, ORT_SETTINGS, fp, ORT_MACHINE, 1.0, [])


def test_ort_grid_is_the_designed_grid_with_its_own_overhead_chains():
    torch_grid, ort = grid(0), grid(0, runtime="onnxruntime")
    assert len(ort) <= 1500
    assert not [p for p in ort if p.group in ("fault", "fault-base")]          # ORT allocates from its arena
    over = [p for p in ort if p.group == "overhead"]
    assert over and all(op == "relu" for p in over for op, _, _ in p.nodes)   # ORT eliminates Identity nodes
    same = {p.id for p in torch_grid if p.group not in ("overhead", "fault", "fault-base")}
    assert same == {p.id for p in ort if p.group not in ("overhead", "unaligned")}   # the same layers and blocks
    # and convolutions whose channels ORT's NCHWc rule leaves out (the designed lists are multiples of 4)
    odd = [p for p in ort if p.group == "unaligned"]
    assert len(odd) == 32 and all(p.input[0] % 4 or p.input[0] % 8 for p in odd)
    assert {p.nodes[0][1]["groups"] > 1 for p in odd} == {True, False}           # depthwise and dense
    dw = [p.input[0] for p in odd if p.nodes[0][1]["groups"] > 1]                   # outside ORT's 4k rule, and
    assert all(c % 4 for c in dw) and min(dw) <= 30 and max(dw) >= 200             # from few channels to many
    small = subset(ort, 2)
    assert {p.group for p in small} == {p.group for p in ort}
    assert all(p.minus is None or p.minus in {q.id for q in small} for p in small)


def test_fusion_rules_by_level():
    net = load("mobilenet_v2")
    ops = {n.name: n.op for n in net.nodes}
    every = {n.name for n in net.nodes if n.op in ("batchnorm", "relu6", "add")}
    assert set(folded(net, "all")) == every                                  # conv + bn + relu6, and residual adds
    assert set(folded(net, "extended")) == {k for k in every if ops[k] != "add"}
    assert set(folded(net, "basic")) == {k for k in every if ops[k] == "batchnorm"}
    assert folded(net, "disable") == {}
    assert all(ops[host] == "conv2d" for host in folded(net, "all").values())
    # swish (x · sigmoid(x)) reads the convolution's output twice: not fusable; its sigmoid gate in SE is
    eff = load("efficientnet_b0")
    got = folded(eff, "all")
    assert not [n for n in eff.nodes if n.op == "swish" and n.name in got]
    assert [n for n in eff.nodes if n.op == "sigmoid" and n.name in got]


def _ort_optimised(net, tmp_path):
    """(ORT's optimised graph at level all mapped onto the layers by lwbench.onnx.graphmap: {node: NodeMap},
    that graph) for an IR network; a real onnxruntime (skipped without one)."""
    pytest.importorskip("onnxruntime")
    from lwbench.build import build
    from lwbench.onnx.export import chain, export_onnx
    from lwbench.onnx.graphmap import map_chain, read_graph
    from lwbench.onnx.run import lively
    from lwbench.onnx.session import session

    path = export_onnx(net, 1, model=lively(build(net), net), cache=tmp_path)
    session(str(path), "cpu", 1, "all", optimized_path=str(tmp_path / "opt.onnx"))
    opt = read_graph(tmp_path / "opt.onnx")
    return map_chain([read_graph(p) for p in chain(path)] + [opt], [n.name for n in net.nodes]), opt


@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1"])
def test_fusion_rules_agree_with_ort_optimised_graph(tmp_path, name):
    """The second method: ORT 1.32's own optimised graph (saved at level all), mapped onto the layers by
    lwbench.onnx.graphmap: the layers its Conv nodes compute besides the convolution are the IR rules' folded set
    (squeezenet's dropout is eliminated by ORT, a zero-cost layer for the model too)."""
    net = load(name)
    mapping, _ = _ort_optimised(net, tmp_path)
    ops = {n.name: n.op for n in net.nodes}
    in_conv = {lay for m in mapping.values() if m.op in ("Conv", "FusedConv") for lay in m.layers if ops[lay] != "conv2d"}
    zero = set(fused_layers(net, {"fusion": {"runtime": "onnxruntime", "ort_opt": "all"}}))
    assert set(folded(net, "all")) <= in_conv <= zero and zero - in_conv <= {"dropout"}


RULES_132 = {"block": 16, "channels": 4, "group": 16}    # ORT 1.32 on an AVX-512 CPU (layout.detect_rules there)


def _ort_graph_here(name: str, tmp_path):
    """(net, the NCHWc rule read here, ORT's optimised graph's map and graph, {layer: op}) for a zoo network; a real
    onnxruntime (skipped without one, or on a CPU where ORT blocks no convolution)."""
    pytest.importorskip("onnxruntime")
    from lwbench.predict.layout import detect_rules

    rules = detect_rules()
    if rules is None:
        pytest.skip("ORT runs no convolution in NCHWc on this CPU")
    net = load(name)
    mapping, opt = _ort_optimised(net, tmp_path)
    return net, rules, mapping, opt, {n.name: n.op for n in net.nodes}


@pytest.mark.parametrize("name", ["shufflenet_v1_g1_x1_0", "xception", "efficientnet_b0", "mnasnet0_5",
                                  "squeezenet1_1", "resnet18", "shufflenet_v2_x1_0", "mobilenet_v3_small"])
def test_nchwc_plan_agrees_with_ort_optimised_graph(tmp_path, name):
    """The second method for the layout pass (lwbench.predict.nchwc): ORT's own optimised graph of the network,
    read with the rule read here, has exactly the plan's ReorderInput and ReorderOutput nodes, and exactly one
    convolution with a sum input per residual add the plan fuses. Before the pass the IR rules missed these on
    shufflenet_v1_g1 (0 of 5 ReorderInputs, 8 adds and relus fused that ORT runs apart), xception (0 of 10), the
    efficientnets (33 of 39 ReorderOutputs) and mnasnet0_5."""
    from lwbench.predict.nchwc import plan

    net, rules, _, opt, ops = _ort_graph_here(name, tmp_path)
    got = plan(net, "all", rules)
    count_op = lambda op: sum(n.op == op for n in opt.nodes)                       # noqa: E731
    assert count_op("ReorderInput") == sum(k == "in" for k, _ in got.reorders)
    assert count_op("ReorderOutput") == sum(k == "out" for k, _ in got.reorders)
    with_sum = sum(n.op in ("Conv", "FusedConv") and len(n.inputs) >= 4 and bool(n.inputs[3]) for n in opt.nodes)
    assert with_sum == sum(ops[lay] == "add" for lay in got.fused)


def test_nchwc_plan_by_hand():
    """The pass's rules, without ORT: a concat stays blocked only when every input has a multiple of the block of
    channels, and a residual add fuses into its convolution only when its other input is blocked."""
    from lwbench.predict.nchwc import plan

    g1 = load("shufflenet_v1_g1_x1_0")           # stride-2 units join a 24-channel pooled input at stage 2
    wide = plan(g1, "all", RULES_132)             # block 16: stage 2's concat runs plain, so do its adds
    assert not [k for k in wide.fused if k.startswith("stage2.") and k.endswith(".add")]
    assert "stage3.1.branch.add" in wide.fused and "stage2.0.branch.concat" not in wide.blocked
    narrow = plan(g1, "all", {"block": 8, "channels": 4, "group": 8})           # AVX2: 24 = 3 x 8
    assert "stage2.1.branch.add" in narrow.fused and "stage2.0.branch.concat" in narrow.blocked
    assert len(narrow.reorders) < len(wide.reorders)
    # below `all` there is no layout pass: the batch norms and activations fold, no add does, nothing is reordered
    ext = plan(g1, "extended", RULES_132)
    assert not ext.reorders and not [k for k in ext.fused if k.endswith(".add")]
    assert "stage2.1.branch.main.bn1" in ext.fused and "stage2.1.branch.main.relu1" in ext.fused
    # mnasnet0_5's first block ends in 8 channels: the next dense convolution reads NCHW, so it is reordered out
    assert sum(k == "out" for k, _ in plan(load("mnasnet0_5"), "all", RULES_132).reorders) == 2


def test_nchwc_rule_by_hand():
    """Which convolutions ORT runs in NCHWc, from the rule: a dense one of fewer input channels than the block
    reads NCHW directly; past it, its input channels must be a multiple of `channels`; a depthwise one its
    channels; a grouped one both channels per group a multiple of `group`. Without a rule, every one."""
    from lwbench.predict.nchwc import blocked

    def conv(cin, cout, g):
        p = probe_net(Probe("x", (cin, 8, 8), (("conv2d", {"out": cout, "kernel": 1 if g == 1 else 3, "stride": 1,
                                                           "groups": g, "bias": True}, ("x",)),)))
        return p.nodes[0]

    cases = {(3, 24, 1): True, (12, 32, 1): True, (58, 58, 1): False, (116, 116, 1): True, (32, 58, 1): True,
             (58, 58, 58): False, (116, 116, 116): True, (20, 20, 20): True, (240, 240, 3): True,
             (120, 120, 3): False, (48, 48, 2): False}
    for (cin, cout, g), want in cases.items():
        assert blocked(conv(cin, cout, g), RULES_132) is want, (cin, cout, g)
        assert blocked(conv(cin, cout, g), None) is True
    key, _ = node_key(conv(58, 58, 58), RULES_132)
    assert key == "conv2d:k3x3:s1x1:depthwise:nchw" and node_key(conv(58, 58, 58))[0] == "conv2d:k3x3:s1x1:depthwise"
    assert node_key(conv(116, 116, 116), RULES_132)[0] == "conv2d:k3x3:s1x1:depthwise"
    # shufflenet_v2_x1_0's 58-channel stage leaves the blocked regions: its borders change
    net = load("shufflenet_v2_x1_0")
    from lwbench.predict.layout import regions

    plain = {n.name for n in net.nodes if n.op == "conv2d" and not blocked(n, RULES_132)}
    assert plain and all(n.startswith(("stage2.", "stage3.0.branch.left")) for n in plain)
    assert not plain & regions(net, RULES_132) and plain <= regions(net)


@pytest.mark.parametrize("name", ["shufflenet_v2_x1_0", "shufflenet_v1_g3_x0_5", "mobilenet_v2"])
def test_nchwc_rule_read_from_ort_agrees_with_its_optimised_graph(tmp_path, name):
    """The second method: the rule `detect_rules` reads from one-convolution models here, applied to a whole
    network, names exactly the convolutions ORT's own optimised graph of that network runs as NCHWc nodes."""
    from lwbench.predict.nchwc import blocked

    net, rules, mapping, opt, ops = _ort_graph_here(name, tmp_path)
    domain = {n.name: n.domain for n in opt.nodes}
    in_nchwc = {lay for name_, m in mapping.items() if m.op == "Conv" and domain.get(name_) == "com.microsoft.nchwc"
                for lay in m.layers if ops[lay] == "conv2d"}
    assert in_nchwc == {n.name for n in net.nodes if n.op == "conv2d" and blocked(n, rules)}


def test_ort_fit_predicts_fused_groups_with_known_answer(ort_synthetic):
    _, doc = ort_synthetic
    fitted = doc["model"]
    assert fitted["fusion"] == {"runtime": "onnxruntime", "ort_opt": "all"}
    assert fitted["overhead"]["fixed_ms"] == pytest.approx(FIXED, rel=1e-6)
    assert doc["checks"]["heldout_layers"]["all"]["median_abs_pct"] < 1.0     # the layout time was taken out
    assert fitted["layout"]["choice"] == "taken_out"                          # chosen on the synthetic networks
    assert fitted["layout"]["chosen_on"] == "networks"
    assert fitted["layout"]["per_elem_ms"] == pytest.approx(LAYOUT_PER_ELEM, rel=1e-3)
    assert fitted["layout"]["per_reorder_ms"] == pytest.approx(PER_REORDER, rel=1e-3)   # the profiler's cost out
    assert fitted["layout"]["profiler_ms_per_node"] == pytest.approx(PROFILER, rel=1e-3)
    assert fitted["layout"]["profiler_cost"].startswith("measured")
    assert all(abs(b["error_pct"]) < 2.0 for b in doc["checks"]["blocks"])    # blocks = Σ fused groups
    for name in ("mobilenet_v2", "shufflenet_v2_x1_0", "mobilenet_v3_small", "efficientnet_b0"):
        net = load(name)
        res = predict_net(net, fitted)
        assert res["total_ms"] == pytest.approx(truth_ort(net), rel=0.02), name
        assert res["total_ms"] == pytest.approx(res["fixed_ms"] + res["layout_ms"] + sum(r["predicted_ms"] for r in res["layers"]))
        gone = folded(net)
        assert res["fused_layers"] == len(gone) and res["layout_ms"] == pytest.approx(_layout(net), rel=1e-3)
        ops = {n.name: n.op for n in net.nodes}
        for r in res["layers"]:
            if r["layer"] in gone:           # folded: free, except an activation applied as a pass over the output
                assert "fused into" in r["note"] and (r["predicted_ms"] > 0) == (ops[r["layer"]] in OUTPUT_PASS)
    # the same network without fusion (a torch calibration of the same machine) costs more: bn/act/add are paid
    plain = dict(fitted, fusion=None)
    net = load("mobilenet_v2")
    assert predict_net(net, plain)["total_ms"] > predict_net(net, fitted)["total_ms"] * 1.05


def test_ort_round_trip_and_refit(tmp_path, ort_synthetic):
    from lwbench.predict.fitcal import refit

    _, doc = ort_synthetic
    back = calfile.load(_write(tmp_path, doc))
    net = load("shufflenet_v2_x1_0")
    assert predict_net(net, back["model"])["total_ms"] == predict_net(net, doc["model"])["total_ms"]
    again = refit(json.loads(json.dumps(doc)))
    assert again["model"]["fusion"] == doc["model"]["fusion"]
    assert predict_net(net, again["model"])["total_ms"] == pytest.approx(predict_net(net, doc["model"])["total_ms"])
    fp = back["fingerprint"]
    assert (fp["runtime"], fp["ort_opt"], fp["threads"], fp["runtime_versions"]["onnxruntime"]) == \
        ("onnxruntime", "all", 1, "1.32.0")


def test_fingerprint_refusal_across_runtimes(tmp_path, capsys, ort_synthetic):
    from lwbench.measure.machine import machine_info

    ort = _write(tmp_path, ort_synthetic[1])
    cases = [(["--runtime", "torch"], "calibrated with runtime=onnxruntime, asked for runtime=torch"),
             (["--threads", "2"], "calibrated with threads=1, asked for threads=2"),
             (["--ort-opt", "basic"], "calibrated with ort_opt=all, asked for ort_opt=basic"),
             (["--faults"], "not with --module or an onnxruntime calibration")]
    for extra, needle in cases:
        assert main(["predict", "mobilenet_v2", "-c", ort, *extra, "-f", "csv"]) == 2, extra
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and needle in err, (extra, err)
    # this machine, but another onnxruntime: --here refuses on the ORT version
    here = dict(ort_synthetic[1], fingerprint={**calfile.fingerprint(ORT_SETTINGS, machine_info()),
                                               "runtime_versions": {"onnxruntime": "0.0.1"}})
    assert main(["predict", "mobilenet_v2", "-c", _write(tmp_path, here, "here.json"), "--here", "-f", "csv"]) == 2
    assert "onnxruntime '0.0.1'" in capsys.readouterr().err
    torch_doc = dict(ort_synthetic[1], fingerprint=calfile.fingerprint(SETTINGS, MACHINE))
    torch_doc["model"] = {k: v for k, v in torch_doc["model"].items() if k != "fusion"}
    tpath = _write(tmp_path, torch_doc, "torch.json")
    assert main(["predict", "mobilenet_v2", "-c", tpath, "--runtime", "onnxruntime", "-f", "csv"]) == 2
    assert "calibrated with runtime=torch, asked for runtime=onnxruntime" in capsys.readouterr().err
    assert main(["predict", "mobilenet_v2", "-c", tpath, "--ort-opt", "all", "-f", "csv"]) == 2
    assert "an onnxruntime setting" in capsys.readouterr().err
    assert main(["predict", "mobilenet_v2", "-c", ort, "--runtime", "onnxruntime", "--ort-opt", "all", "-f", "csv"]) == 0
    assert "fused into" in capsys.readouterr().out


def test_validate_joins_ort_bench_rows(tmp_path, capsys, ort_synthetic):
    from lwbench.predict.validate import bench_rows

    cal = _write(tmp_path, ort_synthetic[1])
    truth = {n: truth_ort(load(n)) for n in ("mobilenet_v2", "shufflenet_v2_x1_0")}
    head = "model,device,mode,layout,threads,batch,dtype,runtime,options,median_ms,error\n"
    rows = [f"mobilenet_v2,cpu,eager,nchw,1,1,float32,onnxruntime,ort_opt=all,{truth['mobilenet_v2']},",
            f"shufflenet_v2_x1_0,cpu,eager,nchw,1,1,float32,onnxruntime,ort_opt=all,{truth['shufflenet_v2_x1_0']},",
            "mobilenet_v2,cpu,eager,nchw,1,1,float32,torch,,20.0,",
            "mobilenet_v2,cpu,eager,nchw,1,1,float32,onnxruntime,ort_opt=basic,9.0,"]
    path = tmp_path / "b.csv"
    path.write_text('# machine: {"onnxruntime": {"onnxruntime": "1.31.0"}}\n' + head + "\n".join(rows) + "\n")
    got, _, notes = bench_rows(str(path), ort_synthetic[1]["fingerprint"])
    assert [r["runtime"] for r in got] == ["onnxruntime", "onnxruntime"]
    assert any("runtime torch" in n for n in notes) and any("ort_opt basic" in n for n in notes)
    assert any("measured with onnxruntime 1.31.0, calibrated with 1.32.0" in n for n in notes)
    assert main(["predict", "-c", cal, "--validate", str(path), "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in doc["rows"]] == ["mobilenet_v2", "shufflenet_v2_x1_0"]
    assert doc["summary"]["model"]["worst_abs_pct"] < 2.0                      # the known answer


def test_tiny_real_ort_calibration(tmp_path):
    """A real onnxruntime measures the overhead chains and one layer probe in fresh workers (no timing asserted):
    the probes are exported, checked against torch, timed, the layout time profiled, the model fitted."""
    pytest.importorskip("onnxruntime")
    from lwbench.predict.calibrate import calibrate

    probes = [p for p in grid(0, runtime="onnxruntime") if p.group == "overhead"][:4]
    conv = next(p for p in grid(0, runtime="onnxruntime") if p.group == "pointwise")
    probes = probes + [conv]
    out = tmp_path / "c.json"
    doc = calibrate(str(out), runtime="onnxruntime", probes=probes,
                    timer={"min_time_s": 0.01, "warmup_s": 0.0, "min_runs": 5, "warmup_runs": 1})
    assert doc["cost"]["complete"] and doc["cost"]["measurements"] == len(probes), doc["cost"]
    rec = next(m for m in doc["measurements"] if m["id"] == conv.id)
    assert rec["timing"]["median_ms"] > 0 and rec["rel_err"] <= 1e-4 and rec["layout_ms"] >= 0
    assert rec["heap"] == "onnxruntime arena"
    back = calfile.load(str(out))
    assert back["fingerprint"]["runtime"] == "onnxruntime" and back["fingerprint"]["ort_opt"] == "all"
    assert back["fingerprint"]["runtime_versions"]["onnxruntime"]
    assert back["model"]["fusion"]["runtime"] == "onnxruntime"


def test_layout_chosen_on_the_synthetic_networks_when_the_blocks_mislead():
    """The machine pays its conversions at the region borders (truth_ort), but the small blocks read high (as a
    few noisy lone readings did on a real VM): on the blocks alone `kept_in` would look better and every
    ShuffleNet would lose its conversions. The synthetic networks are whole networks with many borders, so the
    choice follows them: `taken_out`, and the networks come out right."""
    probes = grid(0, runtime="onnxruntime")
    records = {}
    for p in probes:
        net = probe_net(p)
        ms = truth_ort(net) * (1.5 if p.group == "block" else 1.0)
        records[p.id] = {"timing": {"median_ms": ms}, "cpu_share": 1.0, "layout_ms": _layout(net)}
    fp = calfile.fingerprint(ORT_SETTINGS, ORT_MACHINE)
    lay = build_document(probes, records, ORT_SETTINGS, fp, ORT_MACHINE, 1.0, [])["model"]["layout"]
    assert lay["blocks_median_abs_pct"]["kept_in"] < lay["blocks_median_abs_pct"]["taken_out"]   # blocks mislead
    nets = lay["networks_heldout_mean_abs_pct"]
    assert nets["taken_out"] < 2.0 < nets["kept_in"]
    assert lay["choice"] == "taken_out" and lay["chosen_on"] == "networks"
    assert lay["per_elem_ms"] == pytest.approx(LAYOUT_PER_ELEM, rel=1e-3)


def test_layout_kept_in_only_when_the_networks_say_so_beyond_their_noise_and_the_blocks_agree():
    from lwbench.predict.fitcal import LAYOUT_TIE_PCT, layout_pick

    assert layout_pick({"taken_out": 12.45, "kept_in": 12.08}) == "taken_out"        # F's near tie
    assert layout_pick({"taken_out": 12.0 + LAYOUT_TIE_PCT + 0.01, "kept_in": 12.0}) == "kept_in"
    assert layout_pick({"taken_out": 25.2, "kept_in": 17.6}, {"taken_out": 22.0, "kept_in": 21.2}) == "kept_in"
    # F on the min: the networks prefer kept_in by 1.3 points, the blocks taken_out by 4.5: the evidence disagrees
    assert layout_pick({"taken_out": 11.93, "kept_in": 10.67}, {"taken_out": 8.07, "kept_in": 12.52}) == "taken_out"
    assert layout_pick({"taken_out": None, "kept_in": 3.0}) == "taken_out"


def test_layout_kept_in_when_the_networks_say_so():
    """A machine whose layers cost the same alone as in a network (no region borders to pay) while the profiler
    still shows conversions on lone convolutions: taking them out would under-predict every synthetic network
    and block, so the fit keeps them in (no layout term) and the blocks and networks come out right."""
    probes = [p for p in grid(0, runtime="onnxruntime") if p.group != "pointwise" or int(p.id, 16) % 3 == 0]

    def plain(net):
        gone = folded(net)
        rows = count(net).layers
        return FIXED + _passes(net, gone, rows) + sum(truth_layer(node_key(n)[0], r.madds, r.mac_elems)
                                                      for n, r in zip(net.nodes, rows)
                                                      if n.name not in gone and n.op not in ("identity", "dropout"))

    records = {}
    for p in probes:
        net = probe_net(p)
        ms = plain(net)
        records[p.id] = {"timing": {"median_ms": ms}, "cpu_share": 1.0, "layout_ms": 0.3 * ms if _layout(net) else 0.0}
    fp = calfile.fingerprint(ORT_SETTINGS, ORT_MACHINE)
    doc = build_document(probes, records, ORT_SETTINGS, fp, ORT_MACHINE, 1.0, [])
    lay = doc["model"]["layout"]
    assert lay["choice"] == "kept_in" and lay["per_elem_ms"] == 0.0 and lay["chosen_on"] == "networks"
    assert lay["networks_heldout_mean_abs_pct"]["kept_in"] < lay["networks_heldout_mean_abs_pct"]["taken_out"]
    assert lay["blocks_median_abs_pct"]["kept_in"] < lay["blocks_median_abs_pct"]["taken_out"]
    net = load("mobilenet_v2")
    assert predict_net(net, doc["model"])["total_ms"] == pytest.approx(plain(net), rel=0.03)


def test_refit_reads_the_nchwc_rule_only_on_the_machine_and_ort_it_was_made_with(ort_synthetic):
    """An ORT calibration made before the rule was stored: refitted elsewhere it keeps the old reading (every
    convolution blocked, no `nchwc` setting); refitted on its own machine and ORT version it gets the rule ORT
    gives here."""
    pytest.importorskip("onnxruntime")
    from lwbench.measure.machine import machine_info
    from lwbench.predict.calibrate import rules_for_refit
    from lwbench.predict.layout import detect_rules
    from lwbench.predict.orttime import versions

    _, doc = ort_synthetic
    old = {**doc, "settings": {k: v for k, v in doc["settings"].items() if k != "nchwc"}}
    assert "nchwc" not in rules_for_refit(old)["settings"]                     # another machine
    here = {**old, "fingerprint": {**old["fingerprint"], "cpu_model": machine_info().get("cpu_model"),
                                   "runtime_versions": {**old["fingerprint"]["runtime_versions"], **versions()}}}
    assert rules_for_refit(here)["settings"]["nchwc"] == detect_rules()
    with_rule = {**old, "settings": {**old["settings"], "nchwc": RULES_132}}
    assert rules_for_refit(with_rule) is with_rule                             # a stored rule is kept as it is


def test_profiler_cost_measured_on_the_chains_or_inferred():
    """ORT's profiler adds its own cost to every node it times: measured as the identity chains' profiled time
    per node less their plain per-node cost; without profiled chains (a calibration made before), inferred as the
    profiled conversions' fixed cost less a tiny node's. Either way it leaves the conversions' fixed cost."""
    from lwbench.predict.fitcal import profiler_cost

    cost, over = {"per_reorder_ms": 0.0024, "per_elem_ms": 1e-7, "n": 10}, {"per_layer_ms": 0.0004}
    got = profiler_cost(cost, over, [], {})
    assert got["profiler_ms_per_node"] == pytest.approx(0.002) and got["per_reorder_ms"] == pytest.approx(0.0004)
    assert got["profiled_per_reorder_ms"] == 0.0024 and got["profiler_cost"].startswith("inferred")
    chains = [p for p in grid(0, runtime="onnxruntime") if p.group == "overhead"]
    recs = {p.id: {"profiled": {"kernels_ms": len(p.nodes) * (0.0004 + 0.0015), "nodes": len(p.nodes)}}
            for p in chains}
    got = profiler_cost(cost, over, chains, recs)
    assert got["profiler_ms_per_node"] == pytest.approx(0.0015) and got["per_reorder_ms"] == pytest.approx(0.0009)
    assert got["profiler_cost"].startswith("measured")
    assert profiler_cost({"per_reorder_ms": 0.0, "per_elem_ms": 0.0, "n": 0}, over, [], {})["profiler_ms_per_node"] == 0
