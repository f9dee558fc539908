"""The export schema documents every column the producers write, recognises each kind of export, and
docs/schema.md is what `lwbench schema --format md` prints."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

import lwbench
from lwbench.cli import main
from lwbench.count import LayerRow
from lwbench.errors import InputError
from lwbench.report.load import load_export
from lwbench.report.schema import KINDS, better, detect_kind, missing_message, validate
from lwbench.report.schema_doc import as_markdown

ROOT = Path(__file__).resolve().parent.parent


def _undocumented(kind: str, columns) -> list[str]:
    return [c for c in columns if KINDS[kind].column(c) is None]


def test_every_producer_column_is_documented():
    assert _undocumented("layers", [f.name for f in fields(LayerRow)]) == []
    prof = lwbench.count(lwbench.load("mobilenet_v1"))
    assert _undocumented("summary", prof.summary()) == []
    from lwbench.cli.bench import ROW_COLUMNS

    assert _undocumented("timing", [*ROW_COLUMNS, "samples_ms"]) == []
    from lwbench.measure.layers import join

    rows = join(prof, {r.layer: [0.1] for r in prof.layers})
    assert _undocumented("layers", rows[0]) == []


def test_guideline_export_is_documented_and_loads(tmp_path):
    out = tmp_path / "g1.csv"
    assert main(["guidelines", "G1", "--quick", "-o", str(out)]) == 0
    ex = load_export(out)
    assert ex.kind == "guidelines"
    assert _undocumented("guidelines", ex.frame.columns) == []
    assert ex.frame["setting"].tolist()[:1] == ["1:1"] and ex.frame["reference"].tolist()[0] is True
    assert "machine" in ex.meta


def test_breakdown_columns_are_documented():
    cols = ["model", "device", "batch", "threads", "runs", "forward_median_ms", "hooked_median_ms",
            "layers_total_ms", "conv_ms", "conv_pct", "element_wise_ms", "element_wise_pct", "concat_split_ms",
            "madds"]
    assert detect_kind(cols) == "breakdown" and _undocumented("breakdown", cols) == []


def test_every_numeric_column_has_a_unit():
    for k in KINDS.values():
        for c in k.columns:
            assert c.type in ("str", "int", "float", "bool", "list[float]"), c
            if c.type in ("int", "float", "list[float]"):
                assert c.unit, f"{k.name}.{c.name} has no unit"
            assert c.meaning.strip(), c


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("compare", "plot")])
def test_detect_kind_from_required_columns(kind):
    assert detect_kind(KINDS[kind].required) == kind
    assert detect_kind(KINDS[kind].required[:-1]) != kind


def test_directions():
    assert better("median_ms") == "lower" and better("madds") == "lower" and better("mac_elems") == "lower"
    assert better("images_per_s") == "higher" and better("batches_per_s") == "higher"
    assert better("model") == ""


def test_validate_messages():
    import pandas as pd

    assert validate(pd.DataFrame({"model": ["m"], "device": ["cpu"], "threads": [1], "batch": [1],
                                  "median_ms": [1.0]})) == "timing"
    with pytest.raises(InputError, match="not an lwbench export"):
        validate(pd.DataFrame({"x": [1]}), source="f.csv")
    with pytest.raises(InputError, match="timing export is missing columns: device, threads, batch, median_ms"):
        validate(pd.DataFrame({"model": ["m"]}), "timing")
    assert missing_message(["model", "device", "threads", "batch"]) == \
        "looks like a timing export but is missing columns: median_ms"


def test_docs_schema_md_is_generated():
    doc = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert doc == as_markdown(), "docs/schema.md is stale: run `lwbench schema --format md -o docs/schema.md`"


def test_schema_command(capsys):
    assert main(["schema", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["kinds"]) == set(KINDS)
    names = [c["name"] for c in doc["kinds"]["timing"]["columns"]]
    assert names[:2] == ["model", "device"] and "median_ms" in names
    assert main(["schema", "layers"]) == 0
    assert "mac_elems" in capsys.readouterr().out
    assert main(["schema", "nope"]) == 2
    assert "no export kind 'nope'" in capsys.readouterr().err


def test_verify_export_is_documented_and_loads(tmp_path):
    out = tmp_path / "v.csv"
    assert main(["verify", "mobilenet_v1_x0_25", "--no-fvcore", "-o", str(out)]) == 0
    ex = load_export(out)
    assert ex.kind == "verify" and _undocumented("verify", ex.frame.columns) == []
    prof = lwbench.count(lwbench.load("mobilenet_v1_x0_25"))
    assert ex.frame["madds_analytic"].tolist() == [r.madds for r in prof.layers]
    assert ex.frame["agree"].all()
    assert ex.machine["lwbench"] == lwbench.__version__ and ex.machine["torch"]["version"]
    js = tmp_path / "v.json"
    assert main(["verify", "mobilenet_v1_x0_25", "--no-fvcore", "-o", str(js)]) == 0
    ej = load_export(js)
    assert ej.kind == "verify" and ej.machine["cpu_model"] == ex.machine["cpu_model"]
    assert ej.frame["madds_analytic"].tolist() == ex.frame["madds_analytic"].tolist()
    doc = json.loads(js.read_text())
    assert [c["model"] for c in doc["checks"]] == ["mobilenet_v1_x0_25"] and doc["checks"][0]["ok"]
    assert doc["checks"][0]["params_analytic"] == prof.totals["params"] and "rows" not in doc["checks"][0]


@pytest.mark.parametrize("args", [[], ["--group", "kind"], ["--kind", "roofline", "--peak-gflops", "100",
                                                             "--peak-gbs", "10"]])
def test_plot_data_columns_are_documented(tmp_path, args):
    """The numbers `lwbench plot --data` writes are in the schema (kind `plot`), each column with a unit in its
    name; the placeholders <y>/<group> stand for the chosen column and never swallow other names."""
    import pandas as pd

    t = tmp_path / "t.csv"
    prof = lwbench.count(lwbench.load("mobilenet_v1", resolution=32))
    from lwbench.measure.layers import join

    rows = join(prof, {r.layer: [0.5] for r in prof.layers})
    from lwbench.report.write import to_csv

    t.write_text(to_csv(rows))
    data = tmp_path / "d.csv"
    assert main(["plot", str(t), "-o", str(tmp_path / "f.svg"), "--data", str(data), *args]) == 0
    cols = list(pd.read_csv(data, comment="#").columns)
    group = "kind" if "kind" in args else "layer"
    assert _undocumented("plot", [c for c in cols if c != group]) == []
    assert KINDS["plot"].column("run") is None and KINDS["plot"].column("nonsense_xyz") is None



def test_schema_columns_are_derived_from_the_row_types():
    """report/rows.py is the one home of each export's columns: the schema lists exactly their fields, in order."""
    from dataclasses import fields as dc_fields

    from lwbench.count import LayerRow
    from lwbench.report.rows import BenchRow, VerifyRow, ZooRow
    from lwbench.vocab import TIMING_STATS

    for kind, row_type in (("timing", BenchRow), ("zoo", ZooRow), ("verify", VerifyRow), ("layers", LayerRow)):
        names = [f.name for f in dc_fields(row_type)]
        cols = KINDS[kind].columns
        assert all(KINDS[kind].column(n) is not None for n in names), kind
        exact = [c.name for c in cols if "<" not in c.name]
        assert [n for n in exact if n in names] == [n for n in names if n in exact], kind     # same order
    assert [c.name for c in KINDS["timing"].columns][:len(dc_fields(BenchRow))] == [f.name for f in dc_fields(BenchRow)]
    # one spelling of every timing statistic: the timer's stats are the bench row's columns
    assert set(TIMING_STATS) <= {f.name for f in dc_fields(BenchRow)}
    from lwbench.measure.timer import stats_from_samples

    assert tuple(stats_from_samples([1.0, 2.0]).stats()) == TIMING_STATS


def test_a_row_field_without_a_column_is_refused():
    from dataclasses import dataclass

    from lwbench.report.schema import _derived

    @dataclass
    class Stray:
        model: str
        colour: str

    with pytest.raises(RuntimeError, match=r"fields without a column \['colour'\]"):
        _derived(KINDS["zoo"], Stray)


def test_zoo_export_loads_as_its_own_kind(tmp_path):
    from lwbench.cli import main
    from lwbench.report.load import load_export

    out = tmp_path / "zoo.csv"
    assert main(["list", "mobilenet_v1", "-o", str(out)]) == 0
    ex = load_export(out)
    assert ex.kind == "zoo" and int(ex.frame.set_index("model").loc["mobilenet_v1", "madds"]) == 568_740_352
