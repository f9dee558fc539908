"""The torch-side counter (`lwbench.count_module`) on small modules defined here, against hand formulas.

Formulas: conv madds = Ho·Wo·Cout·(Cin/g)·kh·kw; mac (ShuffleNet V2, Sec. 2) = inputs + outputs + weights,
so a grouped 1x1 conv c1->c2 with g groups at h×w has mac = h·w·(c1+c2) + c1·c2/g (G1 for g=1, G2).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lwbench
from lwbench.errors import InputError
from lwbench.measure.torchcount import count_module


def rows(prof):
    return prof.by_layer()


# ---------------------------------------------------------------- convolutions
@pytest.mark.parametrize("c,g", [(128, 1), (180, 2), (256, 4), (360, 8)])
def test_grouped_pointwise_g2(c, g):
    """G2: grouped 1x1 conv c->c at 56x56: madds = h·w·c²/g; mac = h·w·2c + c²/g."""
    h = w = 56
    r = count_module(nn.Conv2d(c, c, 1, groups=g, bias=False), (c, h, w)).layers[0]
    assert r.madds == h * w * c * c // g
    assert r.mac_elems == h * w * 2 * c + c * c // g
    assert r.params == c * c // g
    assert r.category == "pointwise" and r.kind == "conv2d"


@pytest.mark.parametrize("c1,c2,hw", [(128, 128, 56), (90, 180, 56), (3, 7, 5)])
def test_pointwise_g1_with_batch(c1, c2, hw):
    """G1 with batch N: madds = N·h·w·c1·c2; mac = N·h·w·(c1+c2) + c1·c2 (weights read once)."""
    n = 3
    r = count_module(nn.Conv2d(c1, c2, 1, bias=False), (c1, hw, hw), batch=n).layers[0]
    assert r.madds == n * hw * hw * c1 * c2
    assert r.mac_elems == n * hw * hw * (c1 + c2) + c1 * c2
    assert r.out_elems == n * hw * hw * c2
    assert (r.in_shape, r.out_shape) == (f"{c1}x{hw}x{hw}", f"{c2}x{hw}x{hw}")


def test_depthwise_stride2_with_bias():
    """3x3 depthwise, stride 2 on 32x112x112 -> 32x56x56: madds = 56·56·32·9; params 32·9 + 32."""
    r = count_module(nn.Conv2d(32, 32, 3, 2, 1, groups=32), (32, 112, 112)).layers[0]
    assert r.out_shape == "32x56x56"
    assert r.madds == 56 * 56 * 32 * 9
    assert r.params == 32 * 9 + 32
    assert r.mac_elems == 32 * 112 * 112 + 32 * 56 * 56 + 32 * 9 + 32
    assert r.category == "depthwise"


@pytest.mark.parametrize("bias,batch", [(False, 1), (True, 2)])
def test_grouped_3x3_resnext_style(yaml_net, bias, batch):
    """ResNeXt's grouped 3x3 (32 groups of 4 channels), stride 2, padding 1: 128x56x56 -> 128x28x28.
    madds = Ho·Wo·Cout·(Cin/g)·9; params = Cout·(Cin/g)·9 (+ Cout bias); mac = N·(Hi·Wi·Cin + Ho·Wo·Cout) + params."""
    cin = cout = 128
    g, hi, ho = 32, 56, 28
    r = count_module(nn.Conv2d(cin, cout, 3, 2, 1, groups=g, bias=bias), (cin, hi, hi), batch=batch).layers[0]
    params = cout * (cin // g) * 9 + (cout if bias else 0)
    assert r.out_shape == f"{cout}x{ho}x{ho}"
    assert r.madds == batch * ho * ho * cout * (cin // g) * 9 == batch * 3_612_672
    assert r.params == params == (4_608 + (128 if bias else 0))
    assert r.mac_elems == batch * (hi * hi * cin + ho * ho * cout) + params
    assert r.category == "conv"  # grouped, but not depthwise (g != Cin) and not 1x1
    net, _ = yaml_net(f"""
        name: g
        input: {{channels: {cin}, resolution: {hi}}}
        layers:
          - {{name: conv, op: conv2d, out: {cout}, kernel: 3, stride: 2, groups: {g}, bias: {str(bias).lower()}}}
        """)
    a = lwbench.count(net, batch=batch).layers[0]  # the analytic rule agrees on every figure
    assert (a.madds, a.params, a.mac_elems, a.category, a.out_shape) == (r.madds, r.params, r.mac_elems, r.category,
                                                                       r.out_shape)


def test_dense_3x3_and_linear():
    m = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))
    r = rows(count_module(m, (3, 16, 16), batch=2))
    assert r["0"].madds == 2 * 8 * 8 * 16 * 3 * 9 and r["0"].category == "conv"
    assert r["1"].mac_elems == 0 and r["1"].out_elems == 0  # flatten is a view: free
    assert r["2"].madds == 2 * 1024 * 10
    assert r["2"].params == 1024 * 10 + 10
    assert r["2"].mac_elems == 2 * (1024 + 10) + 1024 * 10 + 10  # weight read once through the t() view


def test_batchnorm_reads_running_stats():
    """BN at inference: 2C params; mac = in + out + γ, β, running mean, running var (4C)."""
    r = count_module(nn.BatchNorm2d(24), (24, 10, 10)).layers[0]
    assert r.params == 48 and r.madds == 0
    assert r.mac_elems == 2 * 2400 + 4 * 24
    assert (r.kind, r.category) == ("batchnorm", "element-wise")


# ---------------------------------------------------------------- blocks with merges
class SE(nn.Module):
    """Squeeze-and-excitation (MobileNet V3): the gate multiplies the input, broadcasting Cx1x1."""

    def __init__(self, c: int, r: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(c, r, 1)
        self.relu = nn.ReLU(inplace=True)
        self.expand = nn.Conv2d(r, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.expand(self.relu(self.reduce(self.pool(x)))))


def test_se_broadcasting_mul():
    c, r, hw = 40, 16, 14
    p = rows(count_module(SE(c, r), (c, hw, hw)))
    assert p["pool"].kind == "global_avgpool" and p["pool"].mac_elems == c * hw * hw + c
    assert p["reduce"].madds == c * r and p["reduce"].params == c * r + r
    assert p["expand"].madds == r * c
    mul = p["<root>:mul"]  # the op the container runs itself
    assert mul.madds == 0
    assert mul.mac_elems == c * hw * hw + c + c * hw * hw  # reads x and the Cx1x1 gate, writes x
    assert mul.in_shape == f"{c}x{hw}x{hw}+{c}x1x1"


class Shuffle(nn.Module):
    """ShuffleNet's channel shuffle, written as torchvision does (view, transpose, contiguous, view)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups
        self.conv = nn.Conv2d(24, 24, 1, groups=groups, bias=False)

    def forward(self, x):
        x = self.conv(x)
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


