"""Plots with matplotlib (Agg backend, imported inside the functions), each made from an export's DataFrame.

Every function writes the figure (PNG or SVG by the file extension) and returns the DataFrame it plotted,
so a test can check the plotted numbers against the export.

- `latency_vs_madds`: one labelled point per network, latency (or speed) against madds: the picture of
  ShuffleNet V2's Figure 1(c)(d) (Ma et al., ECCV 2018), which shows that madds do not predict speed.
- `layer_shares`: per layer (or per kind / category), its share of madds, of mac and of measured time.
- `roofline`: per layer, achieved GFLOP/s = 2·madds / time against arithmetic intensity =
  2·madds / mac_bytes (FLOP per byte of the ShuffleNet V2 memory access cost), under the device's roofs
  min(peak_gflops, intensity · peak_gbs) (Williams et al., "Roofline", CACM 2009).
- `guideline_ratios`: for each G1–G4 setting, the measured speed ratio to the reference row beside the
  paper's GPU and ARM ratios (ShuffleNet V2, Tables 1–4).
"""

from __future__ import annotations

from pathlib import Path

from lwbench.errors import InputError

PLOT_KINDS = ("latency-vs-madds", "layer-shares", "roofline", "guideline-ratios")
SPEED_COLUMNS = ("median_ms", "min_ms", "p90_ms", "mean_ms", "images_per_s", "batches_per_s")


