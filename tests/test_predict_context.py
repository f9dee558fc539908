"""The context model of `lwbench predict` (issue 16): a network is not the sum of its layers timed alone; the
calibration's synthetic networks (lwbench.predict.chains) fit how it departs. Known answers only, no timing."""

from __future__ import annotations

import math
import random

import pytest

from lwbench.predict.context import CANDIDATES, chain_row, fit_context, layer_terms, nnls, predict_chain
from lwbench.predict.design import probe_net
from lwbench.predict.grid import grid
from lwbench.predict.predict import predict_net
from lwbench.spec import load
from tests.conftest import synthetic_calibration, synthetic_ms

CATS = ("pointwise", "depthwise", "element-wise")


def _chains(s: dict, o: dict, n: int = 30, seed: int = 1, base: float = 0.01, w: float = 0.0,
            a: float = 0.0) -> list[dict]:
    """Synthetic networks whose measured time is the known context model (w, a: ms per million elements)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        sums = {c: rng.uniform(0.5, 20.0) for c in CATS}
        layers = {c: rng.randint(5, 120) for c in CATS}
        weights, acts = rng.uniform(1e5, 2e7), rng.uniform(1e6, 5e7)
        meas = base + sum(s.get(c, 1.0) * sums[c] + o.get(c, 0.0) * layers[c] for c in CATS)
        meas += (w * weights + a * acts) * 1e-6
        out.append({"label": f"net {i}", "measured_ms": meas, "base_ms": base, "sum_ms": sums, "layers": layers,
                    "weights": weights, "activations": acts})
    return out


def test_nnls_recovers_a_nonnegative_solution_and_clips_the_negative_one():
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, (40, 5))
    x = np.array([0.5, 0.0, 2.0, 1.0, 0.0])
    assert nnls(a, a @ x) == pytest.approx(x, abs=1e-9)
    # b pulls the second coefficient below zero: unconstrained least squares goes negative, nnls stops at 0 and
    # the gradient there points outward (KKT)
    b = a @ np.array([1.0, -3.0, 1.0, 1.0, 1.0])
    assert np.linalg.lstsq(a, b, rcond=None)[0][1] < 0
    got = nnls(a, b)
    assert (got >= 0).all() and got[1] == 0.0
    assert (a.T @ (b - a @ got))[1] <= 1e-9


def test_per_category_terms_are_recovered_and_chosen_on_held_out_error():
    s = {"pointwise": 1.2, "depthwise": 1.7, "element-wise": 1.0}
    o = {"pointwise": 0.010, "depthwise": 0.0, "element-wise": 0.030}
    ctx = fit_context(_chains(s, o))
    assert ctx["method"] == "per-category"
    for c in CATS:
        got_s, got_o = layer_terms(ctx["coef"], c)
        assert got_s == pytest.approx(s[c], rel=2e-3) and got_o == pytest.approx(o[c], abs=2e-4)
    assert ctx["candidates"]["per-category"]["heldout"]["median_abs_pct"] < 0.2
    assert ctx["candidates"]["none"]["heldout"]["median_abs_pct"] > 10      # the plain sum is far off
    assert set(ctx["candidates"]) == set(CANDIDATES)


def test_the_simplest_form_that_explains_the_networks_wins():
    one = fit_context(_chains({c: 1.4 for c in CATS}, {}))
    assert one["method"] == "scale" and one["coef"]["s"] == pytest.approx(1.4, rel=1e-3)
    both = fit_context(_chains({c: 1.25 for c in CATS}, {c: 0.02 for c in CATS}))
    assert both["method"] == "scale+overhead"
    assert both["coef"]["s"] == pytest.approx(1.25, rel=2e-3) and both["coef"]["o"] == pytest.approx(0.02, rel=2e-2)
    exact = fit_context(_chains({}, {}))
    assert exact["method"] == "none" and exact["coef"] == {}


def test_an_overhead_per_layer_and_per_element_moved_are_recovered():
    ctx = fit_context(_chains({}, {c: 0.015 for c in CATS}, w=0.3, a=0.05))
    assert ctx["method"] == "overhead+traffic"
    assert ctx["coef"]["o"] == pytest.approx(0.015, rel=1e-2)
    assert ctx["coef"]["w"] == pytest.approx(0.3, rel=1e-2) and ctx["coef"]["a"] == pytest.approx(0.05, rel=2e-2)
    only = fit_context(_chains({}, {c: 0.015 for c in CATS}))
    assert only["method"] == "overhead" and only["coef"]["o"] == pytest.approx(0.015, rel=1e-3)


def test_per_category_costs_with_traffic_are_recovered():
    """Layers of each category pay their own extra cost and the traffic terms (the form the Intel VM chose)."""
    o = {"pointwise": 0.01, "depthwise": 0.03, "element-wise": 0.002}
    ctx = fit_context(_chains({}, o, w=0.3, a=0.02))
    assert ctx["method"] == "overhead/category+traffic"
    for c in CATS:
        assert layer_terms(ctx["coef"], c) == pytest.approx((1.0, o[c]), rel=1e-2)
    assert ctx["coef"]["w"] == pytest.approx(0.3, rel=2e-2) and ctx["coef"]["a"] == pytest.approx(0.02, rel=5e-2)


def test_a_form_needs_three_networks_per_coefficient():
    """12 networks and 3 categories: per-category (6 coefficients) and the per-category costs with traffic (5) are
    not fitted, even where they are the truth; what is fitted is judged as before."""
    ctx = fit_context(_chains({"pointwise": 1.2, "depthwise": 1.7}, {"element-wise": 0.03}, n=12))
    for form in ("per-category", "overhead/category+traffic"):
        assert "skipped" in ctx["candidates"][form] and "12 networks" in ctx["candidates"][form]["skipped"]
    assert "skipped" not in ctx["candidates"]["scale+overhead/category"]          # 4 coefficients
    assert ctx["method"] not in ("per-category", "overhead/category+traffic")
    assert fit_context(_chains({"pointwise": 1.2, "depthwise": 1.7}, {"element-wise": 0.03}, n=30))["method"] \
        == "per-category"


def test_no_form_makes_a_layer_faster_in_a_network_than_alone():
    """Networks that run below the sum of their layers alone (a layer model reading high) get factors of 1, never
    less: no fitted form may make a category nearly free, however well that holds out on the synthetic networks."""
    ctx = fit_context(_chains({"pointwise": 0.5, "depthwise": 0.3}, {}, w=0.2, a=0.05))
    for form, r in ctx["candidates"].items():
        if "skipped" in r:
            continue
        assert all(v >= 1.0 - 1e-12 for k, v in r["coef"].items() if k.startswith("s")), form
        assert all(v >= 0.0 for v in r["coef"].values()), form


def test_too_few_networks_fit_nothing():
    ctx = fit_context(_chains({c: 2.0 for c in CATS}, {}, n=4))
    assert ctx["method"] == "none" and ctx["coef"] == {} and "fewer than" in ctx["reason"]


def test_chain_row_sums_by_category_and_skips_fused_layers():
    rows = [{"category": "pointwise", "predicted_ms": 1.0, "note": ""},
            {"category": "pointwise", "predicted_ms": 2.0, "note": ""},
            {"category": "element-wise", "predicted_ms": 0.0, "note": "fused into n0 (onnxruntime)"},
            {"category": "element-wise", "predicted_ms": 0.5, "note": ""}]
    c = chain_row(rows, 10.0, 0.1, "x")
    assert c["sum_ms"] == {"pointwise": 3.0, "element-wise": 0.5} and c["layers"] == {"pointwise": 2, "element-wise": 1}
    assert predict_chain(c, {"s": 2.0, "o": 0.1}) == pytest.approx(0.1 + 2 * 3.5 + 0.1 * 3)


def _layer_chains(s: dict, o: dict, w: float, a: float, hook: float, gap: float, n: int = 30,
                  seed: int = 2, base: float = 0.01) -> list[dict]:
    """Synthetic networks whose layers were timed inside them: each category's measured Σ is the known per-layer
    model plus the hooks' cost `hook` per layer; the network's total (timed without hooks) is that model plus
    `gap` per layer (the time between layers)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        by, total = {}, base
        for c in CATS:
            alone, layers = rng.uniform(0.5, 20.0), rng.randint(5, 120)
            wts, acts = rng.uniform(1e4, 5e6), rng.uniform(1e5, 2e7)
            true = s.get(c, 1.0) * alone + o.get(c, 0.0) * layers + (w * wts + a * acts) * 1e-6
            by[c] = {"measured_ms": true + hook * layers, "alone_ms": alone, "layers": layers, "weights": wts,
                     "activations": acts}
            total += true + gap * layers
        out.append({"label": f"net {i}", "measured_ms": total, "base_ms": base,
                    "sum_ms": {c: b["alone_ms"] for c, b in by.items()},
                    "layers": {c: b["layers"] for c, b in by.items()},
                    "weights": sum(b["weights"] for b in by.values()),
                    "activations": sum(b["activations"] for b in by.values()), "by_category": by})
    return out


