"""Mutation fuzzer for the guideline YAML files (issue #17, family 6): every leaf of each
configs/guidelines/*.yaml swapped for another type, zero, a negative, a huge or fractional number, a string,
a list, a mapping or null; every mapping and list replaced whole; an unknown key added to every mapping.
Each mutated file either loads and its analytic part runs cleanly (every scale and setup evaluated at load,
every row counted at x1 with the ARM channels, as `--quick` on a CPU does), or it is refused with one
LwbenchError line that names the file and a key path of the file — never another exception (a traceback at
the command line). No timing here.
"""

from __future__ import annotations

import json

import pytest
import yaml

from lwbench.errors import ConfigError, LwbenchError
from lwbench.guidelines import GUIDELINES, QUICK_RESOLUTION, SpreadError, guidelines_dir, load_experiment, plan
from lwbench.guidelines.read import TOP_KEYS
from tests.conftest import mutated

HUGE = 10**12
NUMBER_VALUES = [None, "abc", -1, 0, HUGE, True, [1, 2]]            # + a fraction near the value
TEXT_VALUES = [None, 0, -1, 2.5, "", "$nosuch", "1e300 ** 2", [1, 2], {"k": 1}]
BOOL_VALUES = [None, 5, "abc"]
CONTAINER_VALUES = [None, 5, "text", [], {}]


def _paths(node, path=()):
    """(path, value) of every node under the root, containers and scalars; of a list of plain numbers
    (the paper's speeds) or of equal items (parallel branches) only the list and its first item: the others
    take the same path through the loader."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k), v
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        numbers = node and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in node)
        same = node and all(x == node[0] for x in node)
        for i, v in enumerate(node[:1] if numbers or same else node):
            yield (*path, i), v
            yield from _paths(v, (*path, i))


def _mutants(doc):
    for path, value in list(_paths(doc)):
        if isinstance(value, (dict, list)):
            values = [v for v in CONTAINER_VALUES if type(v) is not type(value) or v != value]
            if isinstance(value, dict):
                yield path, "unknown key", mutated(doc, path, {**value, "zz_unknown": 1})
        else:
            if isinstance(value, bool):
                values = BOOL_VALUES
            elif isinstance(value, (int, float)):
                values = [*NUMBER_VALUES, value * 1.5 + 0.25]    # + a fraction near the real value
            else:
                values = TEXT_VALUES
        for v in values:
            yield path, repr(v), mutated(doc, path, v)
    yield (), "unknown top key", {**doc, "zz_unknown": 1}


def _text(doc) -> str:
    """The mutant as a file: JSON, which YAML reads as it is (one key a line: the errors' lines are real),
    and which is written 20x faster than yaml.safe_dump."""
    return json.dumps(doc, indent=1, ensure_ascii=False)


def _analytic(path) -> None:
    """What `lwbench guidelines FILE --quick` does before it times: load (every row evaluated at every scale
    and setup), then count every row at x1 with the ARM channels (a CPU run's), at the quick resolution."""
    exp = load_experiment(str(path))
    p = plan(exp, "x1", "arm", 1, QUICK_RESOLUTION)
    assert all(isinstance(x["madds"], int) and x["madds"] >= 0 for x in p["rows"])


def _key_root(key: str) -> str:
    return key.split(".", 1)[0].split("[", 1)[0].split(" ", 1)[0]


@pytest.mark.parametrize("g", GUIDELINES)
def test_every_one_leaf_edit_is_one_line_or_a_clean_analytic_run(g, tmp_path):
    doc = yaml.safe_load((guidelines_dir() / f"{g.lower()}.yaml").read_text())
    target = tmp_path / f"{g.lower()}_mutant.yaml"
    outcomes = {"ok": 0, "refused": 0}
    failures = []
    for path, what, mutant in _mutants(doc):
        target.write_text(_text(mutant))
        where = f"{'.'.join(map(str, path))} <- {what}"
        try:
            _analytic(target)
            outcomes["ok"] += 1
        except (ConfigError, SpreadError) as e:
            text = str(e)
            key = e.key if isinstance(e, ConfigError) else text.split(": ", 2)[1]
            if "\n" in text or not text.startswith(str(target)) or _key_root(key) not in (*TOP_KEYS, "zz_unknown"):
                failures.append(f"{where}: not one line naming the file and a key: {text!r}")
            outcomes["refused"] += 1
        except LwbenchError as e:
            failures.append(f"{where}: {type(e).__name__} without a key: {e}")
        except Exception as e:  # noqa: BLE001 - any other exception is a traceback at the command line
            failures.append(f"{where}: {type(e).__name__}: {str(e)[:200]}")
    assert not failures, f"{len(failures)} of {sum(outcomes.values())} mutants:\n" + "\n".join(failures[:40])
    assert outcomes["refused"] > 100 and outcomes["ok"] > 10, outcomes   # both branches are exercised


def test_refused_mutants_are_one_line_and_exit_2_at_the_command_line(tmp_path, capsys):
    """A sample of refused mutants through `lwbench guidelines FILE --quick`: exit 2, one stderr line naming
    the file, no traceback, nothing timed."""
    from lwbench.cli import main

    doc = yaml.safe_load((guidelines_dir() / "g1.yaml").read_text())
    seen = 0
    for i, (_path, _what, mutant) in enumerate(_mutants(doc)):
        if i % 40:
            continue
        target = tmp_path / f"m{i}.yaml"
        target.write_text(_text(mutant))
        try:
            _analytic(target)
            continue                     # accepted: the analytic part ran; timing is not this test's
        except LwbenchError:
            pass
        capsys.readouterr()
        assert main(["guidelines", str(target), "--quick", "--format", "csv"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"lwbench: error: {target}") and "Traceback" not in err[0], err
        seen += 1
    assert seen >= 5
