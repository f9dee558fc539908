"""`lwbench bench` and `lwbench profile --time` end to end on a tiny YAML network (no timing is asserted)."""

from __future__ import annotations

import csv
import io
import json
import os
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


def _table_lines(rows):
    from rich.console import Console

    from lwbench.cli.bench import bench_table

    c = Console(record=True, width=400, file=open(os.devnull, "w"))  # noqa: SIM115
    c.print(bench_table(rows, {"cpu_model": "Test CPU", "torch": {"version": "2.x"}}))
    return c.export_text().splitlines()


def test_bench_table_flags_exactly_the_noisy_and_contended_rows():
    from lwbench.cli.bench import ROW_COLUMNS

    def row(model, noisy, contended, error=""):
        r = {c: None for c in ROW_COLUMNS}
        r.update(model=model, device="cpu", mode="eager", layout="nchw", threads=1, batch=1, n=10, median_ms=2.0,
                 iqr_ms=0.5 if noisy else 0.01, p90_ms=2.5, min_ms=1.9, images_per_s=500.0, first_run_ms=9.0,
                 noisy=noisy, contended=contended, params=618, madds=26784, mac_elems=7271, error=error)
        return r

    lines = _table_lines([row("quietnet", False, False), row("loudnet", True, False), row("busynet", False, True),
                          row("badnet", None, None, error="out of memory")])
    header = [c.strip() for c in next(ln for ln in lines if "median ms" in ln).strip().strip("┃").split("┃")]
    by = {}
    for ln in lines:
        cells = [c.strip() for c in ln.strip().strip("│").split("│")]
        if len(cells) == len(header) and cells[0] in ("quietnet", "loudnet", "busynet", "badnet"):
            by[cells[0]] = dict(zip(header, cells))
    assert [by[m]["noise"] for m in ("quietnet", "loudnet", "busynet")] == ["ok", "noisy", "contended"]
    assert by["badnet"]["noise"] == "error: out of memory" and by["badnet"]["median ms"] == ""
    # the analytic counts are on every row, error rows included
    assert {(r["params"], r["madds"], r["mac"]) for r in by.values()} == {("618", "26.78K", "7.27K")}


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


# --- bench with a stand-in for the measurement (rows, sorting, plot, cool-down, contention) -------------------

def tiny_net(tmp_path, name: str, pw_out: int) -> str:
    """TINY with the pointwise conv widened to `pw_out` channels (C below), written as NAME.yaml."""
    p = tmp_path / f"{name}.yaml"
    p.write_text(textwrap.dedent(TINY).replace("tiny_timed", name).replace("out: 16", f"out: {pw_out}"))
    return str(p)


def hand_counts(c: int, batch: int) -> dict:
    """TINY's analytic counts by hand, C = pointwise output channels, 16×16 input, stem stride 2 -> 8×8.

    params: stem 8·3·9 = 216, bn 2·8 = 16, dw 8·9 = 72, pw 8·C + C, fc 10·C + 10.
    madds per image: stem 8·8·8·3·9 = 13824, dw 8·8·8·9 = 4608, pw 8·8·C·8, fc C·10.
    mac (ShuffleNet V2: inputs + outputs + weights): feature maps per image stem 768 + 512, bn 512 + 512,
    relu 512 + 512, dw 512 + 512, pw 512 + 64·C, pool 64·C + C, fc C + 10 (flatten is a view: 0); weights
    once per batch: 216, bn 4·8 (γ, β, running mean and variance), 72, 9·C, 10·C + 10."""
    return {"params": 216 + 16 + 72 + 9 * c + 10 * c + 10,
            "madds": batch * (13824 + 4608 + 64 * 8 * c + 10 * c),
            "mac_elems": batch * (1280 + 1024 + 1024 + 1024 + 512 + 64 * c + 65 * c + c + 10)
            + 216 + 32 + 72 + 9 * c + 10 * c + 10}


