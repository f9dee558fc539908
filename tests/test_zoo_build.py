"""For every network in configs/: analytic params == sum(p.numel()) of the built torch module, and the
module's names are the layer names (so counted and measured rows join)."""

from __future__ import annotations

import pytest

import lwbench
from lwbench.spec import index

ZOO = sorted(index())


@pytest.mark.parametrize("name", ZOO)
def test_params_equal_built_module_and_names_join(name):
    net = lwbench.load(name)
    model = lwbench.build(net, device="meta")
    assert sum(p.numel() for p in model.parameters()) == lwbench.count(net).totals["params"]
    modules = dict(model.named_modules())
    missing = [n.name for n in net.nodes if n.name not in modules]
    assert not missing


@pytest.mark.parametrize("name", ZOO)
def test_published_figures(name):
    assert lwbench.check_expect(lwbench.load(name)) == []


def test_every_zoo_file_reads():
    from lwbench.spec.zoo import errors

    assert errors() == ()


def test_rounded_expect_keeps_printed_digits_of_strings(yaml_net):
    net, _ = yaml_net("""
        name: t
        input: {channels: 10, resolution: 1}
        layers:
          - {op: flatten}
          - {op: linear, out: 66000, bias: false}
        expect: {madds_m: "0.70", params_m: 0.6}
    """)
    # 0.66M: within ±0.1 of 0.6 but not within ±0.01 of "0.70"
    assert lwbench.check_expect(net) == ["t: madds 0.6600M != paper 0.7M (±0.01)"]


@pytest.mark.parametrize("name", ["mobilenet_v1", "shufflenet_v2_x1_0", "efficientnet_b0", "squeezenet1_0"])
def test_summary_categories_add_up(name):
    from lwbench.count import CATEGORIES

    prof = lwbench.count(lwbench.load(name))
    assert {r.category for r in prof.layers} <= set(CATEGORIES)
    row = prof.summary()
    for key in ("madds", "mac_elems"):
        parts = [row[f"{key}_{c.replace('/', '_').replace('-', '_')}"] for c in CATEGORIES]
        assert sum(parts) == row[key]


# ---------------------------------------------------------------- the guideline experiments' networks
def _guideline_nets(guideline):
    """Every network a guideline experiment builds (configs/guidelines/gN.yaml): each row at each scale (x1, x2,
    x4) and channel setup (gpu, arm), made the way lwbench/guidelines.py makes them for timing."""
    from lwbench.guidelines import SCALES, SETUPS, load_experiment

    exp = load_experiment(guideline)
    for row in exp.rows:
        for scale in SCALES:
            for setup in SETUPS:
                yield f"{guideline} {row.setting} {scale} {setup}", exp.net(row, scale, setup)


@pytest.mark.parametrize("guideline", ["G1", "G2", "G3", "G4"])
def test_guideline_networks_params_equal_built_module(guideline):
    """Analytic params == the built module's, and params, madds and mac per layer == the torch-side counter's,
    for all 24+ networks of each experiment (its speed ratios are read against these counts)."""
    from lwbench.verify import verify_net

    nets = list(_guideline_nets(guideline))
    assert len(nets) >= 4 * 3 * 2  # at least 4 rows x 3 scales x 2 setups
    bad = {}
    for label, net in nets:
        analytic = lwbench.count(net).totals["params"]
        built = sum(p.numel() for p in lwbench.build(net, device="meta").parameters())
        res = verify_net(net, fvcore=False)
        if not (analytic == built == res.params_module) or res.mismatches:
            bad[label] = (analytic, built, res.mismatches[:3])
    assert not bad, bad
    assert any(lwbench.count(net).totals["params"] > 0 for _, net in nets)
