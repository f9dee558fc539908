"""Bad input: one line naming file and key path, exit code 2, no traceback (LWBENCH_DEBUG=1 shows it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from lwbench.cli import main

HEAD = "name: bad\ninput: {channels: 3, resolution: 32}\n"

CASES = [
    # (yaml body, substrings the one line must contain)
    ("layers:\n  - {op: conv2d, out: 8\n", ["bad.yaml:4: invalid YAML", "'{' opened at line 4 is not closed"]),
    ("layers:\n  - {op: conv2dd, out: 8}\n", ["layers[0].op", "unknown op 'conv2dd'", "did you mean: conv2d"]),
    ("layers:\n  - {block: dw_sep}\nblocks:\n  dw_sepp: {layers: []}\n", ["layers[0].block", "unknown block", "dw_sepp"]),
    ("layers:\n  - {op: conv2d, out: 8, kernal: 3}\n", ["layers[0].kernal", "unknown key", "kernel"]),
    ("layers:\n  - {op: conv2d, out: 24, kernel: 1}\n  - {op: conv2d, out: 24, groups: 5}\n",
     ["layers[1].groups", "must divide in-channels 24, got 5"]),
    ("layers:\n  - name: r\n    parallel: [[], [{op: conv2d, out: 4, kernel: 1}]]\n    merge: add\n",
     ["layers[0].merge", "add needs equal shapes", "3x32x32 and 4x32x32"]),
    ("layers:\n  - name: r\n    parallel: [[], [{op: maxpool, kernel: 2}]]\n    merge: concat\n",
     ["layers[0].merge", "concat needs equal spatial sizes"]),
    ("layers:\n  - {op: conv2d, out: 0}\n", ["layers[0].out", "positive", "got 0"]),
    ("layers:\n  - {op: conv2d, out: 8, kernel: 0}\n", ["layers[0].kernel", "at least 1"]),
    ("layers:\n  - {op: conv2d, out: 8, kernel: 1, repeat: 0}\n", ["layers[0].repeat", "at least 1"]),
    ("layers:\n  - {op: conv2d, out: 8, kernel: 99, padding: 0}\n", ["layers[0].kernel", "does not fit"]),
    ("layers:\n  - {op: conv2d, out: $widht}\n", ["layers[0].out", "unknown name $widht"]),
    ("layers:\n  - {op: conv2d, out: 8.5}\n", ["layers[0].out", "expected an integer"]),
    ("layers:\n  - {op: conv2d, out: 8}\n  - {op: conv2d, out: 8}\n  - {op: linear, out: 3}\n",
     ["layers[2]", "flat input"]),
    ("layers:\n  - {op: conv2d, out: 8, out: 9}\n", ["out", "duplicate key"]),
    ("layerz: []\n", ["layerz", "unknown top-level key", "layers"]),
]


@pytest.mark.parametrize("body,needles", CASES)
def test_bad_yaml_is_one_line_exit_2(tmp_path, capsys, body, needles):
    path = tmp_path / "bad.yaml"
    text = body if body.startswith("layerz") else HEAD + body
    path.write_text(text if not body.startswith("layerz") else HEAD + body)
    rc = main(["profile", str(path), "--format", "csv"])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_negative_resolution(tmp_path, capsys):
    path = tmp_path / "neg.yaml"
    path.write_text("name: n\ninput: {channels: 3, resolution: -4}\nlayers:\n  - {op: relu}\n")
    assert main(["profile", str(path)]) == 2
    assert "input.resolution: expected a positive integer, got -4" in capsys.readouterr().err


def test_yaml_syntax_error_names_the_line(tmp_path, capsys):
    path = tmp_path / "syn.yaml"
    path.write_text(HEAD + "layers:\n  - {op: relu}\n  - op: [unclosed\n")
    assert main(["profile", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:5: invalid YAML: '[' opened at line 5 is not closed" in err  # HEAD is 2 lines
    assert "at end of file" in err


def test_unknown_key_reports_its_line(tmp_path, capsys):
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + "layers:\n  - {op: relu}\n  - {op: conv2d, out: 8, strid: 2}\n")
    assert main(["profile", str(path)]) == 2
    assert f"{path}:5: layers[1].strid" in capsys.readouterr().err


def test_error_inside_a_block_names_call_and_block(tmp_path, capsys):
    path = tmp_path / "b.yaml"
    path.write_text(HEAD + textwrap.dedent("""\
        blocks:
          unit:
            args: {g: 1}
            layers:
              - {name: conv, op: conv2d, out: 12, kernel: 1, groups: $g}
        layers:
          - {name: a, block: unit, g: 5}
        """))
    assert main(["profile", str(path)]) == 2
    err = capsys.readouterr().err
    assert "layers[0] > blocks.unit.layers[0].groups: must divide in-channels 3, got 5" in err


def test_unknown_block_argument(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    path.write_text(HEAD + "blocks:\n  u: {args: {out: required}, layers: [{op: conv2d, out: $out}]}\n"
                    "layers:\n  - {block: u, outt: 8}\n")
    assert main(["profile", str(path)]) == 2
    assert "layers[0].outt: unknown argument of block u (did you mean: out?)" in capsys.readouterr().err


def test_missing_file_and_unknown_zoo_name(capsys):
    assert main(["profile", "no/such/file.yaml"]) == 2
    assert "no/such/file.yaml: file not found" in capsys.readouterr().err
    assert main(["profile", "mobilenet_v11"]) == 2
    err = capsys.readouterr().err
    assert "unknown network 'mobilenet_v11'" in err and "did you mean: mobilenet_v1" in err


def test_bad_option_values(capsys):
    assert main(["profile", "mobilenet_v1", "--dtype", "float64"]) == 2
    assert main(["profile", "mobilenet_v1", "--batch", "0"]) == 2


def test_real_process_exit_code_and_debug_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + "layers:\n  - {op: nope}\n")
    cmd = [sys.executable, "-m", "lwbench", "profile", str(path)]
    env = {k: v for k, v in os.environ.items() if k != "LWBENCH_DEBUG"}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = subprocess.run(cmd, capture_output=True, text=True, env={**env, "LWBENCH_DEBUG": "1"})
    assert p.returncode != 0 and "Traceback" in p.stderr


def test_safe_loader_refuses_python_tags(tmp_path, capsys):
    path = tmp_path / "evil.yaml"
    path.write_text(HEAD + "layers: !!python/object/apply:os.system ['echo pwned']\n")
    assert main(["profile", str(path)]) == 2
    assert "invalid YAML" in capsys.readouterr().err


def test_expressions_are_not_eval(tmp_path, capsys):
    path = tmp_path / "e.yaml"
    path.write_text(HEAD + "layers:\n  - {op: conv2d, out: \"__import__('os').getpid()\"}\n")
    assert main(["profile", str(path)]) == 2
    assert "layers[0].out" in capsys.readouterr().err


# ---------------------------------------------------------------- YAML syntax: the line a bracket was opened
@pytest.mark.parametrize("body,opened,needle", [
    # an unclosed { on line 4, with more lines after it: the parser gives up at the end of the file (line 7)
    ("layers:\n  - {op: conv2d, out: 8\n  - {op: relu}\n  - {op: relu}\n", 4, "'{' opened at line 4 is not closed"),
    ("layers:\n  - {op: relu}\n  - op: [relu\n  - {op: relu}\n  - {op: relu}\n", 5, "'[' opened at line 5 is not closed"),
    ("layers:\n  - {op: 'relu}\n  - {op: relu}\n", 4, "a quote opened at line 4 is not closed"),
])
def test_unclosed_bracket_reports_its_opening_line(tmp_path, body, opened, needle):
    from lwbench.errors import ConfigError
    from lwbench.spec import load

    path = tmp_path / "x.yaml"
    path.write_text(HEAD + body)
    assert (HEAD + body).count("\n") + 1 > opened + 1  # the end of the file is further down
    with pytest.raises(ConfigError) as e:
        load(str(path))
    msg = str(e.value)
    assert msg.startswith(f"{path}:{opened}: invalid YAML: {needle}"), msg
    assert e.value.line == opened and "\n" not in msg


def test_yaml_error_without_an_opener_keeps_the_problem_line(tmp_path):
    from lwbench.errors import ConfigError
    from lwbench.spec import load

    path = tmp_path / "x.yaml"
    path.write_text(HEAD + "layers:\n  - {op: relu}\n bad: indent\n")
    with pytest.raises(ConfigError) as e:
        load(str(path))
    assert e.value.line == 5, str(e.value)


# ---------------------------------------------------------------- width and resolution
@pytest.mark.parametrize("args,needle", [
    (["--width", "0"], "--width: expected a width multiplier above 0 (a finite number), got 0.0"),
    (["--width", "-1"], "--width: expected a width multiplier above 0 (a finite number), got -1.0"),
    (["--width", "nan"], "--width: expected a width multiplier above 0 (a finite number), got nan"),
    (["--width", "inf"], "--width: expected a width multiplier above 0 (a finite number), got inf"),
    (["--resolution", "0"], "--resolution: expected a positive integer, got 0"),
    (["--resolution", "-1"], "--resolution: expected a positive integer, got -1"),
])
def test_width_and_resolution_must_be_positive(capsys, args, needle):
    assert main(["profile", "mobilenet_v1", *args, "--format", "csv"]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and needle in lines[0] and "mobilenet_v1.yaml" in lines[0], err
    assert main(["profile", "mobilenet_v1", *args, "--time"]) == 2  # rejected before anything is built
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize("kw,key", [({"width": 0}, "--width"), ({"width": -0.5}, "--width"),
                                    ({"width": float("nan")}, "--width"), ({"resolution": 0}, "--resolution")])
def test_width_is_checked_by_the_python_api_too(kw, key):
    from lwbench.errors import ConfigError
    from lwbench.spec import load

    with pytest.raises(ConfigError) as e:
        load("mobilenet_v1", **kw)
    assert e.value.key == key and e.value.file.endswith("mobilenet_v1.yaml")


def test_smallest_widths_still_count():
    """Boundary: any width above 0 is valid; the channel rule's floor (divisor 8) keeps every layer >= 8 wide."""
    from lwbench.count import count
    from lwbench.spec import load

    net = load("mobilenet_v1", width=0.01)
    assert min(n.out_shape[0] for n in net.nodes if n.op == "conv2d") == 8
    assert count(net).totals["params"] > 0


