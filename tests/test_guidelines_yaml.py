"""The guideline YAML reader (lwbench/guidelines/read.py): the error quality of network YAML — one line with
file, line and key path, exit 2, no traceback; unknown keys refused with a suggestion; every key typed and
bounded, the scale.xN keys included; `round:` honoured. Issue #12 (guidelines part) and #17 family 6."""

from __future__ import annotations

import math
import re

import pytest

from lwbench.guidelines import SCALES, SETUPS, guidelines_dir, load_experiment, plan

G1 = (guidelines_dir() / "g1.yaml").read_text()


def _edit(tmp_path, old: str, new: str, src: str = G1, name: str = "g1_edit.yaml"):
    assert old in src, old
    path = tmp_path / name
    path.write_text(src.replace(old, new, 1))
    return path


def _line(path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def _error(capsys, path, *extra) -> str:
    from lwbench.cli import main

    capsys.readouterr()
    assert main(["guidelines", str(path), "--quick", "--format", "csv", *extra]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in cap.err and cap.out == "", cap.err
    return lines[0].removeprefix("lwbench: error: ")


# the audit's one-leaf edits of g1.yaml (#17 family 6): key blamed -> (text, its replacement); the error's line
# is the line of the replacement
EDITS = {
    "table": ("table: 1", "table: one"),
    "setup.resolution": ("resolution: 56", "resolution: 0"),
    "scale.x2.multiple_of": ("x2: {factor: 1.4142135623730951, round: nearest}",
                             "x2: {factor: 1.4142135623730951, multiple_of: 0}"),
    "scale.x2.factor": ("x2: {factor: 1.4142135623730951, round: nearest}", "x2: {factor: 0, round: nearest}"),
    "scale.x4.multiple": ("x4: {factor: 2}", "x4: {factor: 2, multiple: 8}"),
    "scale.x4": ("x4: {factor: 2}", "x4: 2"),
    "rows[0].channels": ("channels: {gpu: {c1: 128, c2: 128}, arm: {c1: 32, c2: 32}}", "channels: [128, 32]"),
    "rows[1].channels.gpu.c1": ("{c1: 90, c2: 180}", "{c1: 90.5, c2: 180}"),
    "rows[2].channels.arm.c1": ("{c1: 13, c2: 78}", "{c1: -13, c2: 78}"),
    "rows[0].paper.arm[1]": ("arm: [76.2, 21.7, 5.3]", "arm: [76.2, 0, 5.3]"),
    "rows[0].paper.arm": ("arm: [76.2, 21.7, 5.3]", "arm: [76.2, 21.7]"),
    "reference": ('reference: "1:1"', 'reference: "1:3"'),
    "claim.headline": ('headline: ["1:1", "1:12"]', 'headline: ["1:1"]'),
    "network.input_channels": ("input_channels: $c1", "input_channels: [$c1]"),
    "network.input_channel": ("input_channels: $c1", "input_channel: $c1"),
    "network.layers[0] > network.blocks.g1_block.layers[0].stride": ("out: $c2, kernel: 1",
                                                                     "out: $c2, kernel: 1, stride: $nosuch"),
}


@pytest.mark.parametrize("key", list(EDITS))
def test_one_leaf_edit_is_one_line_with_file_line_and_key(tmp_path, capsys, key):
    old, new = EDITS[key]
    path = _edit(tmp_path, old, new)
    err = _error(capsys, path)
    assert err.startswith(f"{path}:{_line(path, new)}: {key}: "), err


@pytest.mark.parametrize("body,key", [
    ("setup: 5\n", "setup"),
    ("rows: 5\n", "rows"),
    ("rows: []\n", "rows"),
    ("claim: [a, b]\n", "claim"),
])
def test_a_whole_section_of_the_wrong_type(tmp_path, capsys, body, key):
    section = key + ":"
    start = G1.index("\n" + section) + 1
    end = G1.find("\n\n", start)
    path = tmp_path / "g1_section.yaml"
    path.write_text(G1[:start] + body + G1[end + 1:])
    err = _error(capsys, path)
    assert err.startswith(f"{path}:{_line(path, body.strip())}: {key}: expected"), err


def test_unknown_keys_are_refused_at_their_line_with_a_suggestion(tmp_path, capsys):
    """#12: `round: nearest` used to be read by nobody, so a misspelt key there was silently ignored."""
    path = _edit(tmp_path, "x2: {factor: 1.4142135623730951, round: nearest}",
                 "x2: {factor: 1.4142135623730951, rounding: nearest}")
    err = _error(capsys, path)
    assert err.startswith(f"{path}:{_line(path, 'rounding')}: scale.x2.rounding: unknown key (did you mean: round?)")
    path = _edit(tmp_path, "title:", "titel:")
    assert _error(capsys, path).startswith(f"{path}:{_line(path, 'titel')}: titel: unknown key (did you mean: title?)")
    path = _edit(tmp_path, "    paper: {gpu: [1296", "    papers: {}\n    paper: {gpu: [1296")
    assert _error(capsys, path).startswith(f"{path}:{_line(path, 'papers')}: rows[1].papers: unknown key (did you mean: paper")
    path = _edit(tmp_path, "  batch: {gpu: 8, arm: 1}", "  batch: {gpu: 8, arm: 1, cpu: 1}")
    assert _error(capsys, path).startswith(f"{path}:{_line(path, 'cpu: 1')}: setup.batch.cpu: unknown key")
    path = _edit(tmp_path, "      doc: two 1x1", "      docs: two 1x1")   # inside a block: lwbench.spec's check
    err = _error(capsys, path)
    assert err.startswith(f"{path}:{_line(path, 'docs:')}: network.blocks.g1_block.docs: unknown key"), err


def test_a_zero_batch_in_the_file_is_blamed_on_the_file_not_on_the_option(tmp_path, capsys):
    path = _edit(tmp_path, "batch: {gpu: 8, arm: 1}", "batch: {gpu: 0, arm: 0}")
    err = _error(capsys, path, "--batch", "1")        # refused at load, whatever --batch says
    assert err.startswith(f"{path}:{_line(path, 'batch: {gpu: 0')}: setup.batch.gpu: expected an integer from 1")
    assert "--batch" not in err


def test_fractional_channels_are_refused_not_truncated(tmp_path, capsys):
    """A network YAML refuses a channel count that is not whole; a guideline file's network does too."""
    path = _edit(tmp_path, "  input_channels: $c1", '  params: {w: "$c1 / 3"}\n  input_channels: $w')
    err = _error(capsys, path)
    assert re.match(rf"{re.escape(str(path))}:\d+: network.input_channels: expected an integer \(use round\(\)", err), err
    assert "42.66" in err            # the value is shown, never int()-truncated to 42
    path = _edit(tmp_path, "out: $c2, kernel", 'out: "$c2 / 3", kernel')
    err = _error(capsys, path)
    assert f"{path}:{_line(path, '$c2 / 3')}: network.layers[0] > network.blocks.g1_block.layers[0].out: expected an " \
           "integer" in err
    # a whole result of a division is a whole number of channels, as in a network YAML
    ok = _edit(tmp_path, "  input_channels: $c1", '  params: {w: "$c1 * 3 / 3"}\n  input_channels: $w', name="ok.yaml")
    exp = load_experiment(str(ok))
    assert exp.net(exp.rows[0], "x1", "arm").input_shape[0] == 32


def test_a_block_that_uses_itself_is_one_line(tmp_path, capsys):
    path = _edit(tmp_path, "        - {name: conv2, op: conv2d, out: $c1, kernel: 1, bias: false}",
                 "        - {name: conv2, op: conv2d, out: $c1, kernel: 1, bias: false}\n"
                 "        - {name: again, block: g1_block, c1: $c1, c2: $c2}")
    err = _error(capsys, path)      # lwbench.spec names the call (its line); a RecursionError names the block
    m = re.match(rf"{re.escape(str(path))}:(\d+): (network\.[^:]*): .*block g1_block uses itself \(g1_block > g1_block\)",
                 err)
    assert m and "network.blocks.g1_block" in m.group(2), err
    assert int(m.group(1)) in (_line(path, "g1_block:"), _line(path, "block: g1_block, c1"))


@pytest.mark.parametrize("rounding,step", [("nearest", round), ("floor", math.floor), ("ceil", math.ceil)])
def test_round_is_honoured(tmp_path, rounding, step):
    """scale.xN.round: c·factor to the nearest multiple (half to even), down or up; G1 x2 is c·√2."""
    path = _edit(tmp_path, "x2: {factor: 1.4142135623730951, round: nearest}",
                 f"x2: {{factor: 1.4142135623730951, round: {rounding}}}")
    exp = load_experiment(str(path))
    for row in exp.rows:
        for setup in SETUPS:
            got = exp.channel_params(row, "x2", setup)
            assert got == {k: step(v * math.sqrt(2)) for k, v in row.channels[setup].items()}, (row.setting, setup)
    default = load_experiment("G1")
    if rounding == "nearest":   # the shipped file says nearest: the same numbers as with no round key
        assert all(default.channel_params(r, "x2", s) == exp.channel_params(r, "x2", s) for r in exp.rows for s in SETUPS)
    else:   # e.g. 1:1's 128 channels: 181.02 rounds to 181, ceil 182; 1:12's 36: 50.91 rounds to 51, floor 50
        changed = [(r.setting, s) for r in exp.rows for s in SETUPS
                   if default.channel_params(default.row(r.setting), "x2", s) != exp.channel_params(r, "x2", s)]
        assert changed, rounding


def test_round_with_multiple_of_in_g2(tmp_path):
    """G2's x2: c·√2 to a multiple of g; floor and ceil pick the multiple below and above."""
    g2 = (guidelines_dir() / "g2.yaml").read_text()
    for rounding, want in (("nearest", 364), ("floor", 360), ("ceil", 364)):   # 256·√2 = 362.04; g = 4
        path = _edit(tmp_path, "round: nearest,", f"round: {rounding},", src=g2, name=f"g2_{rounding}.yaml")
        exp = load_experiment(str(path))
        assert exp.channel_params(exp.row("g=4"), "x2", "gpu") == {"c": want}


def test_round_typo_is_refused_with_a_suggestion(tmp_path, capsys):
    path = _edit(tmp_path, "round: nearest", "round: nearst")
    err = _error(capsys, path)
    assert err.startswith(f"{path}:{_line(path, 'nearst')}: scale.x2.round: expected one of nearest, floor, ceil "
                          "(did you mean: nearest?)"), err


def test_shipped_files_load_and_plan_everywhere():
    for g in ("G1", "G2", "G3", "G4"):
        exp = load_experiment(g)
        for scale in SCALES:
            for setup in SETUPS:
                assert plan(exp, scale, setup, 1, 8)["spread"] <= 0.06
