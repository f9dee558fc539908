"""Three independent counts agree on every zoo network: analytic (YAML rules) == torch-side counter (aten ops
of the built module) == fvcore (`FlopCountAnalysis.by_module`, conv/linear), per layer; params == the module's.

Speed: fvcore runs the real model once (a jit trace on CPU), about 1 s for a small net and several for a big
one on the 2-core CI machine, and the zoo has 80+ networks, so a pass on each would take minutes. Every
network is checked against the torch-side counter (meta device, cheap) and its module's params; fvcore runs
once per *structure* (networks that differ only in width or resolution share one: the same layers, kinds,
groups, kernels, strides) on its smallest member, for structures up to FVCORE_MAX_MADDS multiply-adds.
So the fvcore pass is skipped here for the biggest nets (EfficientNet B5-B7, ResNet-152, ResNeXt-101,
VGG-13/16/19); `lwbench verify --all` runs fvcore on every network (82 of 82 agreed on 2026-11-25, 2 min 11 s).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import lwbench
from lwbench.cli import main
from lwbench.verify import MATMUL_KINDS, load_net, verify_net, zoo

FVCORE_MAX_MADDS = 9.0e9
ROOT = Path(__file__).parents[1]
NAMES, FILE_ERRORS = zoo(ROOT / "configs")


def _structure(net) -> tuple:
    """What a width/resolution variant keeps: layer names, kinds, groups (depthwise as such), kernels, strides."""
    out = []
    for n in net.nodes:
        g = n.attrs.get("groups")
        if g is not None and g > 1 and g == n.in_shape[0]:
            g = "depthwise"
        out.append((n.name, n.op, g, str(n.attrs.get("kernel")), str(n.attrs.get("stride"))))
    return tuple(out)


def _fvcore_networks() -> set[str]:
    """The smallest network of each structure, if it is at most FVCORE_MAX_MADDS."""
    best: dict[tuple, tuple[int, str]] = {}
    for name in NAMES:
        try:
            net = load_net(name, names=NAMES)
        except Exception:  # noqa: BLE001 - reported by test_three_way_agreement
            continue
        madds = lwbench.count(net).totals["madds"]
        key = _structure(net)
        best[key] = min(best.get(key, (madds, name)), (madds, name))
    return {name for madds, name in best.values() if madds <= FVCORE_MAX_MADDS}


FVCORE = _fvcore_networks()


@pytest.mark.parametrize("name", sorted(NAMES))
def test_three_way_agreement(name):
    net = load_net(name, names=NAMES)
    prof = lwbench.count(net)
    run_fvcore = name in FVCORE
    res = verify_net(net, fvcore=run_fvcore)
    assert res.mismatches == [], res.mismatches[:5]
    assert res.params_module == res.params_analytic == prof.totals["params"]
    assert res.torch_layers_agree == res.layers == len(prof.layers)
    assert res.lwbench_unsupported == {}
    if run_fvcore:
        n_matmul = sum(r.kind in MATMUL_KINDS for r in prof.layers)
        assert n_matmul > 0 and res.fvcore_layers == res.fvcore_layers_agree == n_matmul
        fv = sum(r["madds_fvcore"] for r in res.rows if r["madds_fvcore"] is not None)
        assert fv == prof.totals["madds"]  # conv/linear only, exactly


def test_every_config_parses():
    assert FILE_ERRORS == {}  # a broken file would otherwise only show as missing networks


# ---------------------------------------------------------------- the command
def test_cli_verify_mobilenet_v1_exit_0(capsys):
    assert main(["verify", "mobilenet_v1"]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v1: OK" in out and "fvcore 28/28 conv/linear layers agree" in out
    assert "torch-side 85/85 layers agree" in out


def test_cli_verify_broken_rule_exit_1(monkeypatch, capsys):
    """Break the analytic conv rule by one multiply-add: both independent counts must catch it."""
    from lwbench.ops import registry
    from lwbench.ops.registry import Cost

    conv = registry.get_op("conv2d")

    def off_by_one(attrs, ins, outs):
        c = conv.cost(attrs, ins, outs)
        return Cost(c.params, c.buffers, c.madds + 1, c.act_in, c.act_out)

    monkeypatch.setitem(registry.OPS, "conv2d", replace(conv, cost=off_by_one))
    assert main(["verify", "mobilenet_v1_x0_25"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "conv0.conv" in out
    assert "fvcore 1/28 conv/linear layers agree" in out  # the 27 convs differ, the classifier does not
    assert "torch-side 58/85 layers agree" in out


def test_cli_verify_all_records_a_broken_file_and_carries_on(tmp_path, monkeypatch, capsys):
    shutil.copy(ROOT / "configs" / "mobilenet_v1.yaml", tmp_path / "mobilenet_v1.yaml")
    (tmp_path / "broken.yaml").write_text("name: broken\ninput: {channels: 3}\n")  # no layers
    monkeypatch.setenv("LWBENCH_CONFIGS", str(tmp_path))
    out_csv = tmp_path / "v.csv"
    assert main(["verify", "--all", "--no-fvcore", "-o", str(out_csv)]) == 1
    out = capsys.readouterr().out
    assert "broken: ERROR" in out and "layers: missing" in out
    assert "mobilenet_v1_x0_25: OK" in out and "7/8 networks agree" in out
    import pandas as pd

    df = pd.read_csv(out_csv, comment="#")
    assert len(df) == 7 * 85 and df["agree"].all()
    assert (df["mac_elems_analytic"] == df["mac_elems_torch"]).all()


def test_cli_verify_unknown_name_exit_2(capsys):
    assert main(["verify", "mobilenet_v9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown network 'mobilenet_v9'" in err[0]


# ---------------------------------------------------------------- profile --module
FACTORIES = '''
import torch
from torch import nn

def small():
    return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())

def boom():
    raise ValueError("no weights here")
'''


@pytest.fixture
def factories(tmp_path, monkeypatch):
    (tmp_path / "lwb_test_factories.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "lwb_test_factories"


def test_profile_module_counts(factories, tmp_path):
    out = tmp_path / "m.csv"
    assert main(["profile", "--module", f"{factories}:small", "--input", "3x32x32", "-o", str(out)]) == 0
    import pandas as pd

    df = pd.read_csv(out, comment="#").set_index("layer")
    assert df.loc[0, "madds"] == 16 * 16 * 8 * 3 * 9  # rows are nn.Sequential's names 0, 1, 2
    assert df.loc[0, "mac_elems"] == 3 * 32 * 32 + 8 * 16 * 16 + 8 * 27
    assert df.loc[1, "mac_elems"] == 2 * 8 * 16 * 16 + 4 * 8
    assert list(df["kind"]) == ["conv2d", "batchnorm", "relu"]


@pytest.mark.parametrize("args,needle", [
    (["--module", "no_such_pkg_xyz.mod:f"], "cannot import 'no_such_pkg_xyz.mod'"),
    (["--module", "{m}:boom"], "the factory raised ValueError: no weights here"),
    (["--module", "{m}:smal"], "has no attribute 'smal' (did you mean: small?)"),
    (["--module", "{m}"], "expected package.module:factory"),
    (["--module", "{m}:small", "--input", "5x32x32"], "does not run through the module"),
    (["--module", "{m}:small", "--input", "3xbadx2"], "--input: expected a shape like 3x224x224"),
    (["--input", "3x32x32", "mobilenet_v1"], "--input: goes with --module"),
])
def test_profile_module_bad_input_one_line_exit_2(factories, capsys, args, needle):
    args = [a.format(m=factories) for a in args]
    assert main(["profile", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lwbench: error:") and needle in err[0], err
