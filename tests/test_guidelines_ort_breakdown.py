"""`lwbench guidelines --breakdown --runtime onnxruntime` (issue #13): Figure 2 from ORT's profiler joined to the
layers, with a real ONNX Runtime. No timing is asserted: the structure (categories, shares adding up, every fused
group attributed to a category) and a second sum of the same join."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnxruntime")

from lwbench.cli import main  # noqa: E402
from lwbench.guidelines.breakdown import ort_category  # noqa: E402
from lwbench.report.tables.guidelines import FIG2_CATEGORIES  # noqa: E402
from lwbench.vocab import category_key  # noqa: E402

NETS = ("shufflenet_v2_x0_5", "mobilenet_v2")
KEYS = [category_key(c) for c in FIG2_CATEGORIES] + ["ort_own", "unattributed"]
# lwbench.count's categories -> Figure 2's, written out again here (the module's map is what is checked)
FIG2 = {"conv": "conv", "pointwise": "conv", "depthwise": "conv", "linear": "conv", "element-wise": "element_wise",
        "shuffle": "shuffle", "concat/split": "concat_split", "layout (ORT)": "ort_own", "transfer (ORT)": "ort_own",
        "quantize (ORT)": "ort_own", "unattributed": "unattributed"}


@pytest.fixture(scope="module")
def spied(tmp_path_factory):
    """The CLI run, with the join each network's row was made from kept (the real timed_profile, recorded)."""
    import lwbench.onnx.profile as prof

    seen: dict[str, dict] = {}
    real = prof.timed_profile

    def recording(spec, *a, **k):
        res = real(spec, *a, **k)
        seen[spec] = res
        return res

    out = tmp_path_factory.mktemp("bd") / "bd.json"
    mp = pytest.MonkeyPatch()
    mp.setattr(prof, "timed_profile", recording)
    try:
        args = ["guidelines", "--breakdown", "--runtime", "onnxruntime", "--quick", "-o", str(out)]
        assert main(args + [a for n in NETS for a in ("--net", n)]) == 0
    finally:
        mp.undo()
    return json.loads(out.read_text()), seen


def test_rows_are_onnxruntime_with_its_machine_block(spied):
    doc, _ = spied
    import onnxruntime as ort

    assert doc["machine"]["onnxruntime"]["onnxruntime"] == ort.__version__
    rows = doc["rows"]
    assert [r["model"].split("[")[0] for r in rows] == list(NETS)
    for r in rows:
        assert (r["runtime"], r["ort_opt"], r["ep"], r["threads"], r["batch"]) == \
            ("onnxruntime", "all", "CPUExecutionProvider", 1, 1)
        assert r["rel_err"] < 1e-4 and r["runs"] >= 10 and r["forward_median_ms"] > 0


def test_categories_add_up_to_every_kernel_microsecond(spied):
    for r in spied[0]["rows"]:
        assert sum(r[f"{k}_pct"] for k in KEYS) == pytest.approx(100.0, abs=1e-6)
        assert sum(r[f"{k}_ms"] for k in KEYS) == pytest.approx(r["layers_total_ms"], rel=1e-9)
        assert r["layers_total_ms"] > 0 and r["conv_ms"] > 0 and r["unattributed_ms"] == 0


def test_each_category_is_the_sum_of_its_join_rows(spied):
    doc, seen = spied
    for spec, r in zip(NETS, doc["rows"]):
        res = seen[spec]
        per = dict.fromkeys(KEYS, 0.0)
        for g in res["layers"]:
            per[FIG2.get(g["category"], "other")] += g["time_ms"] or 0.0
        for k in KEYS:
            assert r[f"{k}_ms"] == pytest.approx(per[k], abs=1e-12), (spec, k)
        assert r["layers_total_ms"] == pytest.approx(res["attribution"]["kernel_ms"])


def test_every_fused_group_is_attributed(spied):
    doc, seen = spied
    for spec, r in zip(NETS, doc["rows"]):
        groups = seen[spec]["layers"]
        fused = [g for g in groups if g["n_layers"] > 1 and g["time_ms"] is not None]
        assert fused and r["fused_groups"] == len(fused)
        assert r["fused_layers"] == sum(g["n_layers"] for g in fused)
        for g in fused:
            assert g["attribution"] == "layers" and g["time_ms"] > 0 and g["category"] in FIG2, g
            assert len(g["layers"].split()) == g["n_layers"]
        # conv + bn (+ relu) in one ORT kernel (an NCHWc Conv with its activation): counted as conv time
        convs = [g for g in fused if g["kind"].startswith("conv2d+batchnorm")]
        assert convs and all(FIG2[g["category"]] == "conv" and "Conv" in g["ort_ops"] for g in convs)
        share = 100 * sum(g["time_ms"] for g in fused) / r["layers_total_ms"]
        assert r["fused_pct"] == pytest.approx(share)
        assert 0 < r["fused_pct"] <= 100


def test_shuffle_has_its_own_category(spied):
    shuffle = spied[0]["rows"][0]
    assert shuffle["shuffle_ms"] > 0 and shuffle["concat_split_ms"] > 0


def test_the_saved_file_rerenders(spied, tmp_path, capsys):
    path = tmp_path / "bd.json"
    path.write_text(json.dumps(spied[0]))
    assert main(["guidelines", "--from", str(path)]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime" in out and "ORT own" in out and "fused" in out


def test_ort_category_map():
    assert ort_category("layout (ORT)") == "ort_own" and ort_category("unattributed") == "unattributed"
    assert ort_category("depthwise") == "conv" and ort_category("pooling") == "other"