@pytest.mark.parametrize("params,key,line", [
    ("params:\n  width: -1\n", "params.width", 5),
    ("params:\n  width: 0\n", "params.width", 5),
    ("params: {width: .nan}\n", "params.width", 4),
    ("params: {width: '0.5'}\n", "params.width", 4),
    ("variants:\n  thin: {params: {width: 0}}\n", "variants.thin.params.width", 5),
])
def test_width_in_the_yaml_is_checked(tmp_path, capsys, params, key, line):
    path = tmp_path / "w.yaml"
    path.write_text(HEAD + "channels: {round: make_divisible}\n" + params + "layers:\n  - {op: conv2d, out: 'ch(8)'}\n")
    variant = [f"{path}:thin"] if "thin" in params else [str(path)]
    assert main(["profile", *variant, "--format", "csv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}:{line}: {key}: expected a width multiplier above 0" in err[0], err


# ---------------------------------------------------------------- expect: keys at load
@pytest.mark.parametrize("tail,where,suggestion", [
    ("expect:\n  params: 4\n  parms: 3\n", "5: expect.parms", "did you mean: params"),
    ("expect: {madds_mm: 3}\n", "3: expect.madds_mm", "did you mean: madds_m"),
    ("variants:\n  v2:\n    expect: {params: 4, madd: 1}\n", "5: variants.v2.expect.madd", "did you mean: madds"),
])
def test_unknown_expect_key_is_an_error_at_load(tmp_path, capsys, tail, where, suggestion):
    from lwbench.errors import ConfigError
    from lwbench.spec import load

    path = tmp_path / "e.yaml"
    path.write_text("name: e\ninput: {channels: 3, resolution: 8}\n" + tail + "layers:\n  - {op: relu}\n")
    with pytest.raises(ConfigError) as e:
        load(str(path))  # load, not check_expect: the bad key is found before anything is counted
    assert f"{path}:{where}: unknown figure" in str(e.value) and suggestion in str(e.value), str(e.value)
    assert main(["profile", str(path), "--format", "csv"]) == 2
    assert suggestion in capsys.readouterr().err


# ---------------------------------------------------------------- op value ranges: exactly torch's
# Each bad layer is on an 8x16x16 input; `torch_call` does what lwbench's builder would do with it (the same
# module, the same input) and must raise: the rule is torch's, not a guess. Boundary values torch accepts must
# count, build and run.
OPS_HEAD = "name: ops\ninput: {channels: 8, resolution: 16}\nlayers:\n"


def _x():
    import torch

    return torch.randn(1, 8, 16, 16)


def _shuffle(g, flat=False):
    from lwbench.ops.modules import ChannelShuffle

    x = _x()
    return ChannelShuffle(g)(x.flatten(1) if flat else x)


BAD_OPS = [
    # (id, layers, key the error names, torch doing the same)
    ("dropout_p_above_1", "  - {op: dropout, p: 1.5}\n", "layers[0].p", lambda nn, F: nn.Dropout(1.5)),
    ("dropout_p_negative", "  - {op: dropout, p: -0.1}\n", "layers[0].p", lambda nn, F: nn.Dropout(-0.1)),
    ("dropout_p_nan", "  - {op: dropout, p: .nan}\n", "layers[0].p", lambda nn, F: nn.Dropout(float("nan"))(_x())),
    ("maxpool_pad_over_half", "  - {op: maxpool, kernel: 2, padding: 2}\n", "layers[0].padding",
     lambda nn, F: nn.MaxPool2d(2, 2, 2)(_x())),
    ("maxpool_pad_over_half_k3", "  - {op: maxpool, kernel: 3, stride: 2, padding: 2}\n", "layers[0].padding",
     lambda nn, F: nn.MaxPool2d(3, 2, 2)(_x())),
    ("avgpool_pad_over_half", "  - {op: avgpool, kernel: 3, stride: 1, padding: 2}\n", "layers[0].padding",
     lambda nn, F: nn.AvgPool2d(3, 1, 2)(_x())),
    ("avgpool_pad_pair", "  - {op: avgpool, kernel: [3, 2], stride: 1, padding: [1, 2]}\n", "layers[0].padding",
     lambda nn, F: nn.AvgPool2d((3, 2), 1, (1, 2))(_x())),
    ("maxpool_stride_0", "  - {op: maxpool, kernel: 2, stride: 0}\n", "layers[0].stride",
     lambda nn, F: nn.MaxPool2d(2, 0)(_x())),
    ("maxpool_kernel_0", "  - {op: maxpool, kernel: 0}\n", "layers[0].kernel", lambda nn, F: nn.MaxPool2d(0)(_x())),
    ("maxpool_too_big", "  - {op: maxpool, kernel: 17}\n", "layers[0].kernel", lambda nn, F: nn.MaxPool2d(17)(_x())),
    ("conv_stride_0", "  - {op: conv2d, out: 8, kernel: 3, stride: 0}\n", "layers[0].stride",
     lambda nn, F: nn.Conv2d(8, 8, 3, 0, 1)(_x())),
    ("conv_dilation_0", "  - {op: conv2d, out: 8, kernel: 3, dilation: 0}\n", "layers[0].dilation",
     lambda nn, F: nn.Conv2d(8, 8, 3, 1, 0, 0)(_x())),
    ("conv_padding_negative", "  - {op: conv2d, out: 8, kernel: 3, padding: -1}\n", "layers[0].padding",
     lambda nn, F: nn.Conv2d(8, 8, 3, 1, -1)(_x())),
    ("conv_kernel_0", "  - {op: conv2d, out: 8, kernel: 0}\n", "layers[0].kernel",
     lambda nn, F: nn.Conv2d(8, 8, 0)(_x())),
    ("conv_too_big", "  - {op: conv2d, out: 8, kernel: 17, padding: 0}\n", "layers[0].kernel",
     lambda nn, F: nn.Conv2d(8, 8, 17)(_x())),
    ("conv_groups_0", "  - {op: conv2d, out: 8, groups: 0}\n", "layers[0].groups",
     lambda nn, F: nn.Conv2d(8, 8, 1, groups=0)),
    ("conv_groups_not_dividing_in", "  - {op: conv2d, out: 9, groups: 3}\n", "layers[0].groups",
     lambda nn, F: nn.Conv2d(8, 9, 1, groups=3)),
    ("conv_groups_not_dividing_out", "  - {op: conv2d, out: 6, groups: 4}\n", "layers[0].groups",
     lambda nn, F: nn.Conv2d(8, 6, 1, groups=4)),
    ("conv_out_0", "  - {op: conv2d, out: 0}\n", "layers[0].out", lambda nn, F: nn.Conv2d(8, 0, 1)(_x())),
    ("bn_eps_negative", "  - {op: batchnorm, eps: -1.0e-5}\n", "layers[0].eps",
     lambda nn, F: nn.BatchNorm2d(8, eps=-1e-5).eval()(_x())),
    ("bn_on_flat", "  - {op: flatten}\n  - {op: batchnorm}\n", "layers[1]",
     lambda nn, F: nn.BatchNorm2d(8 * 16 * 16).eval()(_x().flatten(1))),
    ("shuffle_groups_not_dividing", "  - {op: shuffle, groups: 3}\n", "layers[0].groups", lambda nn, F: _shuffle(3)),
    ("shuffle_on_flat", "  - {op: flatten}\n  - {op: shuffle, groups: 2}\n", "layers[1]",
     lambda nn, F: _shuffle(2, flat=True)),
    ("linear_on_feature_map", "  - {op: linear, out: 4}\n", "layers[0]", lambda nn, F: nn.Linear(8, 4)(_x())),
    ("split_not_summing", "  - {parallel: [[], []], split: [3, 4], merge: concat}\n", "layers[0].split",
     lambda nn, F: __import__("torch").split(_x(), [3, 4], 1)),
    ("add_not_broadcastable", "  - {parallel: [[], [{op: conv2d, out: 4}]], merge: add}\n", "layers[0].merge",
     lambda nn, F: _x() + nn.Conv2d(8, 4, 1)(_x())),
    ("mul_not_broadcastable", "  - {parallel: [[], [{op: global_avgpool}, {op: conv2d, out: 4}]], merge: mul}\n",
     "layers[0].merge", lambda nn, F: _x() * nn.Conv2d(8, 4, 1)(F.adaptive_avg_pool2d(_x(), 1))),
    ("mul_rank_differs", "  - {parallel: [[], [{op: global_avgpool}, {op: flatten}]], merge: mul}\n",
     "layers[0].merge", lambda nn, F: _x() * _x().mean((2, 3))),
    ("concat_spatial_differs", "  - {parallel: [[], [{op: maxpool, kernel: 2}]], merge: concat}\n", "layers[0].merge",
     lambda nn, F: __import__("torch").cat([_x(), nn.MaxPool2d(2)(_x())], 1)),
]


@pytest.mark.parametrize("body,key", [c[1:3] for c in BAD_OPS], ids=[c[0] for c in BAD_OPS])
def test_values_torch_rejects_are_config_errors(tmp_path, capsys, body, key):
    from lwbench.errors import ConfigError
    from lwbench.spec import load

    path = tmp_path / "ops.yaml"
    path.write_text(OPS_HEAD + body)
    with pytest.raises(ConfigError) as e:
        load(str(path))
    assert e.value.file == str(path) and e.value.key.startswith(key), str(e.value)
    line = 3 + body.count("\n")  # the last layer is the bad one
    assert str(e.value).startswith(f"{path}:{line}: {key}"), str(e.value)  # the layer's own line
    assert main(["profile", str(path), "--format", "csv"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and f"{path}:{line}: {key}" in err


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
@pytest.mark.parametrize("torch_call", [c[3] for c in BAD_OPS], ids=[c[0] for c in BAD_OPS])
def test_each_rejected_value_is_rejected_by_torch(torch_call):
    import torch.nn.functional as F
    from torch import nn

    with pytest.raises((RuntimeError, ValueError)):
        torch_call(nn, F)


GOOD_OPS = [  # the boundary values: torch accepts them, so lwbench must count, build and run them
    ("dropout_p_0_and_1", "  - {op: dropout, p: 0}\n  - {op: dropout, p: 1}\n", (8, 16, 16)),
    ("maxpool_pad_half", "  - {op: maxpool, kernel: 2, padding: 1}\n", (8, 9, 9)),
    ("maxpool_k3_pad1_ceil", "  - {op: maxpool, kernel: 3, stride: 2, padding: 1, ceil_mode: true}\n", (8, 9, 9)),
    ("avgpool_pad_pair_half", "  - {op: avgpool, kernel: [3, 2], stride: 1, padding: [1, 1]}\n", (8, 16, 17)),
    ("avgpool_exclude_pad", "  - {op: avgpool, kernel: 3, stride: 1, padding: 1, count_include_pad: false}\n",
     (8, 16, 16)),
    ("conv_kernel_fits_exactly", "  - {op: conv2d, out: 8, kernel: 16, padding: 0}\n", (8, 1, 1)),
    ("conv_depthwise_multiplier", "  - {op: conv2d, out: 16, kernel: 3, groups: 8}\n", (16, 16, 16)),
    ("conv_dilated_stride", "  - {op: conv2d, out: 8, kernel: 3, stride: 3, dilation: 2}\n", (8, 6, 6)),
    ("bn_eps_0", "  - {op: batchnorm, eps: 0.0}\n", (8, 16, 16)),
    ("shuffle_groups_all", "  - {op: shuffle, groups: 8}\n", (8, 16, 16)),  # identity permutations: no copy,
    ("shuffle_groups_1", "  - {op: shuffle, groups: 1}\n", (8, 16, 16)),    # so mac 0 on both sides
    ("shuffle_groups_2", "  - {op: shuffle, groups: 2}\n", (8, 16, 16)),    # a real transpose copy
    ("split_3_5", "  - {parallel: [[], [{op: relu}]], split: [3, 5], merge: concat}\n", (8, 16, 16)),
    ("add_broadcast", "  - {parallel: [[], [{op: global_avgpool}]], merge: add}\n", (8, 16, 16)),
    ("mul_broadcast", "  - {parallel: [[{op: global_avgpool}], []], merge: mul}\n", (8, 16, 16)),
]


@pytest.mark.parametrize("body,out_shape", [c[1:] for c in GOOD_OPS], ids=[c[0] for c in GOOD_OPS])
def test_boundary_values_torch_accepts_count_build_and_run(tmp_path, body, out_shape):
    import torch

    from lwbench.build import build
    from lwbench.spec import load
    from lwbench.verify import verify_net

    path = tmp_path / "ok.yaml"
    path.write_text(OPS_HEAD + body)
    net = load(str(path))
    assert net.nodes[-1].out_shape == out_shape
    with torch.no_grad():
        y = build(net)(torch.randn(2, *net.input_shape))
    assert tuple(y.shape) == (2, *out_shape)
    res = verify_net(net, fvcore=False)  # params == the module's; params, madds, mac per layer == torch-side counter
    assert res.mismatches == [] and res.torch_layers_agree == res.layers == len(net.nodes)


def test_verify_and_time_on_a_rejected_value_exit_2_without_traceback(tmp_path):
    """The audit's cases: dropout p 1.5 and pool padding 2 > kernel 2 / 2 used to crash `verify` and `--time`."""
    env = {k: v for k, v in os.environ.items() if k != "LWBENCH_DEBUG"}
    for body, key in (("  - {op: dropout, p: 1.5}\n", "layers[0].p"),
                      ("  - {op: avgpool, kernel: 2, padding: 2}\n", "layers[0].padding")):
        path = tmp_path / "bad.yaml"
        path.write_text(OPS_HEAD + body)
        for cmd in (["verify", str(path)], ["profile", str(path), "--time", "--min-time", "0.01"]):
            p = subprocess.run([sys.executable, "-m", "lwbench", *cmd], capture_output=True, text=True, env=env)
            assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-1500:]
            lines = p.stderr.strip().splitlines()
            assert len(lines) == 1 and f"{path}:4: {key}" in lines[0], p.stderr


@pytest.mark.parametrize("argv, needle", [
    (["profile", "mobilenet_v1", "--batch", "0"], "'--batch'"),
    (["profile", "mobilenet_v1", "--dtype", "float64"], "'float64' is not one of"),
    (["profile", "mobilenet_v1", "--sortt", "madds"], "No such option: --sortt"),
    (["nosuchcmd"], "No such command 'nosuchcmd'"),
])
def test_option_errors_are_one_line_exit_2(argv, needle, capsys):
    """typer/click usage errors read like lwbench's own: one line naming the command and the option, exit 2
    (not click's three-line Usage/Try/Error block)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    cmd = "lwbench" if argv[0] == "nosuchcmd" else f"lwbench {argv[0]}"
    assert err.startswith(f"{cmd}: error: ") and err.rstrip().endswith(f"(see '{cmd} -h')"), err
