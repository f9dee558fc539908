"""Round trips with real CLI output: every producer's CSV, JSON and Markdown export loads back (lwbench's loader
and plain pandas) into the same values, with its machine block; compare copes with every pair of export kinds
(a comparison, or one line and exit code 2, never a traceback); -o with an unknown extension is refused;
`profile --time --plot` draws the rows it exported; `profile --time --dtype` other than float32 is refused."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import subprocess
import sys

import pandas as pd
import pytest

import lwbench
from lwbench.cli import main
from lwbench.measure.machine import cpu_model
from lwbench.report import plots
from lwbench.report.load import load_export
from tests.conftest import record_returns
from tests.test_measure_cli import TINY

FAST = ["--min-time", "0.05", "--warmup", "0.02"]
RUN_FIELDS = ("command", "date_utc")  # the only machine fields that differ between two runs of one checkout


def _norm(v):
    """One missing value: None, NaN, pandas NA and '' (an empty CSV cell is a missing value, schema.md)."""
    if v is None or v is pd.NA or v == "" or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _assert_same_frames(a: pd.DataFrame, b: pd.DataFrame, cols=None):
    """Same columns (or `cols`), same rows, every value equal (floats exactly: CSV and Markdown write repr)."""
    cols = list(cols if cols is not None else a.columns)
    assert list(b.columns) == cols if cols == list(a.columns) else set(cols) <= set(b.columns)
    assert len(a) == len(b)
    for c in cols:
        for i, (x, y) in enumerate(zip(a[c].tolist(), b[c].tolist())):
            assert _norm(x) == _norm(y), (c, i, x, y)


def _raw_csv(path) -> pd.DataFrame:
    """Plain pandas, no lwbench code: skip the `#` lines, keep empty cells empty."""
    return pd.read_csv(path, comment="#", keep_default_na=False, na_values=[""])


def _machine_ok(m: dict, torch_loaded: bool | None = None):
    assert m["lwbench"] == lwbench.__version__ and m["cpu_model"] == cpu_model(), m
    assert m["cores_logical"] >= 1 and m["date_utc"].endswith("Z")
    if torch_loaded is False:
        assert m["torch"] is None and m["gpu"] is None
    if torch_loaded:
        import torch

        assert m["torch"]["version"] == torch.__version__


def _same_machine(a: dict, b: dict):
    assert {k: v for k, v in a.items() if k not in RUN_FIELDS} == {k: v for k, v in b.items() if k not in RUN_FIELDS}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    p = tmp_path_factory.mktemp("tiny") / "tiny.yaml"
    p.write_text(TINY)
    return str(p)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tiny):
    """One small export of each kind, made by the real commands on the tiny network (and G1 --quick)."""
    d = tmp_path_factory.mktemp("exports")
    out = {k: d / f"{k}.csv" for k in ("layers", "summary", "timing", "guidelines", "breakdown", "verify")}
    assert main(["profile", tiny, "-o", str(out["layers"])]) == 0
    assert main(["profile", tiny, "mobilenet_v1", "--summary", "-o", str(out["summary"])]) == 0
    assert main(["bench", tiny, "--threads", "1", "--in-process", *FAST, "-o", str(out["timing"])]) == 0
    assert main(["guidelines", "G1", "--quick", "-o", str(out["guidelines"])]) == 0
    assert main(["guidelines", "--breakdown", "--net", tiny, "--min-time", "0.02", "-o", str(out["breakdown"])]) == 0
    assert main(["verify", tiny, "--no-fvcore", "-o", str(out["verify"])]) == 0
    out["plotdata"] = d / "plotdata.csv"
    assert main(["plot", str(out["layers"]), "-o", str(d / "s.png"), "--data", str(out["plotdata"])]) == 0
    out["tiny"] = tiny
    return out


# --- compare: every pair of export kinds ------------------------------------------------------------------

KINDS = ("layers", "summary", "timing", "guidelines", "breakdown", "verify", "plotdata")


def _expected(a: str, b: str) -> str | None:
    """None: the pair compares (per network, on the madds they share); else the one-line error expected."""
    if "plotdata" in (a, b):
        return "not an export to compare or plot; use the file it was drawn from"
    if "guidelines" in (a, b):
        return "guidelines export (rows keyed by guideline, setting, scale, no model column)"
    if "verify" in (a, b):
        return "share none of the columns"
    return None


@pytest.mark.parametrize("a,b", [p for p in itertools.product(KINDS, KINDS) if p[0] != p[1]])
def test_compare_every_pair_of_kinds(exports, tmp_path, capsys, a, b):
    out = tmp_path / "c.json"
    rc = main(["compare", str(exports[a]), str(exports[b]), "-o", str(out)])
    err = capsys.readouterr().err.strip()
    want = _expected(a, b)
    if want is not None:
        assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("lwbench: error:") and want in err, err
        assert not out.exists()
        return
    assert rc == 0, err
    ex = load_export(out)
    f = ex.frame.set_index("model")
    assert ex.meta["keys"] == ["model"] and "madds" in ex.meta["metrics"]
    # the tiny network is in both files, counted the same way (batch 1): the same madds, ratio exactly 1
    want_madds = lwbench.count(lwbench.load(exports["tiny"])).totals["madds"]
    assert f.loc["tiny_timed", "madds_A"] == f.loc["tiny_timed", "madds_B"] == want_madds
    assert f.loc["tiny_timed", "madds_ratio_B"] == 1.0 and f.loc["tiny_timed", "present"] == "A,B"


@pytest.mark.parametrize("kind", KINDS[:-1])
def test_compare_each_kind_with_itself_all_ratios_one(exports, tmp_path, kind):
    out = tmp_path / "self.csv"
    p = str(exports[kind])
    assert main(["compare", p, p, "-o", str(out)]) == 0
    ex = load_export(out)
    ratios = [c for c in ex.frame.columns if "_ratio_" in c]
    assert ratios and len(ex.frame) == len(load_export(p).frame)
    for c in ratios:  # a ratio is 1.0 wherever the value exists (0/0 included)
        vals = ex.frame[c].dropna()
        assert len(vals) and (vals == 1.0).all(), c
    assert set(ex.frame["present"]) == {"A,B"}


def test_compare_guideline_files_align_by_setting(exports, tmp_path):
    p = str(exports["guidelines"])
    out = tmp_path / "g.csv"
    assert main(["compare", p, p, "-m", "madds,mac_elems", "-o", str(out)]) == 0
    f = load_export(out).frame
    assert f["setting"].tolist() == _raw_csv(p)["setting"].tolist()
    # G1 at x1 with the paper's ARM channels (ShuffleNet V2 Table 1): c1:c2 = 1:1 is the reference row
    assert f["setting"].iloc[0] == "1:1" and (f["madds_ratio_B"] == 1.0).all()


@pytest.mark.parametrize("key", ["category", "kind"])
def test_compare_layer_key_on_export_without_that_column(exports, tmp_path, capsys, key):
    raw = _raw_csv(exports["layers"]).drop(columns=["category"])
    p = tmp_path / "nocat.csv"
    raw.to_csv(p, index=False)
    rc = main(["compare", str(p), str(p), "--key", key])
    err = capsys.readouterr().err.strip()
    if key == "kind":
        assert rc == 0, err
    else:
        assert rc == 2 and len(err.splitlines()) == 1 and "no category column" in err, err


@pytest.mark.parametrize("args, needle", [
    (["-m", ""], "--metric: name a number column"),
    (["--key", ","], "no key column to align the rows on"),
    (["--key", "model,nosuch"], "no key column nosuch"),
])
def test_compare_empty_or_wrong_options(exports, capsys, args, needle):
    p = str(exports["layers"])
    rc = main(["compare", p, p, *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and needle in err[0], err


def test_compare_key_typed_differently_in_two_files(exports, tmp_path):
    """An unknown key column read as numbers in one file and as text in the other still aligns (as text)."""
    raw = _raw_csv(exports["layers"])
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    raw.assign(run_id=7).to_csv(a, index=False)
    raw.assign(run_id="7").to_csv(b, index=False)
    b.write_text(b.read_text().replace(",7\n", ",seven\n", 1))   # one text value makes the column text in B
    from lwbench.report.compare import compare

    cmp = compare([load_export(a), load_export(b)], key="layer,run_id", metrics=["madds"])
    assert (cmp.frame["present"] == "A,B").sum() == len(raw) - 1   # the row whose run_id is 'seven' is B only


# --- round trips of real CLI output -----------------------------------------------------------------------

def _three(tmp_path, args, stem):
    paths = {ext: tmp_path / f"{stem}.{ext}" for ext in ("csv", "json", "md")}
    for p in paths.values():
        assert main([*args, "-o", str(p)]) == 0
    return paths, {ext: load_export(p) for ext, p in paths.items()}


@pytest.mark.parametrize("summary", [False, True])
def test_profile_exports_agree_across_formats(tmp_path, summary):
    names = ["mobilenet_v1", "shufflenet_v2_x1_0"]
    args = ["profile", *names] + (["--summary"] if summary else [])
    paths, ex = _three(tmp_path, args, "p")
    kind = "summary" if summary else "layers"
    assert {e.kind for e in ex.values()} == {kind}
    _assert_same_frames(ex["csv"].frame, ex["json"].frame)
    _assert_same_frames(ex["csv"].frame, ex["md"].frame)
    _assert_same_frames(_raw_csv(paths["csv"]), ex["csv"].frame)          # plain pandas reads the same values
    doc = json.loads(paths["json"].read_text())
    rows = doc["rows"] if summary else [r for d in doc for r in d["layers"]]
    _assert_same_frames(pd.DataFrame(rows), ex["json"].frame)
    # an independent figure: the totals of the API
    for n in names:
        tot = lwbench.count(lwbench.load(n)).totals
        f = ex["csv"].frame
        assert f.loc[f["model"] == n, "madds"].sum() == tot["madds"]
    # the machine block, in all three, the same machine
    for e in ex.values():
        _machine_ok(e.machine, torch_loaded=None)
    _same_machine(ex["csv"].machine, ex["json"].machine)
    _same_machine(ex["csv"].machine, ex["md"].machine)


def test_analytic_exports_carry_a_torch_free_machine_block(tmp_path):
    """The machine block must not pull torch into the analytic profile (checked in a fresh interpreter)."""
    outs = [tmp_path / "l.csv", tmp_path / "s.json", tmp_path / "l.md"]
    code = (
        "import sys\nfrom lwbench.cli import main\n"
        f"assert main(['profile', 'mobilenet_v1', '-o', {str(outs[0])!r}]) == 0\n"
        f"assert main(['profile', 'mobilenet_v1', '--summary', '-o', {str(outs[1])!r}]) == 0\n"
        f"assert main(['profile', 'mobilenet_v1', '-o', {str(outs[2])!r}]) == 0\n"
        "print('HEAVY:' + ','.join(m for m in ('torch', 'fvcore', 'matplotlib') if m in sys.modules))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and "HEAVY:\n" in p.stdout, p.stderr[-2000:]
    for o in outs:
        _machine_ok(load_export(o).machine, torch_loaded=False)
    assert outs[0].read_text().startswith("# machine: {")
    assert "machine" in json.loads(outs[1].read_text())
    assert outs[2].read_text().startswith("<!-- machine: {")


def test_bench_cli_export_round_trip(tiny, tmp_path):
    """The real bench CLI (in-process, tiny net) to JSON; CSV and Markdown rendered by bench from the same rows;
    all three load back into the JSON's values; a CSV written by the CLI reads the same in lwbench and pandas."""
    from lwbench.cli.bench import _render

    pj = tmp_path / "b.json"
    assert main(["bench", tiny, "--threads", "1", "--batch", "1,2", "--in-process", *FAST, "-o", str(pj)]) == 0
    doc = json.loads(pj.read_text())
    rows = doc["rows"]
    for ext in ("csv", "md"):
        (tmp_path / f"b.{ext}").write_text(_render(ext, rows, doc["machine"], doc["timer"]))
    ex = {ext: load_export(tmp_path / f"b.{ext}") for ext in ("json", "csv", "md")}
    assert {e.kind for e in ex.values()} == {"timing"}
    flat = [c for c in ex["json"].frame.columns if c != "samples_ms"]
    _assert_same_frames(pd.DataFrame(rows)[flat], ex["json"].frame[flat])
    _assert_same_frames(ex["json"].frame[flat], ex["csv"].frame)
    _assert_same_frames(ex["json"].frame[flat], ex["md"].frame)
    assert ex["json"].frame["samples_ms"].tolist() == [r["samples_ms"] for r in rows]
    assert all(len(r["samples_ms"]) == r["n"] for r in rows)
    for e in ex.values():
        assert e.machine == doc["machine"]
    _machine_ok(doc["machine"], torch_loaded=True)
    assert ex["json"].frame["batch"].tolist() == [1, 2]
    # a CSV straight from the CLI
    pc = tmp_path / "direct.csv"
    assert main(["bench", tiny, "--threads", "1", "--in-process", *FAST, "-o", str(pc)]) == 0
    _assert_same_frames(_raw_csv(pc), load_export(pc).frame)


