"""The timing seam: Job/Result (lwbench.measure.jobs), runtimes, targets, the worker protocol, and the one
output switch's incremental sink (report.emit.RowSink)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lwbench.cli import main
from lwbench.errors import InputError
from lwbench.measure.jobs import Job, Result, check_job, run_jobs
from tests.conftest import tiny_net_file

FAST_TIMER = {"warmup_s": 0.01, "min_runs": 5, "min_time_s": 0.02, "max_time_s": 1.0}


@pytest.fixture
def tiny(tmp_path):
    return tiny_net_file(tmp_path, "tiny_job")


def test_job_round_trip_key_and_hash():
    j = Job(net="mobilenet_v1", batch=2, threads=1, cores=[0, 1], options={"b": 2, "a": "x"}, timer={"min_runs": 3})
    assert j.cores == (0, 1) and j.options == (("a", "x"), ("b", "2"))          # normalised, sorted
    d = j.to_dict()
    assert d["cores"] == [0, 1] and d["options"] == {"a": "x", "b": "2"}
    assert json.loads(json.dumps(d)) == d and Job.from_dict(d) == j
    assert Job.from_dict(d).key() == j.key() and len(j.key()) == 64 and hash(j) == hash(Job.from_dict(d))
    # every field is in the key: changing any one changes it
    variants = [Job(net="mobilenet_v1", batch=2, threads=1, cores=[0, 1], options={"b": 2, "a": "x"},
                    timer={"min_runs": 3}, **{k: v}) for k, v in
                (("width", 0.5), ("resolution", 128), ("device", "cuda"), ("dtype", "float16"), ("mode", "script"),
                 ("layout", "nhwc"), ("runtime", "other"), ("target", "ssh://h"))]
    assert len({j.key(), *(v.key() for v in variants)}) == len(variants) + 1
    with pytest.raises(InputError, match="job: unknown key colour"):
        Job.from_dict({**d, "colour": "red"})


def test_result_round_trip_and_legacy_dict():
    j = Job(net="x.yaml")
    r = Result(job=j, timing={"median_ms": 1.5}, samples_ms=[1.4, 1.5, 1.6], cpu_share=0.9, extra={"torch": "2"})
    back = Result.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r and back.ok
    # a dict without a job (the in-process hook's form) takes the job given; unknown keys land in extra
    legacy = Result.from_dict({"timing": {"median_ms": 2.0}, "samples_ms": [2.0], "onnx": "1.32"}, job=j)
    assert legacy.job == j and legacy.extra == {"onnx": "1.32"}
    failed = Result.from_dict({"error": "boom"}, job=j)
    assert not failed.ok and failed.error_kind == "run"


def test_runtime_and_target_registries_refuse_unknown_names():
    from lwbench.runtimes import RUNTIMES, get_runtime
    from lwbench.targets import LocalTarget, resolve

    assert set(RUNTIMES) >= {"torch"} and hasattr(get_runtime("torch"), "measure")
    with pytest.raises(InputError, match="unknown runtime; expected one of torch"):
        get_runtime("tensorflow")
    assert isinstance(resolve("local"), LocalTarget)
    with pytest.raises(InputError, match="nowhere://x: unknown target"):
        resolve("nowhere://x")
    assert check_job(Job(net="x", mode="jit")) is not None and "--mode" in check_job(Job(net="x", mode="jit"))
    assert "takes no options" in check_job(Job(net="x", options={"ort_opt": "all"}))


@pytest.mark.parametrize("opt, value, needle", [("--runtime", "tensorflow", "--runtime tensorflow: unknown runtime"),
                                                 ("--target", "nowhere://x", "--target nowhere://x: unknown target")])
def test_bench_runtime_and_target_options_are_one_line(tiny, capsys, opt, value, needle):
    assert main(["bench", tiny, opt, value, "--in-process"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lwbench: error: ") and needle in err[0], err


def test_worker_process_reads_a_job_and_writes_a_result(tiny, tmp_path):
    """The real protocol: JOB.json (Job.to_dict) -> `python -m lwbench.measure.worker` -> RESULT.json."""
    job = Job(net=tiny, batch=2, threads=1, timer=FAST_TIMER)
    jp, rp = tmp_path / "job.json", tmp_path / "result.json"
    jp.write_text(json.dumps(job.to_dict()))
    p = subprocess.run([sys.executable, "-m", "lwbench.measure.worker", str(jp), str(rp)], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    res = Result.from_dict(json.loads(rp.read_text()))
    assert res.job == job and res.ok and res.threads == 1 and res.interop_threads == 1
    assert res.timing["n"] == len(res.samples_ms) >= 5 and res.extra["torch"]
    assert res.timing["min_ms"] <= res.timing["median_ms"] <= res.timing["max_ms"]


def test_run_jobs_cools_down_between_networks_and_records_refusals(tiny, tmp_path):
    other = tiny_net_file(tmp_path, "other_job")
    jobs = [Job(net=tiny, threads=1, timer=FAST_TIMER), Job(net=tiny, threads=1, mode="jit", timer=FAST_TIMER),
            Job(net=str(other), threads=1, timer=FAST_TIMER)]
    log, seen = [], []
    out = run_jobs(jobs, in_process=True, cooldown_s=2.5, sleep=lambda s: log.append(("sleep", s)),
                   on_start=lambda j: log.append(("start", j.mode)), on_result=seen.append)
    assert log == [("start", "eager"), ("start", "jit"), ("sleep", 2.5), ("start", "eager")]
    assert seen == out and [r.job for r in out] == jobs
    assert out[0].ok and out[2].ok and out[1].error_kind == "config" and "--mode" in out[1].error


def test_row_sink_keeps_a_good_file_when_every_row_fails(tmp_path):
    from lwbench.report.emit import RowSink

    out = tmp_path / "rows.csv"
    out.write_text("model,median_ms\ngood,1.0\n")
    sink = RowSink("csv", str(out), ok=lambda r: not r["error"])
    sink.add({"model": "a", "error": "boom"})
    assert out.read_text() == "model,median_ms\ngood,1.0\n"          # nothing measured: the good file stays
    sink.add({"model": "b", "error": ""})
    assert out.read_text().splitlines() == ["model,error", "a,boom", "b,"]
    fresh = tmp_path / "fresh.json"
    sink = RowSink("json", str(fresh), ok=lambda r: not r["error"], machine={"cpu": "x"})
    sink.add({"model": "a", "error": "boom"})                        # no earlier file: the failure is recorded
    assert json.loads(fresh.read_text()) == {"machine": {"cpu": "x"}, "rows": [{"model": "a", "error": "boom"}]}
