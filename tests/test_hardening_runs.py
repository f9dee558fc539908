"""Issue 17, families 1, 2 and 8, with real processes: a failed run never replaces a good file (the output is
checked before the first row is measured, rows are on disk as they finish, a run with no good row leaves an
existing file alone); two runs on one --output never lose rows silently (the second is refused while the
first holds the file); SIGTERM stops the worker child and removes its temp folder; nan/inf seconds are
refused up front."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lwbench.cli import main

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
TINY = "name: tiny\ninput: {channels: 3, resolution: 16}\nlayers:\n  - {op: conv2d, out: 8, kernel: 3}\n  - {op: relu}\n"
OLD = "model,median_ms\nold,1.0\n"


def env(tmp_path: Path) -> dict:
    e = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    e.pop("LWBENCH_DEBUG", None)
    return e


def start(tmp_path, *args):
    return subprocess.Popen([sys.executable, "-m", "lwbench", *args], cwd=tmp_path, env=env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def wait_for(cond, timeout=120.0, what="condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def calls(monkeypatch):
    """bench --in-process measures through lwbench.cli.bench._run_in_process: count the calls (0 = nothing
    was measured)."""
    import lwbench.cli.bench as b

    seen: list = []
    real = b._run_in_process

    def spy(job):
        seen.append(job)
        return real(job)

    monkeypatch.setattr(b, "_run_in_process", spy)
    return seen


# ---------------------------------------------------------------- family 1: checked before measuring
@pytest.mark.parametrize("where", ["directory", "parent_is_file"])
def test_unwritable_bench_output_is_refused_before_the_first_row(tmp_path, capsys, calls, where):
    (tmp_path / "f").write_text("x")
    out = {"directory": tmp_path, "parent_is_file": tmp_path / "f" / "out.csv"}[where]
    net = tmp_path / "tiny.yaml"
    net.write_text(TINY)
    assert main(["bench", str(net), "--in-process", "--min-time", "0.01", "--min-runs", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert calls == []  # nothing measured, so nothing thrown away


def test_unwritable_profile_time_output_is_refused_before_measuring(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    t0 = time.perf_counter()
    assert main(["profile", "squeezenet1_1", "--time", "--min-time", "5", "-o", str(tmp_path / "f" / "t.csv")]) == 2
    assert time.perf_counter() - t0 < 4  # refused before 5 s of measuring
    assert capsys.readouterr().err.count("\n") == 1


def test_a_run_whose_every_row_fails_keeps_the_good_file(tmp_path, capsys, monkeypatch):
    import lwbench.cli.bench as b

    net = tmp_path / "tiny.yaml"
    net.write_text(TINY)
    out = tmp_path / "out.csv"
    assert main(["bench", str(net), "--in-process", "--min-time", "0.01", "--min-runs", "2", "-o", str(out)]) == 0
    good = out.read_text()
    assert "tiny" in good
    monkeypatch.setattr(b, "_run_in_process", lambda job: {"error": "out of memory (made up)", "error_kind": "oom"})
    capsys.readouterr()
    assert main(["bench", str(net), "--in-process", "--batch", "1,2", "-o", str(out)]) == 2
    assert out.read_text() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "tiny.yaml"]  # no temp, no lock left


def interrupt_when_written(tmp_path, out: Path, *argv) -> None:
    """Start lwbench, SIGINT it as soon as `out` exists (the first network done), expect exit 130."""
    p = start(tmp_path, *argv, "-o", str(out))
    try:
        wait_for(out.exists, what="the first network's rows")
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130 and "interrupted" in err, err[-2000:]


def test_profile_time_keeps_the_networks_it_finished(tmp_path):
    """SIGINT during the second network: the first network's rows are in the file."""
    out = tmp_path / "t.csv"
    interrupt_when_written(tmp_path, out, "profile", "squeezenet1_1", "mobilenet_v2", "--time", "--min-time", "1")
    text = out.read_text()
    assert "squeezenet1_1," in text and "mobilenet_v2," not in text


def test_guidelines_breakdown_keeps_the_networks_it_finished(tmp_path):
    out = tmp_path / "b.csv"
    interrupt_when_written(tmp_path, out, "guidelines", "--breakdown", "--net", "squeezenet1_1", "--net",
                           "mobilenet_v2", "--min-time", "1")
    from lwbench.report.load import load_export

    frame = load_export(out).frame
    assert list(frame["model"]) == ["squeezenet1_1"]


# ---------------------------------------------------------------- family 2: one writer per output
def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text(OLD)
    first = start(tmp_path, "bench", "squeezenet1_1", "--min-time", "60", "--max-time", "60", "-o", str(out))
    try:
        wait_for(lambda: (tmp_path / ".out.csv.lock").exists(), what="the first run's lock")
        for argv in (["bench", "squeezenet1_1", "--min-time", "0.01"], ["profile", "mobilenet_v1"]):
            second = start(tmp_path, *argv, "-o", str(out))
            _, err = second.communicate(timeout=120)
            assert second.returncode == 2 and err.count("\n") == 1, err
            assert "another lwbench run is writing this file" in err and f"pid {first.pid}" in err, err
            assert first.poll() is None, "the first run ended early: the check above proves nothing"
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 130, err[-2000:]
    assert out.read_text() == OLD and not (tmp_path / ".out.csv.lock").exists()


# ---------------------------------------------------------------- family 8: signals, children, seconds
def test_sigterm_stops_the_worker_and_removes_its_temp_folder(tmp_path):
    out = tmp_path / "out.csv"
    p = start(tmp_path, "bench", "squeezenet1_1", "--min-time", "60", "--max-time", "60", "-o", str(out))
    try:
        wait_for(lambda: children(p.pid) and any((tmp_path / "tmp").iterdir()), what="the worker child")
        kids = children(p.pid)
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 143 and err.strip().splitlines()[-1] == \
        "lwbench: terminated (rows already written are kept)", err[-2000:]
    wait_for(lambda: not any(Path(f"/proc/{k}").exists() for k in kids), timeout=10, what="the worker to end")
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / ".out.csv.lock").exists()


@pytest.mark.parametrize("opt", ["--cooldown", "--min-time", "--warmup", "--max-time"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_nan_and_inf_seconds_are_refused_up_front(tmp_path, capsys, calls, opt, value):
    net = tmp_path / "tiny.yaml"
    net.write_text(TINY)
    assert main(["bench", str(net), "--in-process", opt, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and opt in err and "Traceback" not in err, err
    assert calls == []