def test_guideline_csv_and_json_agree(tmp_path):
    """`guidelines G1 --quick -o x.csv`, re-rendered from that file to JSON: every column's values equal, in
    lwbench's loader and in plain pandas; a JSON written by a run has the same columns plus samples_ms."""
    pc, pj, pj2 = tmp_path / "g.csv", tmp_path / "g.json", tmp_path / "run.json"
    assert main(["guidelines", "G1", "--quick", "-o", str(pc)]) == 0
    assert main(["guidelines", "--from", str(pc), "-o", str(pj)]) == 0
    c, j = load_export(pc), load_export(pj)
    assert c.kind == j.kind == "guidelines"
    _assert_same_frames(c.frame, j.frame[list(c.frame.columns)])
    _assert_same_frames(_raw_csv(pc), c.frame)
    _assert_same_frames(pd.DataFrame(json.loads(pj.read_text())["rows"])[list(c.frame.columns)], c.frame)
    assert c.machine == j.machine and c.machine["torch"] is not None
    assert main(["guidelines", "G1", "--quick", "-o", str(pj2)]) == 0
    run = load_export(pj2)
    assert set(run.frame.columns) == set(c.frame.columns) | {"samples_ms"}
    assert run.frame["setting"].tolist() == c.frame["setting"].tolist()
    assert run.frame["madds"].tolist() == c.frame["madds"].tolist()      # analytic: equal across runs
    # Markdown: the readable tables first, then the export's rows with the CSV's columns, which load back
    pm = tmp_path / "g.md"
    assert main(["guidelines", "--from", str(pc), "-o", str(pm)]) == 0
    m = load_export(pm)
    assert m.kind == "guidelines" and list(m.frame.columns) == list(c.frame.columns)
    _assert_same_frames(m.frame, c.frame)
    assert m.machine == c.machine and "## G1 (Table 1)" in pm.read_text()


