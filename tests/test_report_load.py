"""Round trip: every lwbench export loads back (lwbench.report.load and plain pandas) into the values written."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import pandas as pd
import pytest

import lwbench
from lwbench.cli import main
from lwbench.errors import InputError
from lwbench.report.load import load_export, split_comments
from lwbench.report.write import to_csv, to_json, to_markdown

MACHINE = {"cpu_model": "Test CPU @ 2.0GHz", "arch": "x86_64", "cores_logical": 8, "gpu": None,
           "torch": {"version": "2.3.0", "threads": 4}, "lwbench": "0.1.0", "git_commit": "abc123",
           "date_utc": "2026-01-01T00:00:00Z", "command": "lwbench bench --all"}


def _profile(name="mobilenet_v1", **kw):
    return lwbench.count(lwbench.load(name), **kw)


def _same(a, b) -> bool:
    """Equal values, NaN/None/'' treated as one missing value, floats exactly."""
    def norm(v):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return None
        return v.item() if hasattr(v, "item") else v
    return norm(a) == norm(b)


def _assert_records(frame: pd.DataFrame, rows: list[dict]):
    assert list(frame.columns) == list(rows[0].keys())
    got = frame.to_dict("records")
    assert len(got) == len(rows)
    for g, w in zip(got, rows):
        for k in w:
            assert _same(g[k], w[k]), (k, g[k], w[k])


def timing_rows() -> list[dict]:
    """Two rows as `lwbench bench` writes them (contract columns): one that ran, one with an error."""
    ran = {"model": "mobilenet_v1", "device": "cpu", "mode": "eager", "layout": "nchw", "threads": 4, "batch": 8,
           "dtype": "float32", "n": 37, "median_ms": 12.5, "mean_ms": 12.75, "std_ms": 0.3125, "iqr_ms": 0.25,
           "min_ms": 12.0, "p90_ms": 13.0, "p99_ms": 14.5, "max_ms": 15.0, "images_per_s": 640.0,
           "batches_per_s": 80.0, "noisy": False, "first_run_ms": 55.5, "compile_s": None, "params": 4231976,
           "madds": 4549922816, "mac_elems": 171680000, "error": ""}
    bad = {k: None for k in ran}
    bad.update(model="mobilenet_v2", device="cuda", mode="eager", layout="nchw", threads=4, batch=8,
               dtype="float32", params=3504872, madds=2406194176, mac_elems=1, noisy=None,
               error="CUDA is not available (torch 2.3.0+cpu)")
    return [ran, bad]


def test_per_layer_csv_round_trip(tmp_path):
    out = tmp_path / "l.csv"
    assert main(["profile", "mobilenet_v1", "-o", str(out)]) == 0
    ex = load_export(out)
    assert ex.kind == "layers" and ex.format == "csv"
    rows = [asdict(r) for r in _profile().layers]
    _assert_records(ex.frame, rows)
    assert ex.frame["madds"].dtype == "int64" and ex.frame["note"].tolist() == [r["note"] for r in rows]
    # plain pandas reads the same numbers
    plain = pd.read_csv(out, comment="#")
    assert plain["madds"].tolist() == [r["madds"] for r in rows]


@pytest.mark.parametrize("fold", [False, True])
def test_per_layer_json_round_trip(tmp_path, fold):
    out = tmp_path / "l.json"
    args = ["profile", "mobilenet_v1", "-o", str(out)] + (["--fold-bn"] if fold else [])
    assert main(args) == 0
    ex = load_export(out)
    prof = _profile(fold_bn=fold)
    _assert_records(ex.frame, [asdict(r) for r in prof.layers])
    assert ex.meta["totals"] == prof.totals
    assert ex.meta["bn_policy"] == prof.bn_policy
    if fold:  # the folded-in BN note survives the round trip
        assert "bn folded in (+bias)" in set(ex.frame["note"])


def test_per_layer_json_and_md_of_two_networks(tmp_path):
    names = ["mobilenet_v1", "mobilenet_v1_x0_5"]
    rows = [asdict(r) for n in names for r in _profile(n).layers]
    for ext in ("json", "md"):
        out = tmp_path / f"two.{ext}"
        assert main(["profile", *names, "-o", str(out)]) == 0
        ex = load_export(out)
        assert ex.kind == "layers"
        _assert_records(ex.frame, rows)


def test_summary_csv_and_json_round_trip(tmp_path):
    names = ["mobilenet_v1", "mobilenet_v1_x0_5", "mobilenet_v1_r128"]
    want = [_profile(n).summary() for n in names]
    for ext in ("csv", "json", "md"):
        out = tmp_path / f"s.{ext}"
        assert main(["profile", *names, "--summary", "-o", str(out)]) == 0
        ex = load_export(out)
        assert ex.kind == "summary", ext
        _assert_records(ex.frame, want)


def test_synthetic_timing_csv_with_machine_block(tmp_path):
    rows = timing_rows()
    out = tmp_path / "bench.csv"
    out.write_text(to_csv(rows, comments={"machine": MACHINE, "timer": {"min_runs": 10}}))
    ex = load_export(out)
    assert ex.kind == "timing"
    assert ex.machine == MACHINE and ex.meta["timer"] == {"min_runs": 10}
    _assert_records(ex.frame, rows)
    assert ex.frame.loc[0, "noisy"] is False or ex.frame.loc[0, "noisy"] == False  # noqa: E712
    assert ex.frame["error"].tolist() == ["", rows[1]["error"]]
    assert str(ex.frame["threads"].dtype) == "int64"
    assert str(ex.frame["n"].dtype) == "Int64"  # a gap (the error row) keeps integers integers


def test_synthetic_timing_json_keeps_samples(tmp_path):
    rows = timing_rows()
    rows[0]["samples_ms"] = [12.0, 12.5, 13.0]
    rows[1]["samples_ms"] = []
    out = tmp_path / "bench.json"
    out.write_text(to_json({"machine": MACHINE, "rows": rows}))
    ex = load_export(out)
    assert ex.kind == "timing" and ex.machine == MACHINE
    assert ex.frame["samples_ms"].tolist() == [[12.0, 12.5, 13.0], []]
    _assert_records(ex.frame.drop(columns="samples_ms"), [{k: v for k, v in r.items() if k != "samples_ms"}
                                                          for r in rows])
    # in CSV the list is JSON text, decoded on load
    csv_path = tmp_path / "bench.csv"
    csv_path.write_text(to_csv(rows, comments={"machine": MACHINE}))
    assert load_export(csv_path).frame["samples_ms"].tolist() == [[12.0, 12.5, 13.0], []]


def test_markdown_with_machine_comment(tmp_path):
    rows = timing_rows()
    out = tmp_path / "bench.md"
    out.write_text(f"<!-- machine: {json.dumps(MACHINE)} -->\n" + to_markdown(rows, "lwbench bench"))
    ex = load_export(out)
    assert ex.kind == "timing" and ex.machine == MACHINE
    _assert_records(ex.frame, rows)


def test_split_comments():
    meta, body = split_comments('# machine: {"a": 1}\n# note: hello: world\n#\nx,y\n1,2\n')
    assert meta == {"machine": {"a": 1}, "note": "hello: world"}
    assert body == "x,y\n1,2\n"


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,2\n", "not an lwbench export"),
    ("model,layer,kind\nm,l,conv2d\n", "looks like a layers export but is missing columns: params, madds, mac_elems"),
    ("model,layer,kind,params,madds,mac_elems\nm,l,conv2d,1,lots,3\n", "column madds (multiply-adds) holds a "
     "non-number: 'lots'"),
    ("# machine: {}\n", "empty"),
])
def test_bad_csv(tmp_path, text, message):
    p = tmp_path / "x.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_export(p)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_export(tmp_path / "missing.csv")
    j = tmp_path / "x.json"
    j.write_text('{"hello": 1}')
    with pytest.raises(InputError, match="not an lwbench JSON export"):
        load_export(j)
    j.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_export(j)
    b = tmp_path / "x.csv"
    b.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(InputError, match="not a text file"):
        load_export(b)
