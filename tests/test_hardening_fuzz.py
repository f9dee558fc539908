"""Issue 17: the mutation fuzzer, extended from unknown keys to the values under KNOWN keys of network YAML.

Every value of a small network that uses every form (blocks with arguments, repeat with first:, if:, inline
layers, residual auto, parallel with split and mul, the channel rule) is replaced in turn by hostile values:
zeros, negatives, huge numbers and expressions, wrong types, swaps with other values of the file, deep nesting
and alias bombs; zoo files get a seeded sample of the same. Each case must end in one of two ways, within a
per-case time limit:

- a ConfigError that names the file (the CLI prints it as one line, exit 2), or
- a clean count that also builds: the torch module (on the meta device, no memory) runs a forward pass whose
  output shape is the counted network's.

Never another exception (a traceback), never a hang.
"""

from __future__ import annotations

import copy
import os
import random
import reprlib
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

import lwbench
from lwbench.errors import ConfigError
from tests.conftest import mutated

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

KITCHEN = """
name: kitchen
input: {channels: 3, resolution: 16}
params: {num_classes: 10, depth: 1.0, act: relu}
channels: {round: make_divisible, divisor: 4}
blocks:
  unit:
    args: {out: required, stride: 1, mid: "$in * 2", act: relu, se: false}
    layers:
      - {name: pw, op: conv2d, out: $mid, kernel: 1, bias: false}
      - {name: dw, op: conv2d, out: "$in", kernel: 3, stride: $stride, groups: "$in"}
      - {name: bn, op: batchnorm}
      - {name: act, op: $act}
      - name: se
        if: $se
        parallel: [[], [{op: adaptive_avgpool, output: 1}, {op: conv2d, out: 4, kernel: 1}, {op: relu},
                        {op: conv2d, out: $mid, kernel: 1}, {op: sigmoid}]]
        merge: mul
      - {name: proj, op: conv2d, out: $out, kernel: 1}
    residual: auto
layers:
  - {name: stem, op: conv2d, out: "ch(16)", kernel: 3, stride: 2, padding: 1}
  - {name: stage1, block: unit, out: "ch(16)", repeat: "ceil($depth * 2)", first: {se: true}}
  - {name: stage2, block: unit, out: "ch(24)", stride: 2, act: $act}
  - name: shuffle
    split: half
    parallel: {left: [], right: [{op: conv2d, out: 12, kernel: 1}, {op: relu}]}
    merge: concat
  - {name: mix, op: shuffle, groups: 2}
  - {name: tail, layers: [{op: conv2d, out: 32, kernel: 1}, {op: relu6}], residual: false}
  - {name: drop, op: dropout, p: 0.2, if: "$num_classes > 1"}
  - {name: pool, op: adaptive_avgpool, output: 1}
  - {name: flat, op: flatten}
  - {name: fc, op: linear, out: $num_classes}
"""


def _deep(levels: int):
    v: object = 1
    for _ in range(levels):
        v = [v]
    return v


def _bomb(levels: int = 8, fan: int = 9):
    v: object = ["x"] * fan
    for _ in range(levels - 1):
        v = [v] * fan  # shared references: yaml.safe_dump writes them as anchors and aliases
    return v


HOSTILE = [0, -1, 1, 2, 3, 10**12, 2**31, -(2**40), "10**30", "((((10**64)**64)**64)**64)**64", "1e300 ** 2",
           "make_divisible(32, 0)", 1e308, float("nan"), float("inf"), 0.5, True, False, None, "", "x", "$nosuch",
           "$in", "$in / 3", "8 if $in > 'a' else 4", [1, 2], [], [[1]], {"a": 1}, {}, "class", "forward",
           _deep(80), _bomb()]


_SHORT = reprlib.Repr()
_SHORT.maxlist = _SHORT.maxlevel = 3


def short(value) -> str:
    return _SHORT.repr(value)  # str() of an alias bomb would expand it


