"""Remote targets through a real OpenSSH server on loopback (tests/sshd_server.py; no mock of the transport):
`target check`, rows timed on the target, a connection killed mid-sweep, a target without the runtime, a changed
or unknown host key. The target is this machine, so the run directory can be looked at after the run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sshd_server import cli as _cli
from sshd_server import kill_serving

TIMER = {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 5, "min_time_s": 0.05, "max_time_s": 2.0}
NET = {"net": "mobilenet_v1", "width": 0.25, "resolution": 64, "batch": 1}


def test_target_check_prints_machine_block_and_runtimes(ssh_env, capsys):
    rc, out, err = _cli(["target", "check", ssh_env.url], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    from lwbench.measure.machine import cpu_model
    from lwbench.targets.runner import memory, os_release

    assert any(ln.startswith("CPU ") and str(cpu_model()) in ln for ln in lines)   # the same parser as locally
    assert any(ln.startswith("memory ") and f"{memory()['memory_gib']} GiB" in ln for ln in lines)
    assert any(ln.startswith("OS ") and str(os_release()) in ln for ln in lines)
    assert any(ln.startswith("Python ") and sys.executable in ln for ln in lines)
    import onnxruntime
    import torch

    assert f"runtime    torch {torch.__version__}" in lines
    assert any(ln.startswith(f"runtime    onnxruntime {onnxruntime.__version__}") for ln in lines)
    assert not [ln for ln in lines if ln.startswith("missing")]
    rundir = out.split("runner in ")[1].split(",")[0]
    assert "/lwbench-" in rundir and not os.path.exists(rundir)      # the per-run directory is gone


def test_alias_from_the_ssh_config(ssh_env):
    from lwbench.targets.remote import SshTarget

    with SshTarget(f"lwbench-test?python={sys.executable}") as t:
        rundir = t.connect()
        assert Path(rundir, "lwbench_run.py").is_file() and Path(rundir, "lwbench/measure/timer.py").is_file()
    assert not os.path.exists(rundir)


def _check_row(d: dict, url: str, threads: int) -> None:
    from lwbench.measure.timer import stats_from_samples

    assert "error" not in d, d.get("error")
    tm = d["timing"]
    assert tm["n"] == len(d["samples_ms"]) >= TIMER["min_runs"]
    assert tm["median_ms"] == stats_from_samples(d["samples_ms"]).median_ms    # the raw samples came back
    assert d["threads"] == threads and d["interop_threads"] == 1 and d["cores"] == "0"
    assert tm["compile_s"] is not None                                       # frozen TorchScript, as locally
    m = d["machine"]
    assert m["target"] == url and m["python_executable"] == sys.executable
    assert m["torch"]["version"] and m["clusters"]


def test_sweep_rows_and_a_connection_killed_mid_sweep(ssh_env):
    """Three rows through one ControlMaster connection; the link of the second is killed while it measures:
    that row is an error naming the target and the step, the rows before and after it are kept."""
    from lwbench.targets.remote import SshTarget

    job = {**NET, "runtime": "torch", "mode": "script", "cores": "0", "timer": TIMER}
    slow = {**job, "threads": 1, "timer": {**TIMER, "min_time_s": 20.0, "max_time_s": 30.0}}
    with SshTarget(ssh_env.url) as t:
        first = t.run_doc({**job, "threads": 1}, 120)
        stop, killed = threading.Event(), []
        th = threading.Thread(target=kill_serving, args=(ssh_env.proc.pid, (f"{t.rundir}/lwbench_run.py", " measure"),
                                                         stop, killed), kwargs={"settle_s": 0.3})
        th.start()
        try:
            lost = t.run_doc(slow, 120)
        finally:
            stop.set()
            th.join()
        assert killed
        for _ in range(100):                    # the orphaned runner saw its stdin close and stopped
            if not Path(f"/proc/{killed[0]}").exists():
                break
            time.sleep(0.05)
        assert not Path(f"/proc/{killed[0]}").exists(), "the runner kept measuring after its connection died"
        after = t.run_doc({**job, "threads": 2}, 120)
        models = os.listdir(Path(t.rundir, "models"))
        rundir = t.rundir
    assert not os.path.exists(rundir)                                  # the per-run directory is removed
    assert len(models) == 1 and models[0].endswith(".pt")             # the model was shipped once
    assert killed
    _check_row(first, ssh_env.url, 1)
    _check_row(after, ssh_env.url, 2)
    assert lost["error_kind"] == "transport" and lost["step"] == "measure"
    assert lost["error"].startswith(f"{ssh_env.url}: measure: the connection was lost")
    assert "timing" not in lost


def test_int8_rows_are_quantized_for_the_targets_cpu(ssh_env):
    """The host quantizes a target's int8 file by the target's CPU (lwbench.onnx.quant.rule_for its machine
    block): here the target is this machine, so its rule is this machine's; told that the target is an ARM board,
    the host ships another file, with full-range weights, and the row records that rule."""
    from lwbench.onnx.quant import reduce_range_rule
    from lwbench.targets.remote import SshTarget
    from lwbench.targets.runner import hardware

    job = {**NET, "resolution": 96, "runtime": "onnxruntime", "mode": "eager", "dtype": "int8", "threads": 1,
           "cores": "0", "timer": TIMER}
    with SshTarget(ssh_env.url) as t:
        m = t.machine()
        assert m["cpu_flags_int8"] == hardware("/")["cpu_flags_int8"] and m["arch"]
        here = t.run_doc(job, 120)
        t.machine()["arch"] = "aarch64"
        arm = t.run_doc(job, 120)
        models = os.listdir(Path(t.rundir, "models"))
    assert "error" not in here, here.get("error")
    q = here["quantization"]
    assert (q["reduce_range"], q["reduce_range_rule"]) == reduce_range_rule() and q["format"] == "QDQ"
    assert here["valid"] and here["l2_rel_err"] <= here["tolerance"]
    assert arm["quantization"]["reduce_range"] is False and arm["quantization"]["reduce_range_rule"].startswith("aarch64")
    assert len([f for f in models if f.endswith(".onnx")]) == (2 if reduce_range_rule()[0] else 1)


def test_target_without_the_runtime(ssh_env, tmp_path, capsys):
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    py = venv / "bin" / "python"
    url = f"ssh://127.0.0.1:{ssh_env.port}?python={py}"
    from lwbench.targets.remote import SshTarget

    with SshTarget(url) as t:
        doc = t.run_doc({**NET, "runtime": "torch", "mode": "script", "timer": TIMER}, 60)
    assert doc["error_kind"] == "config" and doc["step"] == "import"
    assert doc["error"].startswith(f"{url}: import: torch is not installed for {py}")
    assert "pip install torch" in doc["error"] and "\n" not in doc["error"]
    rc, out, err = _cli(["target", "check", url], capsys)
    assert rc == 2
    missing = [ln for ln in out.splitlines() if ln.startswith("missing")]
    assert [ln.split()[1] for ln in missing] == ["onnxruntime:", "torch:", "numpy:"]
    assert all("to get it: pip install" in ln for ln in missing)
    assert err.count("\n") == 1 and "no runtime lwbench can time with" in err
    out_csv = tmp_path / "check.csv"
    rc, _, err = _cli(["target", "check", url, "-o", str(out_csv)], capsys)
    import json

    import pandas as pd

    first = out_csv.read_text().splitlines()[0]
    assert rc == 2 and first.startswith("# machine: ")
    machine = json.loads(first[len("# machine: "):])
    assert machine["python_executable"] == str(py) and machine["target"] == url
    frame = pd.read_csv(out_csv, comment="#")
    assert list(frame["runtime"]) == ["onnxruntime", "torch", "numpy"] and frame["version"].isna().all()
    assert frame["how"].str.contains("pip install").all()


def test_changed_host_key_is_refused(ssh_env, tmp_path, capsys, monkeypatch):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{ssh_env.port} {(tmp_path / 'other.pub').read_text().strip()}\n")
    monkeypatch.setenv("LWBENCH_SSH_CONFIG", str(ssh_env.client_config(wrong, "ssh_config_wrong")))
    rc, out, err = _cli(["target", "check", ssh_env.url], capsys)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "REMOTE HOST IDENTIFICATION HAS CHANGED" in err and "connect:" in err
    wrong.write_text("")
    rc, out, err = _cli(["target", "check", ssh_env.url], capsys)
    assert rc == 2 and "not in your known_hosts" in err


def test_profile_time_on_the_target(ssh_env, tmp_path, capsys):
    """`profile --time --target`: ORT's per-node kernel times from the target joined to every layer on the host;
    the layer groups cover each layer once and carry all of the network's madds (the analytic count)."""
    import json

    from lwbench.count import count
    from lwbench.spec import load

    out = tmp_path / "p.json"
    args = ["profile", "mobilenet_v1", "--width", "0.25", "--resolution", "64", "--time", "--threads", "1",
            "--min-time", "0.05", "--target", ssh_env.url]
    rc, _, err = _cli([*args, "--runtime", "onnxruntime", "-o", str(out)], capsys)
    assert rc == 0, err
    doc = json.loads(out.read_text())
    prof = count(load("mobilenet_v1", 0.25, 64), 1)
    covered = [lay for r in doc["layers"] for lay in r["layers"].split()]
    assert sorted(covered) == sorted(r.layer for r in prof.layers)        # every layer, once
    assert sum(r["madds"] for r in doc["layers"]) == prof.totals["madds"]
    assert all(r["attribution"] != "unattributed" for r in doc["layers"])
    assert all(r["time_ms"] is not None for r in doc["layers"] if r["ort_ops"] != "(eliminated)")
    e2e = doc["end_to_end"]
    assert e2e["n"] >= 10 and e2e["threads"] == 1 and e2e["runtime"] == "onnxruntime"
    assert e2e["target"] == ssh_env.url and e2e["profiled_median_ms"] > 0
    assert doc["machine"]["target"] == ssh_env.url and doc["machine"]["onnxruntime"]["version"]
    rc, _, err = _cli(["profile", "mobilenet_v1", "--target", ssh_env.url], capsys)
    assert rc == 2 and "add --time" in err
    rc, _, err = _cli(args, capsys)                       # torch: frozen TorchScript there, no per-layer hooks
    assert rc == 2 and "use --runtime onnxruntime" in err


