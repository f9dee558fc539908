"""The calibration's speed reference (lwbench.predict.speed) and `lwbench calibrate --check`: the figures by hand, the
reference stored by a calibration (against the synthetic machine's exact time of that network), a real check on
this machine (the reference measured for real; no timing asserted: the stored times are set far from any real
one, so the verdict is known), and the one-line refusals."""

from __future__ import annotations

import json

import pytest
from conftest import synthetic_calibration, synthetic_ms
from sshd_server import cli

from lwbench.predict import speed
from lwbench.predict.design import probe_net

FAST_NETWORK_TIMER = {"warmup_s": 0.0, "min_runs": 5, "min_time_s": 0.02, "max_time_s": 0.2}


def _rec(median, at, n=100, mn=None):
    return {"timing": {"median_ms": median, "min_ms": mn if mn is not None else median * 0.9, "n": n},
            "cpu_share": 1.0, "at": at}


def test_summary_and_verdict_by_hand():
    start, end = speed.reference(speed.GROUP), speed.reference(speed.GROUP_END)
    assert start.nodes == end.nodes and start.id != end.id and start.group == "speed"
    recs = {start.id: _rec(10.0, 1000.0), end.id: _rec(12.0, 1300.0)}
    s = speed.summary([start, end], recs, "median")
    assert (s["start_ms"], s["end_ms"]) == (10.0, 12.0)
    assert s["drift_pct"] == pytest.approx(20.0) and s["minutes"] == pytest.approx(5.0)
    # against the mean of start and end, 11; the median of the readings
    v = speed.compare(s, [_rec(13.0, 0), _rec(13.2, 0), _rec(13.6, 0)], "median", 10.0)
    assert v["calibration_ms"] == pytest.approx(11.0) and v["now_ms"] == 13.2 and v["ratio"] == pytest.approx(1.2)
    assert v["change_pct"] == pytest.approx(20.0) and v["spread_pct"] == pytest.approx(100 * (13.6 / 13.0 - 1))
    assert v["verdict"] == "beyond" and not v["within"] and v["now_calls"] == 300
    assert speed.compare(s, [_rec(13.2, 0)], "median", 25.0)["verdict"] == "within"
    assert speed.compare(s, [_rec(10.5, 0)], "median", 10.0)["within"]                  # -4.5%
    # readings seconds apart 12% apart: unsteady at ±10% even though their median is on the calibration's
    un = speed.compare(s, [_rec(10.0, 0), _rec(11.0, 0), _rec(11.2, 0)], "median", 10.0)
    assert un["ratio"] == pytest.approx(1.0) and un["spread_pct"] == pytest.approx(12.0) and un["verdict"] == "unsteady"
    assert speed.compare(s, [_rec(10.0, 0), _rec(11.0, 0), _rec(11.2, 0)], "median", 15.0)["verdict"] == "within"
    m = speed.summary([start, end], recs, "min")                         # a min calibration compares mins
    assert m["start_ms"] == pytest.approx(9.0) and speed.compare(m, [_rec(20.0, 0, mn=9.9)], "min")["ratio"] == \
        pytest.approx(9.9 / 9.9)
    # no end record (an interrupted calibration): the start alone; no reference at all: None
    only = speed.summary([start, end], {start.id: recs[start.id]}, "median")
    assert only["end_ms"] is None and only["drift_pct"] is None
    assert speed.compare(only, [_rec(15.0, 0)], "median")["ratio"] == pytest.approx(1.5)
    assert speed.summary([start, end], {}, "median") is None


def test_a_calibration_stores_its_reference_at_start_and_end():
    from lwbench.predict.grid import grid, subset

    probes = subset(grid(0), 2)
    records = {p.id: {"timing": {"median_ms": synthetic_ms(probe_net(p))}, "cpu_share": 1.0,
                      "at": 100.0 + i} for i, p in enumerate(probes)}
    doc = synthetic_calibration(probes, records)
    s = doc["checks"]["speed"]
    truth = synthetic_ms(probe_net(speed.reference()))                 # the synthetic machine's time of it
    assert s["start_ms"] == pytest.approx(truth) and s["end_ms"] == pytest.approx(truth) and s["drift_pct"] == 0
    assert s["reference"].startswith("speed reference (103 layers")
    # the reference is in no fit: the same model without it
    rest = [p for p in probes if p.group not in ("speed", "speed-end")]
    other = synthetic_calibration(rest, records)
    assert other["model"]["kinds"] == doc["model"]["kinds"] and other["model"]["context"] == doc["model"]["context"]
    assert other["checks"]["speed"] is None


