"""`bench --runtime torch,onnxruntime --mode eager,compile --dtype float32,int8` (issue #13's results run): the cross
product's combinations that belong to the other runtime (torch int8, onnxruntime compile) are not run and make no
error rows; any other refusal still does. The end-to-end run uses real ONNX Runtime (no timing asserted)."""

from __future__ import annotations

import json

import pytest

from lwbench.cli import main
from lwbench.measure.applicable import applicable
from lwbench.measure.bench import Sweep


def _sweep(runtimes, modes, dtypes, devices=("cpu",), layouts=("nchw",), specs=("a.yaml", "b.yaml")):
    return Sweep(specs=list(specs), devices=list(devices), modes=list(modes), layouts=list(layouts),
                 dtypes=list(dtypes), threads=[1], batches=[1], timer={}, runtimes=list(runtimes),
                 options={"onnxruntime": [{"ort_opt": "all"}]})


def _what(jobs):
    return [(j.net, j.runtime, j.mode, j.dtype) for j in jobs]


def test_axes_apply_to_the_runtime_that_takes_them():
    pytest.importorskip("onnxruntime")
    jobs, skipped = applicable(_sweep(["torch", "onnxruntime"], ["eager", "compile"], ["float32", "int8"]).jobs())
    assert _what(jobs) == [(n, *c) for n in ("a.yaml", "b.yaml") for c in
                           (("torch", "eager", "float32"), ("torch", "compile", "float32"),
                            ("onnxruntime", "eager", "float32"), ("onnxruntime", "eager", "int8"))]
    # torch compile int8 is torch's int8 (not torch's, ORT's); ORT compile int8 is ORT's compile
    assert skipped == {"torch --dtype int8": 4, "onnxruntime --mode compile": 4}


def test_torch_layouts_and_dtypes_are_not_tried_on_ort():
    pytest.importorskip("onnxruntime")
    jobs, skipped = applicable(_sweep(["torch", "onnxruntime"], ["eager"], ["float32", "float16"],
                                      layouts=["nchw", "nhwc"], specs=["a.yaml"]).jobs())
    assert [(j.runtime, j.layout, j.dtype) for j in jobs] == [
        ("torch", "nchw", "float32"), ("torch", "nchw", "float16"), ("torch", "nhwc", "float32"),
        ("torch", "nhwc", "float16"), ("onnxruntime", "nchw", "float32")]
    assert skipped == {"onnxruntime --dtype float16": 2, "onnxruntime --layout nhwc": 1}


def test_one_runtime_keeps_every_job_and_its_errors():
    """A value its only runtime refuses is what the user asked for: rows with the error (as before)."""
    jobs = _sweep(["torch"], ["eager"], ["float32", "int8"]).jobs()
    assert applicable(jobs) == (jobs, {})


def test_a_refusal_no_runtime_would_pass_is_kept_as_an_error_row():
    pytest.importorskip("onnxruntime")
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    jobs = _sweep(["torch", "onnxruntime"], ["eager"], ["float32"], devices=["cuda"]).jobs()
    assert applicable(jobs) == (jobs, {})


def test_nothing_left_to_run_is_one_line(capsys):
    pytest.importorskip("onnxruntime")
    rc = main(["bench", "mobilenet_v1_x0_25", "--runtime", "torch,onnxruntime", "--mode", "compile", "--dtype",
               "int8", "--in-process"])
    err = capsys.readouterr().err
    assert rc == 2 and "no combination of the options can run" in err and "Traceback" not in err


def test_bench_cli_runs_each_runtime_on_its_axes(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "b.json"
    fig = tmp_path / "b.png"
    assert main(["bench", "mobilenet_v1_x0_25", "--resolution", "96", "--runtime", "torch,onnxruntime",
                 "--mode", "eager,script", "--dtype", "float32,int8", "--threads", "1", "--min-time", "0",
                 "--min-runs", "3", "--warmup", "0", "--in-process", "-o", str(out), "--plot", str(fig)]) == 0
    err = capsys.readouterr().err
    assert "not run (that value is another runtime's): torch --dtype int8 (2 rows), onnxruntime --mode script " \
           "(2 rows)" in err
    rows = json.loads(out.read_text())["rows"]
    assert sorted((r["runtime"], r["mode"], r["dtype"]) for r in rows) == [
        ("onnxruntime", "eager", "float32"), ("onnxruntime", "eager", "int8"), ("torch", "eager", "float32"),
        ("torch", "script", "float32")]
    assert all(not r["error"] and r["median_ms"] > 0 for r in rows)
    assert fig.stat().st_size > 1000
