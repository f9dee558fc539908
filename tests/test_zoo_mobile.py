"""MobileNet V2, MobileNet V3, EfficientNet B0-B7 and MNASNet configs against independent references:
- torchvision's published `num_params` (exact), written out below, not read from the YAML;
- the papers' rounded multiply-adds / params (through each file's `expect:` block);
- the parameters of the torch module that `lwbench.build` makes (a second count of the same IR);
- fvcore's per-module conv/linear "flops" (multiply-adds) on the built module (a second counting method);
- per-layer multiply-adds and widths derived by hand from the papers' tables and torchvision's rules.

Networks are loaded by file path (`configs/x.yaml:variant`) so that these tests do not depend on other files
of the zoo.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import lwbench

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# Exact parameter counts that torchvision publishes as `num_params` next to each model (torchvision/models/
# mobilenetv2.py, mobilenetv3.py, efficientnet.py, mnasnet.py), 1000 classes.
TORCHVISION_PARAMS = {
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616,
    "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704,
    "efficientnet_b7": 66_347_960,
    "mnasnet0_5": 2_218_512,
    "mnasnet0_75": 3_170_208,
    "mnasnet1_0": 4_383_312,
    "mnasnet1_3": 6_282_256,
}

FILES = {  # network -> (config file, native resolution)
    "mobilenet_v2": ("mobilenet_v2.yaml", 224),
    "mobilenet_v2_x1_4": ("mobilenet_v2.yaml", 224),
    "mobilenet_v3_large": ("mobilenet_v3_large.yaml", 224),
    "mobilenet_v3_small": ("mobilenet_v3_small.yaml", 224),
    **{f"efficientnet_b{i}": ("efficientnet.yaml", r) for i, r in enumerate((224, 240, 260, 300, 380, 456, 528, 600))},
    **{n: ("mnasnet.yaml", 224) for n in ("mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3")},
}
BIG = {"efficientnet_b5", "efficientnet_b6", "efficientnet_b7"}  # params on device="meta", no forward pass


def _load(name: str, **kw):
    return lwbench.load(f"{CONFIGS / FILES[name][0]}:{name}", **kw)


def _numel(module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ (a) published figures, (b) built params
@pytest.mark.parametrize("name", sorted(FILES))
def test_expect_block_holds(name):
    net = _load(name)
    assert net.input_shape == (3, FILES[name][1], FILES[name][1])
    assert lwbench.check_expect(net) == []


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_exact_params_equal_torchvision(name):
    assert lwbench.count(_load(name)).totals["params"] == TORCHVISION_PARAMS[name]


@pytest.mark.parametrize("name", sorted(FILES))
def test_params_equal_built_module(name):
    net = _load(name)
    model = lwbench.build(net, device="meta")  # shapes only: no weights allocated
    assert _numel(model) == lwbench.count(net).totals["params"]


# ------------------------------------------------------------------ (c) forward at native resolution
@pytest.mark.parametrize("name", sorted(n for n in FILES if n not in BIG))
def test_forward_native_resolution(name):
    import torch

    from lwbench.build import example_input

    net = _load(name)
    model = lwbench.build(net)
    assert _numel(model) == lwbench.count(net).totals["params"]
    with torch.inference_mode():
        y = model(example_input(net))
    assert tuple(y.shape) == (1, 1000)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "mnasnet1_0"])
def test_conv_linear_madds_equal_fvcore(name):
    """fvcore traces the built module and counts each conv/linear's multiply-adds itself ("flops")."""
    from fvcore.nn import FlopCountAnalysis

    from lwbench.build import example_input

    net = _load(name)
    flops = FlopCountAnalysis(lwbench.build(net), example_input(net))
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    by_module = flops.by_module()
    rows = [r for r in lwbench.count(net).layers if r.kind in ("conv2d", "linear")]
    assert rows
    assert {r.layer: r.madds for r in rows} == {r.layer: by_module[r.layer] for r in rows}
    ops = flops.by_operator()
    assert ops["conv"] + ops["linear"] == sum(r.madds for r in rows)


# ------------------------------------------------------------------ (d) hand-derived layers, per family
def _rows(net):
    return lwbench.count(net).by_layer()