def _small():
    """A one-probe-per-group grid and its records on the synthetic machine (every call 1 ms at its fastest)."""
    from lwbench.predict.grid import grid, subset

    probes = subset(grid(0), 1)
    return probes, {p.id: {"timing": {"median_ms": synthetic_ms(probe_net(p)), "min_ms": 1.0}, "cpu_share": 1.0}
                    for p in probes}


def _calibration_here(tmp_path, speed_ms: float | None) -> str:
    """A calibration document of this machine (its real fingerprint and settings, a fast network timer) with the
    reference's stored times set to `speed_ms` (None: no reference, as a calibration made before it)."""
    from lwbench.predict import calfile
    from lwbench.predict.calibrate import _settings, machine_info_for

    doc = synthetic_calibration(*_small())
    settings = _settings("cpu", 1, "torch", None, 1, "float32", 0, FAST_NETWORK_TIMER, "all")
    machine = machine_info_for("torch")
    doc.update(settings=settings, machine=machine, fingerprint=calfile.fingerprint(settings, machine))
    if speed_ms is None:
        doc["checks"]["speed"] = None
    else:
        doc["checks"]["speed"].update(start_ms=speed_ms, end_ms=speed_ms)
    path = tmp_path / f"cal-{speed_ms}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_check_measures_the_reference_here_and_exits_1_beyond_the_tolerance(tmp_path, capsys):
    import statistics

    cal = _calibration_here(tmp_path, 1e-3)         # stored: 1 us a call; any real run is thousands of times slower
    out = tmp_path / "check.json"
    # at ±500% the readings' own spread (a few tens of percent on a shared VM) is within, the change is not
    rc, stdout, err = cli(["calibrate", "--check", cal, "--tolerance", "500", "-o", str(out)], capsys)
    assert rc == 1, err
    line = [ln for ln in err.splitlines() if ln.startswith("lwbench:")]
    assert len(line) == 1 and "(slower)" in line[0] and "now takes x" in line[0] and "calibrate again" in line[0]
    assert f"{cal}: speed reference (median) 0.001 ms at calibration" in stdout and "beyond (±500%)" in stdout
    res = json.loads(out.read_text())
    assert res["target"] == "local" and res["verdict"] == "beyond" and res["ratio"] > 100
    recs = res["records"]
    assert len(recs) == 3 and len({r["worker"] for r in recs}) == 3 and {r["group"] for r in recs} == {"speed"}
    # the timer's rule: min_runs calls, unless max_time_s ran out first (the reference takes 25-40 ms on a slow VM)
    assert all(r["timing"]["n"] >= FAST_NETWORK_TIMER["min_runs"]
               or r["timing"]["n"] * r["timing"]["max_ms"] >= 0.9e3 * FAST_NETWORK_TIMER["max_time_s"] for r in recs)
    # each reading is the record's clean median, else its CPU-time median (few clean calls), else its median
    got = [next((r[k] for k in ("clean_median_ms", "cpu_median_ms") if r.get(k) is not None), r["timing"]["median_ms"])
           for r in recs]
    assert res["readings_ms"] == pytest.approx(got) and res["now_ms"] == pytest.approx(statistics.median(got))
    assert res["machine"]["cpu_model"] and res["calibration_speed"]["start_ms"] == 1e-3
    # within a tolerance that holds it: exit 0, no warning
    rc, stdout, err = cli(["calibrate", "--check", cal, "--tolerance", "1e9", "--readings", "1"], capsys)
    assert rc == 0 and "median of 1 reading, CPU share" in stdout and "within (±1e+09%)" in stdout and "lwbench:" not in err
    # at ±0% two real readings always differ: unsteady, exit 1, one line saying so
    rc, stdout, err = cli(["calibrate", "--check", cal, "--tolerance", "0", "--readings", "2"], capsys)
    line = [ln for ln in err.splitlines() if ln.startswith("lwbench:")]
    assert rc == 1 and ": unsteady (±0%)" in stdout and len(line) == 1 and "is unsteady: 2 readings" in line[0]