def test_breakdown_exports_load_back(tiny, tmp_path):
    pc, pj = tmp_path / "bd.csv", tmp_path / "bd.json"
    for p in (pc, pj):
        assert main(["guidelines", "--breakdown", "--net", tiny, "--min-time", "0.02", "-o", str(p)]) == 0
    c, j = load_export(pc), load_export(pj)
    assert c.kind == j.kind == "breakdown"
    _assert_same_frames(_raw_csv(pc), c.frame)
    _assert_same_frames(pd.DataFrame(json.loads(pj.read_text())["rows"]), j.frame)
    assert list(c.frame.columns) == list(j.frame.columns)
    tot = lwbench.count(lwbench.load(tiny)).totals["madds"]
    assert c.frame["madds"].tolist() == j.frame["madds"].tolist() == [tot]
    for e in (c, j):
        pct = [x for x in e.frame.columns if x.endswith("_pct")]
        assert sum(e.frame[pct].iloc[0]) == pytest.approx(100.0)
        _machine_ok(e.machine, torch_loaded=True)


def test_compare_exports_agree_across_formats(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["profile", "mobilenet_v1", "-o", str(a)]) == 0
    assert main(["profile", "mobilenet_v1_x0_5", "-o", str(b)]) == 0
    paths, ex = _three(tmp_path, ["compare", str(a), str(b), "--key", "kind", "-m", "madds,mac_elems"], "c")
    assert {e.kind for e in ex.values()} == {"compare"}
    _assert_same_frames(ex["csv"].frame, ex["json"].frame)
    _assert_same_frames(ex["csv"].frame, ex["md"].frame)
    _assert_same_frames(_raw_csv(paths["csv"]), ex["csv"].frame)
    for e in ex.values():
        assert e.meta["files"] == {"A": str(a), "B": str(b)} and e.meta["keys"] == ["kind"]
        _machine_ok(e.machine)
        assert set(e.meta["machines"]) == {"A", "B"}
        _machine_ok(e.meta["machines"]["A"])
    # independent figures: madds per kind from the API, their ratio
    f = ex["json"].frame.set_index("kind")
    ka = lwbench.count(lwbench.load("mobilenet_v1")).by_kind()
    kb = lwbench.count(lwbench.load("mobilenet_v1_x0_5")).by_kind()
    assert f.loc["linear", "madds_A"] == ka["linear"]["madds"] == 1024 * 1000
    assert f.loc["linear", "madds_ratio_B"] == kb["linear"]["madds"] / ka["linear"]["madds"] == 0.5


