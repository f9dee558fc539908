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