def test_unreachable_target_rows_fail_fast(ssh_env, tmp_path, monkeypatch):
    """A refused host key on connect: every row of that target is an error saying so, the first one tried,
    the rest at once (no new connection attempt per row)."""
    from lwbench.targets.remote import SshTarget

    empty = tmp_path / "known_hosts"
    empty.write_text("")
    monkeypatch.setenv("LWBENCH_SSH_CONFIG", str(ssh_env.client_config(empty, "ssh_config_empty")))
    with SshTarget(ssh_env.url) as t:
        docs = [t.run_doc({**NET, "runtime": "torch", "mode": "script", "timer": TIMER}, 60) for _ in range(3)]
    assert all(d["step"] == "connect" and d["error_kind"] == "transport" for d in docs)
    assert "not in your known_hosts" in docs[0]["error"] and "not retried" in docs[2]["error"]
    assert docs[1]["remote_wall_s"] == 0.0


def test_bench_sweeps_local_and_ssh_targets(ssh_env, tmp_path, capsys):
    """`bench --runtime onnxruntime --target local,ssh://...`: one row per target with its `target`, the same
    .onnx file on both, each target's machine block in the export; the target's output on the seeded input
    comes back and is checked against torch's (a second runtime) as the local row is."""
    import json

    out = tmp_path / "ort.json"
    rc, _, err = _cli(["bench", "mobilenet_v1", "--width", "0.25", "--resolution", "64", "--runtime", "onnxruntime",
                       "--threads", "1", "--min-time", "0.05", "--min-runs", "5", "--warmup", "0",
                       "--target", f"local,{ssh_env.url}", "-o", str(out)], capsys)
    assert rc == 0, err
    doc = json.loads(out.read_text())
    rows = doc["rows"]
    assert [r["target"] for r in rows] == ["local", ssh_env.url]
    assert rows[0]["params"] == rows[1]["params"] and rows[0]["madds"] == rows[1]["madds"]
    assert all(len(r["samples_ms"]) == r["n"] for r in rows)
    assert doc["targets"][ssh_env.url]["python_executable"] == sys.executable
    assert doc["targets"][ssh_env.url]["target"] == ssh_env.url
    for r in rows:
        assert not r["error"] and r["valid"] is True and r["rel_err"] <= 1e-4 and r["n"] >= 5
        assert r["ep"] == "CPUExecutionProvider"
    assert rows[0]["max_abs_err"] == pytest.approx(rows[1]["max_abs_err"], rel=0.5, abs=1e-6)


