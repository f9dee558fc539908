"""One output switch (lwbench.report.emit) for every command: -f/--format and -o/--output mean the same
everywhere. The rule: `-f table -o FILE` writes the table as plain text (never refused, never silently
dropped); csv/json/md to stdout and to a file are the same export; a format contradicting the file's extension,
or a file whose extension names no format, is one line and exit code 2 before anything runs."""

from __future__ import annotations

import json
import re

import pytest

from lwbench.cli import main
from lwbench.report.load import load_export
from tests.conftest import TINY_NET

FAST = ["--min-time", "0.02", "--warmup", "0.01", "--min-runs", "3"]


def _converted(command: str) -> bool:
    """Whether a command's module already goes through report.emit (cli/guidelines.py: branch `guide`)."""
    import importlib
    import inspect

    return "report.emit" in inspect.getsource(importlib.import_module(f"lwbench.cli.{command}"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("switch")
    (d / "tiny.yaml").write_text(TINY_NET.format(name="tiny_switch"))
    assert main(["profile", str(d / "tiny.yaml"), "-o", str(d / "layers.csv")]) == 0
    return d


# command -> (argv, a word the table shows, deterministic: stdout and file exports are equal frames)
COMMANDS = {
    "list": (["list", "mobilenet_v1_x0_5"], "lwbench zoo", True),
    "profile": (["profile", "{tiny}"], "tiny_switch", True),
    "profile --summary": (["profile", "{tiny}", "mobilenet_v1", "--summary"], "networks", True),
    "profile --time": (["profile", "{tiny}", "--time", "--threads", "1", "--min-time", "0.02"], "end-to-end", False),
    "bench": (["bench", "{tiny}", "--in-process", "--threads", "1", *FAST], "lwbench bench", False),
    "verify": (["verify", "{tiny}", "--no-fvcore"], "networks agree", True),
    "schema": (["schema", "timing"], "median_ms", True),
    "compare": (["compare", "{layers}", "{layers}"], "madds", True),
    "guidelines": (["guidelines", "G4", "--quick"], "G4", False),
}


def _argv(name, files):
    argv, word, same = COMMANDS[name]
    return [a.format(tiny=files / "tiny.yaml", layers=files / "layers.csv") for a in argv], word, same


def _skip_unconverted(name):
    if name == "guidelines" and not _converted("guidelines"):
        pytest.skip("cli/guidelines.py goes through report.emit on branch `guide` (runs on the merged tree)")


def _lines(text: str) -> list[str]:
    """Lines without trailing blanks and without verify's run time `(0.1s)`."""
    return [re.sub(r"\(\d+\.\ds\)", "(s)", ln).rstrip() for ln in text.splitlines()]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_table_to_a_file_is_written_as_text(name, files, tmp_path, capsys):
    _skip_unconverted(name)
    argv, word, _ = _argv(name, files)
    out = tmp_path / "t.txt"
    assert main([*argv, "-f", "table", "-o", str(out)]) == 0
    text = out.read_text()
    assert word in text and ("┃" in text or "│" in text or name == "verify"), text[:500]
    assert "\x1b[" not in text                                         # plain text, no terminal colours
    capsys.readouterr()
    assert main([*argv, "-f", "table"]) == 0
    shown = capsys.readouterr().out
    head = next(ln for ln in text.splitlines() if word in ln).strip()
    if COMMANDS[name][2]:                                              # same table on the terminal
        assert _lines(text) == _lines(shown)
    else:
        assert head.split()[0] in shown


@pytest.mark.parametrize("fmt", ["csv", "json", "md"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_stdout_and_file_are_the_same_export(name, fmt, files, tmp_path, capsys):
    _skip_unconverted(name)
    argv, _, same = _argv(name, files)
    out = tmp_path / f"x.{fmt}"
    rc = main([*argv, "-o", str(out)])
    assert rc == 0 and out.stat().st_size > 0
    capsys.readouterr()
    assert main([*argv, "-f", fmt]) == 0
    printed = tmp_path / f"printed.{fmt}"
    printed.write_text(capsys.readouterr().out)
    if name in ("schema", "list"):                  # no machine block, nothing timed: the very same text
        assert printed.read_text() == out.read_text()
        return
    a, b = load_export(out), load_export(printed)
    assert a.kind == b.kind and list(a.frame.columns) == list(b.frame.columns) and len(a.frame) == len(b.frame)
    if same:
        assert a.frame.equals(b.frame)
    assert a.machine and a.machine.get("cpu_model") == b.machine.get("cpu_model")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_format_and_extension_errors_are_the_same_line_everywhere(name, files, tmp_path, capsys):
    _skip_unconverted(name)
    argv, _, _ = _argv(name, files)
    for extra, needle in ((["-f", "json", "-o", str(tmp_path / "x.csv")], "--format json contradicts --output"),
                          (["-o", str(tmp_path / "x.xyz")], "extension .xyz; expected one of .csv, .json, .md")):
        capsys.readouterr()
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("lwbench: error: ") and needle in err[0], (name, err)
    assert list(tmp_path.iterdir()) == []


def test_json_envelope_carries_the_machine_block(files, capsys):
    assert main(["profile", str(files / "tiny.yaml"), "mobilenet_v1", "--summary", "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"machine", "rows"} and doc["machine"]["lwbench"]
    assert main(["list", "mobilenet_v1", "-f", "json"]) == 0                    # the zoo list: bare rows
    assert isinstance(json.loads(capsys.readouterr().out), list)
