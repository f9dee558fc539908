"""latency-vs-madds with several runtimes (issue #13): one series per runtime x mode x dtype, family as marker.

Checked on the figure's data and its legend labels (data.attrs), never on pixels.
"""

from __future__ import annotations

import pandas as pd
import pytest

from lwbench.cli import main
from lwbench.report import plots
from lwbench.report.write import to_csv
from tests.test_report_load import MACHINE

NETS = {"shufflenet_v2_x0_5": 41_000_000, "shufflenet_v2_x1_0": 146_000_000, "mobilenet_v2": 300_000_000}
CONFIGS = [("torch", "eager", "float32", ""), ("torch", "compile", "float32", ""),
           ("onnxruntime", "eager", "float32", "ort_opt=all"), ("onnxruntime", "eager", "int8", "ort_opt=all")]
LABELS = ["torch eager float32", "torch compile float32", "onnxruntime float32", "onnxruntime int8"]


def _rows(threads=(1,)):
    rows = []
    for t in threads:
        for k, (rt, mode, dtype, opts) in enumerate(CONFIGS):
            for j, (net, madds) in enumerate(NETS.items()):
                ms = (1 + j) * (4 - k) + t      # distinct per point, so each point is traceable
                rows.append({"model": net, "device": "cpu", "mode": mode, "layout": "nchw", "threads": t, "batch": 1,
                             "dtype": dtype, "runtime": rt, "options": opts, "median_ms": float(ms),
                             "madds": madds, "error": ""})
    # a refused combination recorded as an error row (older files): never a point, never a series
    rows.append({**rows[0], "dtype": "int8", "median_ms": None, "error": "--dtype int8: ..."})
    return rows


def test_one_series_per_runtime_mode_dtype(tmp_path):
    rows = _rows()
    data = plots.latency_vs_madds(pd.DataFrame(rows), tmp_path / "lat.png")
    assert (tmp_path / "lat.png").stat().st_size > 5000
    assert data.attrs["legend"] == LABELS                       # the legend: runtimes, not families
    assert list(dict.fromkeys(data["series"])) == LABELS
    assert data.attrs["families"] == ["shufflenet_v2", "mobilenet_v2"]
    for label, (rt, mode, dtype, _) in zip(LABELS, CONFIGS):
        got = data[data["series"] == label]
        want = [r for r in rows if (r["runtime"], r["mode"], r["dtype"]) == (rt, mode, dtype) and not r["error"]]
        assert got["model"].tolist() == [r["model"] for r in want]
        assert got["median_ms"].tolist() == [r["median_ms"] for r in want]
        assert got["family"].tolist() == ["shufflenet_v2", "shufflenet_v2", "mobilenet_v2"]
    assert len(data) == 12


def test_other_varying_settings_follow_the_runtime_words(tmp_path):
    data = plots.latency_vs_madds(pd.DataFrame(_rows(threads=(1, 2))), tmp_path / "lat.svg")
    assert data.attrs["legend"] == [f"{w} threads={t}" for t in (1, 2) for w in LABELS]


def test_one_configuration_has_one_unnamed_series_and_the_family_legend(tmp_path):
    rows = [r for r in _rows() if r["mode"] == "eager" and r["runtime"] == "torch" and not r["error"]]
    data = plots.latency_vs_madds(pd.DataFrame(rows), tmp_path / "lat.png")
    assert set(data["series"]) == {""}
    assert data.attrs["legend"] == ["shufflenet_v2", "mobilenet_v2"]


def test_torch_modes_alone_are_series_too(tmp_path):
    rows = [r for r in _rows() if r["runtime"] == "torch" and not r["error"]]
    data = plots.latency_vs_madds(pd.DataFrame(rows), tmp_path / "lat.png")
    assert data.attrs["legend"] == LABELS[:2]


def test_plot_cli_data_export_has_the_series(tmp_path):
    bench = tmp_path / "bench.csv"
    bench.write_text(to_csv(_rows(), comments={"machine": MACHINE}))
    out = tmp_path / "data.csv"
    assert main(["plot", str(bench), "-o", str(tmp_path / "f.png"), "--data", str(out)]) == 0
    got = pd.read_csv(out, comment="#")
    assert list(dict.fromkeys(got["series"])) == LABELS
    assert got.groupby("series").size().to_dict() == pytest.approx(dict.fromkeys(LABELS, 3))


def test_ort_opt_levels_are_series_of_their_own(tmp_path):
    rows = [r for r in _rows() if r["runtime"] == "onnxruntime" and r["dtype"] == "float32"]
    rows += [{**r, "options": "ort_opt=basic", "median_ms": r["median_ms"] + 0.5} for r in rows]
    data = plots.latency_vs_madds(pd.DataFrame(rows), tmp_path / "lat.png")
    assert data.attrs["legend"] == ["onnxruntime float32 ort_opt=all", "onnxruntime float32 ort_opt=basic"]