def test_mobilenet_v2_block_by_hand():
    """Table 2 row 't=6, c=24, s=2' first block: 112x112x16 -> 56x56x24, hidden 16·6 = 96."""
    rows = _rows(_load("mobilenet_v2"))
    assert rows["stage2.0.expand.conv"].madds == 112 * 112 * 96 * 16
    assert rows["stage2.0.depthwise.conv"].madds == 56 * 56 * 96 * 3 * 3
    assert rows["stage2.0.project.conv"].madds == 56 * 56 * 24 * 96
    assert rows["stage2.0.depthwise.conv"].params == 96 * 9
    assert rows["stage2.0.project.bn"].params == 2 * 24
    assert "stage1.0.expand.conv" not in rows  # t = 1: no expansion layer
    adds = sorted(n for n, r in rows.items() if r.kind == "add")  # stride 1 and in == out
    assert len(adds) == 1 + 2 + 3 + 2 + 2 == 10
    assert "stage2.0.add" not in adds and "stage5.0.add" not in adds and "stage5.1.add" in adds


def test_mobilenet_v2_last_layer_floor():
    """torchvision: last channel make_divisible(1280·max(1, width), 8); other widths make_divisible(c·width, 8)."""
    for width, head, stem, stage2 in ((0.5, 1280, 16, 16), (1.4, 1792, 48, 32), (0.75, 1280, 24, 24)):
        net = _load("mobilenet_v2", width=width)
        shapes = {n.name: n.out_shapes[0] for n in net.nodes}
        assert shapes["head.conv"][0] == head
        assert shapes["stem.conv"][0] == stem
        assert shapes["stage2.1.project.conv"][0] == stage2
    # hidden width round(in·t) at width 0.35: in = make_divisible(16·0.35, 8) = 8 -> hidden 48
    net = _load("mobilenet_v2", width=0.35)
    shapes = {n.name: n.out_shapes[0] for n in net.nodes}
    assert shapes["stage2.0.expand.conv"][0] == 48


def test_mobilenet_v3_block_by_hand():
    """Large Table 1 row 'bneck 5x5, exp 72, out 40, SE, RE, s2' at 56x56x24; SE squeeze from the EXPANDED width:
    72 // 4 = 18 -> nearest multiple of 8 is 16, below 90% of 18 -> 24."""
    net = _load("mobilenet_v3_large")
    rows = _rows(net)
    b = "bneck4"
    assert rows[f"{b}.expand.conv"].madds == 56 * 56 * 72 * 24
    assert rows[f"{b}.depthwise.conv"].madds == 28 * 28 * 72 * 5 * 5
    assert rows[f"{b}.se.gate.excite.reduce"].params == 72 * 24 + 24
    assert rows[f"{b}.se.gate.excite.reduce"].madds == 72 * 24
    assert rows[f"{b}.se.gate.excite.expand"].params == 24 * 72 + 72
    assert rows[f"{b}.project.conv"].madds == 28 * 28 * 40 * 72
    assert rows[f"{b}.expand.act"].kind == "relu" and rows["bneck7.expand.act"].kind == "hardswish"
    assert rows["bneck4.se.gate.excite.gate"].kind == "hardsigmoid"
    assert "bneck1.expand.conv" not in rows  # exp 16 == in 16
    assert sum(r.kind == "add" for r in rows.values()) == 10
    assert rows["head.conv"].madds == 7 * 7 * 960 * 160  # 6 x last block width
    assert rows["fc1"].params == 960 * 1280 + 1280 and rows["fc2"].params == 1280 * 1000 + 1000
    small = _rows(_load("mobilenet_v3_small"))
    assert small["bneck1.se.gate.excite.reduce"].params == 16 * 8 + 8  # make_divisible(16 // 4, 8) = 8
    assert small["fc1"].params == 576 * 1024 + 1024


def test_efficientnet_block_by_hand():
    """B0 stage 3 first block: MBConv6 k3x3 at 112x112x16 -> 56x56x24, expanded 96; SE squeeze from the
    block's INPUT width, max(1, int(16·0.25)) = 4 (not 96 // 4)."""
    rows = _rows(_load("efficientnet_b0"))
    b = "stage3.0"
    assert rows[f"{b}.expand.conv"].madds == 112 * 112 * 96 * 16
    assert rows[f"{b}.depthwise.conv"].madds == 56 * 56 * 96 * 3 * 3
    assert rows[f"{b}.se.gate.excite.reduce"].params == 96 * 4 + 4
    assert rows[f"{b}.se.gate.excite.expand"].params == 4 * 96 + 96
    assert rows[f"{b}.project.conv"].madds == 56 * 56 * 24 * 96
    assert rows[f"{b}.expand.act"].kind == "swish" and rows[f"{b}.se.gate.excite.gate"].kind == "sigmoid"
    assert "stage2.0.expand.conv" not in rows  # t = 1
    assert rows["stage2.0.se.gate.excite.reduce"].params == 32 * 8 + 8  # int(32·0.25) = 8
    assert rows["head.conv"].params == 320 * 1280


