"""`bench --rounds N` (lwbench.measure.pool): round-robin order, the timer slice each round gets, samples pooled
into the statistics (against the statistics of the concatenated samples by hand), rounds_spread by hand, a
failing round, and one real run. No timing is asserted."""

from __future__ import annotations

import json
import math
import statistics
import textwrap
from pathlib import Path

import pytest

from lwbench.cli import main
from lwbench.measure.pool import Pool, round_timer
from lwbench.measure.protocol import Job, Result

TINY = """\
name: NAME
input: {channels: 3, resolution: 16}
layers:
  - {name: stem, op: conv2d, out: 8, kernel: 3, stride: 2, bias: false}
  - {name: relu, op: relu}
  - {name: pool, op: global_avgpool}
  - {name: flatten, op: flatten}
  - {name: fc, op: linear, out: 10}
"""


def net(tmp_path, name: str) -> str:
    p = tmp_path / f"{name}.yaml"
    p.write_text(textwrap.dedent(TINY).replace("NAME", name))
    return str(p)


class Rounds:
    """Replaces the per-row measurement: the k-th call of network NAME returns SAMPLES[NAME][k] (its round's
    samples); logs (name, the timer it was given)."""

    def __init__(self, monkeypatch, samples: dict, fail: dict | None = None):
        import lwbench.cli.bench as bench_mod

        self.samples, self.fail, self.log = samples, fail or {}, []
        monkeypatch.setattr(bench_mod, "_run_in_process", self.run)

    def run(self, job):
        from lwbench.measure.timer import stats_from_samples

        name = Path(job["net"]).stem
        k = sum(1 for n, _ in self.log if n == name)
        self.log.append((name, dict(job["timer"])))
        if self.fail.get(name) == k:
            return {"error": f"round {k} broke (made up)", "error_kind": "run"}
        xs = self.samples[name][k]
        t = stats_from_samples(xs, first_run_ms=100.0 + k)
        return {"timing": t.stats(), "samples_ms": t.samples_ms, "cpu_share": 0.9 + 0.02 * k, "threads": 1,
                "interop_threads": 1, "cores": None}


def test_rounds_interleave_slice_and_pool(tmp_path, monkeypatch):
    a = [[4.0, 5.0, 6.0], [8.0, 9.0], [5.0, 5.5, 4.5, 5.0]]      # medians 5, 8.5, 5
    b = [[1.0, 1.0], [1.2, 1.1, 1.3], [0.9, 1.0]]                # medians 1, 1.2, 0.95
    fake = Rounds(monkeypatch, {"na": a, "nb": b})
    out = tmp_path / "r.json"
    assert main(["bench", net(tmp_path, "na"), net(tmp_path, "nb"), "--threads", "1", "--in-process",
                 "--rounds", "3", "--min-time", "0.9", "--min-runs", "10", "--max-time", "6", "-o", str(out)]) == 0
    # round-robin: every network's first round, then every one's second, ...
    assert [n for n, _ in fake.log] == ["na", "nb"] * 3
    for _, timer in fake.log:     # each round: a third of the time and the runs (rounded up), the full warm-up
        assert timer["min_time_s"] == pytest.approx(0.3) and timer["max_time_s"] == pytest.approx(2.0)
        assert timer["min_runs"] == 4 and timer["warmup_s"] == pytest.approx(0.5)
    doc = json.loads(out.read_text())
    assert doc["timer"]["rounds"] == 3 and doc["timer"]["min_time_s"] == pytest.approx(0.9)
    rows = {r["model"]: r for r in doc["rows"]}
    for name, rs in (("na", a), ("nb", b)):
        r, pooled = rows[name], [x for s in rs for x in s]
        assert r["n"] == len(pooled) and r["samples_ms"] == pooled
        assert r["median_ms"] == pytest.approx(statistics.median(pooled))
        assert r["min_ms"] == min(pooled) and r["max_ms"] == max(pooled)
        assert r["mean_ms"] == pytest.approx(statistics.fmean(pooled))
        assert r["std_ms"] == pytest.approx(statistics.stdev(pooled))
        medians = [statistics.median(s) for s in rs]
        assert r["rounds"] == 3 and r["rounds_spread"] == pytest.approx(max(medians) / min(medians) - 1)
        assert r["first_run_ms"] == 100.0           # the first round's first call
        assert r["cpu_share"] == pytest.approx(0.92)  # the rounds' mean (0.90, 0.92, 0.94)
        assert r["images_per_s"] == pytest.approx(1000.0 / statistics.median(pooled))
    assert rows["na"]["rounds_spread"] == pytest.approx(0.7) and rows["nb"]["rounds_spread"] == pytest.approx(0.25 / 0.95)  # 1.2 / 0.95 - 1


