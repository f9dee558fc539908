"""The latency-madds Pareto front of a sweep: per target (and per runtime, device, dtype, batch, threads, mode,
layout), the variants that are fastest for their madds: no other variant has at least as many madds (the
capacity a design buys) at no more latency, one of the two strictly better. Read by latency budget, the front
gives the variant with the most madds that fits it; a variant off the front is beaten by one that is both
faster and larger (ShuffleNet V2's point: madds do not predict latency, so the front is not just the madds
order)."""

from __future__ import annotations

GROUP_KEYS = ("target", "runtime", "device", "dtype", "batch", "threads", "mode", "layout")


def _fill_counts(rows: list[dict]) -> list[dict]:
    """Timing rows with madds: their own, else the analytic row of the same network, variant, batch, dtype."""
    counts = {(r["network"], r.get("width"), r.get("resolution"), r.get("batch"), r.get("dtype")): r
              for r in rows if r.get("kind") == "analytic" and r.get("status") == "ok"}
    out = []
    for r in rows:
        if r.get("kind") != "timing" or r.get("status") != "ok" or r.get("median_ms") is None:
            continue
        if r.get("madds") is None:
            a = counts.get((r["network"], r.get("width"), r.get("resolution"), r.get("batch"), r.get("dtype")))
            if a is None:
                continue
            r = {**r, "madds": a["madds"], "params": a["params"], "model": a.get("model", r.get("model"))}
        out.append(r)
    return out


def group_label(key: tuple) -> str:
    return " ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, key) if v is not None)


def fronts(rows: list[dict]) -> dict[tuple, tuple[list[dict], list[dict]]]:
    """group key -> (every timed point, its Pareto front sorted by madds)."""
    groups: dict[tuple, list[dict]] = {}
    for r in _fill_counts(rows):
        groups.setdefault(tuple(r.get(k) for k in GROUP_KEYS), []).append(r)
    out = {}
    for key, pts in groups.items():
        front, most = [], -1
        for r in sorted(pts, key=lambda r: (r["median_ms"], -r["madds"])):   # fastest first
            if r["madds"] > most:                   # more madds than every faster variant: on the front
                front.append(r)
                most = r["madds"]
        out[key] = (sorted(pts, key=lambda r: (r["madds"], r["median_ms"])), sorted(front, key=lambda r: r["madds"]))
    return out


def front_table(key: tuple, pts: list[dict], front: list[dict]):
    from rich.markup import escape
    from rich.table import Table

    from lwbench.report.human import si

    pred = str(key[0]).startswith("predicted:")
    t = Table(title=escape(f"Pareto front, {'PREDICTED' if pred else 'measured'} latency vs madds: {group_label(key)}"),
              caption=f"{len(front)} of {len(pts)} {'predicted (untimed)' if pred else 'timed'} variants are on the "
              "front: no other has at least as many madds at no more latency" +
              (" (latency: `lwbench predict` from the calibration named by the target)" if pred else ""))
    for c, j in (("model", "left"), ("width", "right"), ("resolution", "right"), ("params", "right"),
                 ("madds", "right"), ("predicted ms" if pred else "median ms", "right"), ("IQR ms", "right"), ("noise", "left")):
        t.add_column(c, justify=j, no_wrap=c == "model")
    for r in front:
        flags = ", ".join(f for f in ("noisy", "contended") if r.get(f)) or "ok"
        t.add_row(escape(str(r.get("model") or r["network"])), "" if r.get("width") is None else f"{r['width']:g}",
                  str(r.get("resolution") or ""), si(r.get("params")), si(r.get("madds")), f"{r['median_ms']:.3f}",
                  "" if r.get("iqr_ms") is None else f"{r['iqr_ms']:.3f}", flags)
    return t


def front_rows(rows: list[dict]) -> list[dict]:
    """The fronts as flat rows (CSV), by madds: group columns, model, width, resolution, params, madds, median_ms."""
    out = []
    for key, (_, front) in fronts(rows).items():
        for rank, r in enumerate(front, 1):
            latency = "predicted" if str(key[0]).startswith("predicted:") else "measured"
            out.append({**dict(zip(GROUP_KEYS, key)), "latency": latency, "rank": rank, "network": r["network"],
                        "model": r.get("model"), "width": r.get("width"), "resolution": r.get("resolution"),
                        "params": r.get("params"), "madds": r["madds"], "median_ms": r["median_ms"],
                        "iqr_ms": r.get("iqr_ms"), "host": r.get("host"), "id": r["id"]})
    return out


def _family(r: dict) -> str:
    from lwbench.report.plots import family

    return family(str(r.get("model") or r["network"]).split("[")[0])


def plot_fronts(rows: list[dict], path: str, title: str | None = None) -> int:
    """One panel per group: every timed variant (by family), the front as a line. Returns the points drawn."""
    from lwbench.report.plots import _figure, _save, check_figure_path

    check_figure_path(path, "--pareto")
    data = fronts(rows)
    if not data:
        from lwbench.errors import LwbenchError

        raise LwbenchError(f"--pareto {path}: no timed row with madds to plot")
    fig, axes = _figure(6.4 * len(data), 4.6, ncols=len(data)) if len(data) > 1 else _figure(7.0, 4.8)
    axes = axes if isinstance(axes, list) else [axes]
    n = 0
    for ax, (key, (pts, front)) in zip(axes, data.items()):
        fams = sorted({_family(r) for r in pts})
        for fam in fams:
            sel = [r for r in pts if _family(r) == fam]
            ax.scatter([r["madds"] / 1e6 for r in sel], [r["median_ms"] for r in sel], s=14, alpha=0.55, label=fam)
            n += len(sel)
        ax.plot([r["madds"] / 1e6 for r in front], [r["median_ms"] for r in front], "k-", lw=1.2, marker="o",
                ms=4, mfc="none", label="Pareto front")
        for r in front:                    # each front point named: model[width,resolution]
            tag = str(r.get("model") or r["network"]).replace("resolution=", "r").replace("width=", "w")
            ax.annotate(tag, (r["madds"] / 1e6, r["median_ms"]), fontsize=5, xytext=(3, -6),
                        textcoords="offset points")
        ax.set_xlabel("madds (millions, per batch)")
        ax.set_ylabel("predicted latency (ms)" if str(key[0]).startswith("predicted:") else "median latency (ms)")
        ax.set_title(group_label(key), fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    return n
