"""ShuffleNet V1/V2, SqueezeNet and Xception (configs/shufflenet_v1.yaml, shufflenet_v2.yaml, squeezenet.yaml,
xception.yaml) against independent references:

- the papers' tables: ShuffleNet V1 Table 1 (stage widths per g; complexities 143/140/137/133/137 MFLOPs,
  convolutions only), ShuffleNet V2 Table 5 (stage widths; 41/146/299/591 MFLOPs, 1.4/2.3/3.5/7.4M params),
  Xception Table 3 (22,855,952 params), SqueezeNet Table 1 (feature-map sizes);
- the implementations' documented figures: torchvision's `num_params` / `_ops` of each weights entry
  (torchvision/models/shufflenetv2.py, squeezenet.py) and the ShuffleNet authors' README
  (megvii-model/ShuffleNet-Series/ShuffleNetV1/README.md), through each file's `expect:` block and below;
- hand formulas for single units (Hout·Wout·Cout·Cin/g·kh·kw);
- a second counting method: fvcore's conv + linear counts on the built torch module, and the built module's
  own tensors (parameter numel, output shapes of every layer in a forward pass).

Reference figures are transcribed here with their sources (the tests never read ../shared). Networks are
loaded by file path, so another family's half-written YAML cannot break these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import lwbench
from tests.conftest import FamilyNets

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
FILES = ("shufflenet_v1", "shufflenet_v2", "squeezenet", "xception")

# ShuffleNet V1 paper (Zhang et al., CVPR 2018), Table 1 at 1x: stage 2/3/4 output channels and the
# complexity row (MFLOPs, convolutions only; ../shared/reference/README.md).
V1_TABLE1_WIDTHS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
                    8: (384, 768, 1536)}
V1_TABLE1_MFLOPS = {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}
# reference README: "with the 1000-class classifier added, g=2, 4 and 8 would print 141M, 134M and 138M"
V1_WITH_FC_MFLOPS = {2: 141, 4: 134, 8: 138}
# ShuffleNet V2 paper (Ma et al., ECCV 2018), Table 5: output channels of Conv1, Stage2, Stage3, Stage4, Conv5.
V2_TABLE5_WIDTHS = {"x0_5": (24, 48, 96, 192, 1024), "x1_0": (24, 116, 232, 464, 1024),
                    "x1_5": (24, 176, 352, 704, 1024), "x2_0": (24, 244, 488, 976, 2048)}
V2_TABLE5 = {"x0_5": (41, 1.4), "x1_0": (146, 2.3), "x1_5": (299, 3.5), "x2_0": (591, 7.4)}  # MFLOPs, M params
# torchvision weights metadata (num_params; _ops in GFLOPs = multiply-adds).
TORCHVISION_PARAMS = {
    "shufflenet_v2_x0_5": 1_366_792, "shufflenet_v2_x1_0": 2_278_604, "shufflenet_v2_x1_5": 3_503_624,
    "shufflenet_v2_x2_0": 7_393_996, "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
}
XCEPTION_TABLE3_PARAMS = 22_855_952


_FAMILY = FamilyNets(FILES)
NETS = _FAMILY.nets
IDS = _FAMILY.ids
_load = _FAMILY.load


def _rows(net):
    return lwbench.count(net).by_layer()


def _conv_madds(net) -> int:
    """Total multiply-adds minus the classifier's (the fc layer): what ShuffleNet V1's Table 1 counts."""
    p = lwbench.count(net)
    return p.totals["madds"] - p.by_layer()["fc"].madds


# ---------------------------------------------------------------- (a), (b): expect blocks, built module
def test_the_files_hold_the_requested_networks():
    v1 = {f"shufflenet_v1_g{g}_x{w}" for g in (1, 2, 3, 4, 8) for w in ("0_25", "0_5", "1_0", "1_5", "2_0")}
    v2 = {f"shufflenet_v2_{s}x{w}" for s in ("", "official_") for w in ("0_5", "1_0", "1_5", "2_0")}
    sq = {"squeezenet1_0", "squeezenet1_1", "squeezenet1_0_simple_bypass", "squeezenet1_0_complex_bypass"}
    assert set(IDS) == v1 | v2 | sq | {"xception"}


@pytest.mark.parametrize(("path", "variant"), NETS, ids=IDS)
def test_expect_block_holds(path, variant):
    net = lwbench.load(f"{path}:{variant}")
    assert lwbench.check_expect(net) == []


def test_expect_blocks_carry_the_published_figures():
    """The figures the check above holds to are really there (a vacuous expect would pass anything)."""
    want = {
        "shufflenet_v1_g3_x1_0": {"madds_conv_m": 137, "madds_m": 138, "params_m": 1.9},
        "shufflenet_v1_g8_x2_0": {"madds_m": 522, "params_m": 6.5},
        "shufflenet_v2_x1_0": {"params": 2_278_604},
        "shufflenet_v2_official_x2_0": {"madds_m": 591, "params_m": 7.4},
        "squeezenet1_0": {"params": 1_248_424},
        "xception": {"params": XCEPTION_TABLE3_PARAMS},
    }
    for name, figures in want.items():
        expect = _load(name).expect
        for k, v in figures.items():
            assert expect.get(k) == v, (name, k)
    for g, mflops in V1_TABLE1_MFLOPS.items():
        assert _load(f"shufflenet_v1_g{g}_x1_0").expect["madds_conv_m"] == mflops
    for w, (mflops, mparams) in V2_TABLE5.items():
        assert _load(f"shufflenet_v2_official_{w}").expect == {"madds_m": mflops, "params_m": mparams}
    assert sum(bool(_load(v).expect) for _, v in NETS) == 24  # 14 of the 25 ShuffleNet V1 have no published figure


@pytest.mark.parametrize(("path", "variant"), NETS, ids=IDS)
def test_params_equal_the_built_module(path, variant):
    net = lwbench.load(f"{path}:{variant}")
    params = lwbench.count(net).totals["params"]
    model = lwbench.build(net, device="meta")
    assert sum(p.numel() for p in model.parameters()) == params
    ref = {**TORCHVISION_PARAMS, "xception": XCEPTION_TABLE3_PARAMS}.get(variant)
    if ref is not None:
        assert params == ref


# ---------------------------------------------------------------- (c): forward pass, shapes, second counter
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fvcore traces with torch.jit
@pytest.mark.parametrize(("name", "fvcore_resolution"), [
    ("shufflenet_v1_g3_x1_0", 224), ("shufflenet_v2_x1_0", 224), ("squeezenet1_0_complex_bypass", 224),
    ("xception", 128),  # fvcore's trace at 299 costs seconds; any resolution tests the same rules
])
def test_forward_shapes_and_fvcore_agree(name, fvcore_resolution):
    import torch
    from fvcore.nn import FlopCountAnalysis

    net = _load(name)
    model = lwbench.build(net)
    nodes = {n.name: n for n in net.nodes}
    seen = {}
    for mname, mod in model.named_modules():
        if mname in nodes and nodes[mname].op != "split":
            mod.register_forward_hook(lambda m, a, o, n=mname: seen.__setitem__(n, tuple(o.shape[1:])))
    x = torch.randn(1, *net.input_shape)  # native resolution: 224, Xception 299
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape) == (1, 1000)
    wrong = {n: (s, nodes[n].out_shape) for n, s in seen.items() if s != tuple(nodes[n].out_shape)}
    assert not wrong, wrong
    assert len(seen) == len(nodes) - sum(n.op == "split" for n in net.nodes)

    if fvcore_resolution != net.resolution:
        net = _load(name, resolution=fvcore_resolution)
        model, x = lwbench.build(net), torch.randn(1, *net.input_shape)
    flops = FlopCountAnalysis(model, x)
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    ops = flops.by_operator()
    assert ops["conv"] + ops["linear"] == lwbench.count(net).totals["madds"]


# ---------------------------------------------------------------- (d): ShuffleNet V1 Table 1
@pytest.mark.parametrize("g", sorted(V1_TABLE1_MFLOPS))
def test_shufflenet_v1_table1_widths_and_conv_only_complexity(g):
    net = _load(f"shufflenet_v1_g{g}_x1_0")
    assert net.node("conv1").out_shape == (24, 112, 112)
    assert net.node("maxpool").out_shape == (24, 56, 56)
    for stage, n, width, size in zip((2, 3, 4), (4, 8, 4), V1_TABLE1_WIDTHS[g], (28, 14, 7)):
        assert net.node(f"stage{stage}.0.branch.concat").out_shape == (width, size, size)  # stride-2 unit
        assert net.node(f"stage{stage}.{n - 1}.relu").out_shape == (width, size, size)  # last unit
        with pytest.raises(KeyError):
            net.node(f"stage{stage}.{n}.relu")  # repeats 4 / 8 / 4
        assert net.node(f"stage{stage}.1.branch.main.gconv1").out_shape[0] == width // 4  # bottleneck = out/4
    # Table 1 counts convolutions only: within one unit of the printed MFLOPs, and so does madds_conv
    conv_only = _conv_madds(net)
    assert abs(conv_only / 1e6 - V1_TABLE1_MFLOPS[g]) <= 1
    assert conv_only == sum(r.madds for r in lwbench.count(net).layers if r.kind == "conv2d")
    if g in V1_WITH_FC_MFLOPS:  # ... and the classifier-inclusive total would print another number
        total = lwbench.count(net).totals["madds"]
        assert round(total / 1e6) == V1_WITH_FC_MFLOPS[g] != V1_TABLE1_MFLOPS[g]


def test_shufflenet_v1_group_structure():
    net = _load("shufflenet_v1_g8_x1_0")
    attrs = {n.name: n.attrs for n in net.nodes}
    assert attrs["stage2.0.branch.main.gconv1"]["groups"] == 1  # not grouped: 24 input channels
    assert attrs["stage3.0.branch.main.gconv1"]["groups"] == 8
    assert attrs["stage2.1.branch.main.gconv2"]["groups"] == 8
    assert attrs["stage2.1.branch.main.shuffle"]["groups"] == 8
    assert attrs["stage2.0.branch.shortcut.avgpool"]["kernel"] == 3
    assert "stage2.1.branch.main.shuffle" not in {n.name for n in _load("shufflenet_v1_g1_x1_0").nodes}


def test_shufflenet_v1_width_rule_matches_the_authors_code():
    """megvii-model/ShuffleNet-Series ShuffleNetV1 stage_out_channels (stem, stage 2, 3, 4) per model size."""
    authors = {
        (3, "0_5"): (12, 120, 240, 480), (3, "1_5"): (24, 360, 720, 1440), (3, "2_0"): (48, 480, 960, 1920),
        (8, "0_5"): (16, 192, 384, 768), (8, "1_5"): (24, 576, 1152, 2304), (8, "2_0"): (48, 768, 1536, 3072),
    }
    for (g, w), chans in authors.items():
        net = _load(f"shufflenet_v1_g{g}_x{w}")
        got = (net.node("conv1").out_shape[0],
               *(net.node(f"stage{s}.0.branch.concat").out_shape[0] for s in (2, 3, 4)))
        assert got == chans, (g, w)
    # where no code exists, the rule still gives widths the group convs accept: out/4 and out - in divide by g
    for g in (1, 2, 3, 4, 8):
        net = _load(f"shufflenet_v1_g{g}_x0_25")
        for s in (2, 3, 4):
            out = net.node(f"stage{s}.0.branch.concat").out_shape[0]
            assert out % (4 * g) == 0


# ---------------------------------------------------------------- (e): ShuffleNet V2 Table 5
@pytest.mark.parametrize("w", sorted(V2_TABLE5_WIDTHS))
@pytest.mark.parametrize("style", ["", "official_"])
def test_shufflenet_v2_table5_widths(w, style):
    net = _load(f"shufflenet_v2_{style}{w}")
    stem, s2, s3, s4, conv5 = V2_TABLE5_WIDTHS[w]
    assert net.node("conv1.conv").out_shape == (stem, 112, 112)
    assert net.node("maxpool").out_shape == (stem, 56, 56)
    for stage, n, width, size in zip((2, 3, 4), (4, 8, 4), (s2, s3, s4), (28, 14, 7)):
        assert net.node(f"stage{stage}.0.shuffle").out_shape == (width, size, size)
        assert net.node(f"stage{stage}.{n - 1}.shuffle").out_shape == (width, size, size)
        assert net.node(f"stage{stage}.1.branch.split").out_shapes == [(width // 2, size, size)] * 2
    assert net.node("conv5.conv").out_shape == (conv5, 7, 7)


def test_shufflenet_v2_the_two_first_units():
    """torchvision (branches out/2) against the paper's code (shortcut in, main out - in); Table 5 figures."""
    tv = {w: lwbench.count(_load(f"shufflenet_v2_{w}")).totals for w in V2_TABLE5}
    off = {w: lwbench.count(_load(f"shufflenet_v2_official_{w}")).totals for w in V2_TABLE5}
    # at 0.5x every stage doubles its input (24 -> 48 -> 96 -> 192): same units, only the fc bias differs
    assert tv["x0_5"]["madds"] == off["x0_5"]["madds"]
    assert tv["x0_5"]["params"] - off["x0_5"]["params"] == 1000
    assert round(tv["x0_5"]["madds"] / 1e4) == 4048  # 40.48M (reference README)
    # the paper's Table 5 holds for the official units at every width, within one printed unit
    for w, (mflops, mparams) in V2_TABLE5.items():
        assert abs(off[w]["madds"] / 1e6 - mflops) <= 1
        assert abs(off[w]["params"] / 1e6 - mparams) <= 0.1
    # torchvision is below Table 5 at 1.5x and 2x (about 296M and 583M: its _ops 0.296 / 0.583 GFLOPs)
    assert round(tv["x1_5"]["madds"] / 1e6) == 296 and round(tv["x2_0"]["madds"] / 1e6) == 583
    assert off["x1_5"]["madds"] - tv["x1_5"]["madds"] > 2e6
    # ... and at 1x, by the first unit of stage 2 alone (24 -> 116): 144.9M against 145.8M
    assert round(tv["x1_0"]["madds"] / 1e5) == 1449 and round(off["x1_0"]["madds"] / 1e5) == 1458


