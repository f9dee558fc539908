"""Issue 17, family 9: exit codes and small lies. Every way out of the CLI is either a result (exit 0) or one
line on stderr with exit 2 — also when user code calls sys.exit, when an option is empty, when the
environment names a folder that is not there. Real processes, so the exit status is the real one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lwbench.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(*args, env=None, timeout=120):
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k)
    if "LWBENCH_DEBUG" not in (env or {}):
        full.pop("LWBENCH_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "lwbench", *args], capture_output=True, text=True, env=full,
                          timeout=timeout)


def one_line(p, *needles, rc=2):
    lines = p.stderr.strip().splitlines()
    assert p.returncode == rc and len(lines) == 1 and "Traceback" not in p.stderr, (p.returncode, p.stderr[-2000:])
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.mark.parametrize("where, body", [("factory", "sys.exit(0)"), ("factory", "sys.exit(3)"),
                                         ("import", "sys.exit('bye')"), ("import", "raise SystemExit")])
def test_system_exit_from_module_code_is_one_line_exit_2(tmp_path, body, where):
    """Exit 0 with nothing printed (or the user's own code) used to be what lwbench returned."""
    pytest.importorskip("torch")
    mod = tmp_path / "model.py"
    if where == "factory":
        mod.write_text(f"import sys\n\n\ndef make():\n    {body}\n")
    else:
        mod.write_text(f"import sys\n{body}\n\n\ndef make():\n    pass\n")
    p = run("profile", "--module", f"{mod}:make", "-f", "csv")
    line = one_line(p, "sys.exit", f"{mod}:")
    assert p.stdout == "", p.stdout
    assert line.startswith("lwbench: error: ")


def test_version_prints_the_version():
    from lwbench import __version__

    p = run("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"lwbench {__version__}" and p.stderr == "", p


@pytest.mark.parametrize("value, traceback", [("0", False), ("", False), ("false", False), ("off", False),
                                              ("no", False), ("1", True), ("yes", True)])
def test_lwbench_debug_zero_means_off(value, traceback):
    p = run("profile", "nosuchnet", env={"LWBENCH_DEBUG": value})
    assert p.returncode in (1, 2)
    assert ("Traceback" in p.stderr) is traceback, p.stderr
    if not traceback:
        one_line(p, "unknown network 'nosuchnet'")


@pytest.mark.parametrize("argv", [["list"], ["profile", "mobilenet_v1"], ["profile", "--all"]])
def test_missing_configs_folder_is_an_error(tmp_path, argv):
    for folder in (str(tmp_path / "missing"), str(ROOT / "README.md"), ""):
        p = run(*argv, env={"LWBENCH_CONFIGS": folder})
        one_line(p, "LWBENCH_CONFIGS", "not a folder")


def test_an_empty_configs_folder_lists_nothing_but_is_not_an_error(tmp_path, capsys):
    os.environ["LWBENCH_CONFIGS"] = str(tmp_path)
    try:
        assert main(["list", "-f", "csv"]) == 0
    finally:
        del os.environ["LWBENCH_CONFIGS"]


@pytest.mark.parametrize("argv", [
    ["list"], ["profile", "mobilenet_v1"], ["verify", "mobilenet_v1"], ["schema"],
    ["guidelines", "g1"], ["compare", "a.csv", "b.csv"], ["bench", "mobilenet_v1"],
])
@pytest.mark.parametrize("empty", ["", " "])
def test_empty_output_path_is_refused_before_anything_runs(capsys, argv, empty):
    """`-o ''` used to print to the terminal as if -o were not given."""
    assert main([*argv, "-o", empty]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "--output: an empty path" in err, err


@pytest.mark.parametrize("ext", ["csv", "json", "md"])
def test_format_table_with_a_file_gives_sensible_advice(capsys, ext):
    assert main(["profile", "mobilenet_v1", "-f", "table", "-o", f"x.{ext}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "name the file .table" not in err and "drop --format" in err, err
    assert "writes the table as text" in err and "name the file .txt" in err


def test_every_error_message_is_one_line(capsys, monkeypatch):
    """Whatever the text of an error (a YAML problem spanning lines, a message with a newline), the CLI prints
    one line."""
    import lwbench.spec.zoo as zoo
    from lwbench.errors import InputError

    def boom():
        raise InputError("first\nsecond\n\n  third")

    monkeypatch.setattr(zoo, "index", boom)
    assert main(["list"]) == 2
    assert capsys.readouterr().err == "lwbench: error: first second third\n"


@pytest.mark.parametrize("shape, needle", [("", "--input: an empty shape"), (" ", "--input: an empty shape"),
                                           ("3x224", "has 2 sizes"), ("3x224x224x2x2", "has 5 sizes"),
                                           ("3x224x224,3x8", "has 2 sizes")])
def test_input_shape_is_checked_at_parse(capsys, shape, needle):
    """Before the module is even imported (this one does not exist): the error is about --input."""
    assert main(["profile", "--module", "no/such/file.py:make", "--input", shape]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "file.py" not in err, err


def test_input_vector_and_image_shapes_are_accepted(tmp_path, capsys):
    pytest.importorskip("torch")
    mod = tmp_path / "m.py"
    mod.write_text("from torch import nn\n\n\ndef make():\n    return nn.Linear(10, 2)\n")
    assert main(["profile", "--module", f"{mod}:make", "--input", "10", "-f", "csv"]) == 0


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["schema", "--format", "md"],
                                  ["profile", "mobilenet_v1", "-f", "csv"]])
def test_stdout_closed_by_its_reader_is_quiet_exit_141(argv):
    """`lwbench … | head`: the reader goes away; no message (it read 'sys.exit(1) at rich/console.py … exit 2'),
    the exit status of a process ended by SIGPIPE. The pipe's read end is closed before lwbench writes, so the
    first write fails every time."""
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, "-m", "lwbench", *argv], stdout=w, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    finally:
        os.close(w)
    assert (p.returncode, p.stderr) == (141, "")
