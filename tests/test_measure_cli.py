"""`lwbench bench` and `lwbench profile --time` end to end on a tiny YAML network (no timing is asserted)."""

from __future__ import annotations

import csv
import io
import json
import textwrap

import pytest

from lwbench.cli import main
from lwbench.cli.bench import ROW_COLUMNS

TINY = """\
name: tiny_timed
input: {channels: 3, resolution: 16}
layers:
  - {name: stem, op: conv2d, out: 8, kernel: 3, stride: 2, bias: false}
  - {name: bn, op: batchnorm}
  - {name: relu, op: relu}
  - {name: dw, op: conv2d, out: 8, kernel: 3, groups: 8, bias: false}
  - {name: pw, op: conv2d, out: 16, kernel: 1}
  - {name: pool, op: global_avgpool}
  - {name: flatten, op: flatten}
  - {name: fc, op: linear, out: 10}
"""
FAST = ["--min-time", "0.05", "--warmup", "0.02"]


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(textwrap.dedent(TINY))
    return str(p)


def read_csv(path):
    text = open(path).read()
    comments = {}
    for line in text.splitlines():
        if line.startswith("# "):
            k, _, v = line[2:].partition(": ")
            comments[k] = json.loads(v)
    rows = list(csv.DictReader(io.StringIO("\n".join(ln for ln in text.splitlines() if not ln.startswith("#")))))
    return comments, rows


def test_bench_csv_in_worker_processes(tiny, tmp_path):
    import lwbench

    out = tmp_path / "b.csv"
    assert main(["bench", tiny, "--threads", "1", "--batch", "1,2", *FAST, "--output", str(out)]) == 0
    comments, rows = read_csv(out)
    assert list(rows[0]) == list(ROW_COLUMNS)
    assert [(r["model"], r["threads"], r["batch"], r["error"]) for r in rows] == [
        ("tiny_timed", "1", "1", ""), ("tiny_timed", "1", "2", "")]
    net = lwbench.load(tiny)
    for r in rows:
        b = int(r["batch"])
        assert int(r["madds"]) == lwbench.count(net, b).totals["madds"]          # per batch, as `profile --batch`
        assert int(r["n"]) >= 10 and r["interop_threads"] == "1"                 # min_runs; inter-op 1 echoed
        assert float(r["min_ms"]) <= float(r["median_ms"]) <= float(r["p90_ms"]) <= float(r["max_ms"])
        assert float(r["images_per_s"]) == pytest.approx(b * 1000 / float(r["median_ms"]))
        assert r["noisy"] in ("True", "False") and r["compile_s"] == ""
    m = comments["machine"]
    assert m["torch"]["version"] and m["lwbench"] == lwbench.__version__ and isinstance(m["command"], str)
    assert comments["timer"]["min_time_s"] == 0.05