def _figure(width: float, height: float, ncols: int = 1):
    """A figure on the Agg backend (no display needed): (fig, ax), or (fig, [ax, …]) with ncols > 1."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, ncols, figsize=(width, height), dpi=110, squeeze=ncols == 1)
    return fig, (ax if ncols == 1 else list(ax[0]))


FIGURE_EXTENSIONS = ("png", "svg", "pdf")


def check_figure_path(path: str | Path, option: str = "--plot/--output") -> str:
    """The figure format from the extension (png, svg, pdf); anything else is one line (InputError)."""
    if not str(path).strip():
        raise InputError(f"{option}: an empty path; name a .png, .svg or .pdf file")
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FIGURE_EXTENSIONS:
        raise InputError(f"{option} {path}: expected a .png, .svg or .pdf file")
    from lwbench.report.write import check_writable

    check_writable(path)  # before anything is measured: a folder of that name, an unwritable folder
    return ext


def _save(fig, path: str | Path) -> None:
    """Write atomically through report.write.atomic_file (the one write path: a failure is one line, the old
    figure kept, no temp file left), PNG, SVG or PDF by extension."""
    import matplotlib.pyplot as plt

    from lwbench.report.write import atomic_file

    try:
        ext = check_figure_path(path)
        with atomic_file(path, "wb") as f:
            fig.savefig(f, format=ext, bbox_inches="tight")
    finally:
        plt.close(fig)


def _one_model(frame, model: str | None, what: str):
    models = list(dict.fromkeys(frame["model"]))
    if model is None:
        if len(models) > 1:
            raise InputError(f"{what}: the file holds {len(models)} networks ({', '.join(models[:5])}"
                             f"{', …' if len(models) > 5 else ''}); choose one with --model")
        return frame, models[0] if models else ""
    if model not in models:
        from lwbench.errors import suggest

        raise InputError(f"{what}: no network {model!r} in the file{suggest(model, models)}")
    return frame[frame["model"] == model], model


# --- (1) latency against madds --------------------------------------------------------------------------

def latency_data(frame, y: str = "median_ms", summary=None):
    """Rows that ran, one per network and configuration: model, series, madds, <y>. madds comes from the
    timing rows, else from `summary` rows (joined on model), else from counting the zoo network."""
    import pandas as pd

    if y not in frame.columns:
        raise InputError(f"latency-vs-madds: no column {y} in the file (a `lwbench bench` export has "
                         f"{', '.join(SPEED_COLUMNS)})")
    df = frame.copy()
    if "error" in df.columns:
        df = df[df["error"].fillna("") == ""]
    df = df[df[y].notna()]
    if summary is not None:
        df = df.drop(columns=[c for c in ("madds",) if c in df.columns]).merge(
            summary[["model", "madds"]].drop_duplicates("model"), on="model", how="left")
    if "madds" not in df.columns or df["madds"].isna().any():
        df = _fill_madds(df)
    if df.empty:
        raise InputError("latency-vs-madds: no row ran (every row has an error or no latency)")
    df["series"] = _series(df)
    return pd.DataFrame({"model": df["model"].to_numpy(), "series": df["series"].to_numpy(),
                         "family": df["model"].map(family).to_numpy(),
                         "madds": df["madds"].astype("int64").to_numpy(), y: df[y].astype(float).to_numpy()})


RUN_AXES = ("runtime", "mode", "dtype", "options")     # what executes the network: one series each
OTHER_AXES = ("device", "layout", "threads", "batch")


def _series(df) -> list[str]:
    """Each row's series: what ran it (runtime, its mode for torch, dtype, and runtime options such as ort_opt where
    they vary within one runtime) when any of these varies in the file, as words ('torch eager float32', 'torch compile float32', 'onnxruntime int8');
    then `key=value` for any other setting that varies (device, layout, threads, batch). '' when nothing varies."""
    def varies(c: str) -> bool:
        return c in df.columns and df[c].fillna("").astype(str).nunique() > 1

    run = any(varies(c) for c in RUN_AXES)
    other = [c for c in OTHER_AXES if varies(c)]
    seen: dict[str, set] = {}
    for _, r in df.iterrows():
        seen.setdefault(str(r.get("runtime") or "torch"), set()).add(str(r.get("options") or ""))
    opts_vary = any(len(v) > 1 for v in seen.values())

    def label(r) -> str:
        words = []
        if run:
            rt = str(r.get("runtime") or "torch")
            words.append(rt)
            if rt != "onnxruntime":           # ONNX Runtime rows are all --mode eager: its mode is --ort-opt
                words.append(str(r.get("mode") or "eager"))
            words.append(str(r.get("dtype") or "float32"))
            opts = r.get("options")
            if opts_vary and isinstance(opts, str) and opts:     # e.g. --ort-opt basic,all
                words.append(opts)
        return " ".join(words + [f"{c}={r[c]}" for c in other])

    return [label(r) for _, r in df.iterrows()]


def _fill_madds(df):
    from lwbench.count import count
    from lwbench.spec import load

    df = df.copy()
    if "madds" not in df.columns:
        df["madds"] = None
    for i, r in df[df["madds"].isna()].iterrows():
        batch = int(r["batch"]) if "batch" in df.columns and r["batch"] == r["batch"] else 1
        try:
            df.at[i, "madds"] = count(load(str(r["model"])), batch).totals["madds"]
        except Exception as e:  # noqa: BLE001 - any failure becomes one line
            raise InputError(f"latency-vs-madds: no madds for {r['model']} in the file and it cannot be counted "
                             f"({e}); give a summary with --join") from None
    return df


def family(model: str) -> str:
    """A network's family for the plot's lines: the name without its width/resolution suffix
    (shufflenet_v2_x1_5 -> shufflenet_v2, mobilenet_v1_r128 -> mobilenet_v1, efficientnet_b3 -> efficientnet)."""
    import re

    name = re.sub(r"(_x\d+(_\d+)?|_r\d+)$", "", str(model))
    return re.sub(r"^(efficientnet)_b\d+$", r"\1", name)


def latency_vs_madds(frame, path, y: str = "median_ms", summary=None, title: str | None = None):
    """One labelled point per network: madds (x, millions) against latency or speed (y). One series (one colour,
    one legend entry) per configuration that ran the networks: runtime x mode x dtype (torch eager, torch compile,
    onnxruntime float32, onnxruntime int8, ...) and any other varying setting; within a series the networks of one
    family (widths of ShuffleNet V2, ...) are joined by a line, as in ShuffleNet V2's Figure 1(c)(d), and the
    family is the marker shape (a second legend). The returned data's `attrs["legend"]` lists the series labels
    drawn, `attrs["families"]` the marker legend."""
    import itertools

    data = latency_data(frame, y, summary)
    fig, ax = _figure(8.5, 5.5)
    colors = dict(zip(dict.fromkeys(data["series"]), itertools.cycle(f"C{i}" for i in range(10))))
    markers = dict(zip(dict.fromkeys(data["family"]), itertools.cycle("os^Dv<>pPX*h")))
    for (series, fam), g in data.groupby(["series", "family"], sort=False):
        g = g.sort_values("madds")
        ax.plot(g["madds"] / 1e6, g[y], "-" if len(g) > 1 else "", marker=markers[fam], ms=5, lw=1,
                color=colors[series], zorder=3)
        for _, r in g.iterrows():
            ax.annotate(r["model"], (r["madds"] / 1e6, r[y]), textcoords="offset points", xytext=(4, 3),
                        fontsize=6, alpha=0.8)
    _log_axes(ax, data, y)
    ax.set_xlabel("madds (millions of multiply-adds per batch)")
    unit = {"images_per_s": "images/s", "batches_per_s": "batches/s"}.get(y, "ms")
    ax.set_ylabel(f"{y} ({unit})")
    ax.grid(True, which="both", alpha=0.25)
    ax.set_title(title or f"{y} against madds, one point per network (cf. ShuffleNet V2, Fig. 1(c)(d))")
    data.attrs["legend"] = _legends(ax, colors, markers)
    data.attrs["families"] = list(markers)
    _save(fig, path)
    return data


def _log_axes(ax, data, y: str) -> None:
    if data["madds"].max() > 30 * data["madds"].min():
        ax.set_xscale("log")
    if data[y].max() > 10 * data[y].min() > 0:
        ax.set_yscale("log")


def _legends(ax, colors: dict, markers: dict) -> list[str]:
    """The series legend (colour lines; one entry per series) and the family legend (grey markers); returns the
    series legend's labels ([the family names] when there is a single unnamed series)."""
    from matplotlib.lines import Line2D

    fam = [Line2D([], [], ls="", marker=m, color="grey", ms=5, label=f) for f, m in markers.items()]
    named = [s for s in colors if s]
    if not named:
        ax.legend(handles=fam, fontsize=6, ncol=2, title="family", title_fontsize=7)
        return list(markers)
    series = [Line2D([], [], color=c, lw=2, label=s) for s, c in colors.items()]
    # both outside the axes (no point hidden); the second through the figure, which bbox_inches="tight" keeps
    ax.legend(handles=series, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="series",
              title_fontsize=7)
    ax.figure.legend(handles=fam, fontsize=6, loc="lower left", bbox_to_anchor=(1.01, 0.0),
                     bbox_transform=ax.transAxes, title="family (marker)", title_fontsize=7)
    return [h.get_label() for h in series]