class FakeRuns:
    """Replaces the per-row measurement: network NAME at batch b has median MEDIANS[NAME]·b ms, its process
    got SHARES[NAME] of its CPU time. Logs ('run', name, batch) and ('sleep', s)."""

    def __init__(self, monkeypatch, medians: dict, shares: dict | None = None):
        import lwbench.cli.bench as bench_mod

        self.medians, self.shares, self.log = medians, shares or {}, []
        monkeypatch.setattr(bench_mod, "_run_in_process", self.run)
        monkeypatch.setattr(bench_mod, "_sleep", lambda s: self.log.append(("sleep", s)))

    def run(self, job):
        from pathlib import Path

        from lwbench.measure.timer import stats_from_samples

        name, b = Path(job["net"]).stem, int(job["batch"])
        self.log.append(("run", name, b))
        m = self.medians[name] * b
        t = stats_from_samples([m * 0.99, m, m * 1.01] * 4, first_run_ms=10 * m)
        return {"timing": t.stats(), "samples_ms": t.samples_ms, "cpu_share": self.shares.get(name, 0.97),
                "threads": job["threads"], "interop_threads": 1, "cores": None}


def test_bench_all_columns_sort_and_plot(tmp_path, monkeypatch):
    import lwbench.report.plots as plots

    nets = {"net_a": 16, "net_b": 32, "net_c": 8}
    paths = [tiny_net(tmp_path, n, c) for n, c in nets.items()]
    runs = FakeRuns(monkeypatch, {"net_a": 3.0, "net_b": 1.0, "net_c": 2.0})
    plotted = []
    real_plot_rows = plots.plot_rows
    monkeypatch.setattr(plots, "plot_rows", lambda *a, **k: plotted.append(real_plot_rows(*a, **k)) or plotted[-1])
    out, fig = tmp_path / "rows.json", tmp_path / "fig.png"
    assert main(["bench", *paths, "--threads", "1", "--batch", "1,2", "--in-process", "--sort", "median_ms",
                 "-o", str(out), "--plot", str(fig)]) == 0
    rows = json.loads(out.read_text())["rows"]
    # medians: a 3·b, b 1·b, c 2·b ms -> 1 (b,1), 2 (b,2), 2 (c,1), 3 (a,1), 4 (c,2), 6 (a,2); ties keep run order
    assert [(r["model"], r["batch"]) for r in rows] == [("net_b", 1), ("net_b", 2), ("net_c", 1), ("net_a", 1),
                                                        ("net_c", 2), ("net_a", 2)]
    assert [r["median_ms"] for r in rows] == pytest.approx([1, 2, 2, 3, 4, 6])
    for r in rows:
        assert {k: r[k] for k in ("params", "madds", "mac_elems")} == hand_counts(nets[r["model"]], r["batch"])
    assert hand_counts(16, 1) == {"params": 618, "madds": 26784, "mac_elems": 7588}
    assert len(runs.log) == 6
    # the figure: PNG, drawn from exactly the exported rows
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and fig.stat().st_size > 1000
    (data,) = plotted
    got = sorted(zip(data["model"], data["madds"], data["median_ms"]))
    assert got == sorted((r["model"], r["madds"], pytest.approx(r["median_ms"])) for r in rows)
    assert set(data["series"]) == {"batch=1", "batch=2"}
    # `lwbench plot` on the export plots the same numbers
    again = tmp_path / "again.json"
    assert main(["plot", str(out), "--kind", "latency-vs-madds", "-o", str(tmp_path / "f2.svg"),
                 "--data", str(again)]) == 0
    drawn = json.loads(again.read_text())["rows"]
    assert sorted((d["model"], int(d["madds"]), float(d["median_ms"])) for d in drawn) == got
    assert "<svg" in (tmp_path / "f2.svg").read_text()


