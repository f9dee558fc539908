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