def test_channel_shuffle_functional_and_module():
    p = rows(count_module(Shuffle(3), (24, 7, 7)))
    assert p["conv"].mac_elems == 2 * 24 * 49 + 24 * 24 // 3
    # the views are free; the contiguous copy reads and writes the map once
    assert p["<root>:clone"].mac_elems == 2 * 24 * 49
    assert set(p) == {"conv", "<root>:clone"}
    r = count_module(nn.ChannelShuffle(3), (24, 7, 7)).layers[0]
    assert (r.kind, r.category, r.mac_elems, r.madds) == ("shuffle", "shuffle", 2 * 24 * 49, 0)


class Branches(nn.Module):
    """Inception-like: two conv branches concatenated, then a ShuffleNet V2 channel split."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(8, 16, 1, bias=False)
        self.b = nn.Conv2d(8, 24, 3, padding=1, bias=False)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        left, right = y.chunk(2, dim=1)
        return left + right


def test_concat_branches_and_split():
    hw = 10
    p = rows(count_module(Branches(), (8, hw, hw), batch=2))
    n = 2
    assert p["b"].madds == n * hw * hw * 24 * 8 * 9
    assert p["<root>:cat"].mac_elems == n * 2 * (16 + 24) * hw * hw  # read both, write the concat
    assert p["<root>:cat"].category == "concat/split"
    assert p["<root>:split"].mac_elems == n * 2 * 40 * hw * hw  # split counted as read + write (analytic rule)
    assert p["<root>:split"].out_shape == "20x10x10+20x10x10"
    assert p["<root>:add"].mac_elems == n * 3 * 20 * hw * hw


class Residual(nn.Module):
    """A ResNet basic block with one ReLU module called twice (as torchvision's BasicBlock)."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out += x
        return self.relu(out)


def test_residual_inplace_add_and_shared_module():
    c, hw = 16, 8
    prof = count_module(Residual(c), (c, hw, hw))
    p = rows(prof)
    assert list(p) == ["conv1", "bn1", "relu", "conv2", "bn2", "<root>:add"]
    assert p["relu"].mac_elems == 2 * (2 * c * hw * hw) and "called 2x" in p["relu"].note
    assert p["<root>:add"].mac_elems == 3 * c * hw * hw  # in-place add still reads two maps and writes one
    assert prof.totals["params"] == sum(q.numel() for q in Residual(c).parameters())
    assert prof.totals["madds"] == 2 * hw * hw * c * c * 9


# ---------------------------------------------------------------- whole networks, behaviour
def test_lwbench_built_module_joins_analytic_rows_exactly():
    net = lwbench.load(str(Path(__file__).parents[1] / "configs" / "mobilenet_v1.yaml"), width=0.25, resolution=96)
    a = lwbench.count(net, batch=2, dtype="float16")
    t = lwbench.count_module(lwbench.build(net, device="meta"), net.input_shape, batch=2, dtype="float16")
    assert [r.layer for r in t.layers] == [r.layer for r in a.layers]
    for ra, rt in zip(a.layers, t.layers):
        for k in ("kind", "category", "in_shape", "out_shape", "params", "madds", "mac_elems", "mac_bytes",
                  "out_elems"):
            assert getattr(rt, k) == getattr(ra, k), (ra.layer, k)


def test_unsupported_op_is_listed_not_zero():
    class Spectral(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return torch.fft.rfft2(self.conv(x)).abs()

    prof = count_module(Spectral(), (3, 8, 8))
    assert prof.extra["unsupported"] and any("fft" in k for k in prof.extra["unsupported"])
    row = rows(prof)["<root>:" + next(k for k in prof.extra["unsupported"] if "fft" in k)]
    assert "no rule for" in row.note


def test_data_dependent_model_falls_back_to_cpu_and_counts_the_same():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            y = self.conv(x)
            return y if bool(y.abs().sum() >= 0) else -y  # .item() on a meta tensor fails

    prof = count_module(Gate(), (3, 8, 8))
    assert prof.extra["device"] == "cpu"
    assert rows(prof)["conv"].madds == 8 * 8 * 8 * 3 * 9


def test_module_left_untouched():
    m = Residual(8).train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    count_module(m, (8, 4, 4))
    assert m.training and all(x.training for x in m.modules())
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].device.type == "cpu" for k in before)