def test_layers_timed_inside_the_networks_identify_per_category_factors_beside_the_traffic_terms():
    """A factor and a cost per category with the traffic terms (9 coefficients here: 2 per category, 2, g): no
    form fitted to the 30 totals holds them; from the 90 (network, category) sums of layers timed inside the
    networks they are recovered, the hooks' cost inside each layer's reading given back by the per-layer `g`."""
    s = {"pointwise": 1.2, "depthwise": 1.6, "element-wise": 1.0}
    o = {"pointwise": 0.004, "depthwise": 0.02, "element-wise": 0.001}
    hook, gap = 0.003, 0.005
    ctx = fit_context(_layer_chains(s, o, w=0.3, a=0.04, hook=hook, gap=gap))
    assert ctx["method"] == "layers:per-category+traffic"
    k = ctx["coef"]
    for c in CATS:
        assert k[f"s:{c}"] == pytest.approx(s[c], rel=2e-3) and k[f"o:{c}"] == pytest.approx(o[c] + hook, abs=3e-4)
        # a layer's in-network cost: its factor, its category's cost and g, the hooks' cost taken out again
        assert layer_terms(k, c) == pytest.approx((s[c], o[c] + gap), rel=2e-2)
    assert k["g"] == pytest.approx(gap - hook, abs=2e-4)
    assert k["w"] == pytest.approx(0.3, rel=2e-2) and k["a"] == pytest.approx(0.04, rel=2e-2)
    assert ctx["candidates"]["layers:per-category+traffic"]["heldout"]["median_abs_pct"] < 0.2
    totals_only = [r["heldout"]["mean_abs_pct"] for f, r in ctx["candidates"].items()
                   if not f.startswith("layers:") and "heldout" in r]
    assert min(totals_only) > 10 * ctx["candidates"]["layers:per-category+traffic"]["heldout"]["mean_abs_pct"]


