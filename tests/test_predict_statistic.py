"""`calibrate --statistic min`: the model fitted on each probe's fastest call and validated against bench's min_ms.

A synthetic machine whose every call of a probe is at least its true cost and whose median is inflated by a
contention that differs per probe (a shared VM): a median calibration learns the contention, a min calibration
the cost. Known answers, no timing.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from lwbench.errors import InputError
from lwbench.predict import calfile
from lwbench.predict.design import probe_net
from lwbench.predict.fitcal import refit
from lwbench.predict.grid import grid
from lwbench.predict.predict import predict_net
from lwbench.predict.probetime import probe_ms
from lwbench.predict.validate import validate_rows
from lwbench.spec import load
from tests.conftest import synthetic_calibration, synthetic_ms


@pytest.fixture(scope="module")
def median_cal():
    rng = random.Random(7)
    probes = [p for p in grid(0) if not p.group.startswith("fault")]
    records = {}
    for p in probes:
        t = synthetic_ms(probe_net(p))
        contention = 1.0 + rng.uniform(0.2, 0.8)         # the median of a shared machine: 1.2-1.8x the cost
        records[p.id] = {"timing": {"median_ms": t * contention, "min_ms": t}, "cpu_share": 1.0}
    return synthetic_calibration(probes, records)


def test_probe_ms_reads_the_statistic_asked_for():
    rec = {"timing": {"median_ms": 2.0, "min_ms": 1.0}, "clean_median_ms": 1.8, "layout_ms": 0.5}
    assert probe_ms(rec) == 1.8                          # the median of the calls not preempted
    assert probe_ms(rec, stat="min") == 1.0
    assert probe_ms(rec, less_layout=True, stat="min") == 0.5


def test_a_min_refit_learns_the_cost_and_the_median_one_the_contention(median_cal):
    assert median_cal["model"]["statistic"] == "median"
    as_min = refit(median_cal, "min")
    assert as_min["model"]["statistic"] == "min" and as_min["settings"]["statistic"] == "min"
    assert as_min["measurements"] == median_cal["measurements"]      # nothing measured again
    for name in ("mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1"):
        net = load(name)
        truth = synthetic_ms(net)
        got = predict_net(net, as_min["model"])["total_ms"]
        assert got == pytest.approx(truth, rel=0.05)                   # never fitted on a zoo network
        assert predict_net(net, median_cal["model"])["total_ms"] > 1.15 * truth
    again = refit(as_min)                                             # a refit keeps the statistic it was fitted on
    assert again["model"]["statistic"] == "min"


def test_validation_compares_with_the_same_statistic_of_the_bench_rows():
    rows = [{"model": "mobilenet_v2", "median_ms": 30.0, "min_ms": 20.0, "batch": 1},
            {"model": "squeezenet1_1", "median_ms": 15.0, "min_ms": 12.0, "batch": 1}]

    def predict(name, width, res, batch):
        return {"madds": 1e8, "mac_elems": 1e6, "layers": [1], "total_ms": 22.0 if name == "mobilenet_v2" else 12.0,
                "uncalibrated_layers": 0}

    out, summary = validate_rows(rows, predict, "min")
    assert [o["measured_ms"] for o in out] == [20.0, 12.0] and summary["statistic"] == "min"
    assert out[0]["error_pct"] == pytest.approx(10.0) and out[1]["error_pct"] == pytest.approx(0.0)
    out, summary = validate_rows(rows, predict)
    assert [o["measured_ms"] for o in out] == [30.0, 15.0] and summary["statistic"] == "median"
    with pytest.raises(InputError, match="squeezenet1_1 has no min_ms"):
        validate_rows([rows[0], {"model": "squeezenet1_1", "median_ms": 15.0, "batch": 1}], predict, "min")


def test_the_tables_say_which_statistic_is_predicted(median_cal):
    from lwbench.predict.tables import _cal_text

    assert "predicts the median latency" in _cal_text(median_cal)
    assert "predicts the min latency" in _cal_text(refit(median_cal, "min"))


def test_an_unknown_statistic_is_one_line_and_exit_2(median_cal, tmp_path):
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps(median_cal))
    out = tmp_path / "out.json"
    p = subprocess.run([sys.executable, "-m", "lwbench", "calibrate", "--refit", str(cal), "--statistic", "mean",
                        "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and not out.exists()
    assert p.stderr.strip() == "lwbench: error: --statistic mean: expected median or min"
    p = subprocess.run([sys.executable, "-m", "lwbench", "calibrate", "--refit", str(cal), "--statistic", "min",
                        "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert calfile.load(out)["model"]["statistic"] == "min"
