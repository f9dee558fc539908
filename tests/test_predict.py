"""lwbench calibrate / predict (issue 16): the fit and the prediction on synthetic calibrations with a known
answer, additivity and the overhead terms, the fingerprint refusal, the calibration file round trip, bad
calibration files, resuming a partial calibration. No timing is asserted."""

from __future__ import annotations

import json
import math
import time

import pytest

from lwbench.cli import main
from lwbench.count import count
from lwbench.errors import InputError
from lwbench.predict import calfile, model
from lwbench.predict.calibrate import read_partial
from lwbench.predict.design import GROUPS, probe_net
from lwbench.predict.features import node_key
from lwbench.predict.fitcal import build_document
from lwbench.predict.grid import grid
from lwbench.predict.predict import predict_net
from lwbench.predict.validate import band_tau, madds_fit, parse_model, scores, validate_rows
from lwbench.spec import load
from lwbench.verify import zoo

FIXED, PER_LAYER = 0.004, 0.0015           # ms: one forward call; one module call (the identity)
PER_FAULT = 0.0025                          # ms per page fault
PEAK = {"conv2d": 5e7, "linear": 2e7}       # synthetic machine: madds per ms
BW = {"conv2d": 4e6, "batchnorm": 1e6, "relu": 2e6, "maxpool": 5e5}   # mac elements per ms (others 1.5e6)


def truth_layer(key: str, madds: int, mac: int) -> float:
    """The synthetic machine's time for one layer (ms): a per-op roofline with a per-layer overhead."""
    if key == "free":
        return PER_LAYER
    op = key.split(":")[0]
    return PER_LAYER + 0.002 + madds / PEAK.get(op, 1e7) + mac / BW.get(op, 1.5e6)


def truth_net(net) -> float:
    rows = count(net).layers
    return FIXED + sum(truth_layer(node_key(n)[0], r.madds, r.mac_elems) for n, r in zip(net.nodes, rows))


SETTINGS = {"device": "cpu", "threads": 1, "runtime": "torch", "dtype": "float32", "batch": 1, "target": "local",
            "seed": 0, "timer": {}}
MACHINE = {"cpu_model": "Synthetic CPU", "arch": "x86_64", "cores_logical": 2, "torch": {"version": "2.13.0+cpu"}}


@pytest.fixture(scope="module")
def synthetic():
    """A calibration of the synthetic machine: every probe's 'median' is its exact synthetic latency."""
    probes = grid(0)
    records = {p.id: {"timing": {"median_ms": truth_net(probe_net(p))}, "cpu_share": 1.0} for p in probes}
    for p in probes:   # the fault probes: their whole output faults, PER_FAULT ms a page
        if p.group == "fault":
            pages = math.prod(p.input) * 4 // 4096
            records[p.id]["timing"]["median_ms"] += pages * PER_FAULT
            records[p.id]["faults_per_call"] = pages
        elif p.group == "fault-base":
            records[p.id]["faults_per_call"] = 0.0
    fp = calfile.fingerprint(SETTINGS, MACHINE)
    return probes, build_document(probes, records, SETTINGS, fp, MACHINE, 1.0, [])


def test_grid_is_bounded_designed_and_covers_the_zoo_kinds():
    probes = grid(0)
    assert 1000 <= len(probes) <= 1500
    assert [p.id for p in grid(0)] == [p.id for p in probes]          # the same seed, the same grid
    networks = ("overhead", "chain", "speed", "speed-end")
    assert all(len(p.nodes) <= 12 for p in probes if p.group not in networks)  # layers, small blocks
    nets = [p for p in probes if p.group == "chain"]                  # synthetic networks: none of the zoo
    assert len(nets) == 36 and all(40 <= len(p.nodes) <= 260 for p in nets)
    speed = [p for p in probes if p.group in ("speed", "speed-end")]  # the speed reference: one network, twice
    assert len(speed) == 2 and speed[0].nodes == speed[1].nodes and len(speed[0].nodes) == 103
    assert GROUPS[0] == "speed" and GROUPS[-1] == "speed-end"         # measured first and last
    nets = nets + speed[:1]
    zoo_seqs = {tuple((n.op, n.in_shapes[0]) for n in load(name).nodes) for name in zoo()[0]}
    assert not any(tuple((n.op, n.in_shapes[0]) for n in probe_net(p).nodes) in zoo_seqs for p in nets)
    keys = {node_key(n)[0] for p in probes for n in probe_net(p).nodes}
    zoo_keys = {node_key(n)[0] for name in ("mobilenet_v2", "shufflenet_v2_x1_0", "shufflenet_v1_g8_x1_0",
                                            "mobilenet_v3_large", "efficientnet_b0", "squeezenet1_1", "xception",
                                            "resnext50_32x4d", "mnasnet1_0") for n in load(name).nodes}
    assert zoo_keys <= keys


