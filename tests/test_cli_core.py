"""`lwbench list` / `lwbench profile`: exports, schema, torch-free start."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

import lwbench
from lwbench.cli import main

LAYER_COLS = ["model", "layer", "kind", "category", "in_shape", "out_shape", "params", "madds", "mac_elems",
              "mac_bytes", "out_elems"]


def test_profile_csv_matches_the_api(capsys):
    assert main(["profile", "mobilenet_v1", "--format", "csv"]) == 0
    rows = list(csv.DictReader(ln for ln in io.StringIO(capsys.readouterr().out) if not ln.startswith("#")))
    prof = lwbench.count(lwbench.load("mobilenet_v1"))
    assert list(rows[0])[: len(LAYER_COLS)] == LAYER_COLS
    assert [r["layer"] for r in rows] == [r.layer for r in prof.layers]
    assert sum(int(r["madds"]) for r in rows) == 568_740_352
    assert sum(int(r["params"]) for r in rows) == 4_231_976


def test_profile_json_schema_and_batch(tmp_path):
    out = tmp_path / "p.json"
    assert main(["profile", "mobilenet_v1", "--batch", "8", "--dtype", "float16", "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert {"model", "input", "batch", "dtype", "totals", "madds_by_kind", "layers"} <= set(doc)
    assert doc["batch"] == 8 and doc["dtype"] == "float16" and doc["input"] == "3x224x224"
    assert doc["totals"]["madds"] == 8 * 568_740_352
    assert doc["totals"]["params"] == 4_231_976
    assert doc["totals"]["mac_bytes"] == 2 * doc["totals"]["mac_elems"]
    assert doc["madds_by_kind"]["conv2d"] == 8 * 567_716_352 and doc["madds_by_kind"]["linear"] == 8 * 1_024_000
    assert sum(r["madds"] for r in doc["layers"]) == doc["totals"]["madds"]


def test_profile_several_nets_width_resolution_and_md(tmp_path, capsys):
    assert main(["profile", "mobilenet_v1", "mobilenet_v1_x0_5", "--format", "json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["model"] for d in docs] == ["mobilenet_v1", "mobilenet_v1_x0_5"]
    assert main(["profile", "mobilenet_v1", "--width", "0.5", "--resolution", "160", "--format", "csv"]) == 0
    rows = list(csv.DictReader(ln for ln in io.StringIO(capsys.readouterr().out) if not ln.startswith("#")))
    assert rows[0]["model"] == "mobilenet_v1[width=0.5,resolution=160]" and rows[0]["in_shape"] == "3x160x160"
    assert main(["profile", "mobilenet_v1", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("<!-- machine: {") and "\n### mobilenet_v1\n" in md and "| conv0.conv | conv2d |" in md


def test_profile_fold_bn_csv(capsys):
    assert main(["profile", "mobilenet_v1", "--fold-bn", "--format", "csv"]) == 0
    rows = list(csv.DictReader(ln for ln in io.StringIO(capsys.readouterr().out) if not ln.startswith("#")))
    assert not any(r["kind"] == "batchnorm" for r in rows)
    # 27 convs each gain a bias (their width), the 27 BNs (2C each) vanish
    widths = [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
    bias = sum(widths) + sum(widths[:-1])
    assert sum(int(r["params"]) for r in rows) == 3_185_088 + bias + 1_025_000


def test_table_output_shows_every_layer_and_totals(capsys):
    assert main(["profile", "mobilenet_v1"]) == 0
    out = capsys.readouterr().out
    for layer in ("conv0.conv", "conv13.pointwise.relu", "fc"):
        assert layer in out
    assert "total" in out and "568.74M" in out and "4.23M" in out
    assert "madds = multiply-adds" in out and "mac = memory access cost" in out


def test_list(capsys):
    assert main(["list", "--format", "csv"]) == 0
    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["mobilenet_v1_x0_75"]["madds"] == "325400448"
    assert rows["mobilenet_v1"]["family"] == "MobileNet V1"


@pytest.mark.parametrize("argv,needles", [
    (["--help"], ["profile", "list", "verify", "multiply-adds"]),
    (["profile", "mobilenet_v1"], ["conv13.pointwise.relu", "568.74M", "4.23M", "madds = multiply-adds"]),
    (["profile", "mobilenet_v1", "--format", "csv"], ["mobilenet_v1,conv0.conv,conv2d,conv,3x224x224,32x112x112,864,"]),
    (["list"], ["mobilenet_v1_x0_75", "Howard et al., arXiv:1704.04861", "325.40M"]),
])
def test_analytic_path_never_imports_torch(argv, needles):
    """The analytic commands run (rc 0, their output is there) without importing torch, pandas, fvcore or
    matplotlib: checked in a fresh interpreter, after the command has run."""
    code = (
        "import sys\n"
        "from lwbench.cli import main\n"
        "rc = main({argv!r})\n"
        "bad = [m for m in ('torch', 'pandas', 'fvcore', 'matplotlib') if m in sys.modules]\n"
        "sys.stderr.write('RC:%s HEAVY:%s\\n' % (rc, ','.join(bad)))\n"
    ).format(argv=argv)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "RC:0 HEAVY:\n" in p.stderr, p.stderr[-2000:]
    for needle in needles:
        assert needle in p.stdout, (needle, p.stdout[-2000:])


def test_list_source_column():
    """`lwbench list`: the table shortens each network's `source:` to authors and venue; exports keep it whole."""
    import lwbench.spec
    from lwbench.spec.zoo import short_source

    net = lwbench.spec.load("shufflenet_v2_x1_0")
    assert net.source.startswith('Ma et al., "ShuffleNet V2')
    assert short_source(net.source) == "Ma et al., ECCV 2018"
    assert short_source(lwbench.spec.load("alexnet").source) == "Krizhevsky et al., NIPS 2012"  # 3 authors: et al.
    assert short_source(lwbench.spec.load("squeezenet1_0").source) == "Iandola et al., arXiv:1602.07360"
    assert short_source("a plain note with no quoted title at all, long enough to cut") == \
        "a plain note with no quoted title at al…"


def test_list_exports_full_source(capsys):
    assert main(["list", "mobilenet_v1", "--format", "json"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    src = " ".join(lwbench.load("mobilenet_v1").source.split())
    assert len(src) > 200 and rows["mobilenet_v1"]["source"] == src  # not cut
    assert list(rows["mobilenet_v1"])[:2] == ["model", "family"] and "source" in rows["mobilenet_v1"]
    assert main(["list", "shufflenet_v2_x1_0"]) == 0
    table = capsys.readouterr().out
    head = next(line for line in table.splitlines() if "model" in line)
    assert [c.strip() for c in head.strip("┃ ").split("┃")][:3] == ["model", "family", "source"]
    assert "Ma et al., ECCV 2018" in table


def test_profile_frame():
    df = lwbench.count(lwbench.load("mobilenet_v1")).to_frame()
    assert list(df.columns)[: len(LAYER_COLS)] == LAYER_COLS
    assert int(df["madds"].sum()) == 568_740_352
