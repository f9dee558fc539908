"""MobileNet V1 against two independent references:
- the per-layer table that TF-slim's mobilenet_v1.py ships (tests/data, exact params and multiply-adds);
- the paper's width/resolution tables (Howard et al. 2017, Tables 6-7), rounded as printed.
"""

from __future__ import annotations

import csv
import re

import pytest

import lwbench
from tests.conftest import DATA


def _tfslim_rows():
    with open(DATA / "mobilenet_v1_tfslim_layers.csv") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def _our_name(tf_name: str) -> str:
    """MobilenetV1/Conv2d_3_depthwise/depthwise -> conv3.depthwise.conv (our module path)."""
    m = re.match(r"MobilenetV1/Conv2d_(\d+)(?:_(depthwise|pointwise))?/", tf_name)
    idx, part = m.group(1), m.group(2)
    return f"conv{idx}.conv" if part is None else f"conv{idx}.{part}.conv"


def test_every_tfslim_conv_layer_exact():
    prof = lwbench.count(lwbench.load("mobilenet_v1"))
    rows = prof.by_layer()
    ref = _tfslim_rows()
    assert len(ref) == 27
    convs = [r for r in prof.layers if r.kind == "conv2d"]
    assert len(convs) == 27
    for r in ref:
        ours = rows[_our_name(r["layer"])]
        assert (ours.params, ours.madds) == (int(r["params"]), int(r["madds"])), r["layer"]


def test_tfslim_totals_without_bn_and_fc():
    prof = lwbench.count(lwbench.load("mobilenet_v1"))
    convs = [r for r in prof.layers if r.kind == "conv2d"]
    assert sum(r.params for r in convs) == 3_185_088
    assert sum(r.madds for r in convs) == 567_716_352
    ref = _tfslim_rows()
    assert sum(int(r["params"]) for r in ref) == 3_185_088
    assert sum(int(r["madds"]) for r in ref) == 567_716_352


def test_totals_with_bn_and_classifier_by_hand():
    tot = lwbench.count(lwbench.load("mobilenet_v1")).totals
    widths = [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
    bn = sum(2 * c for c in widths) + sum(2 * c for c in widths[:-1])  # every conv is followed by a BN
    fc = 1024 * 1000 + 1000
    assert tot["params"] == 3_185_088 + bn + fc == 4_231_976
    assert tot["madds"] == 567_716_352 + 1024 * 1000


# (name, width, resolution, paper madds (M), paper params (M), exact madds recomputed in the reference README)
PAPER = [
    ("mobilenet_v1", 1.0, 224, 569, 4.2, 568.74),
    ("mobilenet_v1_x0_75", 0.75, 224, 325, 2.6, 325.40),
    ("mobilenet_v1_x0_5", 0.5, 224, 149, 1.3, 149.50),
    ("mobilenet_v1_x0_25", 0.25, 224, 41, 0.5, 41.03),
    ("mobilenet_v1_r192", 1.0, 192, 418, 4.2, 418.12),
    ("mobilenet_v1_r160", 1.0, 160, 290, 4.2, 290.68),
    ("mobilenet_v1_r128", 1.0, 128, 186, 4.2, 186.40),
]


@pytest.mark.parametrize("name,width,res,madds_m,params_m,exact_m", PAPER)
def test_paper_width_resolution_table(name, width, res, madds_m, params_m, exact_m):
    net = lwbench.load(name)
    tot = lwbench.count(net).totals
    assert net.input_shape == (3, res, res)
    assert abs(tot["madds"] / 1e6 - madds_m) <= 1.0  # one unit of the printed digit
    assert abs(tot["params"] / 1e6 - params_m) <= 0.1
    assert round(tot["madds"] / 1e6, 2) == exact_m
    assert lwbench.check_expect(net) == []
    # the same figure reached through --width / --resolution on the base network
    again = lwbench.count(lwbench.load("mobilenet_v1", width=width if width != 1.0 else None,
                                       resolution=res if res != 224 else None)).totals
    assert again == tot


def test_tfslim_depth_floor_rule():
    """TF-slim: depth(d) = max(int(d * α), 8); at α = 0.25 the stem is 8 channels, conv1 16."""
    net = lwbench.load("mobilenet_v1_x0_25")
    assert net.node("conv0.conv").out_shape == (8, 112, 112)
    assert net.node("conv1.pointwise.conv").out_shape == (16, 112, 112)
    net = lwbench.load("mobilenet_v1", width=0.1)
    assert net.node("conv0.conv").out_shape[0] == 8  # floor(3.2) raised to the minimum of 8
