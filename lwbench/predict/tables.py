"""Terminal tables of `lwbench predict` (rich)."""

from __future__ import annotations


def _f(v, d=3) -> str:
    return "" if v is None else f"{v:.{d}f}"


def _cal_text(cal: dict) -> str:
    fp = cal["fingerprint"]
    rt = f"{fp.get('runtime')} {fp.get('torch')}"
    if fp.get("runtime") == "onnxruntime":
        rt = (f"onnxruntime {(fp.get('runtime_versions') or {}).get('onnxruntime')} ort_opt={fp.get('ort_opt')} "
              "(per fused group: layers folded into a convolution cost 0)")
    text = (f"calibration: {fp.get('cpu_model')}, {fp.get('device')}, {fp.get('threads')} thread(s), "
            f"{rt}, batch {fp.get('batch')}, {fp.get('dtype')}, "
            f"predicts the {(cal.get('model') or {}).get('statistic', 'median')} latency")
    ctx = (cal.get("model") or {}).get("context")
    if ctx:                                   # how layers alone become layers in a network (predict.context)
        held = ((ctx.get("candidates") or {}).get(ctx.get("method")) or {}).get("heldout") or {}
        err = f", held-out {held['mean_abs_pct']:.1f}%" if held.get("mean_abs_pct") is not None else ""
        text += f"; in-network context: {ctx.get('method')} ({ctx.get('chains', 0)} synthetic networks{err})"
    sp = (cal.get("checks") or {}).get("speed") or {}
    if sp.get("drift_pct") is not None:      # how far the machine moved while it was calibrated (predict.speed)
        from lwbench.predict.speed import moved

        text += (f"; speed reference {sp['start_ms']:.3f} -> {sp['end_ms']:.3f} ms during it "
                 f"({sp['drift_pct']:+.1f}%{': the machine moved' if moved(sp) else ''}; "
                 "`lwbench calibrate --check` compares it with now)")
    return text


def layers_table(res: dict, cal: dict):
    from rich.markup import escape
    from rich.table import Table

    from lwbench.report.human import si

    t = Table(title=escape(f"{res['model']}  input {res['input']}  batch {res['batch']}: predicted "
                           f"{res['total_ms']:.3f} ms (fixed {res['fixed_ms'] * 1000:.1f} µs + "
                           f"{len(res['layers'])} layers)"),
              caption=escape(_cal_text(cal)), show_footer=True)
    for name, just, footer in (("layer", "left", "total"), ("kind", "left", ""), ("out", "left", ""),
                               ("madds", "right", si(res["madds"])), ("mac", "right", si(res["mac_elems"])),
                               ("predicted ms", "right", _f(res["total_ms"])), ("%", "right", "100%"),
                               ("note", "left", "")):
        t.add_column(name, justify=just, footer=footer)
    for r in res["layers"]:
        t.add_row(escape(r["layer"]), escape(r["model_key"]), r["out_shape"], si(r["madds"]), si(r["mac_elems"]),
                  _f(r["predicted_ms"], 4), _f(r["predicted_pct"], 1), escape(r["note"]))
    return t


def summary_table(rows: list[dict], cal: dict):
    from rich.markup import escape
    from rich.table import Table

    from lwbench.report.human import si

    t = Table(title=f"{len(rows)} network(s): predicted latency", caption=escape(_cal_text(cal)))
    for c in ("model", "input", "layers", "madds", "mac", "predicted ms", "uncalibrated"):
        t.add_column(c, justify="left" if c in ("model", "input") else "right")
    for r in rows:
        t.add_row(escape(r["model"]), r["input"], str(r["layers"]), si(r["madds"]), si(r["mac_elems"]),
                  _f(r["predicted_ms"]), str(r["uncalibrated_layers"]))
    return t


def validate_table(rows: list[dict], summary: dict):
    from rich.markup import escape
    from rich.table import Table

    from lwbench.report.human import si

    def line(name: str, s: dict) -> str:
        tau = s["band_tau"]["tau"]
        return (f"{name}: {s['within_5_pct']:.0f}% / {s['within_10_pct']:.0f}% / {s['within_15_pct']:.0f}% within "
                f"±5/±10/±15%, median {s['median_abs_pct']:.1f}%, worst {s['worst_abs_pct']:.1f}%, RMSPE "
                f"{s['rmspe_pct']:.1f}%, band τ {'-' if tau is None else f'{tau:.2f}'} "
                f"({s['band_tau']['pairs']} pairs)")

    lines = [line("predict", summary["model"]), line("madds-only fit", summary["madds_fit"])]
    fx = "model_with_faults" in summary
    if fx:
        lines.insert(1, line("predict + counted page faults", summary["model_with_faults"]))
    stat = summary.get("statistic", "median")
    t = Table(title=f"{len(rows)} networks: predicted vs measured ({stat} latency)", caption=escape("\n".join(lines)))
    cols = ["model", "madds", f"measured ms ({stat})", "predicted ms", "error %", *(["faults", "+faults ms", "error %"]
                                                                          if fx else []),
            "madds fit ms", "madds fit error %"]
    for c in cols:
        t.add_column(c, justify="left" if c == "model" else "right")
    for r in sorted(rows, key=lambda r: r["madds"]):
        extra = [_f(r["faults_per_forward"], 0), _f(r["total_with_faults_ms"]), _f(r["with_faults_error_pct"], 1)] \
            if fx else []
        t.add_row(escape(r["model"]), si(r["madds"]), _f(r["measured_ms"]), _f(r["predicted_ms"]),
                  _f(r["error_pct"], 1), *extra, _f(r["madds_fit_ms"]), _f(r["madds_fit_error_pct"], 1))
    return t
