"""Each cost rule against a hand formula (ShuffleNet V2 Sec. 2 for mac; conv arithmetic for shapes)."""

from __future__ import annotations

import pytest

import lwbench


def one(yaml_net, layer: str, res: int = 56, cin: int = 128, **kw):
    net, _ = yaml_net(f"""
        name: t
        input: {{channels: {cin}, resolution: {res}}}
        layers:
          - {layer}
    """)
    prof = lwbench.count(net, **kw)
    return net, prof.layers[0]


@pytest.mark.parametrize("c1,c2,hw", [(128, 128, 56), (90, 180, 56), (36, 432, 28), (3, 7, 5)])
def test_pointwise_conv_g1_formula(yaml_net, c1, c2, hw):
    """G1: 1x1 conv c1->c2 at h×w: madds = h·w·c1·c2 ; mac = h·w·(c1+c2) + c1·c2."""
    _, r = one(yaml_net, f"{{op: conv2d, out: {c2}, kernel: 1, bias: false}}", res=hw, cin=c1)
    assert r.madds == hw * hw * c1 * c2
    assert r.mac_elems == hw * hw * (c1 + c2) + c1 * c2
    assert r.params == c1 * c2
    assert r.category == "pointwise"


@pytest.mark.parametrize("c,g", [(128, 1), (180, 2), (256, 4), (360, 8)])
def test_grouped_pointwise_g2_formula(yaml_net, c, g):
    """G2: grouped 1x1 conv c->c, g groups: madds = h·w·c²/g ; mac = h·w·2c + c²/g."""
    h = w = 56
    _, r = one(yaml_net, f"{{op: conv2d, out: {c}, kernel: 1, groups: {g}, bias: false}}", cin=c)
    assert r.madds == h * w * c * c // g
    assert r.mac_elems == h * w * 2 * c + c * c // g


def test_g2_mac_grows_with_groups_at_fixed_madds(yaml_net):
    rows = [one(yaml_net, f"{{op: conv2d, out: {c}, kernel: 1, groups: {g}, bias: false}}", cin=c)[1]
            for c, g in ((128, 1), (180, 2), (256, 4), (360, 8))]
    madds = [r.madds for r in rows]
    assert max(madds) / min(madds) < 1.02
    macs = [r.mac_elems for r in rows]
    assert macs == sorted(macs) and len(set(macs)) == 4


def test_depthwise_stride2(yaml_net):
    """3x3 depthwise, stride 2, padding 1 on 32x112x112 -> 32x56x56; madds = 56·56·32·9."""
    net, r = one(yaml_net, "{op: conv2d, out: $in, kernel: 3, stride: 2, groups: $in, bias: false}", res=112, cin=32)
    assert net.nodes[0].out_shape == (32, 56, 56)
    assert r.madds == 56 * 56 * 32 * 9
    assert r.params == 32 * 9
    assert r.mac_elems == 32 * 112 * 112 + 32 * 56 * 56 + 32 * 9
    assert r.category == "depthwise"


@pytest.mark.parametrize(
    "attrs,res,out_hw",
    [
        ("kernel: 3, dilation: 2", 28, 28),               # default padding d·(k-1)//2 = 2 keeps the size
        ("kernel: 3, dilation: 2, padding: 0", 28, 24),   # 28 - 2·2 = 24
        ("kernel: 3, stride: 2, padding: 0", 7, 3),       # floor((7-3)/2)+1
        ("kernel: 3, stride: 2", 7, 4),                   # floor((7+2-3)/2)+1
        ("kernel: 5, stride: 2", 8, 4),
        ("kernel: 1, stride: 2", 7, 4),
        ("kernel: [1, 7], padding: [0, 3]", 17, 17),
    ],
)
def test_conv_output_size_edge_cases(yaml_net, attrs, res, out_hw):
    net, r = one(yaml_net, f"{{op: conv2d, out: 16, {attrs}, bias: false}}", res=res, cin=8)
    s = net.nodes[0].out_shape
    assert s[0] == 16 and s[2] == out_hw
    k = net.nodes[0].attrs["kernel"]
    kh, kw = (k, k) if isinstance(k, int) else k
    assert r.madds == s[1] * s[2] * 16 * 8 * kh * kw


def test_conv_output_size_matches_torch(yaml_net):
    import torch

    for k, s, p, d in [(3, 2, 0, 1), (3, 2, 1, 2), (5, 3, 2, 1), (7, 2, 3, 1), (2, 2, 0, 1)]:
        net, _ = one(yaml_net, f"{{op: conv2d, out: 4, kernel: {k}, stride: {s}, padding: {p}, dilation: {d}}}",
                     res=23, cin=2)
        y = torch.nn.Conv2d(2, 4, k, s, p, d)(torch.zeros(1, 2, 23, 23))
        assert net.nodes[0].out_shape == tuple(y.shape[1:])


def test_ceil_mode_pooling_matches_torch(yaml_net):
    import torch

    for res, k, s, p, ceil in [(111, 3, 2, 0, True), (55, 3, 2, 0, True), (56, 3, 2, 1, False), (14, 3, 2, 1, True)]:
        net, r = one(yaml_net, f"{{op: maxpool, kernel: {k}, stride: {s}, padding: {p}, ceil_mode: {str(ceil).lower()}}}",
                     res=res, cin=3)
        y = torch.nn.MaxPool2d(k, s, p, ceil_mode=ceil)(torch.zeros(1, 3, res, res))
        assert net.nodes[0].out_shape == tuple(y.shape[1:])
        assert r.madds == 0 and r.mac_elems == 3 * res * res + y.numel()