# --- (2) madds share vs mac share vs time share per layer ------------------------------------------------

def shares_data(frame, model: str | None = None, group: str = "layer"):
    """Per layer (or kind / category): madds_share, mac_share and, when measured, time_share (fractions)."""
    import pandas as pd

    df, _ = _one_model(frame, model, "layer-shares")
    if group not in ("layer", "kind", "category"):
        raise InputError(f"--group: expected layer, kind or category, got {group}")
    cols = ["madds", "mac_elems"] + (["time_ms"] if "time_ms" in df.columns and df["time_ms"].notna().any()
                                     else [])
    g = df.groupby(group, sort=False)[cols].sum(min_count=1).reset_index()
    out = pd.DataFrame({group: g[group].astype(str).to_numpy()})
    for c, name in (("madds", "madds_share"), ("mac_elems", "mac_share"), ("time_ms", "time_share")):
        if c in cols:
            tot = g[c].sum()
            out[name] = (g[c].astype(float) / tot).fillna(0.0).to_numpy() if tot else 0.0
    return out


def layer_shares(frame, path, model: str | None = None, group: str = "layer", title: str | None = None):
    """Horizontal bars, one group per layer: share of madds, of mac and of time (ShuffleNet V2, Fig. 2)."""
    import numpy as np

    df, name = _one_model(frame, model, "layer-shares")
    data = shares_data(df, None, group)
    series = [c for c in ("madds_share", "mac_share", "time_share") if c in data.columns]
    n = len(data)
    fig, ax = _figure(8.0, max(3.0, 0.22 * n * (len(series) / 2) + 1.5))
    y = np.arange(n)
    h = 0.8 / len(series)
    colors = {"madds_share": "tab:blue", "mac_share": "tab:orange", "time_share": "tab:green"}
    for i, s in enumerate(series):
        ax.barh(y + (i - (len(series) - 1) / 2) * h, 100 * data[s], height=h, label=s.replace("_", " "),
                color=colors[s])
    ax.set_yticks(y, data[group], fontsize=6 if n > 30 else 8)
    ax.invert_yaxis()
    ax.set_xlabel("% of the network total")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title or f"{name}: madds share vs mac share" + (" vs time share" if "time_share" in series
                                                                   else "") + f" per {group}")
    _save(fig, path)
    return data


