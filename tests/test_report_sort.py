"""`lwbench profile --sort COLUMN [--desc]`: the zoo summary (and the layers of a network) in any column's order."""

from __future__ import annotations

from dataclasses import asdict

import pytest

import lwbench
from lwbench.cli import main
from lwbench.report.load import load_export
from lwbench.report.sorting import sort_rows
from lwbench.spec.zoo import index


def test_zoo_summary_sorted_by_madds(tmp_path):
    out = tmp_path / "zoo.csv"
    assert main(["profile", "--all", "--sort", "madds", "--desc", "-o", str(out)]) == 0
    f = load_export(out).frame
    assert sorted(f["model"]) == sorted(index())
    m = f["madds"].tolist()
    assert m == sorted(m, reverse=True)
    # each row is that network's own count, whatever the order
    top = f.iloc[0]
    assert top["madds"] == lwbench.count(lwbench.load(top["model"])).totals["madds"]


def test_summary_sorted_by_text_and_by_a_category_column(tmp_path):
    names = ["mobilenet_v1", "mobilenet_v1_x0_5", "mobilenet_v1_r128", "mobilenet_v1_x0_25"]
    out = tmp_path / "s.csv"
    assert main(["profile", *names, "--summary", "--sort", "model", "-o", str(out)]) == 0
    assert load_export(out).frame["model"].tolist() == sorted(names)
    assert main(["profile", *names, "--summary", "--sort", "madds_depthwise", "-o", str(out)]) == 0
    dw = {n: lwbench.count(lwbench.load(n)).by_category()["depthwise"]["madds"] for n in names}
    assert load_export(out).frame["model"].tolist() == sorted(names, key=dw.get)


def test_layers_sorted(tmp_path):
    out = tmp_path / "l.csv"
    assert main(["profile", "mobilenet_v1", "--sort", "mac_elems", "--desc", "-o", str(out)]) == 0
    f = load_export(out).frame
    rows = [asdict(r) for r in lwbench.count(lwbench.load("mobilenet_v1")).layers]
    assert sorted(f["layer"]) == sorted(r["layer"] for r in rows)
    assert f["mac_elems"].tolist() == sorted((r["mac_elems"] for r in rows), reverse=True)


def test_sort_rows_rules():
    rows = [{"m": "b", "v": 2}, {"m": "a", "v": None}, {"m": "c", "v": 1}, {"m": "d", "v": 2}]
    assert [r["m"] for r in sort_rows(rows, "v")] == ["c", "b", "d", "a"]        # stable, missing last
    assert [r["m"] for r in sort_rows(rows, "v", desc=True)] == ["b", "d", "c", "a"]
    assert [r["m"] for r in sort_rows(rows, "m", desc=True)] == ["d", "c", "b", "a"]


@pytest.mark.parametrize("args", [["mobilenet_v1", "--summary", "--sort", "madz"], ["mobilenet_v1", "--sort", "x"]])
def test_unknown_sort_column_exit_2(capsys, args):
    assert main(["profile", *args, "-f", "csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--sort: no column" in err and len(err.splitlines()) == 1