def test_overhead_fit_recovers_fixed_and_per_layer_cost():
    fit = model.fit_overhead([(n, FIXED + n * PER_LAYER) for n in (1, 2, 4, 8, 16, 32)])
    assert fit["fixed_ms"] == pytest.approx(FIXED, rel=1e-9)
    assert fit["per_layer_ms"] == pytest.approx(PER_LAYER, rel=1e-9)


def test_fit_on_synthetic_calibration_recovers_known_layer_times(synthetic):
    _, doc = synthetic
    fitted = doc["model"]
    assert fitted["overhead"]["fixed_ms"] == pytest.approx(FIXED, rel=1e-6)
    held = doc["checks"]["heldout_layers"]["all"]
    assert held["median_abs_pct"] < 1.0 and held["within_5_pct"] > 95     # a roofline machine is learnt
    # a conv kind chose the roofline (the synthetic truth) on held-out error: alone, or with a correction of ~0
    pw = fitted["kinds"]["conv2d:k1x1:s1x1:dense"]
    assert pw["method"] in ("roofline", "roofline+loess")
    assert pw["heldout"]["roofline"]["median_abs_pct"] < 1.0 and pw["heldout"]["loess"]["median_abs_pct"] > 1.0
    if pw["method"] == "roofline+loess":
        assert max(abs(p[-1]) for p in pw["points"]) < 0.02          # log(t / roofline) at every probe
    assert all(abs(b["error_pct"]) < 2.0 for b in doc["checks"]["blocks"])  # blocks are the sum of their layers


@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1", "mobilenet_v3_small"])
def test_prediction_is_fixed_plus_sum_of_layers(synthetic, name):
    _, doc = synthetic
    net = load(name)
    res = predict_net(net, doc["model"])
    assert res["fixed_ms"] == pytest.approx(FIXED, rel=1e-6)
    assert res["total_ms"] == pytest.approx(res["fixed_ms"] + sum(r["predicted_ms"] for r in res["layers"]))
    assert res["total_ms"] == pytest.approx(truth_net(net), rel=0.02)
    assert len(res["layers"]) == len(net.nodes) and res["madds"] == count(net).totals["madds"]
    free = [r for r in res["layers"] if r["model_key"] == "free"]        # flatten/dropout: one module call
    assert all(r["predicted_ms"] == pytest.approx(PER_LAYER, rel=1e-6) for r in free)


def test_page_fault_cost_is_fitted_and_added(synthetic):
    from lwbench.predict.predict import add_faults

    _, doc = synthetic
    assert doc["model"]["faults"]["ms_per_fault"] == pytest.approx(PER_FAULT, rel=1e-6)
    assert doc["model"]["faults"]["pairs"] == 16
    res = add_faults(predict_net(load("mobilenet_v3_small"), doc["model"]), 1000.0, doc["model"])
    assert res["fault_ms"] == pytest.approx(1000 * PER_FAULT)
    assert res["total_with_faults_ms"] == pytest.approx(res["total_ms"] + 1000 * PER_FAULT)
    with pytest.raises(InputError, match="no page-fault cost"):
        add_faults({"total_ms": 1.0}, 10.0, {"faults": {"ms_per_fault": None}})


def test_width_and_resolution_scale_the_prediction(synthetic):
    _, doc = synthetic
    small = predict_net(load("mobilenet_v1", 0.5, 160), doc["model"])["total_ms"]
    big = predict_net(load("mobilenet_v1"), doc["model"])["total_ms"]
    assert small < big
    assert small == pytest.approx(truth_net(load("mobilenet_v1", 0.5, 160)), rel=0.02)


