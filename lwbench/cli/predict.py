"""`lwbench calibrate` and `lwbench predict`: a device's latency model, and networks' latency from it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lwbench.cli.options import BatchOpt, FormatOpt, OutputOpt, ResolutionOpt, WidthOpt, console

CalOpt = Annotated[str, typer.Option("--calibration", "-c", help="A calibration file from `lwbench calibrate`.")]
RuntimeOpt = Annotated[str, typer.Option("--runtime", help="torch (eager) or onnxruntime (its model works on the "
                                         "fused groups ORT runs).")]
OrtOptOpt = Annotated[str, typer.Option("--ort-opt", help="With --runtime onnxruntime: ORT's graph optimisation "
                                        "level (disable, basic, extended, all), as `bench --ort-opt`.")]
SmokeOpt = Annotated[int | None, typer.Option("--smoke", min=1, help="Measure only N probes of each group, evenly "
                                              "spaced (a check that calibration runs, in seconds; never for "
                                              "results).")]


def calibrate_cmd(
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the calibration here (JSON); with "
                                               "--check, the check's result (JSON).")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu (or cuda).")] = "cpu",
    threads: Annotated[int, typer.Option("--threads", "-t", min=1, help="Intra-op threads.")] = 1,
    runtime: RuntimeOpt = "torch",
    ort_opt: OrtOptOpt = "all",
    target: Annotated[str | None, typer.Option("--target", help="Where to measure: local (this machine), or with "
                                               "--runtime onnxruntime an SSH target: ssh://user@host:port?python=PATH "
                                               "(user, port and python optional) or a host alias; the probes are "
                                               "exported here and timed there (`lwbench target check` first).")] = None,
    batch: BatchOpt = 1,
    dtype: Annotated[str, typer.Option("--dtype", help="float32, bfloat16 or float16.")] = "float32",
    seed: Annotated[int, typer.Option("--seed", help="The grid's sampling seed.")] = 0,
    max_minutes: Annotated[float, typer.Option("--max-minutes", help="Stop measuring after this long; the "
                                               "partial file keeps what was measured, run again to resume.")] = 15.0,
    refit: Annotated[str | None, typer.Option("--refit", help="Measure nothing: fit the model again from the raw "
                                              "measurements of this calibration file.")] = None,
    smoke: SmokeOpt = None,
    statistic: Annotated[str, typer.Option("--statistic", help="Fit each probe's median (the default) or its "
                                           "fastest call, min (the uncontended cost: the figure that repeats on a "
                                           "shared machine); `predict --validate` compares with the same "
                                           "statistic of the bench rows. With --refit: refit on it.")] = "median",
    check: Annotated[str | None, typer.Option("--check", help="Measure nothing but this calibration's speed "
                                              "reference, now, with its settings, on its machine or target, and "
                                              "compare with the calibration's (exit 1 beyond --tolerance): does "
                                              "the machine still run as it was calibrated?")] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, help="With --check: the change, in percent, "
                                             "within which the calibration still holds.")] = 10.0,
    readings: Annotated[int, typer.Option("--readings", min=1, help="With --check: read the reference this "
                                          "many times (a fresh worker each).")] = 3,
) -> None:
    """Measure single layers, small blocks and synthetic networks on a designed grid (no zoo network), fit the
    latency model; or, with --check, see whether the machine still runs at its calibration's speed."""
    from lwbench.errors import InputError
    from lwbench.predict.calibrate import calibrate

    if output is not None and not output.endswith(".json"):
        raise InputError(f"--output {output}: {'a check' if check else 'a calibration'} is JSON; name it .json")
    err = console(stderr=True)
    if check:
        return _speed_check(check, tolerance, readings, output)
    if output is None:
        raise InputError("calibrate: --output is required (where to write the calibration, .json), unless --check")
    if refit:
        doc = _refit(refit, statistic, output)
    else:
        probes = None
        if smoke:
            from lwbench.predict.grid import grid, subset

            probes = subset(grid(seed, runtime=runtime), smoke)
        doc = calibrate(output, device, threads, runtime, target, batch, dtype, seed, max_minutes, probes=probes,
                        progress=lambda m: err.print(f"calibrate: {m}", markup=False), ort_opt=ort_opt,
                        statistic=statistic)
    _say_calibrated(doc, output, err)


def _refit(path: str, statistic: str, output: str) -> dict:
    import json

    from lwbench.predict import calfile, fitcal
    from lwbench.predict.calibrate import rules_for_refit
    from lwbench.report.write import atomic_write

    doc = fitcal.refit(rules_for_refit(calfile.load(path)), statistic)
    atomic_write(output, json.dumps(doc, separators=(",", ":")))
    return doc


