"""ShuffleNet V2's guideline experiments (configs/guidelines/g1..g4.yaml, lwbench guidelines).

Independent references: the paper's Tables 1-4 (tests/data/shufflenetv2_guidelines.csv, a verbatim copy of
the shared transcription) and the paper's hand formulas for madds and MAC (Sec. 2, G1 and G2). No test
asserts a speed.
"""

from __future__ import annotations

import csv
import json
import math
import re

import pytest

from lwbench.count import count
from lwbench.guidelines import (
    GUIDELINES,
    SCALES,
    SETUPS,
    SPREAD_LIMIT,
    judge,
    load_experiment,
    plan,
    verdict,
)
from tests.conftest import DATA, record_returns

HW = 56 * 56
BLOCKS = 10


def _paper_rows() -> list[dict]:
    with open(DATA / "shufflenetv2_guidelines.csv", newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


PAPER = _paper_rows()


def _paper_channels(text: str) -> dict[str, dict[str, int]]:
    """'c1=128,c2=128' -> {x1: {c1: 128, c2: 128}}; 'c=128 (x2: c=256, x4: c=512)' -> per scale."""
    head, _, rest = text.partition(" (")
    out = {"x1": {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", head)}}
    for scale, body in re.findall(r"(x\d): ([^,)]+)", rest):
        out[scale] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", body)}
    return out


def _convs(net):
    return [n for n in net.nodes if n.op == "conv2d"]


@pytest.fixture(scope="module")
def exps():
    return {g: load_experiment(g) for g in GUIDELINES}


# ------------------------------------------------------------------ equal madds, the paper's channels
@pytest.mark.parametrize("g", GUIDELINES)
def test_rows_have_equal_madds_within_6_percent(exps, g):
    exp = exps[g]
    for setup in SETUPS:
        for scale in SCALES:
            p = plan(exp, scale, setup, batch=1)
            madds = [x["madds"] for x in p["rows"]]
            assert max(madds) / min(madds) - 1 <= SPREAD_LIMIT, (g, setup, scale, madds)
            assert p["spread"] == pytest.approx(max(madds) / min(madds) - 1)


def test_paper_settings_differ_by_about_5_percent(exps):
    """The paper's own G1 settings are only nearly equal: c1·c2 = 16384 vs 15552 on GPU (5.35%)."""
    p = plan(exps["G1"], "x1", "gpu", batch=1)
    assert p["spread"] == pytest.approx(16384 / 15552 - 1)
    assert [x["madds"] for x in p["rows"]] == [BLOCKS * 2 * HW * c1 * c2
                                               for c1, c2 in ((128, 128), (90, 180), (52, 312), (36, 432))]


def test_every_paper_row_is_configured(exps):
    for r in PAPER:
        exp = exps[r["guideline"]]
        assert exp.table == int(r["table"])
        exp.row(r["row"])  # KeyError when a table row is missing
    for g, exp in exps.items():
        assert {row.setting for row in exp.rows} == {r["row"] for r in PAPER if r["guideline"] == g}


@pytest.mark.parametrize("g", ["G1", "G2"])
def test_g1_g2_build_the_papers_x1_channels(exps, g):
    exp = exps[g]
    for r in (r for r in PAPER if r["guideline"] == g):
        want = _paper_channels(r["setting_x1"])["x1"]
        row = exp.row(r["row"])
        assert row.channels[r["device"]] == want
        net = exp.net(row, "x1", r["device"])
        convs = _convs(net)
        if g == "G1":
            assert len(convs) == 2 * BLOCKS
            assert all((c.in_shape[0], c.out_shape[0]) == (want["c1"], want["c2"]) for c in convs[0::2])
            assert all((c.in_shape[0], c.out_shape[0]) == (want["c2"], want["c1"]) for c in convs[1::2])
        else:
            groups = int(r["row"].split("=")[1])
            built = want["c"] if want["c"] % groups == 0 else None
            if built is None:  # the paper's ARM g=8 c=180 is impossible (180/8); the config must say so
                assert (g, r["row"], r["device"]) == ("G2", "g=8", "arm")
                assert row.deviation["arm"] == {"c": 184} and 184 % 8 == 0 and abs(184 - 180) == 4
                built = 184
            assert len(convs) == BLOCKS
            assert all(c.attrs["groups"] == groups and c.in_shape[0] == c.out_shape[0] == built for c in convs)


def test_g1_g2_scale_rule(exps):
    """x2: round(c·√2) (G2: to a multiple of g); x4: 2c exactly; madds about 2x and 4x the x1 network's."""
    g1, g2 = exps["G1"], exps["G2"]
    assert g1.channel_params(g1.row("1:12"), "x2", "gpu") == {"c1": 51, "c2": 611}
    assert g1.channel_params(g1.row("1:12"), "x4", "arm") == {"c1": 18, "c2": 216}
    assert g2.channel_params(g2.row("g=8"), "x2", "gpu") == {"c": 512}
    assert g2.channel_params(g2.row("g=4"), "x2", "gpu") == {"c": 364}
    assert g2.channel_params(g2.row("g=8"), "x2", "arm") == {"c": 256}   # from the paper's 180, not 184
    for exp in (g1, g2):
        for setup in SETUPS:
            base = plan(exp, "x1", setup, 1)["rows"][0]["madds"]
            assert plan(exp, "x2", setup, 1)["rows"][0]["madds"] / base == pytest.approx(2, rel=0.03)
            assert plan(exp, "x4", setup, 1)["rows"][0]["madds"] / base == pytest.approx(4)


@pytest.mark.parametrize("g", ["G3", "G4"])
def test_g3_g4_build_the_papers_channel_settings(exps, g):
    exp = exps[g]
    for r in (r for r in PAPER if r["guideline"] == g):
        want = _paper_channels(r["setting_x1"])
        row = exp.row(r["row"])
        for scale in SCALES:
            c = want[scale]["c"]
            net = exp.net(row, scale, r["device"])
            convs = _convs(net)
            if g == "G4":
                assert net.input_shape[0] == c
                units = [convs[i:i + 3] for i in range(0, len(convs), 3)]
                assert len(units) == BLOCKS
                assert all([(k.in_shape[0], k.out_shape[0]) for k in u] == [(c, c // 4), (c // 4, c // 4), (c // 4, c)]
                           for u in units)
                assert [k.attrs["kernel"] for k in units[0]] == [1, 3, 1]
                has = {n.op for n in net.nodes}
                assert ("relu" in has) == ("relu=yes" in r["row"]) and ("add" in has) == ("shortcut=yes" in r["row"])
                continue
            n_frag = 1 if r["row"] == "1-fragment" else int(r["row"][0])
            assert len(convs) == BLOCKS * n_frag
            if r["row"].endswith("parallel"):
                assert net.input_shape[0] == c and all((k.in_shape[0], k.out_shape[0]) == (c, c // n_frag) for k in convs)
                assert sum(n.op == "concat" for n in net.nodes) == BLOCKS
            else:   # 1-fragment c->c; n in series at w = round(c/sqrt(n)), so n·w² ≈ c²
                w = round(c / math.sqrt(n_frag))
                assert all(k.in_shape[0] == k.out_shape[0] == w for k in convs)
            assert count(net).totals["madds"] == pytest.approx(BLOCKS * HW * c * c, rel=0.012)


# ------------------------------------------------------------------ mac, the paper's formulas
def test_g1_mac_is_the_papers_formula_and_lowest_at_equal_widths(exps):
    """G1: one 1x1 conv c1->c2 has MAC = h·w·(c1+c2) + c1·c2 >= 2·sqrt(h·w·B) + B/(h·w), B = h·w·c1·c2."""
    exp = exps["G1"]
    for setup in SETUPS:
        for scale in SCALES:
            macs = {}
            for row in exp.rows:
                net = exp.net(row, scale, setup)
                ch = exp.channel_params(row, scale, setup)
                c1, c2 = ch["c1"], ch["c2"]
                layers = count(net).layers
                assert all(r.mac_elems == HW * (c1 + c2) + c1 * c2 for r in layers)
                b = HW * c1 * c2
                assert all(r.mac_elems >= 2 * math.sqrt(HW * b) + b / HW - 1e-6 for r in layers)
                macs[row.setting] = sum(r.mac_elems for r in layers)
                assert macs[row.setting] == BLOCKS * 2 * (HW * (c1 + c2) + c1 * c2)
            assert min(macs, key=macs.get) == "1:1"
            assert list(macs.values()) == sorted(macs.values())   # 1:1 < 1:2 < 1:6 < 1:12


def test_g2_mac_is_the_papers_formula_and_grows_with_groups(exps):
    """G2: a 1x1 group conv c->c, g groups: MAC = h·w·2c + c²/g, and it grows with g at fixed madds."""
    exp = exps["G2"]
    for setup in SETUPS:
        for scale in SCALES:
            macs = []
            for row in exp.rows:
                g = row.params["g"]
                c = exp.channel_params(row, scale, setup)["c"]
                layers = count(exp.net(row, scale, setup)).layers
                assert all(r.mac_elems == HW * 2 * c + c * c // g for r in layers)
                macs.append(sum(r.mac_elems for r in layers))
            assert macs == sorted(macs) and len(set(macs)) == len(macs)


def test_g3_g4_extra_ops_cost_mac_but_no_madds(exps):
    p = plan(exps["G4"], "x1", "arm", 1)
    mac = {x["row"].setting: x["mac_elems"] for x in p["rows"]}
    act = BLOCKS * 2 * HW * 32        # one 32-channel map read + written
    assert mac["relu=yes,shortcut=no"] - mac["relu=no,shortcut=no"] == BLOCKS * 2 * (2 * HW * 8) + act  # 2 inner + 1 outer ReLU
    assert mac["relu=no,shortcut=yes"] - mac["relu=no,shortcut=no"] == BLOCKS * 3 * HW * 32            # add: 2 in, 1 out
    assert len({x["madds"] for x in p["rows"]}) == 1


# ------------------------------------------------------------------ the paper's figures
def test_config_figures_equal_the_transcribed_tables(exps):
    for r in PAPER:
        row = exps[r["guideline"]].row(r["row"])
        assert row.paper[r["device"]] == [float(r[s]) for s in SCALES], (r["guideline"], r["row"], r["device"])


def test_spread_error_is_a_configuration_error(tmp_path):
    from lwbench.cli import main
    from lwbench.guidelines import SpreadError, guidelines_dir

    text = (guidelines_dir() / "g1.yaml").read_text().replace("{c1: 36, c2: 432}", "{c1: 36, c2: 400}")
    bad = tmp_path / "g1_bad.yaml"
    bad.write_text(text)
    with pytest.raises(SpreadError, match=r"madds spread 1[0-9]\.\d% is above 6%"):
        plan(load_experiment(str(bad)), "x1", "gpu", 1)
    assert main(["guidelines", str(bad), "--quick", "--channels", "gpu", "--format", "csv"]) == 2
    assert main(["guidelines", str(bad), "--quick", "--format", "csv"]) == 0   # its ARM channels are intact


# ------------------------------------------------------------------ verdicts (synthetic medians and IQRs)
def _rows(speeds: dict[str, float | None], iqr_frac: float = 0.0) -> list[dict]:
    """Rows as run_experiments makes them, from images/s (batch 1): median_ms = 1000 / speed."""
    return [{"setting": s, "speed": v, "median_ms": None if v is None else 1000 / v,
             "iqr_ms": None if v is None else iqr_frac * 1000 / v} for s, v in speeds.items()]


def _by_setting(rows):
    return {r["setting"]: r for r in rows}


def test_compare_pair_noise_is_the_overlap_of_the_iqrs():
    """a claimed faster than b: within noise iff |median_a - median_b| <= (iqr_a + iqr_b) / 2."""
    from lwbench.guidelines import compare_pair

    assert compare_pair({"median_ms": 1.0, "iqr_ms": 0.5}, {"median_ms": 1.5, "iqr_ms": 0.5}) == "noise"  # boundary
    assert compare_pair({"median_ms": 1.0, "iqr_ms": 0.5}, {"median_ms": 1.5001, "iqr_ms": 0.5}) == "holds"
    assert compare_pair({"median_ms": 1.5001, "iqr_ms": 0.5}, {"median_ms": 1.0, "iqr_ms": 0.5}) == "contradicts"
    assert compare_pair({"median_ms": 1.0, "iqr_ms": 0.2}, {"median_ms": 1.35, "iqr_ms": 0.6}) == "noise"   # 0.35 <= 0.4
    assert compare_pair({"median_ms": 1.0, "iqr_ms": 0.0}, {"median_ms": 1.0, "iqr_ms": 0.0}) == "noise"    # a tie
    assert compare_pair({"median_ms": 1.0}, {"median_ms": 1.01}) == "holds"                                # no IQR: 0
    assert compare_pair({"median_ms": None, "iqr_ms": 0.1}, {"median_ms": 1.0, "iqr_ms": 0.1}) == "unmeasured"
    assert compare_pair(None, {"median_ms": 1.0, "iqr_ms": 0.1}) == "unmeasured"


def test_judge_counts_pairs_that_hold_contradict_or_are_within_noise(exps):
    exp = exps["G1"]          # chain 1:1 > 1:2 > 1:6 > 1:12, headline 1:1 vs 1:12

    def j(speeds, iqr=0.0):
        r = judge(exp, _by_setting(_rows(speeds, iqr)))
        return r.state, r.pairs, r.headline, round(r.ratio, 4) if r.ratio else r.ratio

    zero = dict.fromkeys(("holds", "contradicts", "noise", "unmeasured"), 0)
    assert j({"1:1": 4.0, "1:2": 3.0, "1:6": 2.0, "1:12": 1.0}, 0.1) == ("holds", {**zero, "holds": 3}, "holds", 4.0)
    # the audit's case: 1:2 vs 1:6 at 4354 vs 4307 images/s is a 1.1% difference inside 2% IQRs: not a confirmation
    assert j({"1:1": 4800, "1:2": 4354, "1:6": 4307, "1:12": 3600}, 0.02) == \
        ("partly", {**zero, "holds": 2, "noise": 1}, "holds", round(4800 / 3600, 4))
    assert j({"1:1": 4800, "1:2": 4354, "1:6": 4307, "1:12": 3600}, 0.0) == \
        ("holds", {**zero, "holds": 3}, "holds", round(4800 / 3600, 4))                 # no spread: it holds
    assert j({"1:1": 4.0, "1:2": 5.0, "1:6": 2.0, "1:12": 1.0}, 0.01) == \
        ("partly", {**zero, "holds": 2, "contradicts": 1}, "holds", 4.0)
    assert j({"1:1": 1.0, "1:2": 2.0, "1:6": 3.0, "1:12": 4.0}, 0.01) == \
        ("not", {**zero, "contradicts": 3}, "contradicts", 0.25)
    assert j({"1:1": 101.0, "1:2": 100.5, "1:6": 100.2, "1:12": 100.0}, 0.05) == \
        ("inconclusive", {**zero, "noise": 3}, "noise", 1.01)
    assert j({"1:1": 4.0, "1:2": 3.0, "1:6": None, "1:12": 1.0}) == \
        ("partly", {**zero, "holds": 1, "unmeasured": 2}, "holds", 4.0)
    assert j({"1:1": None, "1:2": 3.0, "1:6": 2.0, "1:12": 1.0})[0] == "unmeasured"


def test_verdict_lines_say_what_was_measured(exps):
    exp = exps["G1"]
    paper = "(paper GPU 1.98x, ARM 1.32x)"
    holds = _rows({"1:1": 131.0, "1:2": 120.0, "1:6": 110.0, "1:12": 100.0})
    assert verdict(exp, {"x1": holds}, "cpu") == \
        f"G1 holds on this CPU: 1:1 is 1.31x faster than 1:12 {paper}; orderings: 3 hold, 0 contradict, 0 within " \
        "noise (of 3)"
    audit = _rows({"1:1": 4800, "1:2": 4354, "1:6": 4307, "1:12": 3600}, 0.02)
    assert verdict(exp, {"x1": audit}, "cpu") == \
        f"G1 partly holds on this CPU: 1:1 is 1.33x faster than 1:12 {paper}; orderings: 2 hold, 0 contradict, " \
        "1 within noise (of 3)"
    slower = _rows({"1:1": 90.0, "1:2": 120.0, "1:6": 110.0, "1:12": 100.0})
    assert verdict(exp, {"x1": slower}, "cuda") == \
        f"G1 does not hold on this GPU: 1:1 is 1.11x slower than 1:12 {paper}; orderings: 2 hold, 1 contradict, " \
        "0 within noise (of 3)"
    noise = _rows({"1:1": 101.0, "1:2": 100.5, "1:6": 100.2, "1:12": 100.0}, 0.05)
    assert verdict(exp, {"x1": holds, "x2": noise}, "cpu") == (
        f"G1 holds at x1; is inconclusive at x2 on this CPU: x1: 1:1 is 1.31x faster than 1:12 {paper}; orderings: "
        "3 hold, 0 contradict, 0 within noise (of 3) | x2: 1:1 is 1.01x faster than 1:12 (within noise) (paper "
        "GPU 1.84x, ARM 1.44x); orderings: 0 hold, 0 contradict, 3 within noise (of 3)")


# ------------------------------------------------------------------ end to end, --quick
@pytest.fixture(scope="module")
def quick_csv(tmp_path_factory):
    from lwbench.cli import main

    out = tmp_path_factory.mktemp("gl") / "g.csv"
    assert main(["guidelines", "--quick", "--output", str(out)]) == 0
    return out


def test_quick_run_to_csv(quick_csv):
    import pandas as pd

    lines = quick_csv.read_text().splitlines()
    assert lines[0].startswith("# machine: {")
    machine = json.loads(lines[0].split(": ", 1)[1])
    assert machine["cpu_model"] is not None and "torch" in machine
    verdicts = [ln for ln in lines if ln.startswith("# verdict ")]
    assert [v.split(":")[0] for v in verdicts] == [f"# verdict {g}" for g in GUIDELINES]
    df = pd.read_csv(quick_csv, comment="#")
    assert len(df) == len(PAPER) // 2            # every table row once (x1, the ARM channels on a CPU)
    assert set(df["scale"]) == {"x1"} and set(df["channel_setup"]) == {"arm"}
    assert df["error"].isna().all() and (df["images_per_s"] > 0).all()
    assert (df["input"].str.endswith("x8x8")).all()
    for r in (r for r in PAPER if r["device"] == "arm"):
        got = df[(df["guideline"] == r["guideline"]) & (df["setting"] == r["row"])].iloc[0]
        assert got["paper_arm_images_per_s"] == float(r["x1"])
        gpu = next(p for p in PAPER if p["device"] == "gpu" and p["guideline"] == r["guideline"] and p["row"] == r["row"])
        assert got["paper_gpu_batches_per_s"] == float(gpu["x1"])
    ref = df[df["reference"]]
    assert (ref["ratio"] == 1.0).all() and (ref["paper_gpu_ratio"] == 1.0).all()
    g1 = df[df["guideline"] == "G1"].set_index("setting")
    assert g1.loc["1:12", "paper_gpu_ratio"] == pytest.approx(748 / 1480)
    assert g1.loc["1:12", "ratio"] == pytest.approx(g1.loc["1:12", "images_per_s"] / g1.loc["1:1", "images_per_s"])


def test_quick_run_to_json(tmp_path):
    from lwbench.cli import main

    out = tmp_path / "g.json"
    assert main(["guidelines", "G2", "G4", "--quick", "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert {"machine", "config", "rows", "spreads", "verdicts"} <= set(doc)
    assert set(doc["verdicts"]) == {"G2", "G4"} and all(v.startswith(k) for k, v in doc["verdicts"].items())
    assert doc["spreads"]["G2 x1"] == pytest.approx(184 ** 2 / 8 / (90 ** 2 / 2) - 1)   # 4232 / 4050
    assert len(doc["rows"]) == 8 and all(len(r["samples_ms"]) == r["n"] for r in doc["rows"])
    g8 = next(r for r in doc["rows"] if r["setting"] == "g=8")
    assert g8["channels"] == "c=184 (paper 180)"


def test_quick_breakdown_and_missing_net(capsys):
    from lwbench.cli import main

    rc = main(["guidelines", "--breakdown", "--quick", "--net", "mobilenet_v1", "--net", "no_such_net",
               "--format", "json"])
    assert rc == 0
    cap = capsys.readouterr()
    assert "no_such_net is not in configs/" in cap.err
    rows = json.loads(cap.out)["rows"]
    assert [r["model"] for r in rows] == ["mobilenet_v1[resolution=32]"]
    r = rows[0]
    pcts = [r[f"{k}_pct"] for k in ("conv", "element_wise", "shuffle", "concat_split", "other")]
    assert sum(pcts) == pytest.approx(100) and r["shuffle_pct"] == 0 and r["concat_split_pct"] == 0
    assert r["conv_pct"] > 0 and r["element_wise_pct"] > 0


def test_saved_csv_rerenders_without_measuring(quick_csv, tmp_path):
    from lwbench.cli import main
    from lwbench.guidelines import read_result_csv

    result, machine = read_result_csv(str(quick_csv))
    assert machine["cores_logical"] >= 1 and set(result["verdicts"]) == set(GUIDELINES)
    assert result["spreads"]["G1 x1"] == pytest.approx(1024 / 968 - 1, abs=1e-6)   # ARM 32·32 vs 22·44
    md = tmp_path / "g.md"
    assert main(["guidelines", "--from", str(quick_csv), "--output", str(md)]) == 0
    text = md.read_text()
    assert text.count("\n## G") == 4 and all(v in text for v in result["verdicts"].values())
    assert "| x1 | 1:12 | c1=9,c2=108 | " in text and "| 748 | 0.51 | 57.6 | 0.76 |" in text


def test_verdict_flags_contended_rows(exps):
    exp = exps["G2"]
    rows = _rows({"g=1": 40.0, "g=2": 41.0, "g=4": 30.0, "g=8": 20.0}, 0.05)
    rows[2]["contended"] = True
    line = verdict(exp, {"x1": rows}, "cpu")
    assert line == ("G2 partly holds on this CPU: g=1 is 2.00x faster than g=8 (paper GPU 3.87x, ARM 1.44x); "
                    "orderings: 2 hold, 0 contradict, 1 within noise (of 3) [1 of 4 rows contended by other load]")


def test_cuda_without_a_gpu_is_one_line_and_exit_2(capsys):
    import torch

    from lwbench.cli import main

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["guidelines", "G1", "--quick", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CUDA is not available" in err[0]


# ------------------------------------------------------------------ --from: only what lwbench guidelines wrote
@pytest.fixture(scope="module")
def breakdown_csv(tmp_path_factory):
    from lwbench.cli import main

    out = tmp_path_factory.mktemp("bd") / "bd.csv"
    assert main(["guidelines", "--breakdown", "--quick", "--net", "mobilenet_v1", "--output", str(out)]) == 0
    return out


def test_from_a_breakdown_file_rerenders_the_breakdown(breakdown_csv, tmp_path, capsys):
    """The audit's traceback (`--from results/guidelines-cpu.breakdown.csv`: KeyError 'guideline')."""
    from lwbench.cli import main
    from lwbench.guidelines import read_saved
    from lwbench.report.load import load_export

    saved = read_saved(str(breakdown_csv))
    assert saved.kind == "breakdown" and saved.machine["cores_logical"] >= 1 and saved.result["duration_s"] > 0
    capsys.readouterr()
    assert main(["guidelines", "--from", str(breakdown_csv), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["machine"] == saved.machine and doc["rows"] == saved.result["rows"]
    again = load_export(breakdown_csv)                        # the report loader, a second reader of the same file
    assert doc["rows"][0]["conv_pct"] == pytest.approx(float(again.frame["conv_pct"].iloc[0]), rel=1e-12)
    assert doc["rows"][0]["model"] == "mobilenet_v1[resolution=32]"
    assert main(["guidelines", "--from", str(breakdown_csv)]) == 0
    assert "Fig. 2" in capsys.readouterr().out


def _one_error_line(capsys, argv) -> str:
    from lwbench.cli import main

    capsys.readouterr()
    assert main(argv) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in cap.err, cap.err
    return lines[0]


def test_from_anything_else_is_one_line_naming_file_and_expectation(quick_csv, breakdown_csv, tmp_path, capsys):
    bench = tmp_path / "bench.csv"
    bench.write_text('# machine: {"cores_logical": 2}\nmodel,device,threads,batch,median_ms\nmobilenet_v1,cpu,1,1,3.5\n')
    err = _one_error_line(capsys, ["guidelines", "--from", str(bench)])
    assert err.startswith(f"lwbench: error: {bench}: a timing export") and "lwbench guidelines --output" in err

    other = tmp_path / "paper.csv"                            # a CSV not written by lwbench
    other.write_text((DATA / "shufflenetv2_guidelines.csv").read_text())
    err = _one_error_line(capsys, ["guidelines", "--from", str(other)])
    assert f"{other}: not a result of lwbench guidelines (columns: table, guideline, row" in err
    assert "expected a CSV or JSON file written by `lwbench guidelines --output`" in err

    lines = quick_csv.read_text().splitlines()
    head = lines.index(next(ln for ln in lines if not ln.startswith("#")))
    cols = lines[head].split(",")
    keep = [i for i, c in enumerate(cols) if c not in ("channels", "mac_elems")]
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(lines[:head] + [",".join(cols[i] for i in keep)]
                             + [",".join(ln.split(",")[i] for i in keep) for ln in lines[head + 1:head + 3]]) + "\n")
    err = _one_error_line(capsys, ["guidelines", "--from", str(cut)])
    assert err.endswith(f"{cut}: a guidelines file missing columns channels, mac_elems, needed to re-render it")

    empty = tmp_path / "empty.csv"
    empty.write_text(lines[0] + "\n" + lines[head] + "\n")
    assert f"{empty}: no rows; expected" in _one_error_line(capsys, ["guidelines", "--from", str(empty)])
    md = tmp_path / "g.md"
    md.write_text("| a |\n|---|\n| 1 |\n")
    assert f"{md}: a Markdown file cannot be re-rendered" in _one_error_line(capsys, ["guidelines", "--from", str(md)])
    bad = tmp_path / "bad.json"
    bad.write_text('{"machine": {}}')
    assert f"{bad}: a JSON document without a rows list" in _one_error_line(capsys, ["guidelines", "--from", str(bad)])
    g9 = tmp_path / "g9.csv"
    g9.write_text(quick_csv.read_text().replace("\nG1,", "\nG9,"))
    assert f"{g9}: rows of guideline G9; re-rendering knows G1" in _one_error_line(capsys, ["guidelines", "--from", str(g9)])
    assert "--plot g.txt: expected a .png, .svg or .pdf file" in _one_error_line(
        capsys, ["guidelines", "G1", "--quick", "--plot", "g.txt"])        # refused before anything is measured
    assert "--plot draws the G1-G4 speed ratios" in _one_error_line(
        capsys, ["guidelines", "--from", str(breakdown_csv), "--plot", str(tmp_path / "x.png")])


# ------------------------------------------------------------------ every scale: paper figures, plot, duration
REFERENCE = {"G1": "1:1", "G2": "g=1", "G3": "1-fragment", "G4": "relu=yes,shortcut=yes"}  # the tables' first rows


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """`--quick --scale x1,x2,x4` (51 rows, about 2 s) to JSON with --plot; the plotted data captured."""
    import contextlib
    import io

    from lwbench.cli import main
    from lwbench.report import plots

    d = tmp_path_factory.mktemp("full")
    out, png, err = d / "g.json", d / "g.png", io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        plotted = record_returns(mp, plots, "guideline_ratios")
        assert main(["guidelines", "--quick", "--scale", "x1,x2,x4", "--output", str(out), "--plot", str(png)]) == 0
    return {"doc": json.loads(out.read_text()), "json": out, "png": png, "plotted": plotted, "err": err.getvalue()}


def test_paper_figures_equal_the_transcription_at_every_scale(full_run):
    rows = full_run["doc"]["rows"]
    assert len(rows) == len(PAPER) // 2 * len(SCALES)
    got = {(r["guideline"], r["setting"], r["scale"]): r for r in rows}
    paper = {(p["guideline"], p["row"], p["device"]): p for p in PAPER}
    for (g, setting, device), p in paper.items():
        ref = paper[g, REFERENCE[g], device]
        col = "paper_gpu_batches_per_s" if device == "gpu" else "paper_arm_images_per_s"
        for scale in SCALES:
            r = got[g, setting, scale]
            assert r[col] == float(p[scale]), (g, setting, device, scale)
            assert r[f"paper_{device}_ratio"] == pytest.approx(float(p[scale]) / float(ref[scale]), rel=1e-12)
            assert r["reference"] == (setting == REFERENCE[g])


def test_plot_draws_the_exported_rows(full_run):
    png = full_run["png"]
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(full_run["plotted"]) == 1
    data = full_run["plotted"][0]
    rows = full_run["doc"]["rows"]
    assert len(data) == len(rows) == 51
    for (_, d), r in zip(data.iterrows(), rows):
        assert (d["guideline"], d["scale"], d["setting"]) == (r["guideline"], r["scale"], r["setting"])
        for c in ("ratio", "paper_gpu_ratio", "paper_arm_ratio"):
            assert d[c] == pytest.approx(r[c], rel=1e-12)


def test_duration_and_plan_are_recorded_and_shown(full_run, tmp_path):
    from lwbench.cli import main
    from lwbench.guidelines import read_saved

    doc = full_run["doc"]
    samples_s = sum(sum(r["samples_ms"]) for r in doc["rows"]) / 1000
    assert doc["measured_s"] == pytest.approx(samples_s, abs=1e-3) and doc["duration_s"] >= doc["measured_s"] > 0
    assert doc["budget"] == {"rows": 51, "rounds": 2, "row_min_time_s": 0.01, "row_max_time_s": 0.5,
                             "row_warmup_s": 0.0, "planned_s": 0.51, "cap_s": 25.5}
    err = full_run["err"]
    assert "plan: 51 rows x 2 rounds; about 0.51 s of timing" in err and "at most 25.5 s" in err
    assert "102/102" in err and "ETA" in err and "duration: " in err
    csv_out = tmp_path / "g.csv"
    assert main(["guidelines", "--from", str(full_run["json"]), "--output", str(csv_out)]) == 0
    text = csv_out.read_text()
    assert f"\n# duration_s: {doc['duration_s']}\n" in text and f"\n# measured_s: {doc['measured_s']}\n" in text
    back = read_saved(str(csv_out)).result
    assert (back["duration_s"], back["measured_s"], back["budget"]) == (doc["duration_s"], doc["measured_s"],
                                                                        doc["budget"])
    assert back["verdicts"] == doc["verdicts"]       # judged again from the saved medians: the same lines
    svg = tmp_path / "again.svg"
    assert main(["guidelines", "--from", str(csv_out), "--plot", str(svg), "--format", "csv"]) == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "G4" in svg.read_text()


def test_default_run_is_budgeted_under_ten_minutes():
    """The default run (G1-G4, x1 x2 x4, 4 s a row in 4 rounds) plans 51 rows x (4 s + 0.3 s + 3 x 0.05 s
    warm-up) and at most 51 x (10 s + 0.45 s), under 600 s whatever the speed (the slowest default row runs
    about 25 ms on a 2-core CPU, so each round's one-run overshoot stays far below the margin)."""
    from lwbench.guidelines import TIME_LIMIT_S, Budget, RunConfig, load_all

    b = Budget.of(load_all(), RunConfig.make(False, device="cpu"))
    assert (b.rows, b.rounds, b.min_time_s, b.max_time_s) == (51, 4, 4.0, 10.0)
    assert b.warmup_s == pytest.approx(0.3 + 3 * 0.05)
    assert b.planned_s == pytest.approx(51 * 4.45) and b.cap_s == pytest.approx(51 * 10.45)
    assert b.cap_s < TIME_LIMIT_S == 600
    slow = Budget.of(load_all(), RunConfig.make(False, device="cpu", min_time_s=12.0))   # --min-time 12
    assert slow.planned_s == pytest.approx(51 * 12.45) and slow.cap_s == slow.planned_s   # max_time rises to it


# ------------------------------------------------------------------ Markdown carries the machine block
def _md_comment(text: str, key: str):
    m = re.search(rf"^<!-- {key}: (.*) -->$", text, flags=re.M)
    assert m, f"no <!-- {key}: --> line"
    return json.loads(m.group(1))


def test_markdown_exports_carry_the_machine_block(quick_csv, breakdown_csv, tmp_path):
    from lwbench.cli import main
    from lwbench.guidelines import read_saved
    from lwbench.report.load import load_export

    md = tmp_path / "g.md"
    assert main(["guidelines", "--from", str(quick_csv), "--output", str(md)]) == 0
    text = md.read_text()
    saved = read_saved(str(quick_csv))
    assert text.startswith("<!-- machine: {") and _md_comment(text, "machine") == saved.machine
    assert _md_comment(text, "config") == saved.result["config"]
    assert _md_comment(text, "duration_s") == saved.result["duration_s"]
    bmd = tmp_path / "bd.md"
    assert main(["guidelines", "--from", str(breakdown_csv), "--output", str(bmd)]) == 0
    btext = bmd.read_text()
    assert btext.startswith("<!-- machine: {") and _md_comment(btext, "machine") == read_saved(str(breakdown_csv)).machine
    ex = load_export(bmd)                                     # the report loader reads it back as a breakdown export
    assert ex.kind == "breakdown" and ex.machine == _md_comment(btext, "machine")
    assert list(ex.frame["model"]) == ["mobilenet_v1[resolution=32]"]