def test_linear_and_bias(yaml_net):
    net, _ = yaml_net("""
        name: t
        input: {channels: 64, resolution: 1}
        layers:
          - {op: flatten}
          - {op: linear, out: 10}
    """)
    flat, fc = lwbench.count(net).layers
    assert (flat.madds, flat.mac_elems) == (0, 0)  # a view: free on purpose
    assert fc.madds == 640 and fc.params == 650 and fc.mac_elems == 64 + 10 + 650


def test_batch_scales_activations_not_weights(yaml_net):
    """mac = N·(inputs + outputs) + weights: weights are read once per batch."""
    _, r1 = one(yaml_net, "{op: conv2d, out: 64, kernel: 1, bias: false}", cin=32, res=14)
    _, r8 = one(yaml_net, "{op: conv2d, out: 64, kernel: 1, bias: false}", cin=32, res=14, batch=8)
    act = 14 * 14 * (32 + 64)
    assert r1.mac_elems == act + 32 * 64 and r8.mac_elems == 8 * act + 32 * 64
    assert r8.madds == 8 * r1.madds and r8.params == r1.params


@pytest.mark.parametrize("dtype,nbytes", [("float32", 4), ("float16", 2), ("int8", 1)])
def test_mac_bytes_per_dtype(yaml_net, dtype, nbytes):
    _, r = one(yaml_net, "{op: conv2d, out: 64, kernel: 3}", cin=32, res=14, dtype=dtype)
    assert r.mac_bytes == nbytes * r.mac_elems


def test_elementwise_merges_and_shuffle(yaml_net):
    """add reads 2N writes N; concat reads all inputs and writes their sum; split and shuffle read+write."""
    net, _ = yaml_net("""
        name: t
        input: {channels: 8, resolution: 4}
        layers:
          - name: r
            parallel: [[], [{op: relu}]]
            merge: add
          - name: u
            split: half
            parallel: [[], [{op: conv2d, out: 4, kernel: 1, bias: false}]]
            merge: concat
          - {name: s, op: shuffle, groups: 2}
          - {name: c, op: conv2d, out: 8, kernel: 1, bias: false}
    """)
    rows = lwbench.count(net).by_layer()
    n = 8 * 4 * 4
    assert rows["r.branch1.0"].mac_elems == 2 * n
    assert rows["r.add"].mac_elems == 3 * n and rows["r.add"].madds == 0
    assert rows["u.split"].mac_elems == 2 * n and rows["u.split"].out_shape == "4x4x4+4x4x4"
    assert rows["u.branch1.0"].madds == 16 * 4 * 4
    assert rows["u.concat"].mac_elems == 2 * n
    assert rows["s"].mac_elems == 2 * n and rows["s"].category == "shuffle"


def test_se_broadcast_mul(yaml_net):
    net, _ = yaml_net("""
        name: t
        input: {channels: 16, resolution: 8}
        layers:
          - name: se
            parallel:
              keep: []
              excite: [{name: pool, op: gap}, {name: fc1, op: conv2d, out: 4, kernel: 1},
                       {name: relu, op: relu}, {name: fc2, op: conv2d, out: 16, kernel: 1},
                       {name: gate, op: hardsigmoid}]
            merge: mul
    """)
    rows = lwbench.count(net).by_layer()
    assert rows["se.excite.fc1"].madds == 16 * 4 and rows["se.excite.fc1"].params == 16 * 4 + 4
    assert rows["se.excite.fc2"].madds == 4 * 16
    assert rows["se.mul"].in_shape == "16x8x8+16x1x1" and rows["se.mul"].out_shape == "16x8x8"
    assert rows["se.mul"].mac_elems == 16 * 64 + 16 + 16 * 64


def test_fold_bn_policy(yaml_net):
    net, _ = yaml_net("""
        name: t
        input: {channels: 3, resolution: 8}
        layers:
          - {name: conv, op: conv2d, out: 16, kernel: 3, bias: false}
          - {name: bn, op: batchnorm}
          - {name: relu, op: relu}
    """)
    sep = lwbench.count(net)
    fold = lwbench.count(net, fold_bn=True)
    assert [r.layer for r in sep.layers] == ["conv", "bn", "relu"]
    assert [r.layer for r in fold.layers] == ["conv", "relu"]
    assert sep.by_layer()["bn"].params == 32
    assert fold.by_layer()["conv"].params == 16 * 27 + 16  # the folded conv gains a bias
    assert fold.totals["madds"] == sep.totals["madds"]
    assert "folded" in fold.bn_policy


def test_width_rule_make_divisible(yaml_net):
    """torchvision's _make_divisible: nearest multiple of 8, never below 90% of the value."""
    from lwbench.spec.expr import make_divisible

    assert [make_divisible(v, 8) for v in (32 * 0.35, 16 * 0.35, 24 * 1.4, 1280 * 1.4, 20, 12)] == [16, 8, 32, 1792, 24, 16]
    net, _ = yaml_net("""
        name: t
        input: {channels: 3, resolution: 8}
        params: {width: 0.35}
        channels: {round: make_divisible, divisor: 8}
        layers:
          - {op: conv2d, out: ch(32), kernel: 1}
    """)
    assert net.nodes[0].out_shape[0] == 16


def test_every_op_kind_has_a_rule_and_unknown_is_an_error():
    from lwbench.errors import UnknownNameError
    from lwbench.ops import all_ops, get_op

    kinds = all_ops()
    assert {"conv2d", "linear", "batchnorm", "relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "swish",
            "maxpool", "avgpool", "global_avgpool", "add", "mul", "concat", "split", "shuffle", "flatten",
            "dropout"} <= set(kinds)
    assert {k for k, v in kinds.items() if v.free} == {"flatten", "dropout", "identity"}
    with pytest.raises(UnknownNameError, match="did you mean: conv2d"):
        get_op("conv2")