# --- (3) roofline ----------------------------------------------------------------------------------------

def roofline_data(frame, model: str | None = None):
    """Per layer with madds > 0 and a measured time: intensity_flop_per_byte = 2·madds / mac_bytes and
    gflop_per_s = 2·madds / time. Layers without madds (element-wise, pooling, …) have no place on it."""
    import pandas as pd

    df, _ = _one_model(frame, model, "roofline")
    if "time_ms" not in df.columns or df["time_ms"].isna().all():
        raise InputError("roofline: needs per-layer time (a `lwbench profile NET --time -o x.csv` export); "
                         "this file has none")
    if "mac_bytes" not in df.columns:
        raise InputError("roofline: needs the mac_bytes column")
    ok = (df["madds"] > 0) & (df["time_ms"] > 0) & (df["mac_bytes"] > 0)
    d = df[ok]
    return pd.DataFrame({
        "layer": d["layer"].to_numpy(), "category": d["category"].to_numpy() if "category" in d else "",
        "intensity_flop_per_byte": (2.0 * d["madds"] / d["mac_bytes"]).to_numpy(dtype=float),
        "gflop_per_s": (2.0 * d["madds"] / (d["time_ms"] * 1e-3) / 1e9).to_numpy(dtype=float),
    })


def roofline(frame, path, peak_gflops: float, peak_gbs: float, model: str | None = None,
             title: str | None = None, cache_gbs: float | None = None):
    """Achieved GFLOP/s against arithmetic intensity, per layer, under the roofs of the device."""
    import numpy as np

    if not (peak_gflops > 0 and peak_gbs > 0):
        raise InputError(f"roofline: peaks must be positive, got {peak_gflops} GFLOP/s and {peak_gbs} GB/s")
    df, name = _one_model(frame, model, "roofline")
    data = roofline_data(df)
    if data.empty:
        raise InputError("roofline: no layer has both madds and a measured time")
    fig, ax = _figure(7.5, 5.0)
    lo = min(data["intensity_flop_per_byte"].min(), peak_gflops / peak_gbs) / 4
    hi = max(data["intensity_flop_per_byte"].max(), peak_gflops / peak_gbs) * 4
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    ax.plot(xs, np.minimum(peak_gflops, xs * peak_gbs), color="black", lw=1.2,
            label=f"roof: {peak_gflops:.0f} GFLOP/s, memory {peak_gbs:.1f} GB/s")
    if cache_gbs and cache_gbs > peak_gbs:
        ax.plot(xs, np.minimum(peak_gflops, xs * cache_gbs), color="grey", lw=1.0, ls="--",
                label=f"cache roof: {cache_gbs:.0f} GB/s (1 MiB copy)")
    for cat, g in data.groupby("category", sort=False):
        ax.scatter(g["intensity_flop_per_byte"], g["gflop_per_s"], s=18, label=str(cat), zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte of mac = 2·madds / mac_bytes)")
    ax.set_ylabel("achieved GFLOP/s (2·madds / time)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)
    ax.set_title(title or f"{name}: roofline per layer")
    _save(fig, path)
    return data


# --- (4) guideline ratios --------------------------------------------------------------------------------

def guideline_data(frame):
    """guideline, scale, setting, ratio (measured), paper_gpu_ratio, paper_arm_ratio: one row per setting."""
    import pandas as pd

    need = [c for c in ("guideline", "setting", "ratio") if c not in frame.columns]
    if need:
        raise InputError(f"guideline-ratios: needs a `lwbench guidelines` export (missing {', '.join(need)})")
    cols = ["guideline", "scale", "setting", "ratio", "paper_gpu_ratio", "paper_arm_ratio"]
    df = frame.copy()
    for c in cols:
        if c not in df.columns:
            df[c] = "" if c == "scale" else float("nan")
    return pd.DataFrame({c: df[c].to_numpy() for c in cols})


def guideline_ratios(frame, path, title: str | None = None):
    """One panel per guideline: grouped bars of the measured and the paper's speed ratios per setting."""
    import numpy as np

    data = guideline_data(frame)
    groups = list(dict.fromkeys(data["guideline"]))
    fig, axes = _figure(4.2 * len(groups), 4.2, ncols=max(2, len(groups)))
    series = (("ratio", "measured", "tab:green"), ("paper_gpu_ratio", "paper GPU", "tab:blue"),
              ("paper_arm_ratio", "paper ARM", "tab:orange"))
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    for ax, g in zip(axes, groups):
        d = data[data["guideline"] == g]
        x = np.arange(len(d))
        for i, (col, label, color) in enumerate(series):
            ax.bar(x + (i - 1) * 0.27, d[col].astype(float), width=0.27, label=label, color=color)
        ax.axhline(1.0, color="black", lw=0.8)
        labels = [f"{s} {t}" if s else str(t) for s, t in zip(d["scale"], d["setting"])]
        ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
        ax.set_title(g)
        ax.set_ylabel("speed / reference setting")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title or "ShuffleNet V2 guidelines: measured speed ratios beside the paper's (Tables 1-4)")
    _save(fig, path)
    return data


