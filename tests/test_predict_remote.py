"""`lwbench calibrate --runtime onnxruntime --target ssh://...` through a real OpenSSH server on loopback
(tests/sshd_server.py; no mock of the transport): a small probe set calibrated on the target, a run whose link
is killed mid-measurement resumed, the records against the local ORT code's records of the same probes, the
fingerprint, predict refusing other settings, and the one-line errors. The target is this machine; no timing
is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sshd_server import cli as _cli
from sshd_server import kill_serving

TIMER = {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 5, "min_time_s": 0.01, "max_time_s": 0.2}
PROBE_FIELDS = ("id", "group", "input", "nodes", "target", "minus", "label")


def _probes():
    """Every overhead chain, one probe of each group; the synthetic network the smallest (export takes seconds)."""
    import math

    from lwbench.predict.grid import grid, subset

    full = grid(0, runtime="onnxruntime")
    chain = min((p for p in full if p.group == "chain"), key=lambda p: len(p.nodes) * math.prod(p.input))
    return [p for p in subset(full, 1) if p.group != "chain"] + [chain]


def _records(partial: Path) -> list[dict]:
    return [json.loads(ln) for ln in partial.read_text().splitlines()[1:] if ln.strip()]


def _local_records(probes, settings) -> dict[str, dict]:
    """The records the local ORT calibration worker makes of the same probes (its own function, in-process)."""
    import tempfile

    from lwbench.build import build, example_input
    from lwbench.measure.timer import TimerConfig
    from lwbench.predict.calibrate import _time_probe
    from lwbench.predict.probetime import time_probe

    with tempfile.TemporaryDirectory() as cache:
        return {p.id: _time_probe(p, settings, TimerConfig(**settings["timer"]), build, example_input, time_probe,
                                  cache) for p in probes}


def test_remote_calibration_resumes_and_agrees_with_local(ssh_env, tmp_path, capsys, monkeypatch):
    from lwbench.errors import InputError
    from lwbench.predict import remotecal
    from lwbench.predict.calibrate import calibrate

    probes = _probes()
    out = tmp_path / "cal.json"
    partial = Path(f"{out}.partial")
    kw = {"runtime": "onnxruntime", "target": ssh_env.url, "probes": probes, "timer": TIMER}

    # 1. the link dies while the overhead group is measured: one line naming the target and the step, the partial
    # file keeps what was timed
    stop, killed = threading.Event(), []
    th = threading.Thread(target=kill_serving, args=(ssh_env.proc.pid, ("lwbench_run.py calibrate",), stop, killed),
                          kwargs={"ready": lambda: partial.exists() and len(_records(partial)) >= 4})
    th.start()
    try:
        with pytest.raises(InputError) as e:
            calibrate(str(out), **kw)
    finally:
        stop.set()
        th.join()
    assert killed, "the connection was not killed mid-measurement"
    msg = str(e.value)
    assert msg.startswith(f"{ssh_env.url}: calibrate: the connection was lost") and "\n" not in msg, msg
    assert "run again to resume" in msg and not out.exists()
    first = {r["id"]: r for r in _records(partial) if "error" not in r}
    assert 4 <= len(first) < len(probes)
    for _ in range(100):                    # the orphaned runner saw its stdin close and stopped
        if not Path(f"/proc/{killed[0]}").exists():
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{killed[0]}").exists(), "the runner kept measuring after its connection died"

    # 2. run again: only what is missing is exported and timed; the first run's records are kept
    exported: list[str] = []
    real = remotecal.RemoteCalibration._export_and_ship

    def spy(self, todo, batch, keep):
        exported.extend(p.id for p in todo)
        return real(self, todo, batch, keep)

    monkeypatch.setattr(remotecal.RemoteCalibration, "_export_and_ship", spy)
    doc = calibrate(str(out), **kw)
    assert sorted(exported) == sorted(p.id for p in probes if p.id not in first)
    assert doc["cost"]["complete"] and not partial.exists() and out.exists()
    meas = {m["id"]: m for m in doc["measurements"]}
    assert set(meas) == {p.id for p in probes}                           # every probe has a record
    assert all(meas[i]["worker"] == r["worker"] for i, r in first.items())   # measured once, in the first run

    # 3. the fingerprint and machine block are the target's, the NCHWc rule its ORT's
    import onnxruntime

    from lwbench.measure.machine import cpu_model
    from lwbench.predict.layout import detect_rules

    fp, st = doc["fingerprint"], doc["settings"]
    assert fp["target"] == st["target"] == ssh_env.url and fp["runtime"] == "onnxruntime"
    assert fp["cpu_model"] == cpu_model() and fp["runtime_versions"]["onnxruntime"] == onnxruntime.__version__
    assert doc["machine"]["target"] == ssh_env.url and doc["machine"]["python_executable"] == sys.executable
    assert st["nchwc"] == detect_rules() and "nchwc_unknown" not in st     # the target is this machine

    # 4. against the local ORT code's records of the same probes: the same fields, the check passed, layout_ms
    # wherever the local record has it (never a timing)
    local = _local_records(probes, {**st, "target": "local"})
    by_probe = {p.id: p.to_dict() for p in probes}
    for pid, rem in meas.items():
        loc = local[pid]
        assert "error" not in loc, loc
        assert {k: rem[k] for k in PROBE_FIELDS} == {k: by_probe[pid][k] for k in PROBE_FIELDS}
        assert set(loc) - {"id", "group"} <= set(rem), set(loc) - set(rem)
        assert rem["rel_err"] <= 1e-4 and loc["rel_err"] <= 1e-4 and rem["check_sampled"] > 0
        assert (rem["layout_ms"] is None) == (loc["layout_ms"] is None)
        # the timer's rule: min_runs calls, unless max_time_s ran out first (a loaded machine: calls over 40 ms)
        tm = rem["timing"]
        assert tm["n"] >= TIMER["min_runs"] or tm["n"] * tm["max_ms"] >= 0.9e3 * TIMER["max_time_s"], tm
        assert rem["heap"] == loc.get("heap", "onnxruntime arena")
        assert isinstance(rem["clean_n"], int) and "cpu_median_ms" in rem           # one thread: clean calls apart
    # the count side of the fit: the same kinds keyed (the NCHWc rule, the ops, the shapes), whatever the times
    from lwbench.predict.fitcal import build_document

    here = build_document(probes, local, {**st, "target": "local"}, fp, doc["machine"], 0.0, [])
    assert set(here["model"]["kinds"]) == set(doc["model"]["kinds"]) and doc["checks"]["heldout_layers"]
    # a rule the target's graphs did not give is stored as unknown; the fit reads every convolution as blocked
    from lwbench.predict.fitcal import refit

    unknown = refit({**doc, "settings": {**st, "nchwc": None, "nchwc_unknown": "not read from the target: x"}})
    assert unknown["model"]["kinds"] and unknown["model"]["layout"]["rules"] is None

    # 5. predict holds a remote calibration to its target
    cal = str(out)
    rc, _, err = _cli(["predict", "mobilenet_v1", "-c", cal, "--summary", "--target", ssh_env.url], capsys)
    assert rc == 0, err
    for extra, why in ((["--target", "local"], "target"), (["--threads", "2"], "threads"),
                       (["--here"], "made on target")):
        rc, out_, err = _cli(["predict", "mobilenet_v1", "-c", cal, "--summary", *extra], capsys)
        assert rc == 2 and out_ == "" and err.count("\n") == 1 and why in err, err

    # 6. the speed reference was timed on the target first and last; `calibrate --check` times it there again
    sp = doc["checks"]["speed"]
    assert sp["start_ms"] > 0 and sp["end_ms"] > 0 and sp["minutes"] >= 0
    check = tmp_path / "check.json"
    rc, out_, err = _cli(["calibrate", "--check", cal, "--tolerance", "1e9", "-o", str(check)], capsys)
    assert rc == 0 and f"on {ssh_env.url}: x" in out_, (out_, err)
    res = json.loads(check.read_text())
    assert res["target"] == ssh_env.url and res["machine"]["target"] == ssh_env.url and res["within"]
    assert {r["group"] for r in res["records"]} == {"speed"} and all(r["rel_err"] <= 1e-4 for r in res["records"])
    assert res["now_ms"] > 0 and res["calibration_ms"] == pytest.approx((sp["start_ms"] + sp["end_ms"]) / 2)


def test_nchwc_rule_unknown_when_the_target_graphs_fail(monkeypatch):
    import shutil

    if shutil.which("ssh") is None:
        pytest.skip("the OpenSSH client (ssh) is not installed")
    from lwbench.errors import InputError
    from lwbench.predict.remotecal import RemoteCalibration

    def fail(self, shapes):
        raise InputError("ssh://x: graphs: the connection was lost")

    monkeypatch.setattr(RemoteCalibration, "_ask", fail)
    rc = RemoteCalibration("ssh://x")
    try:
        assert rc.nchwc("all") == (None, "not read from the target: ssh://x: graphs: the connection was lost")
        assert rc.nchwc("basic") == (None, None)            # below level all there is no NCHWc region to read
    finally:
        rc.close()


def test_unreachable_target_is_one_line_and_keeps_the_partial_file(ssh_env, tmp_path, capsys):
    import socket

    with socket.socket() as s:        # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"ssh://127.0.0.1:{port}?python={sys.executable}"
    out = tmp_path / "cal.json"
    partial = Path(f"{out}.partial")
    partial.write_text('{"format": "lwbench-calibration-partial"}\n{"id": "x"}\n')
    before = partial.read_bytes()
    rc, _, err = _cli(["calibrate", "--runtime", "onnxruntime", "--target", url, "--smoke", "1", "-o", str(out)],
                      capsys)
    assert rc == 2 and err.count("\n") == 1, err
    assert url in err and "connect:" in err and "connection refused" in err
    assert partial.read_bytes() == before and not out.exists()


def test_target_without_onnxruntime(ssh_env, tmp_path, capsys):
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    url = f"ssh://127.0.0.1:{ssh_env.port}?python={venv / 'bin' / 'python'}"
    out = tmp_path / "cal.json"
    rc, _, err = _cli(["calibrate", "--runtime", "onnxruntime", "--target", url, "--smoke", "1", "-o", str(out)],
                      capsys)
    assert rc == 2 and err.count("\n") == 1, err
    assert f"{url}: info: onnxruntime is not installed" in err and "pip install onnxruntime" in err
    assert not out.exists() and not Path(f"{out}.partial").exists()


def test_torch_on_a_remote_target_is_refused(capsys, tmp_path):
    rc, _, err = _cli(["calibrate", "--target", "ssh://pi5", "-o", str(tmp_path / "c.json")], capsys)
    assert rc == 2 and err.count("\n") == 1 and "TorchScript, not eager torch" in err and "--runtime onnxruntime" in err


def test_check_input_is_the_same_everywhere_and_a_wrong_output_is_caught():
    """The check input a target makes is fixed bits (so it never has to be sent), and the sampled check
    refuses an output that differs from torch's."""
    import hashlib

    import numpy as np

    from lwbench.onnx.ortcore import check_input, output_sample, sample_positions, sampled_check

    x = check_input([1, 3, 5, 7])
    assert x.dtype == np.float32 and x.shape == (1, 3, 5, 7) and abs(float(x.std()) - 1.0) < 0.2
    assert hashlib.sha256(x.tobytes()).hexdigest()[:16] == "4c512f7f97120715"     # integer hashing: fixed bits
    assert list(sample_positions(10, 4)) == [0, 3, 6, 9] and list(sample_positions(3, 512)) == [0, 1, 2]
    ref = np.linspace(-1, 1, 2000, dtype=np.float32).reshape(1, 2, 1000)
    pos = sample_positions(ref.size)
    ok = sampled_check(output_sample(ref + 1e-7), list(ref.shape), ref.reshape(-1)[pos])
    assert ok["valid"] and ok["rel_err"] < 1e-4 and ok["check_sampled"] == 512
    bad = sampled_check(output_sample(ref * 1.01), list(ref.shape), ref.reshape(-1)[pos])
    assert not bad["valid"] and "rel_err" in bad["why"]
    nan = ref.copy()
    nan[0, 1, 3] = np.nan                  # not at a sampled position: still caught
    assert not sampled_check(output_sample(nan), list(ref.shape), ref.reshape(-1)[pos])["valid"]
    assert not sampled_check(output_sample(ref[:, :1]), list(ref.shape), ref.reshape(-1)[pos])["valid"]