def _say_calibrated(doc: dict, output: str, err) -> None:
    c, h = doc["cost"], doc["checks"]["heldout_layers"]["all"]
    b = doc["checks"]["blocks_summary"]
    err.print(f"calibrate: {c['measurements']} of {c['probes_in_grid']} probes in {c['seconds_last_run'] / 60:.1f} min"
              f"{'' if c['complete'] else ' (incomplete: run again to resume)'}; held-out layers: median "
              f"{h.get('median_abs_pct', float('nan')):.1f}% error, {h.get('within_10_pct', float('nan')):.0f}% "
              f"within ±10%; blocks: median {b.get('median_abs_pct', float('nan')):.1f}% (in-context scale "
              f"{doc['model']['context_scale']['scale']:.3f}); "
              f"{c['contended_probes']} contended probes -> {output}", markup=False)
    from lwbench.predict.speed import moved

    sp = doc["checks"].get("speed")
    if moved(sp):
        print(f"lwbench: warning: the machine moved while it was calibrated: the speed reference took "
              f"{sp['start_ms']:.3f} ms first and {sp['end_ms']:.3f} ms last ({sp['drift_pct']:+.0f}%); the "
              f"calibration mixes both speeds (check it with `lwbench calibrate --check {output}`, on a quieter "
              "machine calibrate again)", file=sys.stderr)


def _speed_check(path: str, tolerance: float, readings: int, output: str | None) -> None:
    """`calibrate --check`: one line on the reference then and now and the verdict; exit 1 beyond the tolerance
    or when the readings themselves differ by more than it (unsteady)."""
    from lwbench.predict.calibrate import check_speed

    res = check_speed(path, tolerance, readings=readings)
    cal = res["calibration_speed"]
    drift = (f", {cal['drift_pct']:+.1f}% from its start to its end ({cal['minutes']:.1f} min)"
             if cal.get("drift_pct") is not None and cal.get("minutes") is not None else "")
    share = res.get("now_cpu_share")
    got = res["readings_ms"]
    spread = f" {min(got):.3f}-{max(got):.3f} ms, spread {res['spread_pct']:.1f}%" if len(got) > 1 else ""
    console().print(
        f"{path}: speed reference ({res['statistic']}) {res['calibration_ms']:.3f} ms at calibration{drift}; "
        f"now {res['now_ms']:.3f} ms (median of {len(got)} reading{'s' if len(got) > 1 else ''}"
        f"{spread}"
        f"{f', CPU share {share:.2f}' if share is not None else ''}) on {res['target']}: "
        f"x{res['ratio']:.3f} ({res['change_pct']:+.1f}%): {res['verdict']} (±{res['tolerance_pct']:g}%)",
        markup=False, highlight=False, soft_wrap=True)
    if output:
        import json

        from lwbench.report.write import atomic_write

        atomic_write(output, json.dumps(res, indent=1))
    if res["verdict"] == "beyond":
        print(f"lwbench: the speed reference now takes x{res['ratio']:.3g} the time it took when {path} was made "
              f"({'slower' if res['ratio'] > 1 else 'faster'}): its predictions are for the machine as it was (other "
              "load now, or a changed host: find it, or calibrate again)", file=sys.stderr)
    elif res["verdict"] == "unsteady":
        print(f"lwbench: the machine is unsteady: {len(got)} readings of the speed reference seconds apart differ by "
              f"{res['spread_pct']:.0f}% (more than ±{res['tolerance_pct']:g}%); no calibration holds to that here now "
              "(other load, or a host whose speed moves: find it, or judge with a wider --tolerance)", file=sys.stderr)
    if res["verdict"] != "within":
        raise typer.Exit(1)


def _predictor(cal: dict, module: str | None, input_: str | None, faults: bool = False):
    from lwbench.predict.predict import add_faults, predict_module, predict_net
    from lwbench.spec import load

    fitted = cal["model"]

    def one(name: str, width, resolution, batch: int) -> dict:
        res = predict_net(load(name, width, resolution), fitted, batch)
        if faults:
            from lwbench.predict import faults as pf

            add_faults(res, pf.count(name, width, resolution, batch, cal["fingerprint"]["threads"]), fitted)
        return res

    def mod(batch: int) -> dict:
        return predict_module(module, input_, fitted, batch)

    return one, mod


def _check(cal: dict, path: str, device, threads, runtime, batch, dtype, here: bool, ort_opt=None,
           target=None) -> None:
    from lwbench.predict.calfile import check_fingerprint

    machine = None
    if here:
        from lwbench.measure.machine import machine_info
        from lwbench.onnx.session import info

        machine = {**machine_info(), "onnxruntime": info()}
    check_fingerprint(cal, {"device": device, "threads": threads, "runtime": runtime, "dtype": dtype,
                            "batch": batch, "ort_opt": ort_opt, "target": target}, path, machine)


