"""ShuffleNet V2's Figure 2: the share of forward time per op category (conv, element-wise, shuffle,
concat/split, other), measured on this device with forward hooks on every layer module."""

from __future__ import annotations

from collections.abc import Callable

from lwbench.report.tables.guidelines import FIG2_CATEGORIES
from lwbench.vocab import category_key

FIG2_NETS = ("shufflenet_v1_g3_x1_0", "mobilenet_v2")
# lwbench.count categories -> the paper's Figure 2 categories (conv includes linear: both are GEMMs)
_FIG2 = {"conv": "conv", "pointwise": "conv", "depthwise": "conv", "linear": "conv",
         "element-wise": "element-wise", "shuffle": "shuffle", "concat/split": "concat/split"}


def fig2_category(category: str) -> str:
    return _FIG2.get(category, "other")


def breakdown(names: list[str] | None, device: str = "cpu", threads: int | None = None, batch: int = 1,
              min_time_s: float = 1.0, resolution: int | None = None,
              on_skip: Callable[[str], None] | None = None,
              on_row: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """The paper's Figure 2: share of forward time per op category (conv, element-wise, shuffle, concat/split,
    other), measured on this device by `lwbench.measure.layers` (forward hooks on every layer module, whose
    names are the IR layer names). Each layer's time is its median over the measured runs; shares are of the
    sum over layers. The unhooked forward (median) is reported beside it, so the hooks' overhead is visible.
    Batch norm is a separate element-wise layer here (not folded), as in an unfused inference graph.
    Every network is loaded before any is timed: a name not in configs/ is skipped with `on_skip`'s line, and
    when no name is found the run is one InputError (nothing to measure is not a success). `on_row(rows so far)`
    is called after each network (the CLI writes its --output there, so an interrupted run keeps them).
    """
    from lwbench.errors import InputError, UnknownNameError
    from lwbench.spec import load

    nets, missing = [], []
    for name in names or FIG2_NETS:
        try:
            nets.append(load(name, resolution=resolution))
        except UnknownNameError as e:
            missing.append((name, e))
    if missing and not nets:
        raise InputError("--net: " + "; ".join(str(e) for _, e in missing))
    for name, _ in missing:
        if on_skip:
            on_skip(f"breakdown: {name} is not in configs/ (skipped)")
    rows: list[dict] = []
    for net in nets:
        rows.append(_breakdown_one(net, device, threads, batch, min_time_s))
        if on_row:
            on_row(list(rows))
    return rows


def _breakdown_one(net, device: str, threads: int | None, batch: int, min_time_s: float) -> dict:
    from lwbench.count import count
    from lwbench.measure.layers import timed_profile
    from lwbench.measure.timer import TimerConfig

    prof = count(net, batch=batch)
    cfg = TimerConfig(min_time_s=min_time_s, warmup_s=min(0.3, min_time_s), max_time_s=max(10.0, min_time_s))
    res = timed_profile(net, prof, device=device, threads=threads, cfg=cfg)
    per = dict.fromkeys(FIG2_CATEGORIES, 0.0)
    for r in res["layers"]:
        per[fig2_category(r["category"])] += r["time_ms"] or 0.0
    total = sum(per.values())
    row = {"model": net.name, "device": device, "batch": batch, "threads": threads, "runs": res["hooked"].n,
           "forward_median_ms": res["end_to_end"].median_ms, "hooked_median_ms": res["hooked"].median_ms,
           "layers_total_ms": total}
    for c in FIG2_CATEGORIES:
        key = category_key(c)
        row[f"{key}_ms"] = per[c]
        row[f"{key}_pct"] = 100 * per[c] / total if total else 0.0
    row["madds"] = prof.totals["madds"]
    return row
