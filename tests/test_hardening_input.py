"""Issue 17, families 3 and 4: every input is bounded, and loading network YAML never ends in a traceback or a
hang. Each bound of lwbench.spec.limits is tested on both sides (just inside: counts; just over: one line,
exit 2), and the hostile shapes are placed under every known key, not at one example spot.

Cases that hung or exhausted memory before the bounds run in a child process with a timeout, so a regression
fails the test instead of hanging the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lwbench.cli import main
from lwbench.spec import limits

ROOT = Path(__file__).resolve().parent.parent
HEAD = "name: t\ninput: {channels: 3, resolution: 8}\n"
RELU = "layers: [{op: relu}]\n"


def one_line_exit_2(capsys, path, *needles, argv=("profile",)):
    rc = main([*argv, str(path), "-f", "csv"])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert str(path) in lines[0], lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def run_cli(*args, timeout=60, env=None):
    """The real command in a child: a hang is a failed test (TimeoutExpired), never a hung suite."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("LWBENCH_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "lwbench", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def assert_one_line(p, *needles):
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, p.stderr[-2000:]
    for n in needles:
        assert n in lines[0], (n, lines[0])


# ---------------------------------------------------------------- alias bombs, under every known key
def bomb(levels: int, fan: int = 9) -> str:
    """A flow list defining anchors a0..aN inline, each a list of `fan` aliases of the previous: about
    fan**levels values once expanded, in a few hundred bytes."""
    parts = [f"&a0 [{', '.join(['x'] * fan)}]"]
    parts += [f"&a{i} [{', '.join([f'*a{i - 1}'] * fan)}]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


RELU_T = "layers: [{{op: relu}}]\n"  # RELU as a str.format template
PLACES = {  # every key the loader reads or carries, the bomb defined and used under it
    "notes": "notes: {b}\n" + RELU_T,
    "source": "source: {b}\n" + RELU_T,
    "input": "input: {{channels: {b}}}\n" + RELU_T,
    "params": "params: {{k: {b}}}\n" + RELU_T,
    "layer name": "layers: [{{op: relu, name: {b}}}]\n",
    "layers": "layers: {b}\n",
    "layer attr": "layers: [{{op: conv2d, out: {b}}}]\n",
    "block arg": "blocks:\n  b: {{args: {{c: 8}}, layers: [{{op: relu}}]}}\nlayers: [{{block: b, c: {b}}}]\n",
    "expect": "expect: {{params: {b}}}\n" + RELU_T,
    "variants": "variants:\n  v: {{notes: {b}}}\n" + RELU_T,
}


def bomb_text(place: str, levels: int, fan: int = 9) -> str:
    head = "name: t\n" + ("" if place == "input" else "input: {channels: 3, resolution: 8}\n")
    return head + PLACES[place].format(b=bomb(levels, fan))


@pytest.mark.parametrize("place", sorted(PLACES))
def test_alias_bomb_under_every_key_is_refused_at_its_expanded_size(tmp_path, place):
    """9**8 = 43 million values once expanded: refused before anything is expanded, in a second, wherever it
    is (a hang or a memory blow-up before the bound)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb_text(place, 8))
    p = run_cli("profile", str(path), "-f", "csv", timeout=30)
    assert_one_line(p, str(path), "aliases are expanded")


def test_alias_expansion_bound_is_the_expanded_size_on_both_sides(tmp_path, capsys):
    """Aliases expanding to fewer values than the bound load; a few more than the bound do not."""
    ok = tmp_path / "ok.yaml"
    ok.write_text(bomb_text("params", 4, 10))  # about 10**4 values
    assert main(["profile", str(ok), "-f", "csv"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    big = tmp_path / "big.yaml"
    big.write_text(bomb_text("params", 5, 10))  # about 10**5 + 10**4 values > MAX_YAML_NODES = 10**5
    assert limits.MAX_YAML_NODES < 10**5 + 10**4 and limits.MAX_YAML_NODES > 2 * 10**4
    one_line_exit_2(capsys, big, "aliases are expanded", f"{limits.MAX_YAML_NODES:,}")


def test_recursive_alias_is_refused(tmp_path, capsys):
    path = tmp_path / "rec.yaml"
    path.write_text(HEAD + "notes: &n [1, *n]\n" + RELU)
    one_line_exit_2(capsys, path, "recursive alias")


def test_zoo_folder_with_bombs_lists_the_rest(tmp_path):
    """One hostile file in the zoo folder neither hangs nor hides the others: each bad file is one warning
    line, every good network is listed, exit 0."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    for name in ("mobilenet_v1.yaml", "squeezenet.yaml"):
        (zoo / name).write_text((ROOT / "configs" / name).read_text())
    bad = {"bomb": bomb_text("layer name", 8), "deep": HEAD + "layers: " + "[" * 300 + "]" * 300 + "\n",
           "listkey": HEAD + "layers: [{? [a, b] : 1, op: relu}]\n", "rec": HEAD.replace("t\n", "rec\n")
           + "blocks:\n  a: {layers: [{block: a}]}\nlayers: [{block: a}]\n",
           "types": HEAD.replace("t\n", "types\n") + "params: [1, 2]\n" + RELU}
    for name, text in bad.items():
        (zoo / f"{name}.yaml").write_text(text)
    p = run_cli("list", "-f", "csv", timeout=60, env={"LWBENCH_CONFIGS": str(zoo)})
    assert p.returncode == 0, p.stderr
    models = [line.split(",")[0] for line in p.stdout.splitlines()[1:]]
    assert "mobilenet_v1" in models and "squeezenet1_1" in models, p.stdout
    warnings = p.stderr.strip().splitlines()
    assert len(warnings) == len(bad) and all(w.startswith("lwbench: warning: ") for w in warnings), p.stderr
    for name in bad:
        assert sum(f"{name}.yaml" in w for w in warnings) == 1, (name, p.stderr)
    assert "Traceback" not in p.stderr


# ---------------------------------------------------------------- file size, devices, FIFOs, encodings
def test_file_size_bound_on_both_sides(tmp_path, capsys):
    pad = limits.MAX_FILE_BYTES - len(HEAD) - len(RELU) - len("notes: ''\n")
    ok = tmp_path / "ok.yaml"
    ok.write_text(HEAD + f"notes: '{'x' * pad}'\n" + RELU)
    assert ok.stat().st_size == limits.MAX_FILE_BYTES
    assert main(["profile", str(ok), "-f", "csv"]) == 0
    capsys.readouterr()
    big = tmp_path / "big.yaml"
    big.write_text(HEAD + f"notes: '{'x' * (pad + 1)}'\n" + RELU)
    one_line_exit_2(capsys, big, "more than the limit", f"{limits.MAX_FILE_BYTES:,}")


def test_endless_device_and_fifo_are_read_with_a_bound(tmp_path):
    p = run_cli("profile", "/dev/zero", timeout=30)
    assert_one_line(p, "/dev/zero", "more than the limit")
    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    p = run_cli("profile", str(fifo), timeout=30)  # no writer: reads as empty instead of blocking
    assert_one_line(p, str(fifo), "empty")
    assert_one_line(run_cli("profile", str(tmp_path), timeout=30), str(tmp_path), "directory")


@pytest.mark.parametrize("data, needles", [
    (HEAD.encode() + b"layers: [{op: relu}]\x00\n", [":3: ", "NUL byte"]),
    (HEAD.encode() + b"notes: caf\xe9\n" + RELU.encode(), [":3: ", "not UTF-8"]),
    ((HEAD + RELU).encode("utf-16"), [":1: ", "UTF-16"]),
    ((HEAD + RELU).encode("utf-16-le"), [":1: ", "NUL byte"]),
    (HEAD.encode() + b"notes: \"a\x07b\"\n" + RELU.encode(), [":3: ", "not allowed"]),
])
def test_binary_and_foreign_encodings_are_one_line_with_the_line(tmp_path, capsys, data, needles):
    path = tmp_path / "enc.yaml"
    path.write_bytes(data)
    one_line_exit_2(capsys, path, *needles)


# ---------------------------------------------------------------- nesting depth
def test_yaml_depth_bound_on_both_sides(tmp_path, capsys):
    """Nesting within MAX_DEPTH loads (as a value the loader carries); one level more is one line."""
    def nested(levels):  # params: {k: [[[...]]]} with `levels` YAML levels in total, the document included
        return HEAD + "params: {k: " + "[" * (levels - 2) + "]" * (levels - 2) + "}\n" + RELU
    ok = tmp_path / "ok.yaml"
    ok.write_text(nested(limits.MAX_DEPTH))
    assert main(["profile", str(ok), "-f", "csv"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    deep = tmp_path / "deep.yaml"
    deep.write_text(nested(limits.MAX_DEPTH + 1))
    one_line_exit_2(capsys, deep, f"nested deeper than {limits.MAX_DEPTH}")


@pytest.mark.parametrize("levels", [200, 400])
def test_nested_inline_layers_are_bounded(tmp_path, capsys, levels):
    path = tmp_path / "nest.yaml"
    path.write_text(HEAD + "layers: " + "[{layers: " * levels + "[{op: relu}]" + "}]" * levels + "\n")
    one_line_exit_2(capsys, path, "nested deeper than")


def test_layer_nesting_bound_counts_blocks_too(tmp_path, capsys):
    """A chain of blocks, each inside the YAML depth bound, still cannot nest layer lists without limit."""
    n = limits.MAX_NESTING + 2
    blocks = "".join(f"  b{i}: {{layers: [{{block: b{i + 1}}}]}}\n" for i in range(n))
    path = tmp_path / "chain.yaml"
    path.write_text(HEAD + "blocks:\n" + blocks + f"  b{n}: {{layers: [{{op: relu}}]}}\nlayers: [{{block: b0}}]\n")
    one_line_exit_2(capsys, path, f"nested deeper than {limits.MAX_NESTING}")
    short = tmp_path / "short.yaml"
    k = limits.MAX_NESTING // 2
    blocks = "".join(f"  b{i}: {{layers: [{{block: b{i + 1}}}]}}\n" for i in range(k))
    short.write_text(HEAD + "blocks:\n" + blocks + f"  b{k}: {{layers: [{{op: relu}}]}}\nlayers: [{{block: b0}}]\n")
    assert main(["profile", str(short), "-f", "csv"]) == 0


# ---------------------------------------------------------------- blocks that use themselves
@pytest.mark.parametrize("blocks, needle", [
    ("  a: {layers: [{block: a}]}\n", "(a > a)"),
    ("  a: {layers: [{block: b}]}\n  b: {layers: [{block: c}]}\n  c: {layers: [{block: a}]}\n", "(a > b > c > a)"),
    ("  a: {args: {n: required}, layers: [{op: relu}, {block: a, n: '$n - 1', if: '$n > 0'}]}\n", "(a > a)"),
    ("  a: {layers: [{name: x, parallel: [[], [{block: a}]], merge: add}]}\n", "(a > a)"),
])
def test_a_block_that_uses_itself_is_one_line(tmp_path, capsys, blocks, needle):
    path = tmp_path / "rec.yaml"
    call = "{block: a, n: 5}" if "required" in blocks else "{block: a}"
    path.write_text(HEAD + "blocks:\n" + blocks + f"layers: [{call}]\n")
    one_line_exit_2(capsys, path, "uses itself", needle)


def test_the_same_block_used_twice_in_sequence_is_not_recursion(tmp_path, capsys):
    path = tmp_path / "twice.yaml"
    path.write_text(HEAD + "blocks:\n  a: {layers: [{op: relu}]}\n  b: {layers: [{block: a}, {block: a}]}\n"
                    "layers: [{block: b}, {block: a}]\n")
    assert main(["profile", str(path), "-f", "csv"]) == 0, capsys.readouterr().err


# ---------------------------------------------------------------- expressions: size and value
@pytest.mark.parametrize("expr, needle", [
    ("((((10**64)**64)**64)**64)**64", "value too large"),
    ("(2**64)**64", "value too large"),
    ("2**64 * 2**64 * 2**64 * 2**64 * 2**64", "value too large"),
    ("1e300 ** 2", "value too large"),
    ("1e300 * 1e300", "not a finite number"),
    ("10**60 * 10**60 * 10**60 // 3", "value too large"),
    ("make_divisible(32, 0)", "division"),
    ("ceil(1e300 * 1e10)", "not a finite number"),
    ("round(1e308 * 10)", "not a finite number"),
    ("(-8) ** 0.5", "not a real number"),
    ("1 % 0", "modulo by zero"),
    ("min()", "min()"),
    ("-" * 600 + "8", "characters"),
    ("-" * 241 + "8", "positive"),  # deep, within the size bound: evaluated, no RecursionError
    ("(" * 240 + "8" + ")" * 240, "cannot parse"),
    ("9" * 5000, "characters"),
    ("1 if 1 else 1" + " + 1" * 200, "characters"),
])
def test_expression_value_and_size_are_bounded(tmp_path, capsys, expr, needle):
    path = tmp_path / "e.yaml"
    path.write_text(HEAD + f"layers: [{{op: conv2d, out: '{expr}'}}]\n")
    one_line_exit_2(capsys, path, "layers[0].out", needle)


@pytest.mark.parametrize("arg, expr, needle", [
    ("foo", "8 if $n > 3 else 4", "cannot compare 'foo' with 3"),
    ("foo", "$n * 100000000", "not a number"),
    ("foo", "-$n", "not a number"),
    ("foo", "ch($n)", "ch()"),
    ("[1, 2]", "$n + 1", "not a number"),
])
def test_expressions_over_non_numbers_are_one_line(tmp_path, capsys, arg, expr, needle):
    path = tmp_path / "e.yaml"
    path.write_text(HEAD + "channels: {round: make_divisible}\n"
                    f"blocks:\n  b: {{args: {{n: required}}, layers: [{{op: conv2d, out: '{expr}'}}]}}\n"
                    f"layers: [{{block: b, n: {arg}}}]\n")
    one_line_exit_2(capsys, path, needle)


def test_expression_in_a_subprocess_never_hangs(tmp_path):
    """The issue's example ran for ever: the bound is on the result, checked before the power is computed."""
    path = tmp_path / "pow.yaml"
    path.write_text(HEAD + "layers: [{op: conv2d, out: '((((10**64)**64)**64)**64)**64'}]\n")
    assert_one_line(run_cli("profile", str(path), timeout=30), "value too large")


# ---------------------------------------------------------------- counts and sizes after expansion
def test_repeat_bound_on_both_sides(tmp_path, capsys):
    ok = tmp_path / "ok.yaml"
    ok.write_text(HEAD + f"layers: [{{op: relu, repeat: {limits.MAX_REPEAT}}}]\n")
    assert main(["profile", str(ok), "--summary", "-f", "csv"]) == 0
    capsys.readouterr()
    for n in (limits.MAX_REPEAT + 1, 1_000_000_000, "10**30"):
        big = tmp_path / "big.yaml"
        big.write_text(HEAD + f"layers: [{{op: relu, repeat: '{n}'}}]\n")
        one_line_exit_2(capsys, big, "layers[0].repeat", "at most")


def test_layers_after_expansion_are_bounded(tmp_path, capsys):
    """Nested repeats, each within the repeat bound, multiply: the layer bound stops them."""
    path = tmp_path / "many.yaml"
    path.write_text(HEAD + "layers: [{repeat: 1000, layers: [{op: relu, repeat: 1000}]}]\n")
    one_line_exit_2(capsys, path, f"more than {limits.MAX_LAYERS:,} layers")


@pytest.mark.parametrize("layer, needle", [
    ("{op: conv2d, out: 3000000000}", "at most 2,147,483,647"),
    ("{op: conv2d, out: 2000000000, kernel: 1}", "larger than"),
    ("{op: conv2d, out: 1000000, kernel: 1}\n  - {op: conv2d, out: 1000000, kernel: 1}", "parameters in one layer"),
    ("{op: conv2d, out: 8, kernel: -3000000000}", "at most"),
    ("{op: linear, out: 8, repeat: 1}", "flat"),
])
def test_sizes_a_machine_cannot_hold_are_refused_at_load(tmp_path, capsys, layer, needle):
    path = tmp_path / "huge.yaml"
    path.write_text(HEAD + f"layers:\n  - {layer}\n")
    one_line_exit_2(capsys, path, needle)


def test_resolution_too_large_is_refused(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text("name: t\ninput: {channels: 3, resolution: 100000000000}\n" + RELU)
    one_line_exit_2(capsys, path, "input.resolution", "at most")


def test_integer_literals_over_the_digit_bound(tmp_path, capsys):
    path = tmp_path / "int.yaml"
    path.write_text(HEAD + f"params: {{k: {'9' * 5000}}}\n" + RELU)
    one_line_exit_2(capsys, path, ":3: ", "5000 digits")
    ok = tmp_path / "ok.yaml"
    ok.write_text(HEAD + f"params: {{k: {'9' * limits.MAX_SCALAR_DIGITS}}}\n" + RELU)
    assert main(["profile", str(ok), "-f", "csv"]) == 0


# ---------------------------------------------------------------- wrong types under known keys (family 4)
@pytest.mark.parametrize("body, needles", [
    ("params: [1, 2]\n" + RELU, ["params: expected a mapping, got list"]),
    ("blocks: [a, b]\n" + RELU, ["blocks: expected a mapping, got list"]),
    ("blocks: {a: 5}\n" + RELU, ["blocks.a: expected a mapping"]),
    ("variants: [a]\n" + RELU, ["variants: expected a mapping"]),
    ("variants: {v: 5}\n" + RELU, ["variants.v: expected a mapping"]),
    ("variants: {v: {params: [1]}}\n" + RELU, ["variants.v.params: expected a mapping"]),
    ("input: [3, 8]\n" + RELU, ["input: expected"]),
    ("channels: [1]\n" + RELU, ["channels: expected a mapping"]),
    ("notes: {a: 1}\n" + RELU, ["notes: expected text"]),
    ("params: {1x: 2}\n" + RELU, ["params.1x: expected a parameter name"]),
    ("params: {k: {a: 1}}\n" + RELU, ["params.k: expected a number"]),
    ("layers: {op: relu}\n", ["layers: expected a list"]),
    ("layers: [{op: [relu]}]\n", ["layers[0].op"]),
    ("layers: [{block: [a]}]\nblocks: {a: {layers: []}}\n", ["layers[0].block", "unknown block"]),
    ("layers: [{? [a, b] : 1, op: relu}]\n", [":3: ", "a key must be a plain word, got a list"]),
    ("layers: [{? {a: 1} : 1, op: relu}]\n", [":3: ", "got a mapping"]),
    ("layers: [{op: relu, name: [a]}]\n", ["layers[0].name", "expected a name"]),
    ("layers: [{op: conv2d, out: 8, stride: [1, 2, 3]}]\n", ["layers[0].stride"]),
    ("layers: [{op: relu, if: [1]}]\n", ["layers[0].if"]),
    ("layers: [{op: relu, repeat: [1]}]\n", ["layers[0].repeat"]),
    ("layers: [{op: relu, repeat: 2, first: [1]}]\n", ["layers[0].first"]),
    ("layers: [{parallel: 5, merge: add}]\n", ["layers[0].parallel"]),
    ("layers: [{parallel: [[], []], merge: [add]}]\n", ["layers[0].merge"]),
])
def test_wrong_types_under_known_keys_are_one_line(tmp_path, capsys, body, needles):
    path = tmp_path / "types.yaml"
    path.write_text(("name: t\n" if body.startswith("input") else HEAD) + body)
    one_line_exit_2(capsys, path, *needles)


@pytest.mark.parametrize("name_line, needle", [
    ("name:\n", "got nothing"), ("name: ~\n", "got nothing"), ("name: [a]\n", "expected a network name"),
    ("name: yes\n", "expected a network name"), ("name: 'a b'\n", "expected a network name"),
])
def test_network_name_must_be_a_name(tmp_path, capsys, name_line, needle):
    """`name:` left empty used to make a network called 'None'."""
    path = tmp_path / "n.yaml"
    path.write_text(name_line + "input: {channels: 3, resolution: 8}\n" + RELU)
    one_line_exit_2(capsys, path, "name:", needle)