def auto_kind(kind: str, columns) -> str:
    """The plot an export calls for: timing rows -> latency-vs-madds; per-layer rows -> layer-shares."""
    if kind in ("timing", "summary"):
        return "latency-vs-madds"
    if kind == "layers":
        return "layer-shares"
    if kind == "guidelines":
        return "guideline-ratios"
    raise InputError(f"plot: no default plot for a {kind} export; choose --kind ({', '.join(PLOT_KINDS)})")


def plot_rows(rows, path, kind: str = "auto", **options):
    """Plot rows as a command has them in memory (a `--plot PATH` hook for bench, profile, guidelines): the
    rows are typed and recognised by the schema like a loaded file, then drawn by `kind` (auto: by the
    export kind). Returns the plotted data."""
    import pandas as pd

    from lwbench.report.load import coerce
    from lwbench.report.schema import validate

    frame = pd.DataFrame(list(rows))
    found = validate(frame)
    frame = coerce(frame, found)
    k = auto_kind(found, frame.columns) if kind == "auto" else kind
    if k == "latency-vs-madds":
        return latency_vs_madds(frame, path, **options)
    if k == "layer-shares":
        return layer_shares(frame, path, **options)
    if k == "roofline":
        return roofline(frame, path, **options)
    if k == "guideline-ratios":
        return guideline_ratios(frame, path, **options)
    raise InputError(f"--kind: expected one of {', '.join(PLOT_KINDS)}, got {k}")
