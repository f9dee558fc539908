"""`lwbench sweep GRID.yaml --calibration CALIB.json` (issue 15 with issue 16): every analytic point gets the
latency `lwbench predict` gives it (pred_ms, the calibration's id), the Pareto front is drawn on predicted
latency for the untimed points, and a point the calibration does not hold for gets the reason, not a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lwbench.cli import main
from lwbench.predict.predict import predict_net
from lwbench.spec import load
from lwbench.sweep.predicted import Predictor, calibration_id, predicted_points
from lwbench.sweep.store import read_store

TINY = Path(__file__).resolve().parent / "data" / "sweep" / "tiny.yaml"


@pytest.fixture(scope="module")
def synthetic():
    """A torch calibration of tests/test_predict.py's synthetic machine (every probe's median its exact latency)."""
    from lwbench.predict import calfile
    from lwbench.predict.design import probe_net
    from lwbench.predict.fitcal import build_document
    from lwbench.predict.grid import grid
    from tests.test_predict import MACHINE, SETTINGS, truth_net

    probes = [p for p in grid(0) if p.group not in ("fault", "fault-base")]
    records = {p.id: {"timing": {"median_ms": truth_net(probe_net(p))}, "cpu_share": 1.0} for p in probes}
    fp = calfile.fingerprint(SETTINGS, MACHINE)
    return probes, build_document(probes, records, SETTINGS, fp, MACHINE, 1.0, [])


def _cal(tmp_path, doc, name="cal.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


def _sweep(tmp_path, extra: str, *args: str) -> tuple[int, list[dict]]:
    g = tmp_path / "g.yaml"
    g.write_text(f'networks: ["{TINY}", mobilenet_v2]\nwidth: [0.5, 1.0]\nresolution: [96, 128]\ntiming: false\n'
                 + extra)
    store = tmp_path / "s.jsonl"
    rc = main(["sweep", str(g), "--store", str(store), *args])
    return rc, read_store(str(store)).rows if store.exists() else []


def test_every_analytic_point_gets_the_predicted_latency(tmp_path, capsys, synthetic):
    doc = synthetic[1]
    cal = _cal(tmp_path, doc)
    front = tmp_path / "front.csv"
    rc, rows = _sweep(tmp_path, "threads: [1]\n", "--calibration", cal, "--pareto-data", str(front))
    assert rc == 0 and len(rows) == 8
    cid = calibration_id(doc)
    for r in rows:
        spec = str(TINY) if r["network"] == str(TINY) else r["network"]
        want = predict_net(load(spec, r["width"], r["resolution"]), doc["model"])["total_ms"]
        assert r["pred_ms"] == pytest.approx(want) and r["pred_calibration"] == cid and r["pred_note"] == ""
    out = capsys.readouterr().out
    assert "PREDICTED latency" in out and f"target=predicted:{cid}" in out
    lines = [ln for ln in front.read_text().splitlines() if not ln.startswith("#")]
    assert lines[0].split(",")[8] == "latency" and all(",predicted," in ln for ln in lines[1:]) and len(lines) > 1


def test_a_point_the_calibration_does_not_hold_for_gets_the_reason(tmp_path, capsys, synthetic):
    cal = _cal(tmp_path, synthetic[1])
    rc, rows = _sweep(tmp_path, "threads: [2]\n", "--calibration", cal)
    assert rc == 0 and len(rows) == 8
    assert all(r["pred_ms"] is None and "calibrated with threads=1" in r["pred_note"] for r in rows)
    assert "PREDICTED" not in capsys.readouterr().out               # no front on predictions that are not there
    rc, rows = _sweep(tmp_path, "batch: [4]\n", "--calibration", cal, "--store", str(tmp_path / "b.jsonl"))
    rows = read_store(str(tmp_path / "b.jsonl")).rows
    assert rc == 0 and all("batch=1, asked for batch=4" in r["pred_note"] for r in rows)


def test_timed_rows_and_several_calibrations(synthetic):
    torch_doc = synthetic[1]
    ort_doc = json.loads(json.dumps(torch_doc))
    ort_doc["fingerprint"].update(runtime="onnxruntime", ort_opt="all")
    ort_doc["model"]["fusion"] = {"runtime": "onnxruntime", "ort_opt": "all"}

    class Cal(Predictor):
        def __init__(self, docs):
            self.cals = [(calibration_id(d), d) for d in docs]
            self.dims, self.specs, self._memo = {}, {}, {}

    p = Cal([torch_doc, ort_doc])
    base = {"status": "ok", "network": "mobilenet_v2", "width": None, "resolution": None, "batch": 1,
            "dtype": "float32", "device": "cpu", "threads": 1}
    t = p.annotate({**base, "kind": "timing", "runtime": "torch", "median_ms": 20.0})
    o = p.annotate({**base, "kind": "timing", "runtime": "onnxruntime", "median_ms": 9.0})
    assert t["pred_calibration"] == calibration_id(torch_doc) and o["pred_calibration"] == calibration_id(ort_doc)
    assert o["pred_ms"] < t["pred_ms"]                         # the ORT model folds bn / relu6 / add away
    none = p.annotate({**base, "kind": "timing", "runtime": "torch", "threads": 2, "median_ms": 12.0})
    assert none["pred_ms"] is None and none["pred_note"].count("threads=1") == 2
    mod = p.annotate({**base, "kind": "analytic", "network": "module:pkg.mod:make"})
    assert mod["pred_ms"] is None and "torch factory" in mod["pred_note"]
    assert predicted_points([t, o]) == []                      # timed rows keep their measured front


def test_a_bad_calibration_is_one_line_before_anything_runs(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "lwbench-calibration", "version": 1, "fingerp')
    rc, rows = _sweep(tmp_path, "", "--calibration", str(bad))
    err = capsys.readouterr().err.strip()
    assert rc == 2 and rows == [] and "\n" not in err and "bad.json" in err and "not valid JSON" in err
    assert not (tmp_path / "s.jsonl").exists()


def test_rows_of_an_earlier_run_are_predicted_in_the_report(tmp_path, capsys, synthetic):
    """A store swept without the calibration: `--resume --calibration` runs nothing, predicts every old row for
    the front (the append-only store is not rewritten)."""
    rc, rows = _sweep(tmp_path, "threads: [1]\n")
    assert rc == 0 and all("pred_ms" not in r for r in rows)
    capsys.readouterr()
    before = (tmp_path / "s.jsonl").read_bytes()
    rc, rows = _sweep(tmp_path, "threads: [1]\n", "--resume", "--calibration", _cal(tmp_path, synthetic[1]))
    out = capsys.readouterr()
    assert rc == 0 and "PREDICTED latency" in out.out and "0 new row(s), 8 job(s) done before" in out.err
    assert all("pred_ms" not in r for r in rows)
    assert (tmp_path / "s.jsonl").read_bytes().count(b'"kind":"analytic"') == before.count(b'"kind":"analytic"')
