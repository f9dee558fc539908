"""`lwbench compare`: a file against itself gives ratios of exactly 1.0; two networks line up by layer name or by
kind, with ratios that a hand formula predicts; bad input is one line and exit code 2."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import lwbench
from lwbench.cli import main
from lwbench.report.compare import compare, verdict
from lwbench.report.load import load_export
from lwbench.report.write import to_csv
from tests.test_report_load import MACHINE, timing_rows


@pytest.fixture(scope="module")
def layer_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    out = {}
    for name in ("mobilenet_v1", "mobilenet_v1_x0_5"):
        out[name] = d / f"{name}.csv"
        assert main(["profile", name, "-o", str(out[name])]) == 0
    return out


def _ratio_cols(frame):
    return [c for c in frame.columns if "_ratio_" in c]


def test_self_compare_all_ratios_one(layer_files, tmp_path, capsys):
    a = str(layer_files["mobilenet_v1"])
    out = tmp_path / "self.csv"
    assert main(["compare", a, a, "-m", "params,madds,mac_elems,mac_bytes,out_elems", "-o", str(out)]) == 0
    ex = load_export(out)
    assert ex.kind == "compare"
    ratios = _ratio_cols(ex.frame)
    assert len(ratios) == 5
    assert (ex.frame[ratios] == 1.0).all().all()
    assert set(ex.frame["present"]) == {"A,B"}
    n_layers = len(lwbench.count(lwbench.load("mobilenet_v1")).layers)
    assert len(ex.frame) == n_layers
    assert ex.meta["files"] == {"A": a, "B": a}
    # the table view too: every ratio printed as 1.000×
    assert main(["compare", a, a]) == 0
    text = capsys.readouterr().out
    assert text.count("1.000×") == 2 * n_layers + 2  # two metrics per row, plus the totals line


def test_two_networks_by_layer_name(layer_files):
    a, b = (load_export(layer_files[n]) for n in ("mobilenet_v1", "mobilenet_v1_x0_5"))
    cmp = compare([a, b], key="layer", metrics=["madds", "params"])
    f = cmp.frame.set_index("layer")
    assert cmp.keys == ["layer"] and set(f["present"]) == {"A,B"}
    # hand formulas for width 0.5 (every channel count exactly halves, 3 input and 1000 classes stay):
    # pointwise conv: cin·cout·hw -> (cin/2)(cout/2)hw = 1/4; depthwise: c·9·hw -> 1/2; stem: 3·9·cout·hw -> 1/2;
    # classifier: cin·1000 -> 1/2
    for layer, r in f.iterrows():
        if layer.endswith("pointwise.conv"):
            assert r["madds_ratio_B"] == 0.25, layer
        elif layer.endswith("depthwise.conv") or layer in ("conv0.conv", "fc"):
            assert r["madds_ratio_B"] == 0.5, layer
        elif r["madds_A"] == 0:
            assert r["madds_B"] == 0 and r["madds_ratio_B"] == 1.0
    assert f.loc["conv1.pointwise.conv", "params_A"] == 32 * 64 and f.loc["conv1.pointwise.conv", "params_B"] == 16 * 32


def test_two_networks_by_kind_matches_profile_by_kind(layer_files):
    exs = [load_export(layer_files[n]) for n in ("mobilenet_v1", "mobilenet_v1_x0_5")]
    cmp = compare(exs, key="kind", metrics=["madds", "mac_elems"])
    f = cmp.frame.set_index("kind")
    for lab, name in (("A", "mobilenet_v1"), ("B", "mobilenet_v1_x0_5")):
        by_kind = lwbench.count(lwbench.load(name)).by_kind()
        assert set(f.index) == set(by_kind)
        for kind, g in by_kind.items():
            assert f.loc[kind, f"madds_{lab}"] == g["madds"]
            assert f.loc[kind, f"mac_elems_{lab}"] == g["mac_elems"]
    tot = [lwbench.count(lwbench.load(n)).totals["madds"] for n in ("mobilenet_v1", "mobilenet_v1_x0_5")]
    conv, lin = f.loc["conv2d"], f.loc["linear"]
    assert (conv["madds_B"] + lin["madds_B"]) / (conv["madds_A"] + lin["madds_A"]) == tot[1] / tot[0]
    # --key model sums the layers of a file into its network totals, comparable with a summary export
    summary = layer_files["mobilenet_v1"].with_name("summary.csv")
    assert main(["profile", "mobilenet_v1", "mobilenet_v1_x0_5", "--summary", "-o", str(summary)]) == 0
    m = compare([exs[0], load_export(summary)], key="model", metrics=["madds", "mac_elems"]).frame
    assert m["present"].tolist() == ["A,B", "B"]
    assert m["madds_A"].iloc[0] == tot[0] and m["madds_B"].tolist() == tot
    assert m["madds_ratio_B"].iloc[0] == 1.0 and m["mac_elems_ratio_B"].iloc[0] == 1.0


def test_rows_in_one_file_only_are_flagged(layer_files, tmp_path):
    src = layer_files["mobilenet_v1"]
    full = pd.read_csv(src, comment="#", keep_default_na=False)
    part = tmp_path / "part.csv"
    part.write_text(to_csv(full.iloc[:-3].to_dict("records")))
    cmp = compare([load_export(src), load_export(part)], metrics=["madds"])
    only_a = cmp.frame[cmp.frame["present"] == "A"]
    assert only_a["layer"].tolist() == full["layer"].tolist()[-3:]
    assert only_a["madds_ratio_B"].isna().all()
    assert (cmp.frame.loc[cmp.frame["present"] == "A,B", "madds_ratio_B"] == 1.0).all()


def _bench_file(path, rows, machine=MACHINE):
    path.write_text(to_csv(rows, comments={"machine": machine}))
    return path


def test_two_machines_by_model_and_configuration(tmp_path):
    a_rows = timing_rows()[:1]
    a_rows.append({**a_rows[0], "threads": 1, "median_ms": 40.0, "images_per_s": 200.0})
    b_rows = [{**r, "device": "cuda", "median_ms": r["median_ms"] / 4, "images_per_s": r["images_per_s"] * 4}
              for r in a_rows]
    a = _bench_file(tmp_path / "a.csv", a_rows)
    b = _bench_file(tmp_path / "b.csv", b_rows, {**MACHINE, "gpu": {"name": "Test GPU"}})
    cmp = compare([load_export(a), load_export(b)])
    assert cmp.keys == ["model", "threads"]          # threads varies within a file; device is what differs
    assert cmp.constants["device"] == {"A": "cpu", "B": "cuda"}
    assert cmp.metrics == ["median_ms", "images_per_s"]
    assert cmp.frame["median_ms_ratio_B"].tolist() == [0.25, 0.25]
    assert cmp.frame["images_per_s_ratio_B"].tolist() == [4.0, 4.0]
    assert verdict("median_ms", 0.25, 0.02) == "better" and verdict("images_per_s", 4.0, 0.02) == "better"
    assert verdict("median_ms", 1.5, 0.02) == "worse" and verdict("median_ms", 1.01, 0.02) == "same"
    assert cmp.machines["B"]["gpu"] == {"name": "Test GPU"}


def test_compare_json_export(tmp_path, layer_files):
    out = tmp_path / "c.json"
    a, b = str(layer_files["mobilenet_v1"]), str(layer_files["mobilenet_v1_x0_5"])
    assert main(["compare", a, b, "--key", "kind", "-o", str(out), "--sort", "madds_ratio_B"]) == 0
    ex = load_export(out)
    assert ex.kind == "compare" and ex.meta["keys"] == ["kind"]
    r = ex.frame["madds_ratio_B"].tolist()
    assert r == sorted(r)


def _run_err(capsys, args):
    rc = main(args)
    err = capsys.readouterr().err.strip()
    return rc, err


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n", "not an lwbench export"),
    ("model,layer,kind\nm,x,conv2d\n", "looks like a layers export but is missing columns"),
    ("model,layer,kind,params,madds,mac_elems\nother,zzz,conv2d,1,2,3\n", "no common rows"),
])
def test_bad_input_one_line_exit_2(tmp_path, layer_files, capsys, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    rc, err = _run_err(capsys, ["compare", str(layer_files["mobilenet_v1"]), str(bad)])
    assert rc == 2 and message in err and len(err.splitlines()) == 1, err


def test_bad_options_exit_2(tmp_path, layer_files, capsys):
    a = str(layer_files["mobilenet_v1"])
    for args, message in ((["compare", a], "at least two files"),
                          (["compare", a, a, "-m", "median_ms"], "no column median_ms"),
                          (["compare", a, a, "-m", "kind"], "not numeric"),
                          (["compare", a, a, "--key", "nosuch"], "no key column nosuch"),
                          (["compare", a, a, "--sort", "madds_ratio_C"], "--sort: no column")):
        rc, err = _run_err(capsys, args)
        assert rc == 2 and message in err and len(err.splitlines()) == 1, (args, err)
    bench = _bench_file(tmp_path / "b.csv", timing_rows())
    rc, err = _run_err(capsys, ["compare", a, str(bench), "--key", "kind"])
    assert rc == 2 and "different kinds of export" in err and "--key model" in err
    rc, err = _run_err(capsys, ["compare", str(bench), str(bench), "--key", "layer"])
    assert rc == 2 and "needs per-layer exports" in err
    out = tmp_path / "mixed.csv"
    rc, err = _run_err(capsys, ["compare", a, str(bench), "-o", str(out)])
    assert rc == 0, err  # different kinds of export compare per network (by model) by default
    mixed = load_export(out).frame
    assert mixed["present"].tolist() == ["A,B", "B"] and mixed["madds_ratio_B"].iloc[0] == 8.0  # batch 8 vs 1


def test_ratio_division_rules(tmp_path):
    rows = timing_rows()[:1]
    a = _bench_file(tmp_path / "a.csv", [{**rows[0], "compile_s": 0.0}])
    b = _bench_file(tmp_path / "b.csv", [{**rows[0], "compile_s": 2.0}])
    f = compare([load_export(a), load_export(b)], metrics=["compile_s"]).frame
    assert math.isinf(f["compile_s_ratio_B"].iloc[0])  # 0 -> 2 s: infinitely worse, not a crash
    f = compare([load_export(a), load_export(a)], metrics=["compile_s"]).frame
    assert f["compile_s_ratio_B"].iloc[0] == 1.0      # 0 -> 0: the same


def test_changed_keeps_only_rows_that_differ(layer_files, tmp_path, capsys):
    a, b = str(layer_files["mobilenet_v1"]), str(layer_files["mobilenet_v1_x0_5"])
    out = tmp_path / "changed.csv"
    assert main(["compare", a, b, "-m", "madds", "--changed", "-o", str(out)]) == 0
    f = load_export(out).frame
    prof = lwbench.count(lwbench.load("mobilenet_v1"))
    assert f["layer"].tolist() == [r.layer for r in prof.layers if r.madds > 0]  # 27 convs + fc: the madds changed
    assert main(["compare", a, a, "--changed", "-o", str(out)]) == 0
    assert "no rows differ" in capsys.readouterr().err
    assert load_export(out).frame.empty