def test_layer_forms_need_layers_timed_inside_every_network():
    chains = _chains({"pointwise": 1.2}, {"element-wise": 0.03})
    ctx = fit_context(chains)
    for form in ("layers:per-category+traffic", "layers:overhead/category+traffic"):
        assert "not timed inside them" in ctx["candidates"][form]["skipped"]
    mixed = _layer_chains({}, {}, 0.0, 0.0, 0.0, 0.0)
    mixed[3] = {**mixed[3], "by_category": None}
    assert "not timed" in fit_context(mixed)["candidates"]["layers:overhead/category+traffic"]["skipped"]


def test_chain_row_sums_layers_timed_inside_the_network_by_category():
    rows = [{"layer": "a", "category": "pointwise", "predicted_ms": 1.0, "params": 10, "mac_elems": 30, "note": ""},
            {"layer": "b", "category": "pointwise", "predicted_ms": 2.0, "params": 5, "mac_elems": 10, "note": ""},
            {"layer": "c", "category": "element-wise", "predicted_ms": 0.0, "note": "fused into a (onnxruntime)"},
            {"layer": "d", "category": "element-wise", "predicted_ms": 0.5, "params": 0, "mac_elems": 8, "note": ""}]
    c = chain_row(rows, 10.0, 0.1, "x", {"a": 1.5, "b": 2.5, "d": 0.7})
    assert c["by_category"] == {
        "pointwise": {"measured_ms": 4.0, "alone_ms": 3.0, "layers": 2, "weights": 15, "activations": 25},
        "element-wise": {"measured_ms": 0.7, "alone_ms": 0.5, "layers": 1, "weights": 0, "activations": 8}}
    assert chain_row(rows, 10.0, 0.1, "x", {"a": 1.5, "d": 0.7})["by_category"] is None     # b has no time
    assert chain_row(rows, 10.0, 0.1, "x")["by_category"] is None


def test_a_chain_records_layer_times_are_read_by_statistic():
    from lwbench.predict.probetime import layer_ms

    rec = {"in_network": {"layers": {"a": [1.5, 1.2], "b": [0.4, 0.3]}, "hooked": {"median_ms": 2.1}}}
    assert layer_ms(rec) == {"a": 1.5, "b": 0.4} and layer_ms(rec, "min") == {"a": 1.2, "b": 0.3}
    assert layer_ms({"timing": {}}) is None