def test_unused_parameters_are_reported():
    class Idle(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(4, 4)
            self.unused = nn.Linear(4, 100)

        def forward(self, x):
            return self.used(x)

    prof = count_module(Idle(), (4,))
    assert prof.totals["params"] == 20
    assert prof.extra["params_not_run"] == {"unused": 500}


@pytest.mark.parametrize("shape", ["3xax2", "", (0, 4, 4), (3, -1)])
def test_bad_shapes(shape):
    with pytest.raises(InputError):
        count_module(nn.Conv2d(3, 4, 1), shape)


def test_shape_that_does_not_fit_is_one_input_error():
    with pytest.raises(InputError, match="does not run through the module"):
        count_module(nn.Conv2d(3, 4, 1), (5, 8, 8))


def test_bad_arguments():
    with pytest.raises(InputError):
        count_module("not a module", (3, 8, 8))
    with pytest.raises(InputError):
        count_module(nn.ReLU(), (3, 8, 8), dtype="float64")
    with pytest.raises(InputError):
        count_module(nn.ReLU(), (3, 8, 8), batch=0)


# ---------------------------------------------------------------- whole networks written the torchvision way
# A second implementation, written here in plain torch the way torchvision writes these models (functional
# chunk/cat/channel shuffle and residual adds inside container modules, ReLU in place, mean/adaptive pool):
# nothing is shared with the YAML zoo but the architecture, and the torch-side counter must reproduce the
# analytic totals exactly, and torchvision's published parameter counts (docs, `num_params`).


def conv_bn(cin, cout, k=1, s=1, groups=1, act=nn.ReLU):
    layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(n, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=None), conv_bn(cin, half))
        self.branch2 = nn.Sequential(conv_bn(cin if stride > 1 else half, half),
                                     conv_bn(half, half, 3, stride, groups=half, act=None), conv_bn(half, half))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, repeats=(4, 8, 4), widths=(24, 116, 232, 464, 1024), classes=1000):
        super().__init__()
        self.conv1 = conv_bn(3, widths[0], 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], widths[0]
        for n, cout in zip(repeats, widths[1:4]):
            stages.append(nn.Sequential(*[ShuffleUnit(cin if i == 0 else cout, cout, 2 if i == 0 else 1) for i in range(n)]))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.conv5 = conv_bn(cin, widths[4])
        self.fc = nn.Linear(widths[4], classes)

    def forward(self, x):
        x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hid = cin * t
        self.use_res = stride == 1 and cin == cout
        layers = [conv_bn(cin, hid, act=nn.ReLU6)] if t != 1 else []
        layers += [conv_bn(hid, hid, 3, stride, groups=hid, act=nn.ReLU6), conv_bn(hid, cout, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, classes=1000):
        super().__init__()
        feats, cin = [conv_bn(3, 32, 3, 2, act=nn.ReLU6)], 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                feats.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        feats.append(conv_bn(cin, 1280, act=nn.ReLU6))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


CONFIGS = Path(__file__).parents[1] / "configs"


@pytest.mark.parametrize("cls,yaml,tv_params", [
    (ShuffleNetV2, "shufflenet_v2.yaml:shufflenet_v2_x1_0", 2_278_604),
    (MobileNetV2, "mobilenet_v2.yaml:mobilenet_v2", 3_504_872),
])
def test_torchvision_style_network_matches_the_yaml_totals(cls, yaml, tv_params):
    model = cls()
    prof = count_module(model, (3, 224, 224))
    analytic = lwbench.count(lwbench.load(str(CONFIGS / yaml)))
    assert prof.totals["params"] == sum(p.numel() for p in model.parameters()) == tv_params
    for k in ("params", "madds", "mac_elems", "out_elems"):
        assert prof.totals[k] == analytic.totals[k], k
    assert prof.extra["unsupported"] == {}
