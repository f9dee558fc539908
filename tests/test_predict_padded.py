"""ONNX Runtime's padded NCHWc blocks and the conversions' share of a lone probe (issue 16). Known answers, no timing.

MLAS computes a blocked convolution over its channels padded up to the block (16 on AVX-512, 8 on AVX2) and runs a
dense one of fewer input channels than the block with another kernel (NCHW input): node_key sees a blocked layer
so in calibrations fitted since (their stored rule says `padded`), and work_scale gives the roofline the
multiply-adds MLAS does. A lone probe's conversions are taken out as their share of its profiled kernels.
"""

from __future__ import annotations

from math import log

import pytest

from lwbench.count import count
from lwbench.predict import calfile
from lwbench.predict.design import Probe, probe_net
from lwbench.predict.features import node_key, work_scale
from lwbench.predict.fitcal import build_document
from lwbench.predict.fusion import folded
from lwbench.predict.grid import grid
from lwbench.predict.predict import predict_net
from lwbench.predict.probetime import probe_ms
from lwbench.spec import load
from tests.test_predict import truth_layer
from tests.test_predict_ort import FIXED, ORT_MACHINE, ORT_SETTINGS, _passes

RULES = {"block": 16, "channels": 4, "group": 16}       # ORT 1.32 on an AVX-512 CPU (machine G)
PADDED = {**RULES, "padded": True}
NCHWIN_PEAK = 1.5e7                                     # madds per ms of the NCHW-input kernel (the blocked: 5e7)


def _conv(cin: int, cout: int, hw: int = 14, k: int = 1, g: int = 1):
    p = Probe(group="t", input=(cin, hw, hw), nodes=(("conv2d", {"out": cout, "kernel": k, "padding": k // 2,
                                                                 "groups": g}, ("x",)),))
    return probe_net(p).nodes[0]


def test_node_key_pads_blocked_channels_by_hand():
    hw = log(14 * 14)
    dw = _conv(20, 20, k=3, g=20)                   # 20 % 4 == 0: blocked, computed as 32 channels
    assert node_key(dw, PADDED) == ("conv2d:k3x3:s1x1:depthwise", [log(32), hw])
    assert node_key(dw, RULES) == ("conv2d:k3x3:s1x1:depthwise", [log(20), hw])   # a calibration fitted before
    assert node_key(_conv(24, 40), PADDED) == ("conv2d:k1x1:s1x1:dense", [log(32), log(48), hw])
    assert node_key(_conv(64, 64), PADDED) == ("conv2d:k1x1:s1x1:dense", [log(64), log(64), hw])
    assert node_key(_conv(8, 20), PADDED) == ("conv2d:k1x1:s1x1:dense:nchwin", [log(8), log(32), hw])
    assert node_key(_conv(3, 16, 56, 3), PADDED)[0] == "conv2d:k3x3:s1x1:dense:nchwin"      # a stem
    assert node_key(_conv(18, 18, k=3, g=18), PADDED) == ("conv2d:k3x3:s1x1:depthwise:nchw", [log(18), hw])
    grouped = _conv(64, 64, g=4)                    # 16 per group: blocked, nothing to pad
    assert node_key(grouped, PADDED) == node_key(grouped, RULES)
    assert work_scale(dw, PADDED) == pytest.approx(32 / 20) and work_scale(dw, RULES) == 1.0
    assert work_scale(_conv(24, 40), PADDED) == pytest.approx(32 / 24 * 48 / 40)
    assert work_scale(_conv(8, 20), PADDED) == pytest.approx(32 / 20)      # the input is read as it is
    assert work_scale(_conv(18, 18, k=3, g=18), PADDED) == 1.0 and work_scale(grouped, PADDED) == 1.0
    assert work_scale(dw, None) == 1.0


def _truth_layer(n, r) -> float:
    key, _ = node_key(n, PADDED)
    if key.endswith(":nchwin"):
        return truth_layer("conv2d", 0, r.mac_elems) + r.madds / NCHWIN_PEAK
    return truth_layer(key, r.madds * work_scale(n, PADDED), r.mac_elems)


def truth_padded(net) -> float:
    """A synthetic ORT machine that pads as MLAS does: fixed + Σ unfused layers (a blocked convolution costs its
    padded multiply-adds; one of fewer input channels than the block its own slower kernel), a fused hardswish
    and the like a pass over the output (test_predict_ort). No conversion cost."""
    gone, rows = folded(net, "all", RULES), count(net).layers
    return FIXED + _passes(net, gone, rows) + sum(_truth_layer(n, r) for n, r in zip(net.nodes, rows)
                                                  if n.name not in gone and n.op not in ("identity", "dropout"))


