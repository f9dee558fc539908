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
    ("layers:\n  - {op: conv2d, out: 8\n", ["line", "invalid YAML"]),
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
    assert f"{path}:" in err and "invalid YAML" in err


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
    assert "unknown network 'mobilenet_v11'" in err and "mobilenet_v1" in err


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
