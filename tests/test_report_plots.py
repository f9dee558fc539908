"""Plots: the file is written and non-empty, and the plotted numbers equal the exported ones (no pixel tests)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import lwbench
from lwbench.cli import main
from lwbench.report import plots
from lwbench.report.load import load_export
from lwbench.report.write import to_csv
from tests.test_report_load import MACHINE, timing_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _bench_csv(path):
    rows = timing_rows()
    rows.append({**rows[0], "model": "mobilenet_v1_x0_5", "madds": 8 * 149497088, "median_ms": 6.0,
                 "images_per_s": 8000 / 6.0})
    path.write_text(to_csv(rows, comments={"machine": MACHINE}))
    return path, rows


def test_latency_vs_madds_from_bench_export(tmp_path):
    bench, rows = _bench_csv(tmp_path / "bench.csv")
    png, data = tmp_path / "lat.png", tmp_path / "lat.csv"
    assert main(["plot", str(bench), "-o", str(png), "--data", str(data)]) == 0
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
    ran = [r for r in rows if not r["error"]]                    # the error row is not plotted
    got = pd.read_csv(data, comment="#")
    assert got["model"].tolist() == [r["model"] for r in ran]
    assert got["madds"].tolist() == [r["madds"] for r in ran]
    assert got["median_ms"].tolist() == [r["median_ms"] for r in ran]


def test_plot_rows_hook_equals_plot_of_the_file(tmp_path):
    bench, rows = _bench_csv(tmp_path / "bench.csv")
    from_rows = plots.plot_rows(rows, tmp_path / "a.png")
    from_file = plots.latency_vs_madds(load_export(bench).frame, tmp_path / "b.png")
    assert from_rows.equals(from_file) and (tmp_path / "a.png").stat().st_size > 5000


def test_latency_vs_madds_fills_madds_from_a_summary(tmp_path):
    bench, rows = _bench_csv(tmp_path / "bench.csv")
    frame = load_export(bench).frame.drop(columns=["madds"])
    summary = pd.DataFrame([lwbench.count(lwbench.load(n)).summary() for n in ("mobilenet_v1", "mobilenet_v1_x0_5")])
    data = plots.latency_vs_madds(frame, tmp_path / "lat.svg", y="images_per_s", summary=summary)
    assert (tmp_path / "lat.svg").read_text().lstrip().startswith("<?xml")
    assert data["madds"].tolist() == summary["madds"].tolist()
    assert data["images_per_s"].tolist() == [rows[0]["images_per_s"], rows[2]["images_per_s"]]
    # without a summary, the zoo is counted
    data2 = plots.latency_data(frame)
    assert data2["madds"].tolist() == [8 * 568740352, 149497088 * 8]


def test_layer_shares_equal_the_export(tmp_path):
    csv = tmp_path / "l.csv"
    svg = tmp_path / "shares.svg"
    assert main(["profile", "mobilenet_v1", "-o", str(csv), "--plot", str(svg)]) == 0
    assert svg.stat().st_size > 10000
    frame = load_export(csv).frame
    data = plots.layer_shares(frame, tmp_path / "s.png")
    prof = lwbench.count(lwbench.load("mobilenet_v1"))
    tot = prof.totals
    assert data["layer"].tolist() == [r.layer for r in prof.layers]
    assert data["madds_share"].tolist() == [r.madds / tot["madds"] for r in prof.layers]
    assert data["mac_share"].tolist() == [r.mac_elems / tot["mac_elems"] for r in prof.layers]
    assert "time_share" not in data
    by_cat = plots.shares_data(frame, group="category").set_index("category")
    for cat, g in prof.by_category().items():
        assert math.isclose(by_cat.loc[cat, "madds_share"], g["madds"] / tot["madds"], rel_tol=1e-12)


@pytest.fixture
def timed_layers(tmp_path):
    """A `profile --time`-style export whose times are made up (no measuring in tests), built by the
    measure helper's own join (an independent computation of gflop_per_s and time_pct)."""
    from lwbench.measure.layers import join

    prof = lwbench.count(lwbench.load("mobilenet_v1"))
    samples = {r.layer: [0.01 + 0.001 * i, 0.02 + 0.001 * i, 0.03] for i, r in enumerate(prof.layers)}
    rows = join(prof, samples)
    path = tmp_path / "t.csv"
    path.write_text(to_csv(rows, comments={"machine": MACHINE}))
    return path, rows


def test_roofline_equals_the_export(timed_layers, tmp_path):
    path, rows = timed_layers
    data = tmp_path / "roof.json"
    assert main(["plot", str(path), "--kind", "roofline", "--peak-gflops", "100", "--peak-gbs", "20",
                 "-o", str(tmp_path / "roof.png"), "--data", str(data)]) == 0
    assert (tmp_path / "roof.png").read_bytes()[:8] == PNG_MAGIC
    doc = json.loads(data.read_text())
    assert doc["plot"] == "roofline" and doc["peaks"]["peak_gflops"] == 100 and doc["peaks"]["measured"] is None
    got = pd.DataFrame(doc["rows"])
    want = [r for r in rows if r["madds"] > 0]
    assert got["layer"].tolist() == [r["layer"] for r in want]
    for g, w in zip(got.to_dict("records"), want):
        assert math.isclose(g["gflop_per_s"], w["gflop_per_s"], rel_tol=1e-12)
        assert math.isclose(g["intensity_flop_per_byte"], 2 * w["madds"] / w["mac_bytes"], rel_tol=1e-12)