def test_a_failing_round_fails_the_row_and_the_others_stand(tmp_path, monkeypatch):
    fake = Rounds(monkeypatch, {"na": [[1.0, 2.0]] * 2, "nb": [[3.0]] * 2}, fail={"na": 1})
    out = tmp_path / "r.csv"
    assert main(["bench", net(tmp_path, "na"), net(tmp_path, "nb"), "--threads", "1", "--in-process",
                 "--rounds", "2", "-o", str(out)]) == 0
    assert len(fake.log) == 4
    import pandas as pd

    df = pd.read_csv(out, comment="#").set_index("model")
    assert df.loc["na", "error"] == "round 1 broke (made up)" and math.isnan(df.loc["na", "median_ms"])
    assert df.loc["nb", "median_ms"] == 3.0 and df.loc["nb", "rounds"] == 2 and df.loc["nb", "rounds_spread"] == 0


def test_rounds_bounded_one_line(tmp_path, capsys):
    for bad in ("0", "101"):
        assert main(["bench", net(tmp_path, "na"), "--rounds", bad]) == 2
        err = capsys.readouterr().err
        assert "--rounds" in err and "Traceback" not in err


def test_pool_and_round_timer_by_hand():
    job = Job(net="x.yaml")
    p = Pool()
    assert p.result(job).error == "no round ran" and p.spread() is None
    p.add(Result(job=job, timing={"median_ms": 2.0, "first_run_ms": 9.0}, samples_ms=[1.0, 2.0, 3.0], cpu_share=1.0))
    assert p.spread() is None and p.rounds == 1
    p.add(Result(job=job, timing={"median_ms": 3.0, "first_run_ms": 7.0}, samples_ms=[3.0, 3.0], cpu_share=0.8))
    r = p.result(job)
    assert r.samples_ms == [1.0, 2.0, 3.0, 3.0, 3.0] and r.timing["median_ms"] == 3.0 and r.timing["n"] == 5
    assert r.timing["first_run_ms"] == 9.0 and r.cpu_share == pytest.approx(0.9) and p.spread() == pytest.approx(0.5)
    p.add(Result.failed(job, "boom"))
    p.add(Result(job=job, timing={"median_ms": 1.0}, samples_ms=[1.0]))     # after a failure: not counted
    assert p.result(job).error == "boom" and p.rounds == 2
    t = {"warmup_runs": 2, "warmup_s": 0.5, "min_runs": 10, "min_time_s": 1.0, "max_time_s": 10.0, "max_runs": 99}
    assert round_timer(t, 1) == t
    assert round_timer(t, 4) == {**t, "min_runs": 3, "min_time_s": 0.25, "max_time_s": 2.5}
    assert round_timer({**t, "min_runs": 1}, 4)["min_runs"] == 1


def test_rounds_real_run(tmp_path):
    """Two real rounds in fresh workers: the pooled n is what both rounds took, the median one of the samples'."""
    out = tmp_path / "r.json"
    assert main(["bench", net(tmp_path, "na"), "--threads", "1", "--rounds", "2", "--min-time", "0.05",
                 "--min-runs", "6", "--warmup", "0.02", "-o", str(out)]) == 0
    (r,) = json.loads(out.read_text())["rows"]
    assert not r["error"] and r["rounds"] == 2 and r["n"] == len(r["samples_ms"]) >= 6
    assert r["median_ms"] == pytest.approx(statistics.median(r["samples_ms"]))
    assert r["rounds_spread"] is not None and r["rounds_spread"] >= 0
