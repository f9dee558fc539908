"""Three independent counts agree on every zoo network: analytic (YAML rules) == torch-side counter (aten ops
of the built module) == fvcore (`FlopCountAnalysis.by_module`, conv/linear), per layer; params == the module's.

fvcore runs on all 82 networks at their native resolution (EfficientNet-B7 at 600x600, VGG-19, ResNet-152 and
the rest included): its jit trace is a real forward pass of a random image (batch 1), in which every layer's
output must also have the IR's shape. Cost on the shared 2-core machine: this file takes about 75 s, about 40 s
more than when fvcore ran on 33 networks only (EfficientNet-B7 is the slowest: 4 s, 14 s under heavy load). It is
kept there by flushing denormals during the trace (lwbench/verify.py: random weights make them, and they slow a
CPU forward 10-20x) and by one intra-op thread, as fast as two here and kinder to the other jobs on the cores.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import lwbench
from lwbench.cli import main
from lwbench.verify import MATMUL_KINDS, load_net, verify_net, zoo

ROOT = Path(__file__).parents[1]
NAMES, FILE_ERRORS = zoo(ROOT / "configs")


@pytest.fixture(scope="module")
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_whole_zoo_is_checked():
    assert len(NAMES) >= 82  # a file that stopped parsing would silently shrink the parametrization below
    for name in ("efficientnet_b7", "resnet152", "resnext101_32x8d", "wide_resnet50_2", "vgg19_bn", "xception"):
        assert name in NAMES


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fvcore traces with torch.jit
@pytest.mark.parametrize("name", sorted(NAMES))
def test_three_way_agreement(name, one_thread):
    net = load_net(name, names=NAMES)
    prof = lwbench.count(net)
    res = verify_net(net, fvcore=True)
    assert res.mismatches == [], res.mismatches[:5]
    assert res.params_module == res.params_analytic == prof.totals["params"]
    assert res.torch_layers_agree == res.layers == len(prof.layers)
    assert res.lwbench_unsupported == {}
    # the real forward at native resolution: every layer's output has the IR's shape
    assert res.forward_input == "x".join(map(str, (1, *net.input_shape)))
    assert res.forward_layers_agree == len(net.nodes)
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


# ---------------------------------------------------------------- ops no counter has a rule for, by name
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fvcore_unsupported_ops_are_reported_by_name_and_count(capsys):
    """MobileNet V3 Small: fvcore has no rule for hardswish, hardsigmoid, the SE mul or the residual add; verify
    lists each with one call per such layer of the IR (19 h-swish, 9 h-sigmoid, 9 SE gates, 6 residuals)."""
    net = load_net("mobilenet_v3_small", names=NAMES)
    kinds = {k: sum(n.op == k for n in net.nodes) for k in ("hardswish", "hardsigmoid", "mul", "add")}
    assert kinds == {"hardswish": 19, "hardsigmoid": 9, "mul": 9, "add": 6}
    res = verify_net(net)
    assert res.ok and res.fvcore_unsupported == {f"aten::{k}": v for k, v in kinds.items()}
    assert main(["verify", "mobilenet_v3_small"]) == 0
    out = capsys.readouterr().out
    assert "fvcore unsupported: aten::add×6, aten::hardsigmoid×9, aten::hardswish×19, aten::mul×9" in out


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_op_without_a_rule_is_listed_by_name_not_zero(tmp_path, monkeypatch, capsys):
    """Make the builder emit a module that runs aten::sort, which neither lwbench's torch-side counter nor fvcore
    has a rule for: verify must name it (and fail), not count it as zero and agree."""
    from torch import nn

    from lwbench.ops import registry

    class _Sort(nn.Module):  # (sin had no rule here once; it has one now)
        def forward(self, x):
            return x.sort(1).values

    tanh = registry.get_op("tanh")
    monkeypatch.setitem(registry.OPS, "tanh", replace(tanh, build=lambda attrs, ins: _Sort()))
    path = tmp_path / "sin.yaml"
    path.write_text("name: sin\ninput: {channels: 3, resolution: 8}\nlayers:\n  - {name: conv, op: conv2d, out: 4}\n"
                    "  - {name: act, op: tanh}\n  - {name: act2, op: tanh}\n")
    res = verify_net(lwbench.load(str(path)))
    assert res.lwbench_unsupported == {"sort": 2}
    assert res.fvcore_unsupported == {"aten::sort": 2}
    assert not res.ok and {m["quantity"] for m in res.mismatches if m["layer"] == "(ops)"} == {"no rule"}
    assert main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert "lwbench no rule: sort×2" in out and "fvcore unsupported: aten::sort×2" in out and "MISMATCH" in out


def test_forward_shape_differing_from_the_ir_is_a_mismatch(tmp_path, monkeypatch):
    """The real forward (fvcore's trace) checks each layer's output shape: a builder that halves H and W where the
    IR says identity is caught at that layer, with the shapes side by side."""
    from torch import nn

    from lwbench.ops import registry

    ident = registry.get_op("identity")
    monkeypatch.setitem(registry.OPS, "identity", replace(ident, build=lambda attrs, ins: nn.MaxPool2d(2)))
    path = tmp_path / "id.yaml"
    path.write_text("name: id\ninput: {channels: 3, resolution: 8}\nlayers:\n  - {name: conv, op: conv2d, out: 4}\n"
                    "  - {name: same, op: identity}\n")
    res = verify_net(lwbench.load(str(path)))
    shape = [m for m in res.mismatches if m["quantity"] == "out_shape"]
    assert [(m["layer"], m["analytic"], m["forward"]) for m in shape] == [("same", "4x8x8", "4x4x4"),
                                                                         ("(output)", "4x8x8", "4x4x4")]
    assert res.forward_layers_agree == 1 and res.forward_input == "1x3x8x8" and not res.ok


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


def test_profile_module_from_a_file_path(tmp_path, monkeypatch):
    """`--module path/to/file.py:factory`: a script that is not on sys.path counts like an importable module,
    and the current directory stays as it was."""
    (tmp_path / "sub").mkdir()
    script = tmp_path / "sub" / "my-net.py"
    script.write_text(FACTORIES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script's folder is put on it: undo that afterwards
    out = tmp_path / "f.csv"
    assert main(["profile", "--module", f"{script}:small", "--input", "3x32x32", "-o", str(out)]) == 0
    import pandas as pd

    df = pd.read_csv(out, comment="#").set_index("layer")
    assert df.loc[0, "madds"] == 16 * 16 * 8 * 3 * 9 and df.loc[0, "params"] == 8 * 27
    assert list(df["kind"]) == ["conv2d", "batchnorm", "relu"]
    assert main(["profile", "--module", "sub/my-net.py:small", "--input", "3x32x32", "-o", str(out)]) == 0


@pytest.mark.parametrize("args,needle", [
    (["--module", "no_such_pkg_xyz.mod:f"], "cannot import 'no_such_pkg_xyz.mod'"),
    (["--module", "/no/such/dir/net.py:f"], "no such file '/no/such/dir/net.py'"),
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