def _write(tmp_path, doc, name="cal.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def test_calibration_file_round_trip(tmp_path, synthetic):
    _, doc = synthetic
    back = calfile.load(_write(tmp_path, doc))
    assert back == json.loads(json.dumps(doc))
    net = load("mobilenet_v2")
    assert predict_net(net, back["model"])["total_ms"] == predict_net(net, doc["model"])["total_ms"]


def test_fingerprint_refusal_is_one_line(tmp_path, capsys, synthetic):
    path = _write(tmp_path, synthetic[1])
    assert main(["predict", "mobilenet_v2", "-c", path, "--threads", "2", "-f", "csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "calibrated with threads=1, asked for threads=2" in err
    assert main(["predict", "mobilenet_v2", "-c", path, "--here", "-f", "csv"]) == 2   # made on "Synthetic CPU"
    assert "made on another machine" in capsys.readouterr().err
    assert main(["predict", "mobilenet_v2", "-c", path, "--batch", "4", "-f", "csv"]) == 2
    assert "batch=1, asked for batch=4" in capsys.readouterr().err
    assert main(["predict", "mobilenet_v2", "-c", path, "--threads", "1", "-f", "csv"]) == 0
    out = capsys.readouterr().out
    assert "predicted_ms" in out and "stem.conv" in out


def test_a_cpu_of_the_same_model_string_with_other_vector_features_is_another_machine(tmp_path, capsys, synthetic):
    """Two VMs both called "AMD EPYC", one AVX2 only, one AVX-512 with VNNI: the fingerprint's vector features
    tell them apart; a calibration made before they were recorded is judged without them."""
    from lwbench.measure.machine import isa_flags, machine_info

    here = machine_info()
    assert isa_flags("flags\t: fpu avx avx2 fma avx512f foo\n") == ["avx", "avx2", "avx512f", "fma"]
    assert isa_flags("Features\t: fp asimd asimddp crc32\n") == ["asimd", "asimddp"] and isa_flags("x: y") is None
    fp = calfile.fingerprint({"device": "cpu", "threads": 1, "runtime": "torch"}, here)
    assert fp["cpu_isa"] == here["cpu_isa"] and calfile.machine_mismatch(fp, here) is None
    other = {**fp, "cpu_isa": sorted(set(fp["cpu_isa"] or []) ^ {"avx512f", "sve"})}
    why = calfile.machine_mismatch(other, here)
    assert why.startswith("cpu_isa differs") and ("avx512f" in why or "sve" in why)
    assert calfile.machine_mismatch({**fp, "cpu_isa": None}, here) is None          # a calibration from before
    doc = {**synthetic[1], "fingerprint": {**synthetic[1]["fingerprint"], **{k: fp[k] for k in (
        "cpu_model", "arch", "cores_logical", "torch")}, "cpu_isa": other["cpu_isa"]}}
    assert main(["predict", "mobilenet_v2", "-c", _write(tmp_path, doc), "--here", "-f", "csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cpu_isa differs" in err


def _bad(doc):
    cases = {"other version": dict(doc, version=2),
             "wrong type": dict(doc, model={**doc["model"], "overhead": {"fixed_ms": "fast", "per_layer_ms": 0.1}}),
             "bad method": dict(doc, model={**doc["model"], "kinds": {"relu": {"method": "magic"}}}),
             "bad points": dict(doc, model={**doc["model"], "kinds": {"relu": {"method": "loess", "points": "x"}}}),
             "hybrid without points": dict(doc, model={**doc["model"], "kinds": {
                 "relu": {"method": "roofline+loess", "coef": [0.0, 1e-9, 0.0]}}}),
             "threads text": dict(doc, fingerprint={**doc["fingerprint"], "threads": "one"}),
             "not a calibration": [1, 2]}
    return cases


@pytest.mark.parametrize("case,needle", [("truncated", "not valid JSON"), ("other version", "version: expected 1"),
                                         ("wrong type", "model.overhead.fixed_ms: expected a number"),
                                         ("bad method", "model.kinds.relu.method"),
                                         ("bad points", "model.kinds.relu.points"),
                                         ("hybrid without points", "model.kinds.relu.points"),
                                         ("threads text", "fingerprint.threads"),
                                         ("not a calibration", "expected a JSON object")])
def test_bad_calibration_files_are_one_line_exit_2(tmp_path, capsys, synthetic, case, needle):
    doc = synthetic[1]
    if case == "truncated":
        path = tmp_path / "cal.json"
        text = json.dumps(doc)
        path.write_text(text[: len(text) // 2], encoding="utf-8")
        path = str(path)
    else:
        path = _write(tmp_path, _bad(doc)[case])
    assert main(["predict", "mobilenet_v2", "-c", path]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and needle in err and path in err and "Traceback" not in err


def test_missing_calibration_and_refused_runtime(tmp_path, capsys):
    assert main(["predict", "mobilenet_v2", "-c", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["calibrate", "-o", str(tmp_path / "c.json"), "--runtime", "tflite"]) == 2
    assert "expected torch or onnxruntime" in capsys.readouterr().err
    assert main(["calibrate", "-o", str(tmp_path / "c.json"), "--ort-opt", "basic"]) == 2      # torch: no ORT level
    assert "an onnxruntime setting" in capsys.readouterr().err
    assert main(["calibrate", "-o", str(tmp_path / "c.json"), "--runtime", "onnxruntime", "--ort-opt", "max"]) == 2
    assert "--ort-opt: expected one of" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists() and not (tmp_path / "c.json.partial").exists()


def test_partial_file_resume_rules(tmp_path):
    head = {"format": "lwbench-calibration-partial", "settings": {"threads": 1}, "fingerprint": {}}
    path = tmp_path / "c.json.partial"
    lines = [json.dumps(head), json.dumps({"id": "a", "timing": {"median_ms": 1.0}, "cpu_share": 0.5}),
             json.dumps({"id": "a", "timing": {"median_ms": 0.8}, "cpu_share": 0.99}),
             json.dumps({"id": "b", "error": "boom"}), '{"id": "c", "timi']
    path.write_text("\n".join(lines), encoding="utf-8")
    done = read_partial(path, head)
    assert set(done) == {"a"} and done["a"]["timing"]["median_ms"] == 0.8   # the better record; cut line dropped
    with pytest.raises(InputError, match="other settings"):
        read_partial(path, {**head, "settings": {"threads": 2}})


def test_calibrate_resumes_and_measures_only_what_is_missing(tmp_path):
    """A real (tiny) calibration: the partial file already holds the overhead chains (synthetic records), so
    only the one missing probe is measured, by a real worker, and the fit uses both."""
    from lwbench.measure.machine import machine_info
    from lwbench.predict import calibrate as cal

    probes = [p for p in grid(0) if p.group == "overhead"]
    relu = next(p for p in grid(0) if p.label.startswith("relu (8, 8, 8)") or
                (p.group == "norm-act" and p.nodes[0][0] == "relu"))
    out = tmp_path / "c.json"
    settings = {"device": "cpu", "threads": 1, "runtime": "torch", "dtype": "float32", "batch": 1, "target": "local",
                "seed": 0, "timer": {**cal.TIMER, "min_time_s": 0.02, "warmup_s": 0.01},
                "timer_networks": {**cal.TIMER_NETWORKS, "min_time_s": 0.02, "warmup_s": 0.01}}
    head = cal._header(settings, calfile.fingerprint(settings, machine_info()))
    recs = [{"id": p.id, "timing": {"median_ms": FIXED + len(p.nodes) * PER_LAYER}, "cpu_share": 1.0} for p in probes]
    (tmp_path / "c.json.partial").write_text("\n".join(json.dumps(x) for x in [head, *recs]) + "\n")
    doc = cal.calibrate(str(out), probes=probes + [relu], timer={"min_time_s": 0.02, "warmup_s": 0.01})
    assert doc["cost"]["complete"] and doc["cost"]["measurements"] == len(probes) + 1
    assert doc["model"]["overhead"]["fixed_ms"] == pytest.approx(FIXED, rel=1e-6)   # the resumed records
    measured = next(m for m in doc["measurements"] if m["id"] == relu.id)
    assert measured["timing"]["median_ms"] > 0 and len(measured["deciles_ms"]) == 11
    assert measured["heap"].startswith(("kept", "unchanged"))      # the worker keeps the heap as bench's does
    assert not (tmp_path / "c.json.partial").exists() and calfile.load(str(out))["version"] == 1


def test_synthetic_networks_are_timed_over_a_window_like_benchs(tmp_path):
    """A real calibration of the overhead chains and the smallest synthetic network: the network gets at least the
    network timer's 50 calls (bench-like), the layer-sized probes the probe timer's 15 (no timing asserted)."""
    from lwbench.count import count
    from lwbench.predict import calibrate as cal

    chain = min((p for p in grid(0) if p.group == "chain"), key=lambda p: count(probe_net(p)).totals["madds"])
    probes = [p for p in grid(0) if p.group == "overhead"][:3] + [chain]
    timer = {"min_time_s": 0.01, "warmup_s": 0.0}
    settings = cal._settings("cpu", 1, "torch", None, 1, "float32", 0, timer, "all")
    assert settings["timer_networks"] == {**cal.TIMER_NETWORKS, **timer}
    partial = tmp_path / "c.json.partial"
    cal.measure({"probes": [p.to_dict() for p in probes], "settings": settings, "partial": str(partial)})
    n = {r["id"]: r["timing"]["n"] for r in map(json.loads, partial.read_text().splitlines())}
    assert n[chain.id] >= cal.TIMER_NETWORKS["min_runs"] == 50
    assert all(n[p.id] >= cal.TIMER["min_runs"] for p in probes)
    # each layer of the synthetic network is timed inside it too (forward hooks), by the IR's layer names
    recs = {r["id"]: r for r in map(json.loads, partial.read_text().splitlines())}
    inside = recs[chain.id]["in_network"]
    assert set(inside["layers"]) == {r.layer for r in count(probe_net(chain)).layers}
    assert all(0 < lo <= med for med, lo in inside["layers"].values())
    assert inside["timer"]["min_runs"] == 20 and "in_network" not in recs[probes[0].id]


def test_every_synthetic_network_gets_a_fresh_worker_as_bench_gives_every_network(tmp_path):
    """Real workers: the overhead probes share one process, each synthetic network has its own."""
    from lwbench.measure.machine import machine_info
    from lwbench.predict import calibrate as cal

    chains = sorted((p for p in grid(0) if p.group == "chain"), key=lambda p: count(probe_net(p)).totals["madds"])[:2]
    probes = [p for p in grid(0) if p.group == "overhead"][:3] + chains
    settings = cal._settings("cpu", 1, "torch", None, 1, "float32", 0,
                             {"min_time_s": 0.01, "warmup_s": 0.0, "min_runs": 3}, "all")
    head = cal._header(settings, calfile.fingerprint(settings, machine_info()))
    partial = tmp_path / "c.json.partial"
    partial.write_text(json.dumps(head) + "\n")
    done, problems = cal._measure_groups(probes, settings, partial, head, time.time() + 300, None)
    assert not problems and set(done) == {p.id for p in probes}
    workers = {p.id: done[p.id]["worker"] for p in probes}
    assert len({workers[p.id] for p in probes[:3]}) == 1
    assert len({workers[p.id] for p in chains} | {workers[probes[0].id]}) == 3


def _kind_samples(truth, n: int = 120, seed: int = 3) -> list[dict]:
    """Pointwise-like probes (cin, cout, hw) with t = truth(madds, mac, cin)."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        cin, cout, hw = (int(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for lo, hi in ((8, 512), (8, 512),
                                                                                             (16, 4096)))
        madds, mac = cin * cout * hw, (cin + cout) * hw + cin * cout
        out.append({"key": "k", "x": [math.log(cin), math.log(cout), math.log(hw)], "madds": madds, "mac_elems": mac,
                    "t_ms": truth(madds, mac, cin)})
    return out


def test_roofline_with_a_local_correction_learns_a_step_in_efficiency_and_extrapolates_by_size():
    """A kind whose kernel runs at half its efficiency below 64 input channels: a roofline misses the step, a
    loess is read at the edge of its range past the grid; the roofline with a local correction holds out best, and
    a layer 4x larger than any probe is predicted 4x as long (the roofline carries the size)."""
    def truth(madds, mac, cin):
        return 0.002 + madds / 4e7 * (2.0 if cin < 64 else 1.0) + mac / 2e8

    m = model.fit_kind(_kind_samples(truth))
    assert m["method"] == "roofline+loess"
    held = {k: v["median_abs_pct"] for k, v in m["heldout"].items()}
    assert held["roofline+loess"] < held["roofline"] and held["roofline+loess"] < held["loess"]
    fitted = {"overhead": {"fixed_ms": 0.0, "per_layer_ms": 0.0}, "kinds": {"k": m}, "fallback": {}}
    cin, cout, hw = 512, 512, 4 * 4096
    madds, mac = cin * cout * hw, (cin + cout) * hw + cin * cout
    ms, note = model.predict_layer(fitted, "k", [math.log(cin), math.log(cout), math.log(hw)], madds, mac)
    assert note == "outside the calibrated range" and ms == pytest.approx(truth(madds, mac, cin), rel=0.1)


def test_a_correction_of_a_roofline_that_does_not_hold_is_not_fitted():
    """t steps by 10x at 64 channels and by 5x at 1,000 pixels: no roofline explains it (its held-out median is
    far past 20%), so the roofline+loess candidate is skipped with the reason."""
    m = model.fit_kind(_kind_samples(lambda madds, mac, cin: (10.0 if cin < 64 else 1.0) * (1e-3 + madds / 1e10)
                                     * (5.0 if mac > 2e5 else 1.0)))
    assert m["heldout"]["roofline"]["median_abs_pct"] > model.HYBRID_BASE_MAX_PCT
    assert "skipped" in m["heldout"]["roofline+loess"] and m["method"] != "roofline+loess"


def test_validation_figures_on_known_numbers():
    assert parse_model("mobilenet_v2[width=0.75,resolution=160]") == ("mobilenet_v2", 0.75, 160)
    assert parse_model("xception") == ("xception", None, None)
    a, b = madds_fit([1e8, 2e8, 4e8], [3.0, 5.0, 9.0])                   # t = 1 + 2e-8·madds exactly
    assert a == pytest.approx(1.0) and b == pytest.approx(2e-8)
    # pairs within 15% madds: (0,1) concordant, (2,3) discordant; (1,2) is 20% apart: not a pair
    t = band_tau([100, 110, 132, 140], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 4.0, 3.0])
    assert t == {"pairs": 2, "tau": 0.0, "concordant": 1, "discordant": 1}
    s = scores([10.0, 10.0, 10.0, 10.0], [10.4, 10.8, 11.2, 7.0], [1, 2, 3, 4])
    assert (s["within_5_pct"], s["within_10_pct"], s["within_15_pct"]) == (25.0, 50.0, 75.0)
    assert s["median_abs_pct"] == pytest.approx(10.0) and s["worst_abs_pct"] == pytest.approx(30.0)
    assert s["rmspe_pct"] == pytest.approx(100 * math.sqrt((0.04**2 + 0.08**2 + 0.12**2 + 0.3**2) / 4))


def test_validate_rows_joins_and_scores_beside_madds_fit(synthetic):
    _, doc = synthetic
    names = ["mobilenet_v2", "shufflenet_v2_x1_0", "mobilenet_v1[width=0.5,resolution=160]", "squeezenet1_1"]
    rows = []
    for n in names:
        base, w, r = parse_model(n)
        rows.append({"model": n, "median_ms": truth_net(load(base, w, r)), "batch": 1})

    def pred(name, w, r, batch):
        return predict_net(load(name, w, r), doc["model"], batch)

    joined, summary = validate_rows(rows, pred)
    assert [j["model"] for j in joined] == names
    assert summary["model"]["within_5_pct"] == 100.0 and summary["model"]["worst_abs_pct"] < 2
    assert summary["madds_fit"]["n"] == 4 and "a_ms" in summary["madds_fit"]


def test_context_scale_is_fitted_on_blocks_and_kept_only_when_it_helps():
    from lwbench.predict.fitcal import context_scale

    blocks = [{"label": str(i), "measured_ms": 0.01 + 1.3 * ms + 0.002 * f, "faults": f, "layers_ms": ms,
               "fixed_ms": 0.01} for i, (ms, f) in enumerate([(0.1, 0), (0.5, 10), (1.0, 0), (2.0, 100), (0.3, 0),
                                                               (0.7, 0)])]
    got = context_scale(blocks, 0.002)
    assert got["scale"] == pytest.approx(1.3) and got["heldout_blocks_scaled"]["worst_abs_pct"] < 1e-6
    exact = [dict(b, measured_ms=0.01 + b["layers_ms"] + 0.002 * b["faults"]) for b in blocks]
    assert context_scale(exact, 0.002)["scale"] == 1.0             # no gain on held-out blocks: not applied
    assert context_scale(blocks[:3], 0.002)["scale"] == 1.0        # too few blocks


def test_refit_from_raw_measurements_gives_the_same_model(synthetic):
    from lwbench.predict.fitcal import refit

    _, doc = synthetic
    again = refit(json.loads(json.dumps(doc)))
    assert again["model"]["overhead"] == doc["model"]["overhead"]
    net = load("mobilenet_v2")
    assert predict_net(net, again["model"])["total_ms"] == pytest.approx(predict_net(net, doc["model"])["total_ms"])
    assert again["cost"]["refitted"] is True


def test_predict_reads_yaml_files_and_json_export(tmp_path, capsys, synthetic):
    from tests.conftest import tiny_net_file

    cal = _write(tmp_path, synthetic[1])
    path = tiny_net_file(tmp_path, "tiny_predict")
    assert main(["predict", path, "-c", cal, "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    net = load(path)
    assert [r["layer"] for r in doc["rows"]] == [n.name for n in net.nodes]
    assert doc["totals"][0]["predicted_ms"] == pytest.approx(predict_net(net, synthetic[1]["model"])["total_ms"])
    assert doc["calibration"]["threads"] == 1


def test_validate_leaves_out_rows_of_other_settings(tmp_path, capsys, synthetic):
    from lwbench.predict.validate import bench_rows

    cal = _write(tmp_path, synthetic[1])
    head = "model,device,mode,layout,threads,batch,dtype,runtime,median_ms,error\n"
    rows = ["mobilenet_v2,cpu,eager,nchw,1,1,float32,torch,20.0,", "mobilenet_v2,cpu,eager,nchw,2,1,float32,torch,12.0,",
            "mobilenet_v2,cpu,eager,nchw,1,8,float32,torch,90.0,", "mobilenet_v2,cpu,script,nchw,1,1,float32,torch,18.0,",
            "shufflenet_v2_x1_0,cpu,eager,nchw,1,1,float32,torch,,worker timed out"]
    path = tmp_path / "b.csv"
    path.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    got, _, notes = bench_rows(str(path), synthetic[1]["fingerprint"])
    assert [r["median_ms"] for r in got] == [20.0]
    assert any("threads 2" in n for n in notes) and any("batch 8" in n for n in notes)
    assert any("mode script" in n for n in notes) and any("failed" in n for n in notes)
    assert main(["predict", "-c", cal, "--validate", str(path), "-f", "csv"]) == 0
    out = capsys.readouterr()
    assert "mobilenet_v2" in out.out and "left out" in out.err


def test_fault_counts_are_cached_per_heap_mode(monkeypatch):
    """`--faults` counts in a heap-kept process (as bench's worker runs since #18); a count made with glibc's
    defaults (LWBENCH_HEAP=trim) is another cache entry, never reused for the kept heap."""
    from lwbench.predict.faults import _cache_key

    monkeypatch.delenv("LWBENCH_HEAP", raising=False)
    kept = _cache_key("mobilenet_v2", None, None, 1, 1)
    monkeypatch.setenv("LWBENCH_HEAP", "trim")
    assert _cache_key("mobilenet_v2", None, None, 1, 1) != kept and kept.endswith("heap-keep")
