"""The rich tables of `lwbench profile --time`: per-layer time beside madds/mac shares, and the by-category
summary (ShuffleNet V2, Fig. 2)."""

from __future__ import annotations

from lwbench.report.human import si


def _f(v, d=2):
    return "" if v is None else f"{v:.{d}f}"


def layer_time_table(res: dict):
    from rich.markup import escape
    from rich.table import Table

    e2e = res["end_to_end"]
    rows = res["layers"]
    t = Table(title=escape(f"{rows[0]['model'] if rows else ''}  {res['device']}  threads {res['threads']['threads']}  "
              f"batch {res['batch']}  end-to-end median {e2e.median_ms:.3f} ms (IQR {e2e.iqr_ms:.3f}, n {e2e.n}"
              f"{', noisy' if e2e.noisy else ''}); per-layer sum {res['layer_sum_ms']:.3f} ms with hooks"),
              caption="time: median per layer over the hooked runs; GFLOP/s = 2·madds/time; GB/s = mac_bytes/time",
              show_footer=True)
    cols = [("layer", "left", "total"), ("kind", "left", ""), ("category", "left", ""), ("out", "left", ""),
            ("madds", "right", si(sum(r["madds"] for r in rows))), ("madds %", "right", "100%"),
            ("mac %", "right", "100%"), ("time ms", "right", _f(res["layer_sum_ms"], 3)), ("time %", "right", "100%"),
            ("GFLOP/s", "right", ""), ("GB/s", "right", "")]
    for name, just, footer in cols:
        t.add_column(name, justify=just, footer=footer)
    for r in rows:
        t.add_row(escape(r["layer"]), r["kind"], r["category"], r["out_shape"], si(r["madds"]), _f(r["madds_pct"], 1),
                  _f(r["mac_pct"], 1), _f(r["time_ms"], 3), _f(r["time_pct"], 1), _f(r["gflop_per_s"], 1),
                  _f(r["gb_per_s"], 2))
    return t


def category_table(res: dict):
    from rich.table import Table

    t = Table(title="by op category (ShuffleNet V2, Fig. 2: where the time goes vs where the madds are)")
    for c in ("category", "layers", "madds", "madds %", "mac %", "time ms", "time %", "GFLOP/s", "GB/s"):
        t.add_column(c, justify="left" if c == "category" else "right")
    for g in res["by_category"]:
        t.add_row(g["category"], str(g["layers"]), si(g["madds"]), _f(g["madds_pct"], 1), _f(g["mac_pct"], 1),
                  _f(g["time_ms"], 3), _f(g["time_pct"], 1), _f(g["gflop_per_s"], 1), _f(g["gb_per_s"], 2))
    return t
