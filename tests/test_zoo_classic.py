"""The classic baselines (configs/resnet.yaml, vgg.yaml, googlenet.yaml, alexnet.yaml) against independent
references:

- torchvision's documented parameter counts (the `num_params` of each weights entry in
  torchvision/models/*.py, transcribed below), and the BVLC Caffe AlexNet's 60,965,224 / 724,406,816;
- the papers' tables (ResNet Table 1, ResNeXt Table 1, VGG Table 2, GoogLeNet Table 1), rounded as printed,
  through each file's `expect:` block;
- hand formulas for single layers (Hout·Wout·Cout·Cin/g·kh·kw);
- a second counting method: fvcore's conv + linear counts on the built torch module;
- the built module's own tensors (parameter numel, output shapes of every layer in a forward pass).

Networks are loaded by file path, so another family's half-written YAML cannot break these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import lwbench
from tests.conftest import FamilyNets

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
FILES = ("resnet", "vgg", "googlenet", "alexnet")

# torchvision's documented num_params (torchvision.models weights metadata); paper networks: see notes.
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "wide_resnet50_2": 68_883_240,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "googlenet": 6_624_904,  # without the auxiliary classifiers, as the pretrained model ships
    "alexnet": 61_100_840,
}
OTHER_PARAMS = {
    "resnet50_v1": 25_557_032,  # the stride moves, the weights do not
    "alexnet_paper": 60_965_224,  # BVLC Caffe models/bvlc_alexnet
}


_FAMILY = FamilyNets(FILES)
NETS = _FAMILY.nets
IDS = _FAMILY.ids
_load = _FAMILY.load


def _row(net, layer):
    return lwbench.count(net).by_layer()[layer]


# ---------------------------------------------------------------- (a), (b): published figures, built module
def test_the_zoo_holds_every_network():
    assert set(IDS) == set(TORCHVISION_PARAMS) | set(OTHER_PARAMS) | {"googlenet_paper"}


@pytest.mark.parametrize(("path", "variant"), NETS, ids=IDS)
def test_expect_block_holds_and_is_not_empty(path, variant):
    net = lwbench.load(f"{path}:{variant}")
    assert net.expect, "every classic network states a published figure"
    assert lwbench.check_expect(net) == []


@pytest.mark.parametrize(("path", "variant"), NETS, ids=IDS)
def test_params_equal_the_reference_and_the_built_module(path, variant):
    net = lwbench.load(f"{path}:{variant}")
    params = lwbench.count(net).totals["params"]
    model = lwbench.build(net, device="meta")
    assert sum(p.numel() for p in model.parameters()) == params
    ref = {**TORCHVISION_PARAMS, **OTHER_PARAMS}.get(variant)
    if ref is not None:
        assert params == ref


# ---------------------------------------------------------------- (c): forward pass, shapes, second counter
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fvcore traces with torch.jit
@pytest.mark.parametrize("name", ["resnet18", "googlenet", "alexnet"])
def test_forward_shapes_and_fvcore_agree(name):
    import torch
    from fvcore.nn import FlopCountAnalysis

    net = _load(name)
    model = lwbench.build(net)
    nodes = {n.name: n for n in net.nodes}
    seen = {}

    def hook(mod, args, out, name):
        seen[name] = tuple(out.shape[1:])

    for mname, mod in model.named_modules():
        if mname in nodes and nodes[mname].op not in ("split",):
            mod.register_forward_hook(lambda m, a, o, n=mname: hook(m, a, o, n))
    x = torch.randn(1, *net.input_shape)
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape) == (1, 1000)
    wrong = {n: (s, nodes[n].out_shapes[0]) for n, s in seen.items() if s != tuple(nodes[n].out_shapes[0])}
    assert not wrong, wrong  # the IR's shape inference (ceil_mode pools included) matches torch
    assert len(seen) == len(nodes)

    flops = FlopCountAnalysis(model, x)
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    ops = flops.by_operator()
    assert ops["conv"] + ops["linear"] == lwbench.count(net).totals["madds"]


# ---------------------------------------------------------------- (d): hand-derived layers
def test_resnet18_stem_and_totals_by_hand():
    net = _load("resnet18")
    conv1 = _row(net, "conv1")
    assert conv1.out_shape == "64x112x112"
    assert (conv1.params, conv1.madds) == (64 * 3 * 7 * 7, 112 * 112 * 64 * 3 * 49) == (9_408, 118_013_952)
    assert _row(net, "maxpool").out_shape == "64x56x56"
    # layer2.0: a strided 3x3 basic block with a 1x1/2 projection shortcut
    assert _row(net, "layer2.0.res.main.conv1").madds == 28 * 28 * 128 * 64 * 9
    assert _row(net, "layer2.0.res.shortcut.conv").madds == 28 * 28 * 128 * 64
    assert "layer1.0.res.shortcut.conv" not in lwbench.count(net).by_layer()  # identity where shapes match
    # basic-block convs by stage (2 blocks of two 3x3 convs, first conv of stages 2-4 strided) + shortcuts + fc
    convs = 112 * 112 * 64 * 3 * 49
    for c, hw in ((64, 56), (128, 28), (256, 14), (512, 7)):
        cin = c if c == 64 else c // 2
        convs += hw * hw * c * 9 * (cin + 3 * c)
        if c != 64:
            convs += hw * hw * c * cin
    assert lwbench.count(net).totals["madds"] == convs + 512 * 1000 == 1_814_073_344


def test_resnet50_bottleneck_and_the_paper_stride_placement():
    v15, v1 = _load("resnet50"), _load("resnet50_v1")
    r = lwbench.count(v15).by_layer()
    # layer1.0 at 56x56: 1x1 64->64, 3x3 64->64, 1x1 64->256, and the 1x1 64->256 projection
    assert [r[f"layer1.0.res.main.conv{i}"].madds for i in (1, 2, 3)] == [
        56 * 56 * 64 * 64,
        56 * 56 * 64 * 64 * 9,
        56 * 56 * 256 * 64,
    ]
    assert r["layer1.0.res.shortcut.conv"].params == 64 * 256
    # V1.5 strides the 3x3; the paper's model strides the first 1x1, which then runs on a quarter of the
    # pixels: the first block of stages 2, 3, 4 each saves 3/4 of that 1x1's madds (77,070,336 each).
    saved = sum(3 * hw * hw * c * 2 * c // 4 for hw, c in ((56, 128), (28, 256), (14, 512)))
    assert lwbench.count(v15).totals["madds"] - lwbench.count(v1).totals["madds"] == saved == 231_211_008
    assert lwbench.count(v1).by_layer()["layer2.0.res.main.conv1"].out_shape == "128x28x28"
    assert lwbench.count(v15).totals["madds"] == 4_089_184_256  # torchvision's 4.09 GFLOPS, exact


def test_resnext_grouped_3x3_by_hand():
    r = lwbench.count(_load("resnext50_32x4d")).by_layer()
    conv2 = r["layer1.0.res.main.conv2"]  # 32 groups of 4 channels: width 128 = 32 x 4
    assert conv2.out_shape == "128x56x56"
    assert (conv2.params, conv2.madds) == (128 * 4 * 9, 56 * 56 * 128 * 4 * 9)
    assert conv2.category == "conv"


def test_vgg16_by_hand():
    prof = lwbench.count(_load("vgg16"))
    r = prof.by_layer()
    assert (r["conv1.0.conv"].params, r["conv1.0.conv"].madds) == (3 * 64 * 9 + 64, 224 * 224 * 64 * 3 * 9)
    assert r["pool5"].out_shape == "512x7x7"
    assert (r["fc6.fc"].params, r["fc6.fc"].madds) == (25_088 * 4096 + 4096, 25_088 * 4096)
    # configuration D: (channels, side, convs per stage)
    madds, params, cin = 0, 0, 3
    for c, hw, n in ((64, 224, 2), (128, 112, 2), (256, 56, 3), (512, 28, 3), (512, 14, 3)):
        for _ in range(n):
            madds += hw * hw * c * cin * 9
            params += c * cin * 9 + c
            cin = c
    for fin, fout in ((25_088, 4096), (4096, 4096), (4096, 1000)):
        madds += fin * fout
        params += fin * fout + fout
    assert (prof.totals["madds"], prof.totals["params"]) == (madds, params) == (15_470_264_320, 138_357_544)


def test_googlenet_inception3a_and_ceil_mode_pools_by_hand():
    net = _load("googlenet")
    r = lwbench.count(net).by_layer()
    # torchvision's pools use ceil_mode=True: 112 -> 56 -> 28 -> 14 -> 7 (the last one 2x2/2)
    assert [r[f"maxpool{i}"].out_shape for i in (1, 2, 3, 4)] == ["64x56x56", "192x28x28", "480x14x14", "832x7x7"]
    names = [n.name for n in net.nodes if n.name.startswith("inception3a.") and n.op == "conv2d"]
    convs = sum(r[n].madds for n in names)
    # #1x1 64, #3x3 reduce 96 -> 128, #"5x5" reduce 16 -> 32 (a 3x3 in torchvision), pool proj 32, at 28x28
    per_pixel = 192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 9 + 192 * 32
    assert convs == 28 * 28 * per_pixel
    assert r["inception3a.mix.concat"].out_shape == "256x28x28"
    bn = r["inception3a.mix.b1x1.conv1x1.bn"]
    assert bn.params == 2 * 64
    assert net.nodes[[n.name for n in net.nodes].index("inception3a.mix.b1x1.conv1x1.bn")].attrs["eps"] == 0.001
    # the paper's 5x5 branch recomputes Table 1's 128M ops for inception (3a)
    paper = lwbench.count(_load("googlenet_paper")).by_layer()
    p3a = sum(paper[n].madds for n in paper if n.startswith("inception3a.") and paper[n].kind == "conv2d")
    assert round(p3a / 1e6) == 128


def test_alexnet_by_hand():
    r = lwbench.count(_load("alexnet")).by_layer()
    # (224 + 2·2 − 11) // 4 + 1 = 55
    assert r["conv1.conv"].out_shape == "64x55x55"
    assert (r["conv1.conv"].params, r["conv1.conv"].madds) == (64 * 3 * 121 + 64, 55 * 55 * 64 * 3 * 121)
    assert r["pool5"].out_shape == "256x6x6"
    assert r["fc6.fc"].madds == 9216 * 4096
    paper = lwbench.count(_load("alexnet_paper")).by_layer()  # two towers: conv2 is groups=2
    assert paper["conv2.conv"].params == 256 * (96 // 2) * 25 + 256
    assert paper["conv1.conv"].out_shape == "96x55x55"  # 227 input, no padding: (227 - 11) // 4 + 1


# ---------------------------------------------------------------- (e): a typo in a channel number is caught
MUTATIONS = {
    "resnet": ("block: basic, planes: 256,", "block: basic, planes: 255,"),
    "vgg": ("{name: conv4, block: conv, out: 512,", "{name: conv4, block: conv, out: 521,"),
    "googlenet": ("c1x1: 192, c3x3_reduce: 96,  c3x3: 208,", "c1x1: 192, c3x3_reduce: 96,  c3x3: 200,"),
    "alexnet": ("  c2: 192", "  c2: 196"),
}


@pytest.mark.parametrize("family", FILES)
def test_a_channel_typo_is_caught_by_expect(family, tmp_path):
    text = (CONFIGS / f"{family}.yaml").read_text()
    old, new = MUTATIONS[family]
    assert text.count(old) == 1
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(text)
    bad.write_text(text.replace(old, new))
    assert lwbench.check_expect(lwbench.load(str(good))) == []
    msgs = lwbench.check_expect(lwbench.load(str(bad)))
    assert any("params" in m for m in msgs), msgs