def test_bench_sort_desc_puts_failed_rows_last_and_table_has_counts(tmp_path, monkeypatch, capsys):
    paths = [tiny_net(tmp_path, n, c) for n, c in (("net_a", 16), ("net_b", 32), ("net_c", 8))]
    FakeRuns(monkeypatch, {"net_a": 3.0, "net_b": 1.0, "net_c": 2.0})
    out = tmp_path / "rows.csv"
    sweep = ["bench", *paths, "--threads", "1", "--mode", "jit,eager", "--in-process", "-o", str(out)]
    assert main([*sweep, "--sort", "median_ms", "--desc"]) == 0
    _, rows = read_csv(out)
    # medians a 3, c 2, b 1 ms; the failed (jit) rows have none: last, in run order, whatever the direction
    assert [(r["model"], r["mode"]) for r in rows] == [("net_a", "eager"), ("net_c", "eager"), ("net_b", "eager"),
                                                      ("net_a", "jit"), ("net_b", "jit"), ("net_c", "jit")]
    assert all(r["error"] and r["median_ms"] == "" for r in rows[3:])
    assert main([*sweep, "--sort", "madds", "--desc"]) == 0
    _, rows = read_csv(out)
    # a failed row keeps its analytic madds, so it sorts with its network (run order: jit before eager)
    assert [(r["model"], r["mode"]) for r in rows] == [("net_b", "jit"), ("net_b", "eager"), ("net_a", "jit"),
                                                      ("net_a", "eager"), ("net_c", "jit"), ("net_c", "eager")]
    assert [int(r["madds"]) for r in rows[::2]] == [hand_counts(c, 1)["madds"] for c in (32, 16, 8)]
    capsys.readouterr()
    assert main(["bench", paths[0], "--threads", "1", "--in-process"]) == 0
    table = capsys.readouterr().out
    assert all(w in table for w in ("params", "madds", "mac", "618", "26.78K", "7.59K"))