@pytest.mark.parametrize("ext", ["csv", "json", "md"])
def test_empty_comparison_loads_back_with_its_columns(exports, tmp_path, ext):
    p, out = str(exports["layers"]), tmp_path / f"e.{ext}"
    assert main(["compare", p, p, "--changed", "-o", str(out)]) == 0
    ex = load_export(out)
    assert ex.kind == "compare" and ex.frame.empty
    assert list(ex.frame.columns) == ["layer", "madds_A", "madds_B", "mac_elems_A", "mac_elems_B", "madds_ratio_B",
                                      "mac_elems_ratio_B", "present"]
    _machine_ok(ex.machine)


def test_plot_data_export_carries_machine_and_source(exports, tmp_path):
    for ext in ("csv", "json", "md"):
        p = tmp_path / f"d.{ext}"
        assert main(["plot", str(exports["layers"]), "-o", str(tmp_path / "s.svg"), "--data", str(p)]) == 0
        if ext == "json":
            doc = json.loads(p.read_text())
            meta, frame = doc, pd.DataFrame(doc["rows"])
        elif ext == "csv":
            from lwbench.report.load import split_comments

            meta, frame = split_comments(p.read_text())[0], _raw_csv(p)
        else:
            from lwbench.report.load import _md_tables

            tables, meta = _md_tables(p.read_text())
            frame = pd.DataFrame(tables[0][1], columns=tables[0][0])
            frame[["madds_share", "mac_share"]] = frame[["madds_share", "mac_share"]].astype(float)
        _machine_ok(meta["machine"])
        assert meta["source"] == str(exports["layers"]) and meta["plot"] == "layer-shares"
        want = plots.shares_data(load_export(exports["layers"]).frame)
        _assert_same_frames(want, frame)