def test_check_refusals_are_one_line(tmp_path, capsys):
    old = _calibration_here(tmp_path, None)
    rc, _, err = cli(["calibrate", "--check", old], capsys)
    assert rc == 2 and err.count("\n") == 1 and "no speed reference" in err and "calibrate again" in err, err
    doc = synthetic_calibration(*_small())
    other = tmp_path / "other.json"                   # the synthetic CPU's calibration: another machine
    other.write_text(json.dumps(doc))
    rc, _, err = cli(["calibrate", "--check", str(other)], capsys)
    assert rc == 2 and err.count("\n") == 1 and "calibrated on another machine (cpu_model 'Synthetic CPU'" in err
    rc, _, err = cli(["calibrate", "--check", str(other), "-o", str(tmp_path / "x.csv")], capsys)
    assert rc == 2 and err.count("\n") == 1 and "a check is JSON" in err
    truncated = tmp_path / "t.json"
    truncated.write_text(other.read_text()[:500])
    rc, _, err = cli(["calibrate", "--check", str(truncated)], capsys)
    assert rc == 2 and err.count("\n") == 1 and str(truncated) in err and "not valid JSON" in err
    rc, _, err = cli(["calibrate"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "--output is required" in err
    # the target a calibration file names is checked as a --target option is, before anything connects
    bad = json.loads(other.read_text())
    bad["fingerprint"]["target"] = bad["settings"]["target"] = "ssh://-oProxyCommand=touch%20x@host"
    bad["settings"]["runtime"] = "onnxruntime"
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps(bad))
    rc, _, err = cli(["calibrate", "--check", str(evil)], capsys)
    assert rc == 2 and err.count("\n") == 1 and "ssh://-oProxyCommand" in err, err
    assert not (tmp_path / "x").exists()
    rc, _, err = cli(["calibrate", "--check", str(tmp_path / "none.json")], capsys)
    assert rc == 2 and err.count("\n") == 1 and f"--check {tmp_path / 'none.json'}: no such file" in err


def test_calibrate_warns_when_the_machine_moved_during_the_calibration(tmp_path, capsys):
    probes, records = _small()
    ends = {p.group: p.id for p in probes if p.group in ("speed", "speed-end")}
    records[ends["speed"]]["timing"]["median_ms"], records[ends["speed-end"]]["timing"]["median_ms"] = 10.0, 15.0
    doc = synthetic_calibration(probes, records)
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(doc))
    out = tmp_path / "refit.json"
    rc, _, err = cli(["calibrate", "--refit", str(moved), "-o", str(out)], capsys)
    warn = [ln for ln in err.splitlines() if ln.startswith("lwbench: warning: the machine moved")]
    assert rc == 0 and len(warn) == 1 and "10.000 ms first and 15.000 ms last (+50%)" in warn[0], err
    assert json.loads(out.read_text())["checks"]["speed"]["drift_pct"] == pytest.approx(50.0)
    # every predict table's caption says it too
    rc, table, _ = cli(["predict", "mobilenet_v3_small", "-c", str(out), "--summary", "-f", "table"], capsys)
    assert rc == 0 and "speed reference 10.000 -> 15.000 ms during it (+50.0%: the machine moved;" in \
        " ".join(table.split()), table
    # the same calibration refitted on the min (1 ms both ends): no drift, no warning
    rc, _, err = cli(["calibrate", "--refit", str(moved), "--statistic", "min", "-o", str(out)], capsys)
    assert rc == 0 and "moved" not in err and json.loads(out.read_text())["checks"]["speed"]["drift_pct"] == 0