def test_bench_all_is_one_zoo_summary(monkeypatch, capsys):
    """`bench --all` over a zoo cut down to three MobileNets: one row each with the paper's counts (Howard et al.
    2017, Tables 6-7: 1.0-224 569M mult-adds 4.2M params; 0.50-224 150M, 1.3M; 1.0-128 186M, 4.2M)."""
    import lwbench.spec.zoo

    zoo = {"mobilenet_v1": (569, 4.2), "mobilenet_v1_x0_5": (150, 1.3), "mobilenet_v1_r128": (186, 4.2)}
    real_index = lwbench.spec.zoo.index()
    assert set(zoo) <= set(real_index)
    monkeypatch.setattr(lwbench.spec.zoo, "index", lambda: {k: real_index[k] for k in zoo})
    runs = FakeRuns(monkeypatch, {"mobilenet_v1": 20.0, "mobilenet_v1_x0_5": 8.0, "mobilenet_v1_r128": 7.0})
    assert main(["bench", "--all", "--threads", "1", "--in-process", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["model"] for r in rows] == list(zoo) and len(runs.log) == 3
    for r in rows:
        madds_m, params_m = zoo[r["model"]]
        assert abs(r["madds"] / 1e6 - madds_m) < 0.6 and round(r["params"] / 1e6, 1) == params_m
        assert r["mac_elems"] > r["params"] and r["median_ms"] == pytest.approx(runs.medians[r["model"]])


def test_bench_sort_and_plot_misuse_fails_before_measuring(tmp_path, monkeypatch, capsys):
    p = tiny_net(tmp_path, "net_a", 16)
    runs = FakeRuns(monkeypatch, {"net_a": 1.0})
    assert main(["bench", p, "--in-process", "--sort", "median"]) == 2
    assert main(["bench", p, "--in-process", "--desc"]) == 2
    assert main(["bench", p, "--in-process", "--plot", str(tmp_path / "fig.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("lwbench: error: ") for e in err)
    assert "did you mean: median_ms" in err[0] and "--sort" in err[1] and ".png" in err[2]
    assert runs.log == []


def test_bench_cooldown_sleeps_between_networks_only(tmp_path, monkeypatch):
    a, b = tiny_net(tmp_path, "net_a", 16), tiny_net(tmp_path, "net_b", 8)
    runs = FakeRuns(monkeypatch, {"net_a": 1.0, "net_b": 1.0})
    assert main(["bench", a, b, "--threads", "1,2", "--batch", "1", "--in-process", "--cooldown", "7.5"]) == 0
    assert runs.log == [("run", "net_a", 1), ("run", "net_a", 1), ("sleep", 7.5), ("run", "net_b", 1),
                        ("run", "net_b", 1)]
    runs.log.clear()
    assert main(["bench", a, b, "--threads", "1", "--in-process"]) == 0        # default: no cool-down
    assert [e[0] for e in runs.log] == ["run", "run"]


def test_bench_rows_store_cpu_share_and_contended(tmp_path, monkeypatch, capsys):
    a, b = tiny_net(tmp_path, "net_a", 16), tiny_net(tmp_path, "net_b", 8)
    FakeRuns(monkeypatch, {"net_a": 1.0, "net_b": 1.0}, shares={"net_a": 0.5, "net_b": 0.85})
    out = tmp_path / "rows.csv"
    assert main(["bench", a, b, "--threads", "1", "--in-process", "-o", str(out)]) == 0
    _, rows = read_csv(out)
    got = {r["model"]: (float(r["cpu_share"]), r["contended"]) for r in rows}
    assert got == {"net_a": (0.5, "True"), "net_b": (0.85, "False")}        # contended strictly below 0.85
    warn = [ln for ln in capsys.readouterr().err.splitlines() if "CPU time" in ln]
    assert len(warn) == 1 and "net_a" in warn[0] and "50%" in warn[0]
    from lwbench.report.load import load_export

    ex = load_export(out)                                   # the schema knows the columns and their types
    assert ex.kind == "timing" and ex.frame["contended"].tolist() == [True, False]


# --- failures of the model: one line, exit 2; in a sweep the row records it ---------------------------------

def _failing_build(monkeypatch, message: str, when_batch: int | None = None):
    """lwbench.build.build returns the real model wrapped so that its forward raises RuntimeError(message)
    (at every batch, or only at `when_batch`): no memory is actually allocated."""
    import torch

    import lwbench.build

    real = lwbench.build.build

    class Failing(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            if when_batch is None or x.shape[0] == when_batch:
                raise RuntimeError(message)
            return self.inner(x)

    monkeypatch.setattr(lwbench.build, "build", lambda net, *a, **k: Failing(real(net, *a, **k)))


CPU_OOM = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried "
           "to allocate 602112000000 bytes. Error code 12 (Cannot allocate memory)")


def test_profile_time_out_of_memory_is_one_line(tiny, monkeypatch, capsys):
    _failing_build(monkeypatch, CPU_OOM)
    assert main(["profile", tiny, "--time", "--batch", "64", "--threads", "1", "--min-time", "0.01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lwbench: error: profile --time tiny_timed at batch 64 on cpu: out of memory (DefaultCPUAllocator: "
                   "can't allocate memory: you tried to allocate 602112000000 bytes. Error code 12 (Cannot allocate "
                   "memory)); try a smaller --batch"]
    _failing_build(monkeypatch, "mat1 and mat2 shapes cannot be multiplied (64x16 and 8x10)")
    assert main(["profile", tiny, "--time", "--batch", "64", "--threads", "1", "--min-time", "0.01"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("lwbench: error: profile --time tiny_timed at batch 64 on cpu: the model failed at run "
                           "time: RuntimeError: mat1 and mat2") and "Traceback" not in line


def test_bench_out_of_memory_row_is_recorded_and_the_others_kept(tiny, tmp_path, monkeypatch, capsys):
    _failing_build(monkeypatch, CPU_OOM, when_batch=64)
    out = tmp_path / "b.json"
    assert main(["bench", tiny, "--threads", "1", "--batch", "1,64,2", "--in-process", *FAST, "-o", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["batch"], bool(r["error"])) for r in rows] == [(1, False), (64, True), (2, False)]
    bad = rows[1]
    assert bad["error"].startswith("the run at batch 64 on cpu: out of memory (DefaultCPUAllocator")
    assert bad["error"].endswith("try a smaller --batch") and bad["median_ms"] is None and bad["cpu_share"] is None
    assert bad["madds"] == hand_counts(16, 64)["madds"]            # the analytic columns stay on a failed row
    assert "out of memory" in capsys.readouterr().err


def test_bench_failed_row_traceback_only_with_lwbench_debug(tiny, monkeypatch, capsys):
    _failing_build(monkeypatch, "mat1 and mat2 shapes cannot be multiplied (1x16 and 8x10)", when_batch=2)
    args = ["bench", tiny, "--threads", "1", "--batch", "1,2", "--in-process", *FAST, "--format", "json"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "the model failed at run time: RuntimeError: mat1 and mat2" in err and "Traceback" not in err
    monkeypatch.setenv("LWBENCH_DEBUG", "1")
    assert main(args) == 0
    assert "Traceback (most recent call last)" in capsys.readouterr().err


# ---------------------------------------------------------------- precision
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_time_module_runs_the_model_in_dtype(dtype):
    """Parameters, buffers and the input are cast (no autocast), so every op of the forward sees `dtype`."""
    import torch

    from lwbench.measure.timer import TimerConfig, time_module

    seen = []

    class Rec(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)

        def forward(self, x):
            seen.append((x.dtype, self.conv.weight.dtype, self.bn.running_mean.dtype))
            return self.bn(self.conv(x))

    cfg = TimerConfig(warmup_runs=2, warmup_s=0.0, min_runs=3, min_time_s=0.0, max_time_s=5.0)
    t = time_module(Rec(), torch.randn(1, 3, 8, 8), cfg=cfg, dtype=dtype)
    want = getattr(torch, dtype)
    assert t.n >= 3 and seen and set(seen) == {(want, want, want)}


def test_bench_dtype_sweep_rows_and_int8_refused(tiny, tmp_path):
    out = tmp_path / "d.csv"
    assert main(["bench", tiny, "--threads", "1", "--dtype", "float32,bfloat16,int8", *FAST, "--in-process",
                 "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO("".join(ln for ln in out.read_text().splitlines(True)
                                                   if not ln.startswith("#")))))
    assert [r["dtype"] for r in rows] == ["float32", "bfloat16", "int8"]
    assert rows[0]["error"] == rows[1]["error"] == "" and float(rows[1]["median_ms"]) > 0
    assert rows[2]["error"].startswith("--dtype int8: timing int8 needs a quantised model") and rows[2]["median_ms"] == ""
    # the analytic counts do not depend on the precision
    assert {(r["params"], r["madds"], r["mac_elems"]) for r in rows} == {(rows[0]["params"], rows[0]["madds"],
                                                                           rows[0]["mac_elems"])}


def test_profile_time_in_bfloat16_counts_two_bytes(tiny, tmp_path):
    """profile --time --dtype bfloat16 times the bfloat16 network, and its mac_bytes (hence GB/s) are 2 per
    element, half of float32's."""
    out = tmp_path / "b.json"
    assert main(["profile", tiny, "--time", "--dtype", "bfloat16", "--threads", "1", "--min-time", "0.05",
                 "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    pw = next(r for r in doc["layers"] if r["layer"] == "pw")
    assert pw["mac_bytes"] == 2 * pw["mac_elems"] and pw["time_ms"] is not None
    assert pw["gb_per_s"] == pytest.approx(pw["mac_bytes"] / (pw["time_ms"] * 1e-3) / 1e9)
    assert doc["end_to_end"]["dtype"] == "bfloat16"