def test_time_shares_equal_the_export(timed_layers, tmp_path):
    path, rows = timed_layers
    data = plots.layer_shares(load_export(path).frame, tmp_path / "s.png")
    for g, w in zip(data.to_dict("records"), rows):
        assert math.isclose(100 * g["time_share"], w["time_pct"], rel_tol=1e-9)
        assert math.isclose(100 * g["madds_share"], w["madds_pct"], rel_tol=1e-9)
        assert math.isclose(100 * g["mac_share"], w["mac_pct"], rel_tol=1e-9)


def test_plot_errors_exit_2(tmp_path, capsys, timed_layers):
    bench, _ = _bench_csv(tmp_path / "bench.csv")
    csv = tmp_path / "l.csv"
    assert main(["profile", "mobilenet_v1", "mobilenet_v1_x0_5", "-o", str(csv)]) == 0
    cases = [
        (["plot", str(bench), "--kind", "layer-shares", "-o", str(tmp_path / "x.png")], "needs a per-layer export"),
        (["plot", str(csv), "-o", str(tmp_path / "x.png")], "choose one with --model"),
        (["plot", str(csv), "--model", "nope", "-o", str(tmp_path / "x.png")], "no network 'nope'"),
        (["plot", str(csv), "--model", "mobilenet_v1", "--kind", "roofline", "--peak-gflops", "1",
          "--peak-gbs", "1", "-o", str(tmp_path / "x.png")], "needs per-layer time"),
        (["plot", str(timed_layers[0]), "-o", str(tmp_path / "x.gif")], "expected a .png, .svg or .pdf"),
        (["profile", "mobilenet_v1", "--all", "--plot", str(tmp_path / "x.png")], "one network"),
    ]
    for args, message in cases:
        rc = main(args)
        err = capsys.readouterr().err.strip()
        assert rc == 2 and message in err and len(err.splitlines()) == 1, (args, err)
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.gif").exists()


def test_peaks_micro_benchmark_is_sane():
    from lwbench.report.peaks import measure_peaks

    pk = measure_peaks("cpu", sizes=(64,), copy_mib=1, min_time_s=0.01)
    assert pk.matmul_n == 64 and pk.copy_mib == 1
    assert 0 < pk.peak_gflops < 1e5 and 0 < pk.peak_gbs < 1e4   # a CPU: not zero, not beyond physics
    assert pk.ridge == pk.peak_gflops / pk.peak_gbs and pk.dtype == "float32"


def test_peaks_matmul_runs_in_the_layers_dtype(tmp_path, monkeypatch):
    """A roofline of bfloat16 layers is drawn under a bfloat16 matmul peak: `plot --kind roofline` reads the
    dtype the export ran in (end_to_end.dtype) and measures the matmul in it."""
    import torch

    from lwbench.report import peaks

    seen = []
    real_mm = torch.mm

    def mm(a, b, out=None):
        seen.append((a.dtype, b.dtype, out.dtype))
        return real_mm(a, b, out=out)

    monkeypatch.setattr(torch, "mm", mm)
    pk = peaks.measure_peaks("cpu", sizes=(32,), copy_mib=1, min_time_s=0.01, dtype="bfloat16")
    assert pk.dtype == "bfloat16" and seen and set(seen) == {(torch.bfloat16,) * 3}

    asked = []
    real = peaks.measure_peaks
    monkeypatch.setattr(peaks, "measure_peaks", lambda *a, **k: asked.append(k.get("dtype")) or
                        real("cpu", sizes=(32,), copy_mib=1, min_time_s=0.01, dtype=k.get("dtype", "float32")))
    t = tmp_path / "t.json"
    assert main(["profile", "mobilenet_v1", "--resolution", "32", "--time", "--dtype", "bfloat16", "--threads", "1",
                 "--min-time", "0.02", "-o", str(t)]) == 0
    d = tmp_path / "r.json"
    assert main(["plot", str(t), "--kind", "roofline", "-o", str(tmp_path / "r.png"), "--data", str(d)]) == 0
    assert asked == ["bfloat16"]
    assert json.loads(d.read_text())["peaks"]["measured"]["dtype"] == "bfloat16"


def test_guideline_ratios_equal_the_export(tmp_path):
    rows = [{"guideline": g, "setting": s, "scale": "x1", "device": "cpu", "median_ms": 1.0 / r, "ratio": r,
             "paper_gpu_ratio": pg,
             "paper_arm_ratio": pa}
            for g, s, r, pg, pa in (("G1", "1:1", 1.0, 1.0, 1.0), ("G1", "1:12", 0.69, 0.51, 0.76),
                                    ("G2", "g=1", 1.0, 1.0, 1.0), ("G2", "g=8", 0.31, 0.26, 0.70))]
    path = tmp_path / "g.csv"
    path.write_text(to_csv(rows, comments={"machine": MACHINE}))
    data = tmp_path / "gd.csv"
    assert main(["plot", str(path), "-o", str(tmp_path / "g.svg"), "--data", str(data)]) == 0  # auto: guidelines
    assert (tmp_path / "g.svg").stat().st_size > 5000
    got = pd.read_csv(data, comment="#")
    for col in ("guideline", "setting", "ratio", "paper_gpu_ratio", "paper_arm_ratio"):
        assert got[col].tolist() == [r[col] for r in rows]


def test_family_of_a_network_joins_its_widths():
    assert plots.family("shufflenet_v2_x1_5") == plots.family("shufflenet_v2_x0_5") == "shufflenet_v2"
    assert plots.family("mobilenet_v1_r128") == plots.family("mobilenet_v1") == "mobilenet_v1"
    assert plots.family("shufflenet_v1_g3_x2_0") == "shufflenet_v1_g3" != plots.family("shufflenet_v1_g8_x2_0")
    assert plots.family("efficientnet_b7") == "efficientnet" and plots.family("mnasnet1_0") == "mnasnet1_0"