@pytest.mark.parametrize("name, width, depth", [
    ("efficientnet_b3", 1.2, 1.4), ("efficientnet_b7", 2.0, 3.1),
])
def test_efficientnet_compound_scaling_by_hand(name, width, depth):
    """Repeats ceil(n·d) and widths make_divisible(c·w, 8) of the B0 table, recomputed here."""
    def md8(v):
        r = max(8, int(v + 4) // 8 * 8)
        return r + 8 if r < 0.9 * v else r

    table = [(16, 1), (24, 2), (40, 2), (80, 3), (112, 3), (192, 4), (320, 1)]  # B0 Table 1: c, n
    net = _load(name)
    shapes = {n.name: n.out_shapes[0] for n in net.nodes}
    for i, (c, n) in enumerate(table, start=2):
        reps = math.ceil(n * depth)
        assert f"stage{i}.{reps - 1}.project.conv" in shapes and f"stage{i}.{reps}.project.conv" not in shapes
        assert shapes[f"stage{i}.0.project.conv"][0] == md8(c * width)
    assert shapes["stem.conv"][0] == md8(32 * width)
    assert shapes["head.conv"][0] == 4 * md8(320 * width) == md8(1280 * width)  # torchvision's rule == paper's
    if name == "efficientnet_b3":
        assert shapes["stage2.0.project.conv"][0] == 24  # 19.2 -> 16 is below 90% of 19.2 -> 24


def test_mnasnet_block_by_hand():
    """MBConv3 k3x3 first block at 112x112x16 -> 56x56x24, expanded 16·3 = 48; no SE anywhere."""
    net = _load("mnasnet1_0")
    rows = _rows(net)
    assert rows["stage1.0.expand.conv"].madds == 112 * 112 * 48 * 16
    assert rows["stage1.0.depthwise.conv"].madds == 56 * 56 * 48 * 3 * 3
    assert rows["stage1.0.project.conv"].madds == 56 * 56 * 24 * 48
    assert rows["sepconv.depthwise.conv"].madds == 112 * 112 * 32 * 9
    assert rows["head.conv"].params == 320 * 1280
    assert not any(r.kind in ("mul", "sigmoid", "hardsigmoid") for r in rows.values())
    assert sum(r.kind == "add" for r in rows.values()) == 2 + 2 + 2 + 1 + 3 + 0
    # the head stays 1280 at every width multiplier
    assert {n.name: n.out_shapes[0] for n in _load("mnasnet0_5").nodes}["head.conv"][0] == 1280


# ------------------------------------------------------------------ (e) a typo must break the expect check
@pytest.mark.parametrize("file, name, old, new", [
    ("mobilenet_v2.yaml", "mobilenet_v2", "out: ch(96),", "out: ch(88),"),
    ("mobilenet_v3_large.yaml", "mobilenet_v3_large", "exp: ch(200)", "exp: ch(208)"),
    ("mobilenet_v3_small.yaml", "mobilenet_v3_small", "exp: ch(88),", "exp: ch(96),"),
    ("efficientnet.yaml", "efficientnet_b0", "out: ch(112)", "out: ch(120)"),
    ("mnasnet.yaml", "mnasnet1_0", "out: ch(40),", "out: ch(48),"),
    # rounding rules, not just numbers: SE base width / rounding
    ("mobilenet_v3_large.yaml", "mobilenet_v3_large", "make_divisible($in // 4, $se_divisor)", "$in // 4"),
    ("efficientnet.yaml", "efficientnet_b0", "se_ratio: 0.25", "se_ratio: 0.5"),
    ("mobilenet_v2.yaml", "mobilenet_v2", "max(1.0, $width)", "$width * 1.01"),
])
def test_mutation_breaks_expect(tmp_path, file, name, old, new):
    text = (CONFIGS / file).read_text()
    assert text.count(old) == 1, old
    path = tmp_path / file
    path.write_text(text)
    assert lwbench.check_expect(lwbench.load(f"{path}:{name}")) == []  # the copy itself passes
    path.write_text(text.replace(old, new))
    bad = lwbench.check_expect(lwbench.load(f"{path}:{name}"))
    assert bad and any("params" in b for b in bad)
