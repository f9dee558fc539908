"""The rich table of `lwbench bench` (timing rows)."""

from __future__ import annotations

from lwbench.report.human import si
from lwbench.vocab import CONTENDED_SHARE

CAPTION = ("median of n runs (one run = one batch); IQR = p75 − p25; noisy: IQR/median > 10%; contended: the "
           f"process got < {CONTENDED_SHARE:.0%} of its threads' CPU time; first = the first call, not in the "
           "statistics; params per network; madds and mac (elements) per batch")
COLUMNS = (("model", "left"), ("device", "left"), ("mode", "left"), ("layout", "left"), ("dtype", "left"),
           ("threads", "right"), ("batch", "right"), ("params", "right"), ("madds", "right"), ("mac", "right"),
           ("n", "right"), ("median ms", "right"), ("IQR ms", "right"), ("p90 ms", "right"), ("min ms", "right"),
           ("images/s", "right"), ("first ms", "right"), ("noise", "left"))


def flags(r: dict) -> str:
    """The noise column: 'noisy' (IQR/median > 10%), 'contended' (CPU share < 85%), both, or 'ok'."""
    on = [f for f, v in (("noisy", r.get("noisy")), ("contended", r.get("contended"))) if v]
    return ", ".join(on) or "ok"


def _f(v, d=3) -> str:
    return "" if v is None else f"{v:.{d}f}"


def _title(machine: dict) -> str:
    gpu = (machine.get("gpu") or {}).get("name")
    return f"lwbench bench  {machine.get('cpu_model')}" + (f"  {gpu}" if gpu else "") + \
        f"  torch {(machine.get('torch') or {}).get('version')}"


def _cells(r: dict, escape) -> list[str]:
    base = [escape(str(r[k] or "")) for k in ("model", "device", "mode", "layout", "dtype", "threads", "batch")]
    counts = [si(r.get(k)) for k in ("params", "madds", "mac_elems")]
    if r["error"]:
        return [*base, *counts, *[""] * 7, f"[red]error: {escape(r['error'])}[/red]"]
    fl = flags(r)
    return [*base, *counts, str(r["n"]), _f(r["median_ms"]), _f(r["iqr_ms"]), _f(r["p90_ms"]), _f(r["min_ms"]),
            _f(r["images_per_s"], 1), _f(r["first_run_ms"], 1), fl if fl == "ok" else f"[yellow]{fl}[/yellow]"]


def bench_table(rows: list[dict], machine: dict):
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape(_title(machine)), caption=CAPTION)
    where = any((r.get("target") or "local") != "local" for r in rows)   # a sweep over targets: say where
    for c, j in COLUMNS[:1] + ((("target", "left"),) if where else ()) + COLUMNS[1:]:
        t.add_column(c, justify=j, no_wrap=c in ("model", "noise", "target"))
    for r in rows:
        cells = _cells(r, escape)
        t.add_row(*(cells[:1] + [escape(str(r.get("target") or "local"))] + cells[1:] if where else cells))
    return t