def leaves(doc, path=()):
    """Every (path, value) of the document: mappings' values and lists' items, at every depth."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*path, k), v
            yield from leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*path, i), v
            yield from leaves(v, (*path, i))


class _Timeout(Exception):
    pass


@contextmanager
def time_limit(seconds: int, case: str):
    def handler(signum, frame):
        raise _Timeout(f"over {seconds} s: {case}")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check_case(tmp_path: Path, doc, case: str, build: bool) -> str:
    """'refused' or 'built' (or 'counted' when build is False); anything else fails the test."""
    import torch

    path = tmp_path / "case.yaml"
    path.write_text(yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, width=10_000))
    with time_limit(10, case):
        try:
            net = lwbench.load(str(path))
            totals = lwbench.count(net).totals
        except ConfigError as e:
            assert str(path) in str(e), (case, str(e))
            return "refused"
        except _Timeout:
            raise
        except Exception as e:  # noqa: BLE001 - the point: nothing else may escape
            pytest.fail(f"{case}: {type(e).__name__}: {e}")
        assert all(isinstance(v, int) and v >= 0 for k, v in totals.items() if k in ("params", "madds")), case
        if not build:
            return "counted"
        try:
            model = lwbench.build(net, device="meta")
            y = model(torch.empty(1, *net.input_shape, device="meta"))
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{case}: counts but does not build/run: {type(e).__name__}: {e}")
        last = net.nodes[-1] if net.output.node == net.nodes[-1].name else None
        if last is not None:
            assert tuple(y.shape[1:]) == tuple(last.out_shapes[net.output.index]), case
        return "built"


def test_kitchen_sink_every_value_under_every_key(tmp_path):
    doc = yaml.safe_load(KITCHEN)
    assert check_case(tmp_path, doc, "unmutated", build=True) == "built"
    rng = random.Random(17)
    spots = list(leaves(doc))
    scalars = [v for _, v in spots if not isinstance(v, (dict, list))]
    outcomes: dict[str, int] = {}
    built = 0
    for i, (path, _old) in enumerate(spots):
        # 7 hostile values per spot, rotating so that every value meets every kind of spot, plus a swap with
        # another value of the file; all of HOSTILE at every spot is 4,800 cases (LWBENCH_FUZZ_ALL=1)
        every = os.environ.get("LWBENCH_FUZZ_ALL") == "1"
        values = HOSTILE if every else [HOSTILE[(i * 7 + j) % len(HOSTILE)] for j in range(7)]
        for value in [*values, rng.choice(scalars)]:
            case = f"{'.'.join(map(str, path))} = {short(value)}"
            out = check_case(tmp_path, mutated(doc, path, value), case, build=built < 400)
            built += out == "built"
            outcomes[out] = outcomes.get(out, 0) + 1
    # the fuzzer reaches both outcomes in numbers: it is not only testing the refusal path
    assert outcomes.get("refused", 0) > 500 and outcomes.get("built", 0) > 50, outcomes


@pytest.mark.parametrize("file", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_zoo_files_sampled_values_under_known_keys(tmp_path, file):
    doc = yaml.safe_load((CONFIGS / file).read_text())
    rng = random.Random(file)
    spots = list(leaves(doc))
    scalars = [v for _, v in spots if not isinstance(v, (dict, list))]
    for _ in range(15):
        path, _old = rng.choice(spots)
        value = rng.choice([*HOSTILE, rng.choice(scalars)])
        check_case(tmp_path, mutated(doc, path, value), f"{file}: {'.'.join(map(str, path))} = {short(value)}",
                   build=False)


def test_structural_mutations_of_the_kitchen_sink(tmp_path):
    """Whole parts removed, duplicated or swapped: a key dropped, a list item doubled, two items exchanged."""
    doc = yaml.safe_load(KITCHEN)
    spots = [(p, v) for p, v in leaves(doc)]
    for path, value in spots:
        holder = doc
        for p in path[:-1]:
            holder = holder[p]
        if isinstance(holder, dict):
            cut = copy.deepcopy(doc)
            h = cut
            for p in path[:-1]:
                h = h[p]
            del h[path[-1]]
            check_case(tmp_path, cut, f"del {'.'.join(map(str, path))}", build=True)
        elif isinstance(holder, list):
            twice = copy.deepcopy(doc)
            h = twice
            for p in path[:-1]:
                h = h[p]
            h.insert(path[-1], copy.deepcopy(value))
            check_case(tmp_path, twice, f"dup {'.'.join(map(str, path))}", build=True)
            if path[-1] + 1 < len(holder):
                swap = copy.deepcopy(doc)
                h = swap
                for p in path[:-1]:
                    h = h[p]
                h[path[-1]], h[path[-1] + 1] = h[path[-1] + 1], h[path[-1]]
                check_case(tmp_path, swap, f"swap {'.'.join(map(str, path))}", build=True)