def test_bench_json_in_process_with_failing_row(tiny, tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = main(["bench", tiny, "--threads", "1", "--mode", "eager,jit", "--in-process", *FAST, "-o", str(out)])
    assert rc == 0                                                  # the sweep carries on past the bad row
    doc = json.loads(out.read_text())
    assert {"machine", "timer", "rows"} <= set(doc) and doc["machine"]["cpu_model"] is not None
    ok, bad = doc["rows"]
    assert ok["error"] == "" and len(ok["samples_ms"]) == ok["n"] >= 10
    assert bad["mode"] == "jit" and "--mode" in bad["error"] and bad["median_ms"] is None
    assert "--mode" in capsys.readouterr().err


def test_bench_user_errors_are_one_line(tiny, capsys):
    import torch

    assert main(["bench", "no_such_net_xyz"]) == 2
    assert main(["bench", tiny, "--mode", "jit"]) == 2                 # nothing can run
    assert main(["bench", tiny, "--batch", "0"]) == 2
    assert main(["bench", tiny, "--cores", "fast"]) == 2
    if not torch.cuda.is_available():
        assert main(["bench", tiny, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("lwbench: error: ") for line in err) and len(err) >= 4
    assert any("CUDA is not available" in line for line in err) or torch.cuda.is_available()


def test_bench_table_shows_noise_column(tiny, capsys):
    assert main(["bench", tiny, "--threads", "1", "--in-process", *FAST]) == 0
    out = capsys.readouterr().out
    assert "noise" in out and "tiny_timed" in out and ("ok" in out or "noisy" in out)


def test_profile_time_joins_layers_and_categories(tiny, tmp_path):
    out = tmp_path / "p.json"
    assert main(["profile", tiny, "--time", "--threads", "1", "--min-time", "0.05", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    layers = doc["layers"]
    assert [r["layer"] for r in layers] == ["stem", "bn", "relu", "dw", "pw", "pool", "flatten", "fc"]
    assert all(r["time_ms"] is not None and r["time_ms"] >= 0 for r in layers)
    assert sum(r["time_pct"] for r in layers) == pytest.approx(100.0)
    assert sum(r["madds_pct"] for r in layers) == pytest.approx(100.0)
    pw = next(r for r in layers if r["layer"] == "pw")
    assert pw["madds"] == 8 * 8 * 16 * 8 and pw["category"] == "pointwise"       # H·W·Cout·Cin at 8x8
    assert pw["gflop_per_s"] == pytest.approx(2 * pw["madds"] / (pw["time_ms"] * 1e-3) / 1e9)
    assert pw["gb_per_s"] == pytest.approx(pw["mac_bytes"] / (pw["time_ms"] * 1e-3) / 1e9)
    cats = {g["category"]: g for g in doc["by_category"]}
    assert list(cats) == ["conv", "depthwise", "pointwise", "linear", "element-wise", "pooling", "other"]
    assert cats["element-wise"]["layers"] == 2 and sum(g["time_pct"] for g in cats.values()) == pytest.approx(100)
    assert doc["end_to_end"]["n"] >= 10 and len(doc["end_to_end"]["samples_ms"]) == doc["end_to_end"]["n"]
    assert "machine" in doc


def test_join_by_hand():
    """The join on synthetic per-layer samples: medians, shares and throughputs by hand."""
    import lwbench
    from lwbench.measure.layers import by_category, join

    net = lwbench.load("mobilenet_v1", resolution=32)
    prof = lwbench.count(net)
    samples = {r.layer: [1.0, 3.0, 2.0] for r in prof.layers}        # median 2 ms each
    rows = join(prof, samples)
    n = len(rows)
    assert all(r["time_ms"] == 2.0 and r["time_pct"] == pytest.approx(100 / n) for r in rows)
    fc = next(r for r in rows if r["layer"] == "fc")
    assert fc["gflop_per_s"] == pytest.approx(2 * 1024 * 1000 / 2e-3 / 1e9)
    cats = {g["category"]: g for g in by_category(rows)}
    assert cats["depthwise"]["layers"] == 13 and cats["depthwise"]["time_ms"] == 26.0
    assert cats["pointwise"]["madds"] == sum(r.madds for r in prof.layers if r.category == "pointwise")


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="no affinity API on this OS")
def test_bench_defaults_to_big_cores_on_big_little(tiny, tmp_path, monkeypatch):
    """A fake /sys saying core 0 is LITTLE (1.8 GHz) and core 1 big (2.4 GHz): one thread, pinned to core 1."""
    import os

    from lwbench.measure.cpus import format_cpu_list

    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs two usable cores")
    little, big = allowed[0], allowed[1]
    base = tmp_path / "sys" / "devices" / "system" / "cpu"
    for c, khz in ((little, 1_800_000), (big, 2_400_000)):
        (base / f"cpu{c}" / "cpufreq").mkdir(parents=True)
        (base / f"cpu{c}" / "cpufreq" / "cpuinfo_max_freq").write_text(f"{khz}\n")
    (base / "online").write_text(format_cpu_list([little, big]) + "\n")
    monkeypatch.setenv("LWBENCH_SYSFS", str(tmp_path / "sys"))
    out = tmp_path / "b.json"
    assert main(["bench", tiny, "--in-process", *FAST, "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    row = doc["rows"][0]
    assert row["threads"] == 1 and row["cores"] == str(big) and row["error"] == ""
    assert doc["machine"]["topology"]["big"] == str(big)
    assert sorted(os.sched_getaffinity(0)) == allowed                       # --in-process restores the mask