def test_guidelines_on_the_target(ssh_env, tmp_path, capsys):
    """`guidelines G2 --target ...`: every row timed on the target (frozen TorchScript of the row's network, a
    fresh runner per slice), the analytic columns as locally, the target's machine block and the target in the
    run's config."""
    import json
    from pathlib import Path

    import yaml

    import lwbench

    doc = yaml.safe_load((Path(lwbench.__file__).parent.parent / "configs/guidelines/g2.yaml").read_text())
    doc["rows"] = doc["rows"][:2]                       # g=1 and g=2 only: two remote rows keep the test short
    doc["claim"].update(chains=[["g=1", "g=2"]], headline=["g=1", "g=2"])
    g2 = tmp_path / "g2-two.yaml"
    g2.write_text(yaml.safe_dump(doc))
    out = tmp_path / "g2.json"
    rc, _, err = _cli(["guidelines", str(g2), "--quick", "--rounds", "1", "--target", ssh_env.url, "-o", str(out)],
                      capsys)
    assert rc == 0, err
    got = json.loads(out.read_text())
    rows = got["rows"]
    assert len(rows) == 2 and all(not r["error"] and r["n"] >= 2 and r["images_per_s"] > 0 for r in rows)
    assert got["machine"]["target"] == ssh_env.url and got["config"]["target"] == ssh_env.url
    from lwbench.guidelines import RunConfig, load_all, plan_all

    plans, _ = plan_all(load_all(["G2"]), RunConfig.quick())
    local = {x["row"].setting: x["madds"] for x in next(iter(plans.values()))[0]["rows"]}
    assert {r["setting"]: r["madds"] for r in rows} == {k: local[k] for k in ("g=1", "g=2")}