# ---------------------------------------------------------------- (f): units by hand
def test_shufflenet_v1_units_by_hand():
    rows = _rows(_load("shufflenet_v1_g3_x1_0"))
    # stage 3, unit 2: stride 1, 480 channels at 14x14, bottleneck 120, g = 3
    u = "stage3.1.branch.main"
    hw = 14 * 14
    assert rows[f"{u}.gconv1"].madds == hw * 120 * (480 // 3) == 3_763_200
    assert rows[f"{u}.gconv1"].params == 120 * (480 // 3) == 19_200
    assert rows[f"{u}.dwconv"].madds == hw * 120 * 9 == 211_680
    assert rows[f"{u}.dwconv"].params == 120 * 9
    assert rows[f"{u}.gconv2"].madds == hw * 480 * (120 // 3) == 3_763_200
    assert rows[f"{u}.bn3"].params == 2 * 480 and rows[f"{u}.bn3"].madds == 0
    assert rows[f"{u}.shuffle"].madds == 0 and rows[f"{u}.shuffle"].mac_elems == 2 * 120 * hw
    assert rows["stage3.1.branch.add"].mac_elems == 3 * 480 * hw  # two inputs read, one output written
    # stage 2, unit 1: stride 2, dense first 1x1 conv (24 -> 60 at 56x56), main branch 240 - 24 = 216 channels
    u = "stage2.0.branch.main"
    assert rows[f"{u}.gconv1"].madds == 56 * 56 * 60 * 24 == 4_515_840
    assert rows[f"{u}.dwconv"].madds == 28 * 28 * 60 * 9 == 423_360
    assert rows[f"{u}.gconv2"].madds == 28 * 28 * 216 * (60 // 3) == 3_386_880
    assert rows["stage2.0.branch.shortcut.avgpool"].madds == 0
    # whole-unit sums: the unit is its three convs plus BN parameters
    unit = [r for name, r in rows.items() if name.startswith("stage3.1.")]
    assert sum(r.madds for r in unit) == 3_763_200 + 211_680 + 3_763_200
    assert sum(r.params for r in unit) == 19_200 + 1_080 + 19_200 + 2 * (120 + 120 + 480)


def test_shufflenet_v2_units_by_hand():
    rows = _rows(_load("shufflenet_v2_x1_0"))
    # stage 3, unit 2 (Fig. 3c): 232 channels at 14x14, split 116 / 116
    u = "stage3.1.branch.right.main"
    hw = 14 * 14
    assert rows[f"{u}.pw1.conv"].madds == hw * 116 * 116 == 2_637_376
    assert rows[f"{u}.dw.conv"].madds == hw * 116 * 9 == 204_624
    assert rows[f"{u}.pw2.conv"].madds == hw * 116 * 116
    assert rows["stage3.1.shuffle"].mac_elems == 2 * 232 * hw
    unit = [r for name, r in rows.items() if name.startswith("stage3.1.")]
    assert sum(r.params for r in unit) == 116 * 116 * 2 + 116 * 9 + 3 * 2 * 116
    # the first unit of stage 2 (Fig. 3d), 24 -> 116: torchvision's against the paper's code, by hand
    tv = [r for name, r in rows.items() if name.startswith("stage2.0.")]
    off = [r for name, r in _rows(_load("shufflenet_v2_official_x1_0")).items() if name.startswith("stage2.0.")]
    tv_params = (24 * 9 + 48) + (24 * 58 + 116) + (24 * 58 + 116) + (58 * 9 + 116) + (58 * 58 + 116)
    off_params = (24 * 9 + 48) + (24 * 24 + 48) + (24 * 58 + 116) + (58 * 9 + 116) + (58 * 92 + 184)
    assert sum(r.params for r in tv) == tv_params
    assert sum(r.params for r in off) == off_params
    assert off_params - tv_params == 1_156
    assert sum(r.madds for r in off) - sum(r.madds for r in tv) == 28 * 28 * (24 * 24 + 58 * 92 - 24 * 58 - 58 * 58)


def test_squeezenet_by_hand():
    net = _load("squeezenet1_0")
    rows = _rows(net)
    # Table 1 feature maps: conv1 unpadded 7x7/2 (224 -> 109), ceil-mode pools 54, 27, 13
    assert net.node("conv1").out_shape == (96, 109, 109)
    assert net.node("maxpool1").out_shape == (96, 54, 54)
    assert net.node("maxpool4").out_shape == (256, 27, 27)
    assert net.node("maxpool8").out_shape == (512, 13, 13)
    assert rows["conv1"].params == 96 * 3 * 49 + 96
    # fire2: 96 -> s1x1 16 -> e1x1 64 + e3x3 64 at 54x54, biases everywhere
    assert rows["fire2.squeeze"].params == 96 * 16 + 16
    assert rows["fire2.expand.e3x3.conv"].params == 16 * 64 * 9 + 64
    assert rows["fire2.expand.e3x3.conv"].madds == 54 * 54 * 64 * 16 * 9
    assert net.node("fire2.expand.concat").out_shape == (128, 54, 54)
    # bypass variants: simple adds no parameters, complex adds four 1x1 convs with biases
    simple = lwbench.count(_load("squeezenet1_0_simple_bypass")).totals["params"]
    complex_ = lwbench.count(_load("squeezenet1_0_complex_bypass")).totals["params"]
    assert simple == 1_248_424
    extra = sum(c * o + o for c, o in ((96, 128), (128, 256), (256, 384), (384, 512)))
    assert complex_ - simple == extra == 341_248
    adds = {n.name for n in _load("squeezenet1_0_simple_bypass").nodes if n.op == "add"}
    assert adds == {f"fire{i}.bypass.add" for i in (3, 5, 7, 9)}
    # SqueezeNet v1.1: "2.4x less computation than v1.0" (DeepScale README); torchvision _ops 0.819 / 0.349
    m10, m11 = (lwbench.count(_load(n)).totals["madds"] for n in ("squeezenet1_0", "squeezenet1_1"))
    assert round(m10 / 1e6) == 819 and round(m11 / 1e6) == 349
    assert round(m10 / m11, 1) == 2.3  # the README's "2.4x" is rounded generously


def test_xception_by_hand():
    net = _load("xception")
    rows = _rows(net)
    # Fig. 5 feature maps at 299: 149, 147 (unpadded stem), 74, 37, 19 (entry), 19 (middle), 10 (exit)
    assert net.node("conv1").out_shape == (32, 149, 149)
    assert net.node("conv2").out_shape == (64, 147, 147)
    for name, shape in (("block1", (128, 74, 74)), ("block2", (256, 37, 37)), ("block3", (728, 19, 19)),
                        ("block12", (1024, 10, 10))):
        assert net.node(f"{name}.residual.add").out_shape == shape
    assert sum(n.name.endswith(".add") and n.name.startswith("middle.") for n in net.nodes) == 8
    assert net.node("conv4.bn").out_shape == (2048, 10, 10)
    # a separable conv: depthwise 3x3 + pointwise 1x1, no bias, one BN after (none between)
    assert rows["middle.0.sep1.depthwise"].params == 728 * 9
    assert rows["middle.0.sep1.pointwise"].params == 728 * 728
    assert rows["middle.0.sep1.pointwise"].madds == 19 * 19 * 728 * 728
    middle = sum(r.params for name, r in rows.items() if name.startswith("middle."))
    assert middle == 8 * 3 * (728 * 9 + 728 * 728 + 2 * 728)
    assert rows["block2.residual.shortcut.conv"].params == 128 * 256
    assert rows["fc"].params == 2048 * 1000 + 1000


# ---------------------------------------------------------------- (g): a typo in a table is caught
MUTATIONS = [  # (file, text, typo, variant whose expect must catch it)
    ("shufflenet_v1", "240 if $groups == 3", "204 if $groups == 3", "shufflenet_v1_g3_x1_0"),  # digits swapped
    ("shufflenet_v1", "384 if $groups == 8", "348 if $groups == 8", "shufflenet_v1_g8_x1_0"),
    ("shufflenet_v2", "stage2: 116", "stage2: 112", "shufflenet_v2_x1_0"),
    ("shufflenet_v2", "{stage2: 244, conv5: 2048}", "{stage2: 244, conv5: 2024}", "shufflenet_v2_x2_0"),
    ("squeezenet", "fire7, block: fire, s1x1: 48", "fire7, block: fire, s1x1: 46", "squeezenet1_0"),
    ("xception", "mid: 256, out: 256", "mid: 256, out: 265", "xception"),
]


@pytest.mark.parametrize(("family", "text", "typo", "variant"), MUTATIONS, ids=[m[3] + "-" + m[2] for m in MUTATIONS])
def test_a_channel_typo_is_caught_by_expect(family, text, typo, variant, tmp_path):
    src = (CONFIGS / f"{family}.yaml").read_text()
    assert src.count(text) == 1
    good, bad = tmp_path / "good.yaml", tmp_path / "typo.yaml"
    good.write_text(src)
    bad.write_text(src.replace(text, typo))
    assert lwbench.check_expect(lwbench.load(f"{good}:{variant}")) == []
    assert lwbench.check_expect(lwbench.load(f"{bad}:{variant}")) != []