@pytest.fixture(scope="module")
def padded_cal():
    probes = grid(0, runtime="onnxruntime")
    records = {p.id: {"timing": {"median_ms": truth_padded(probe_net(p))}, "cpu_share": 1.0, "layout_ms": 0.0}
               for p in probes}
    settings = {**ORT_SETTINGS, "nchwc": RULES}
    fp = calfile.fingerprint(settings, ORT_MACHINE, {"torch": "2.13.0+cpu", "onnxruntime": "1.32.0"})
    return build_document(probes, records, settings, fp, ORT_MACHINE, 1.0, [])


def test_a_padded_machine_is_learnt_from_the_grid(padded_cal):
    fitted = padded_cal["model"]
    assert fitted["layout"]["rules"] == PADDED
    assert "conv2d:k1x1:s1x1:dense:nchwin" in fitted["kinds"]           # the grid measures the NCHW-input kernel
    for cin, cout in ((40, 72), (24, 88), (20, 20), (8, 40)):        # single layers at padded channel counts
        p = Probe(group="t", input=(cin, 28, 28), nodes=(("conv2d", {"out": cout, "kernel": 1}, ("x",)),))
        net = probe_net(p)
        assert predict_net(net, fitted)["total_ms"] == pytest.approx(truth_padded(net), rel=0.06), (cin, cout)
    for name in ("mobilenet_v3_small", "mnasnet0_5", "mobilenet_v2"):  # never fitted on a zoo network
        net = load(name)
        assert predict_net(net, fitted)["total_ms"] == pytest.approx(truth_padded(net), rel=0.04), name


def test_an_unpadded_fit_misreads_the_padded_machine(padded_cal, monkeypatch):
    """The same measurements fitted with the real channel counts and no NCHW-input kind (as before): layers
    between block multiples are read between their neighbours, the NCHW-input kernel among the blocked one."""
    import lwbench.predict.features as features
    import lwbench.predict.fitcal as fitcal
    import lwbench.predict.predict as predict

    layers = [(cin, cout, hw) for cin, cout, hw in ((16, 16, 56), (40, 72, 28), (20, 20, 28), (8, 40, 28), (96, 576, 7))]
    nets = [probe_net(Probe(group="t", input=(cin, hw, hw), nodes=(("conv2d", {"out": cout, "kernel": 1}, ("x",)),)))
            for cin, cout, hw in layers]
    new = [predict_net(n, padded_cal["model"])["total_ms"] / truth_padded(n) - 1 for n in nets]
    monkeypatch.setattr(features, "_padded", lambda key, x, node, block: (key, x))
    for mod in (fitcal, predict):
        monkeypatch.setattr(mod, "work_scale", lambda node, nchwc=None: 1.0)
    probes = grid(0, runtime="onnxruntime")
    records = {p.id: {"timing": {"median_ms": truth_padded(probe_net(p))}, "cpu_share": 1.0, "layout_ms": 0.0}
               for p in probes}
    old_cal = build_document(probes, records, {**ORT_SETTINGS, "nchwc": RULES}, padded_cal["fingerprint"],
                             ORT_MACHINE, 1.0, [])
    old = [predict_net(n, old_cal["model"])["total_ms"] / truth_padded(n) - 1 for n in nets]
    assert max(abs(e) for e in new) < 0.06
    assert max(abs(e) for e in old) > 0.15, old
    assert sum(abs(e) for e in old) > 3 * sum(abs(e) for e in new)


def test_the_conversions_are_taken_out_as_their_share_of_the_profiled_kernels():
    # G run 5's 640x55x55 depthwise probe, rounded: fastest 1.0 ms, median 1.4; its profiled session timed
    # 1.24 ms of kernels in 3 nodes, 0.80 of them the two conversions
    rec = {"timing": {"median_ms": 1.4, "min_ms": 1.0}, "layout_ms": 0.80,
           "profiled": {"kernels_ms": 1.24, "nodes": 3}}
    per, fixed = 0.002, 0.005
    share = (0.80 - 2 * per) / (1.24 - 3 * per)
    got = probe_ms(rec, True, "min", 2 * per, per_node_ms=per, fixed_ms=fixed)
    assert got == pytest.approx(1.0 - (1.0 - fixed) * share)
    assert probe_ms(rec, True, "median", 2 * per, per_node_ms=per, fixed_ms=fixed) == \
        pytest.approx(1.4 - (1.4 - fixed) * share)
    assert probe_ms(rec, True, "min", 2 * per) == pytest.approx(1.0 - (0.80 - 2 * per))   # absolute, as before
    old = {k: v for k, v in rec.items() if k != "profiled"}      # a calibration before the kernels were recorded
    assert probe_ms(old, True, "min", 2 * per, per_node_ms=per, fixed_ms=fixed) == pytest.approx(1.0 - 0.796)
    assert probe_ms(rec, False, "min", 2 * per, per_node_ms=per) == 1.0