# ------------------------------------------------------------------ a synthetic machine with a context cost
CTX_S, CTX_O = 1.3, 0.012        # inside a network every layer takes 1.3x its time alone plus 12 us


def _net_ms(net, in_context: bool) -> float:
    return synthetic_ms(net, CTX_S, CTX_O) if in_context else synthetic_ms(net)


@pytest.fixture(scope="module")
def calibrated():
    """Single layers and blocks measure as alone; the synthetic networks as in context."""
    probes = [p for p in grid(0) if not p.group.startswith("fault")]
    records = {p.id: {"timing": {"median_ms": _net_ms(probe_net(p), p.group == "chain")}, "cpu_share": 1.0}
               for p in probes}
    return synthetic_calibration(probes, records)


def test_a_calibration_learns_the_context_from_its_synthetic_networks(calibrated):
    ctx = calibrated["model"]["context"]
    assert ctx["chains"] == 36 and ctx["method"] != "none"
    assert ctx["candidates"]["none"]["heldout"]["median_abs_pct"] > 15
    assert ctx["candidates"][ctx["method"]]["heldout"]["median_abs_pct"] < 3
    nets = calibrated["checks"]["networks"]
    assert len(nets) == 36 and all(abs(c["error_pct"]) < 5 for c in nets)


@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1", "efficientnet_b0"])
def test_zoo_networks_are_predicted_in_context_and_stay_additive(calibrated, name):
    net = load(name)
    res = predict_net(net, calibrated["model"])
    truth, alone = _net_ms(net, True), _net_ms(net, False)
    assert abs(res["total_ms"] / truth - 1) < 0.05            # never fitted on a zoo network
    assert abs(alone / truth - 1) > 0.2                         # the plain sum would be far off
    assert res["total_ms"] == pytest.approx(res["fixed_ms"] + sum(r["predicted_ms"] for r in res["layers"]))


def test_a_calibration_without_networks_keeps_the_block_factor(calibrated):
    old = {k: v for k, v in calibrated["model"].items() if k != "context"}
    old["context_scale"] = {"scale": 2.0}
    net = load("mobilenet_v2")
    plain = predict_net(net, {**old, "context_scale": {"scale": 1.0}})
    scaled = predict_net(net, old)
    layers = plain["total_ms"] - plain["fixed_ms"]
    assert scaled["total_ms"] == pytest.approx(plain["fixed_ms"] + 2.0 * layers)


def test_a_fitted_curve_is_not_extrapolated_and_no_layer_costs_less_than_a_module_call():
    from lwbench.predict.model import fit_kind, predict_layer

    # a kind whose time grows as x^3 on [1, 2]: a log-log fit extrapolated to x = 8 would answer 512x
    data = [{"x": [math.log(v)], "t_ms": 0.01 * v ** 3, "madds": 0, "mac_elems": 0} for v in (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)]
    kind = fit_kind(data)
    assert kind["method"] in ("loess", "power")
    model = {"overhead": {"fixed_ms": 0.004, "per_layer_ms": 0.002}, "kinds": {"k": kind}, "fallback": {}}
    edge, _ = predict_layer(model, "k", [math.log(2.0)], 0, 0)
    far, note = predict_layer(model, "k", [math.log(8.0)], 0, 0)
    assert edge == pytest.approx(0.08, rel=0.05) and far == pytest.approx(edge) and note == "outside the calibrated range"
    tiny = {"overhead": {"fixed_ms": 0.004, "per_layer_ms": 0.002}, "fallback": {},
            "kinds": {"k": {"method": "constant", "ms": 1e-4}}}
    assert predict_layer(tiny, "k", [0.0], 0, 0)[0] == 0.002          # one module call at least


def test_the_tables_say_which_context_form_a_calibration_uses(calibrated):
    from lwbench.predict.tables import _cal_text

    ctx = calibrated["model"]["context"]
    text = _cal_text(calibrated)
    held = ctx["candidates"][ctx["method"]]["heldout"]["mean_abs_pct"]
    assert f"in-network context: {ctx['method']} (36 synthetic networks, held-out {held:.1f}%)" in text
    old = {**calibrated, "model": {k: v for k, v in calibrated["model"].items() if k != "context"}}
    assert "context" not in _cal_text(old)