# --- output paths ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["profile", "mobilenet_v1"],
    ["profile", "mobilenet_v1", "--summary"],
    ["profile", "{tiny}", "--time"],
    ["schema"],
    ["list"],
    ["bench", "{tiny}", "--in-process"],
    ["guidelines", "G1", "--quick"],
    ["verify", "{tiny}"],
    ["compare", "{layers}", "{layers}"],
])
@pytest.mark.parametrize("out, needle", [
    ("x.xyz", "--output {d}/x.xyz: extension .xyz; expected one of .csv, .json, .md, .markdown"),
    ("x", "--output {d}/x: no extension; expected one of .csv, .json, .md, .markdown"),
])
def test_unknown_output_extension_is_one_line(exports, tiny, tmp_path, capsys, args, out, needle):
    args = [a.format(tiny=tiny, layers=exports["layers"]) for a in args]
    rc = main([*args, "-o", str(tmp_path / out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and needle.format(d=tmp_path) in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_format_contradicting_extension_and_plot_data_extension(exports, tmp_path, capsys):
    rc = main(["profile", "mobilenet_v1", "-f", "json", "-o", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--format json contradicts --output" in err[0]
    rc = main(["plot", str(exports["layers"]), "-o", str(tmp_path / "f.png"), "--data", str(tmp_path / "d.txt")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--data" in err[0] and ".csv, .json, .md" in err[0]
    rc = main(["plot", str(exports["layers"]), "-o", str(tmp_path / "f.gif")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--output" in err[0] and "expected a .png, .svg or .pdf file" in err[0]
    assert list(tmp_path.iterdir()) == []
    # --format with an extension it does not know is the user's explicit choice
    assert main(["profile", "mobilenet_v1", "-f", "csv", "-o", str(tmp_path / "x.txt")]) == 0
    assert list(csv.reader(io.StringIO((tmp_path / "x.txt").read_text())))[1][0] == "model"


# --- profile --time --plot / --dtype ---------------------------------------------------------------------

def test_profile_time_plot_draws_the_exported_rows(tiny, tmp_path, monkeypatch):
    drawn = record_returns(monkeypatch, plots, "layer_shares")
    png, csv_path = tmp_path / "shares.png", tmp_path / "t.csv"
    assert main(["profile", tiny, "--time", "--threads", "1", "--min-time", "0.05", "--plot", str(png),
                 "-o", str(csv_path)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert len(drawn) == 1
    data, exported = drawn[0], load_export(csv_path).frame
    assert list(data.columns) == ["layer", "madds_share", "mac_share", "time_share"]
    assert data["layer"].tolist() == exported["layer"].tolist()
    # by hand from the export: each layer's share of the column's sum
    for share, col in (("madds_share", "madds"), ("mac_share", "mac_elems"), ("time_share", "time_ms")):
        want = (exported[col] / exported[col].sum()).tolist()
        assert data[share].tolist() == pytest.approx(want, rel=1e-12, abs=0), share
    assert data["time_share"].sum() == pytest.approx(1.0)
    # the same figure data as `lwbench plot --kind layer-shares` of the export
    assert plots.shares_data(exported).equals(data)


@pytest.mark.parametrize("args, needle", [
    (["--time", "--plot", "x.png", "mobilenet_v1"], "draws the layers of one network"),
    (["--time", "--plot", "x.gif"], "--plot x.gif: expected a .png, .svg or .pdf file"),
    (["--time", "--dtype", "int8"], "--dtype int8: timing int8 needs a quantised model"),
    (["--time", "--sort", "madds"], "--sort works on its export"),
])
def test_profile_time_refusals_before_measuring(tiny, tmp_path, capsys, monkeypatch, args, needle):
    import lwbench.measure.layers as layers

    monkeypatch.setattr(layers, "profile_time_cli", lambda *a, **k: pytest.fail("measured anyway"))
    monkeypatch.chdir(tmp_path)
    rc = main(["profile", tiny, *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and needle in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_analytic_dtype_still_counts_bytes(tiny, tmp_path):
    out = tmp_path / "h.csv"
    assert main(["profile", tiny, "--dtype", "float16", "-o", str(out)]) == 0
    f = load_export(out).frame
    assert (f["mac_bytes"] == 2 * f["mac_elems"]).all()
