"""Issue 17, family 7: one write path for every writer. A write that fails after its temp file exists (disk
full, a directory put in the way, a file that cannot be replaced) is one line, exit 2; the temp file is gone
and the old file is byte for byte what it was. Failures are real: a file-size limit (RLIMIT_FSIZE) in a child
process for a full disk, a real directory for the one in the way."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lwbench.cli import main
from lwbench.errors import InputError
from lwbench.report.write import atomic_file, atomic_write, check_writable, output_lock

ROOT = Path(__file__).resolve().parent.parent
OLD = "model,params\nold,1\n"


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def _small_disk():  # in the child: files may grow to 4 KB, and going over is an error, not SIGXFSZ
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@pytest.mark.parametrize("argv", [
    ["profile", "mobilenet_v2"],  # a long CSV, far over 4 KB
    ["list"],
    ["schema"],
])
def test_disk_full_is_one_line_and_keeps_the_old_file(tmp_path, argv):
    out = tmp_path / "out.csv"
    out.write_text(OLD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LWBENCH_DEBUG", None)
    p = subprocess.run([sys.executable, "-m", "lwbench", *argv, "-f", "csv", "-o", str(out)], capture_output=True,
                       text=True, env=env, preexec_fn=_small_disk, timeout=120)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert f"{out}: cannot write (File too large)" in lines[0] and "unchanged" in lines[0], lines[0]
    assert out.read_text() == OLD
    assert leftovers(tmp_path, {"out.csv"}) == []


def test_a_directory_put_in_the_way_after_the_temp_file_exists(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text(OLD)
    with pytest.raises(InputError, match="cannot write"):
        with atomic_file(out) as f:
            f.write("new,2\n")
            out.rename(tmp_path / "kept.csv")  # another program moves the file away and leaves a folder there
            out.mkdir()
            (out / "x").write_text("")
    assert (tmp_path / "kept.csv").read_text() == OLD
    assert leftovers(tmp_path, {"kept.csv", "out.csv"}) == []  # no temp file left


def test_a_file_that_cannot_be_replaced(tmp_path):
    """A non-empty folder of that name cannot be replaced by a file: one line, before anything is written."""
    out = tmp_path / "out.csv"
    out.mkdir()
    (out / "x").write_text("")
    with pytest.raises(InputError, match="is a directory"):
        atomic_write(out, "x")
    assert leftovers(tmp_path, {"out.csv"}) == []


@pytest.mark.parametrize("make", ["dir", "parent_is_file", "empty"])
def test_unwritable_output_is_refused_before_anything_runs(tmp_path, capsys, make):
    target = {"dir": tmp_path, "parent_is_file": tmp_path / "f.csv" / "out.csv", "empty": ""}[make]
    (tmp_path / "f.csv").write_text(OLD)
    assert main(["profile", "mobilenet_v1", "-f", "csv", "-o", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert (tmp_path / "f.csv").read_text() == OLD


def test_an_error_inside_the_writer_removes_the_temp_file(tmp_path):
    out = tmp_path / "fig.png"
    out.write_bytes(b"old")
    with pytest.raises(ZeroDivisionError):
        with atomic_file(out, "wb") as f:
            f.write(b"half")
            raise ZeroDivisionError("a writer failing half way")
    assert out.read_bytes() == b"old" and leftovers(tmp_path, {"fig.png"}) == []


def test_check_writable_leaves_nothing_behind(tmp_path):
    check_writable(tmp_path / "sub" / "out.csv")
    assert leftovers(tmp_path / "sub", set()) == []


def test_output_lock_refuses_a_second_writer_and_cleans_up(tmp_path):
    out = tmp_path / "out.csv"
    with output_lock(out):
        with pytest.raises(InputError, match="another lwbench run is writing"):
            with output_lock(out):
                pass
        code = ("import sys; from lwbench.report.write import output_lock\n"
                "from lwbench.errors import InputError\n"
                f"try:\n    output_lock({str(out)!r}).__enter__()\nexcept InputError as e:\n    print(e); sys.exit(7)\n")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
        assert p.returncode == 7 and f"pid {os.getpid()}" in p.stdout, p  # the holder is named
    assert leftovers(tmp_path, set()) == []
    with output_lock(out):  # free again once released
        pass