def predict_cmd(
    nets: Annotated[list[str] | None, typer.Argument(help="Zoo names or YAML paths.", show_default=False)] = None,
    calibration: CalOpt = ...,
    width: WidthOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = 1,
    module: Annotated[str | None, typer.Option("--module", help="Also any nn.Module: package.module:factory or "
                                               "path.py:factory.")] = None,
    input_: Annotated[str | None, typer.Option("--input", help="With --module: input shape per image.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="Refuse unless calibrated for it.")] = None,
    threads: Annotated[int | None, typer.Option("--threads", "-t", min=1, help="Refuse unless calibrated with "
                                                "this many threads.")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help="Refuse unless calibrated for it.")] = None,
    ort_opt: Annotated[str | None, typer.Option("--ort-opt", help="Refuse unless calibrated at this ORT level.")] = None,
    dtype: Annotated[str | None, typer.Option("--dtype", help="Refuse unless calibrated in it.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Refuse unless calibrated on this target (local, or "
                                               "the ssh://... spec given to `calibrate --target`).")] = None,
    here: Annotated[bool, typer.Option("--here", help="Refuse unless the calibration was made on this machine.")] = False,
    faults: Annotated[bool, typer.Option("--faults", help="Also count the page faults of one untimed forward of "
                                         "each network on this machine (a fresh process) and add faults × the "
                                         "calibrated cost per fault (implies --here; runs the network).")] = False,
    validate: Annotated[list[str] | None, typer.Option("--validate", help="Join predictions to these bench exports "
                                                       "(repeat the option) and score them beside the best "
                                                       "madds-only fit.")] = None,
    plot: Annotated[str | None, typer.Option("--plot", help="With --validate: predicted vs measured figure.")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="One row per network instead of per layer.")] = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Predicted latency per layer (beside madds and mac) and in total, from a device's calibration."""
    from lwbench.errors import InputError
    from lwbench.predict import calfile
    from lwbench.report.emit import resolve_format

    kind = resolve_format(fmt, output)
    if plot and not validate:
        raise InputError("predict --plot: draws predicted vs measured; give --validate BENCH.csv")
    if plot:
        from lwbench.report.plots import check_figure_path

        check_figure_path(plot, "--plot")
    cal = calfile.load(calibration)
    if faults and (module or cal["fingerprint"].get("runtime") != "torch"):
        raise InputError("predict --faults: counts eager torch page faults of zoo networks and YAML files (a torch "
                         "calibration); not with --module or an onnxruntime calibration")
    _check(cal, calibration, device, threads, runtime, batch, dtype, here or faults, ort_opt, target)
    one, mod = _predictor(cal, module, input_, faults)
    if validate:
        _validate(cal, validate, one, plot, kind, output)
        return
    if not nets and not module:
        raise InputError("predict: name at least one network (or --module, or --validate BENCH.csv)")
    results = [one(n, width, resolution, batch) for n in nets or []]
    if module:
        results.append(mod(batch))
    _emit_predictions(cal, results, summary, kind, output)


def _summary_row(r: dict) -> dict:
    return {"model": r["model"], "input": r["input"], "batch": r["batch"], "layers": len(r["layers"]),
            "params": r["params"], "madds": r["madds"], "mac_elems": r["mac_elems"], "fixed_ms": r["fixed_ms"],
            "predicted_ms": r["total_ms"], "uncalibrated_layers": r["uncalibrated_layers"],
            "outside_range_layers": r["outside_range_layers"],
            **{k: r[k] for k in ("fused_layers", "reorders", "layout_ms", "faults_per_forward", "fault_ms",
                                 "total_with_faults_ms") if k in r}}


def _meta(cal: dict) -> dict:
    fp = cal["fingerprint"]
    return {"calibration": {**{k: fp.get(k) for k in ("device", "threads", "runtime", "ort_opt", "dtype", "batch",
                                                      "target", "cpu_model", "torch") if k in fp},
                            "runtime_versions": fp.get("runtime_versions")}}


def _emit_predictions(cal: dict, results: list[dict], summary: bool, kind: str, output: str | None) -> None:
    from lwbench.report.emit import emit
    from lwbench.report.write import machine_block

    totals = [_summary_row(r) for r in results]
    rows = totals if summary else [row for r in results for row in r["layers"]]

    def table(_rows):
        from lwbench.predict.tables import layers_table, summary_table

        return [*([] if summary else [layers_table(r, cal) for r in results]), summary_table(totals, cal)]

    emit(kind, rows, output=output, machine=machine_block(), meta={**_meta(cal), "totals": totals},
         title=f"predicted latency ({cal['fingerprint'].get('cpu_model')}, {cal['fingerprint'].get('threads')} "
               "thread(s))", table=table)


def _validate(cal: dict, paths: list[str], one, plot: str | None, kind: str, output: str | None) -> None:
    from lwbench.predict.validate import bench_rows, figure, validate_rows
    from lwbench.report.emit import emit
    from lwbench.report.write import machine_block

    rows, notes, bench_machine = [], [], {}
    for path in paths:
        r, m, n = bench_rows(path, cal["fingerprint"])
        rows, notes, bench_machine = rows + r, notes + n, {**bench_machine, path: m}
    joined, summary = validate_rows(rows, one, cal["model"].get("statistic", "median"))
    err = console(stderr=True)
    for n in notes:
        err.print(f"lwbench: note: {n}", markup=False)
    if plot:
        figure(joined, summary, plot)

    def table(_rows):
        from lwbench.predict.tables import validate_table

        return validate_table(joined, summary)

    emit(kind, joined, output=output, machine=machine_block(),
         meta={"bench_machine": bench_machine, **_meta(cal), "summary": summary}, title="predicted vs measured",
         table=table)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate_cmd)
    app.command("predict")(predict_cmd)
