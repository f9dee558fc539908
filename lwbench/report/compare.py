"""Align the rows of several lwbench exports (two networks, two machines, two lwbench versions) and put their
values and ratios side by side. File A is the baseline: ratio = value in file X / value in file A.

Keys: `layer` (per-layer rows by layer name), `kind` / `category` (per-layer rows summed per op kind or
category), `model` (one row per network and configuration: summaries, timing and guideline rows as they are,
per-layer rows summed per network), or an explicit comma-separated list of columns. Configuration columns that
are constant within every file (device, dtype, …) are not part of the key: they are what differs between the
files, and are reported apart (`constants`).
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field

from lwbench.errors import InputError, suggest
from lwbench.report.load import Export
from lwbench.report.schema import KINDS, better, column_info

SPECIAL_KEYS = ("layer", "kind", "category", "model")
DEFAULT_METRICS = {
    "layers": ("madds", "mac_elems", "time_ms"),
    "summary": ("params", "madds", "mac_elems", "median_ms"),
    "timing": ("median_ms", "images_per_s"),
    "guidelines": ("median_ms", "ratio"),
    "breakdown": ("forward_median_ms", "layers_total_ms"),
    "verify": ("madds_analytic", "madds_torch"),
}
GENERIC_METRICS = ("madds", "mac_elems", "params", "median_ms")  # files of different kinds: what they share
IDENTITY = {"summary": ("model",), "timing": ("model",), "guidelines": ("guideline", "setting", "scale"),
            "layers": ("model",), "breakdown": ("model",)}
ADDITIVE = ("params", "madds", "mac_elems", "mac_bytes", "out_elems", "time_ms", "layers")
SUMMABLE = ADDITIVE + ("time_pct", "madds_pct", "mac_pct")  # per-layer columns that add up per kind/category


@dataclass
class Comparison:
    frame: object  # pandas.DataFrame: keys, <metric>_<label>, <metric>_ratio_<label>, present
    keys: list[str]
    metrics: list[str]
    files: dict[str, str]  # label -> path
    kinds: dict[str, str]
    constants: dict[str, dict[str, object]] = field(default_factory=dict)  # column -> label -> value
    machines: dict[str, dict] = field(default_factory=dict)  # label -> machine block of that input file
    machine: dict = field(default_factory=dict)  # where the comparison itself was made (lwbench version, command)

    @property
    def labels(self) -> list[str]:
        return list(self.files)

    def value_col(self, metric: str, label: str) -> str:
        return f"{metric}_{label}"

    def ratio_col(self, metric: str, label: str) -> str:
        return f"{metric}_ratio_{label}"

    def comments(self) -> dict:
        out: dict = {"machine": self.machine} if self.machine else {}
        out.update({"files": self.files, "keys": self.keys, "metrics": self.metrics})
        if self.constants:
            out["constants"] = self.constants
        if self.machines:
            out["machines"] = self.machines
        return out

    def to_dict(self) -> dict:
        return {**self.comments(), "columns": [str(c) for c in self.frame.columns], "rows": records(self.frame)}


def records(frame) -> list[dict]:
    """DataFrame rows as plain Python values (NaN -> None) for JSON and CSV writers."""
    import pandas as pd

    def plain(v):
        if not isinstance(v, (list, tuple, dict)) and pd.isna(v):
            return None
        return v.item() if hasattr(v, "item") else v

    return [{k: plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _labels(n: int) -> list[str]:
    if n > len(string.ascii_uppercase):
        raise InputError(f"compare: at most {len(string.ascii_uppercase)} files, got {n}")
    return list(string.ascii_uppercase[:n])


def _reduce(ex: Export, label: str, key: str, multi_model: bool):
    """The rows of one file at the granularity of `key` (per-layer rows summed per kind/category/model)."""
    df = ex.frame
    if ex.kind != "layers" or key == "layer" or key not in SPECIAL_KEYS:
        return df
    by = [key] if key == "model" else (["model", key] if multi_model else [key])
    num = [c for c in SUMMABLE if c in df.columns]
    g = df.groupby(by, sort=False)
    out = g[num].sum(min_count=1).reset_index()
    out.insert(len(by), "layers", g.size().to_numpy())
    return out


def _key_columns(exports: list[Export], frames: list, key: str, labels: list[str]) -> tuple[list[str], dict]:
    """Columns to align on, and the configuration columns left out because they are constant per file."""
    kinds = {ex.kind for ex in exports}
    kind = exports[0].kind
    multi_model = any(f["model"].nunique() > 1 for f in frames if "model" in f.columns)
    if key not in SPECIAL_KEYS:
        keys = [k.strip() for k in key.split(",") if k.strip()]
        for ex, f, lab in zip(exports, frames, labels):
            miss = [k for k in keys if k not in f.columns]
            if miss:
                raise InputError(f"{ex.path} ({lab}): no key column {', '.join(miss)}"
                                 f"{suggest(miss[0], list(f.columns))}")
        return keys, {}
    if key in ("layer", "kind", "category"):
        return (["model", key] if multi_model else [key]), {}
    # key == "model"
    if len(kinds) > 1 or kind == "layers":
        _need_model(exports, frames)
        return ["model"], {}
    ident = [c for c in IDENTITY.get(kind, ("model",)) if all(c in f.columns for f in frames)]
    config = [c for c in KINDS[kind].config if c not in ident and all(c in f.columns for f in frames)]
    keys, constants = list(ident), {}
    for c in config:
        if any(f[c].nunique(dropna=False) > 1 for f in frames):
            keys.append(c)
        else:
            vals = {lab: _plain(f[c].iloc[0]) if len(f) else None for lab, f in zip(labels, frames)}
            constants[c] = vals
    return keys, constants


def _need_model(exports: list[Export], frames: list) -> None:
    """Exports of different kinds line up per network: each needs a `model` column (guideline rows have none)."""
    for ex, f in zip(exports, frames):
        if "model" not in f.columns:
            ident = ", ".join(IDENTITY.get(ex.kind, ()))
            others = ", ".join(f"{o.path} ({o.kind})" for o in exports if o is not ex)
            raise InputError(f"compare: {ex.path} is a {ex.kind} export (rows keyed by {ident or 'its own columns'}, "
                             f"no model column), so it cannot be aligned per network with {others}; compare "
                             "exports of the same kind, or name key columns every file has with --key col1,col2")


def _check_layer_key(exports: list[Export], key: str) -> None:
    """--key layer/kind/category: per-layer exports that have that column."""
    for ex in exports:
        if ex.kind != "layers":
            raise InputError(f"compare --key {key}: needs per-layer exports (`lwbench profile NET -o x.csv`); "
                             f"got {ex.path}: {ex.kind}")
        if key not in ex.frame.columns:
            raise InputError(f"{ex.path}: no {key} column to align on; use --key layer or --key kind")


def _align_key_types(frames: list, keys: list[str]) -> list:
    """The same key column typed differently in two files (an integer column with gaps, an unknown column read
    as numbers in one file and text in another) would not merge: numbers become floats, else text."""
    import pandas as pd

    for k in keys:
        dtypes = {str(f[k].dtype) for f in frames}
        if len(dtypes) < 2:
            continue
        numeric = all(pd.api.types.is_numeric_dtype(f[k]) and not pd.api.types.is_bool_dtype(f[k]) for f in frames)
        conv = (lambda s: s.astype("float64")) if numeric else \
            (lambda s: s.map(lambda v: None if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                             else str(v)).astype(object))
        frames = [f.assign(**{k: conv(f[k])}) for f in frames]
    return frames


def _plain(v):
    if hasattr(v, "item"):
        v = v.item()
    return None if isinstance(v, float) and math.isnan(v) else v


def _default_key(exports: list[Export]) -> str:
    return "layer" if all(ex.kind == "layers" for ex in exports) else "model"


def _metrics(requested: list[str] | None, exports: list[Export], frames: list, labels: list[str]) -> list[str]:
    import pandas as pd

    if requested:
        metrics = list(dict.fromkeys(m.strip() for r in requested for m in r.split(",") if m.strip()))
        if not metrics:
            raise InputError("--metric: name a number column to compare (madds, mac_elems, median_ms, images_per_s, …)")
        for ex, f, lab in zip(exports, frames, labels):
            for m in metrics:
                if m not in f.columns:
                    raise InputError(f"{ex.path} ({lab}): no column {m} to compare{suggest(m, list(f.columns))}")
                if not pd.api.types.is_numeric_dtype(f[m]) or pd.api.types.is_bool_dtype(f[m]):
                    raise InputError(f"{ex.path} ({lab}): column {m} is not numeric; --metric takes a number "
                                     "column (madds, mac_elems, median_ms, images_per_s, …)")
        return metrics
    kind = exports[0].kind
    cands = DEFAULT_METRICS.get(kind, ("madds", "median_ms"))
    metrics = [m for m in cands if all(m in f.columns and f[m].notna().any() for f in frames)]
    if not metrics and len({ex.kind for ex in exports}) > 1:  # different kinds: what they have in common
        more = [m for ex in exports[1:] for m in DEFAULT_METRICS.get(ex.kind, ())] + list(GENERIC_METRICS)
        metrics = [m for m in dict.fromkeys(more) if all(m in f.columns and f[m].notna().any() for f in frames)]
    if not metrics:
        shared = [c for c in frames[0].columns if all(
            c in f.columns and pd.api.types.is_numeric_dtype(f[c]) and not pd.api.types.is_bool_dtype(f[c])
            and f[c].notna().any() for f in frames)]
        kinds = ", ".join(f"{lab}: {ex.kind}" for ex, lab in zip(exports, labels))
        hint = f"; numeric columns they share: {', '.join(shared[:8])}" if shared else "; they share no numeric column"
        raise InputError(f"compare: the files ({kinds}) share none of the columns {', '.join(cands)}; name one "
                         f"with --metric{hint}")
    return metrics


def _dedupe(frame, keys: list[str]):
    """Repeated keys within a file (repeated runs) are told apart by their occurrence: column `run`."""
    if frame.duplicated(keys).any():
        frame = frame.copy()
        frame["run"] = frame.groupby(keys, sort=False, dropna=False).cumcount() + 1
        return frame, [*keys, "run"]
    return frame, keys


def compare(exports: list[Export], key: str = "auto", metrics: list[str] | None = None) -> Comparison:
    """Align the rows of `exports` on `key` and compute each metric's value per file and ratio to file A."""
    import pandas as pd

    labels = _labels(len(exports))
    key = _check_inputs(exports, key)
    multi_model = any(ex.frame["model"].nunique() > 1 for ex in exports if "model" in ex.frame.columns)
    frames = [_reduce(ex, lab, key, multi_model) for ex, lab in zip(exports, labels)]
    keys, constants = _key_columns(exports, frames, key, labels)
    metrics = _metrics(metrics, exports, frames, labels)
    metrics = [m for m in metrics if m not in keys]
    if not metrics:
        raise InputError("compare: every metric is also a key column; choose another --metric or --key")
    if not keys:
        raise InputError("compare: no key column to align the rows on; name some with --key col1,col2")
    frames = _align_key_types(frames, keys)
    dedup = [_dedupe(f, keys) for f in frames]
    keys = max((k for _, k in dedup), key=len)
    merged = _merge(dedup, keys, metrics, labels, exports)
    base = labels[0]
    for m in metrics:
        for lab in labels[1:]:
            a, b = merged[f"{m}_{base}"].astype("float64"), merged[f"{m}_{lab}"].astype("float64")
            ratio = b / a
            ratio = ratio.where(~((a == 0) & (b == 0)), 1.0)
            merged[f"{m}_ratio_{lab}"] = ratio
    merged["present"] = merged[[f"_in_{lab}" for lab in labels]].apply(
        lambda r: ",".join(lab for lab, v in zip(labels, r) if v), axis=1)
    order = keys + [f"{m}_{lab}" for m in metrics for lab in labels] + \
        [f"{m}_ratio_{lab}" for m in metrics for lab in labels[1:]] + ["present"]
    frame = merged[order].reset_index(drop=True)
    for m in metrics:  # integer metrics stay integers where every file has the row
        for lab in labels:
            col = f"{m}_{lab}"
            if pd.api.types.is_float_dtype(frame[col]) and all(pd.api.types.is_integer_dtype(f[m]) for f, _ in dedup):
                frame[col] = frame[col].astype("Int64")
    return Comparison(frame=frame, keys=keys, metrics=metrics,
                      files={lab: ex.path for lab, ex in zip(labels, exports)},
                      kinds={lab: ex.kind for lab, ex in zip(labels, exports)}, constants=constants,
                      machines={lab: ex.machine for lab, ex in zip(labels, exports) if ex.machine})


def _check_inputs(exports: list[Export], key: str) -> str:
    """At least two exports of comparable kinds, each with rows; returns the key (`auto`: by the kind)."""
    if len(exports) < 2:
        raise InputError("compare: give at least two files (a file may be compared with itself)")
    kinds = {ex.kind for ex in exports}
    if "compare" in kinds:
        raise InputError("compare: a comparison export cannot be compared again; compare the original files")
    key = _default_key(exports) if key in ("auto", "", None) else key
    if len(kinds) > 1 and key in ("layer", "kind", "category"):
        desc = ", ".join(f"{ex.path}: {ex.kind}" for ex in exports)
        raise InputError(f"compare: the files are different kinds of export ({desc}); use --key model to compare "
                         "per-network figures")
    if key in ("layer", "kind", "category"):
        _check_layer_key(exports, key)
    for ex in exports:
        if ex.frame.empty:
            raise InputError(f"{ex.path}: no rows to compare")
    return key


def _merge(dedup, keys: list[str], metrics: list[str], labels: list[str], exports: list[Export]):
    """The outer join of every file's rows on `keys` (metric columns suffixed by the file's label), in the
    files' row order; a file sharing no row with A is one line."""
    merged = None
    for (f, _), lab in zip(dedup, labels):
        if "run" in keys and "run" not in f.columns:
            f = f.assign(run=1)
        part = f[keys + metrics].copy()
        part = part.rename(columns={m: f"{m}_{lab}" for m in metrics})
        part[f"_in_{lab}"] = True
        part[f"_o_{lab}"] = range(len(part))
        merged = part if merged is None else merged.merge(part, on=keys, how="outer", sort=False)
    merged = merged.sort_values([f"_o_{lab}" for lab in labels], na_position="last", kind="stable")
    for lab in labels:
        merged[f"_in_{lab}"] = merged[f"_in_{lab}"].fillna(False).astype(bool)
    for lab in labels[1:]:
        if not (merged[f"_in_{labels[0]}"] & merged[f"_in_{lab}"]).any():
            raise InputError(f"compare: no common rows between {exports[0].path} and "
                             f"{exports[labels.index(lab)].path} on key {', '.join(keys)} "
                             f"(e.g. {_example(dedup[0][0], keys)} vs {_example(dedup[labels.index(lab)][0], keys)})")
    return merged


def _example(frame, keys: list[str]) -> str:
    if not len(frame):
        return "no rows"
    r = frame.iloc[0]
    return "/".join(str(r[k]) for k in keys)


def verdict(metric: str, ratio: float, tolerance: float) -> str:
    """'better', 'worse' or 'same' for a ratio (to the baseline) of a metric, using the schema's direction."""
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return "same"
    way = better(metric)
    if not way or abs(ratio - 1.0) <= tolerance:
        return "same"
    lower = ratio < 1.0
    return "better" if (lower and way == "lower") or (not lower and way == "higher") else "worse"


def changed(cmp: Comparison, tolerance: float = 0.02) -> Comparison:
    """Only the rows that differ: absent from some file, or a ratio off 1 (exact counts: at all; measured
    figures: by more than `tolerance`)."""
    import pandas as pd

    f = cmp.frame
    keep = f["present"] != ",".join(cmp.labels)
    for m in cmp.metrics:
        exact = all(pd.api.types.is_integer_dtype(f[cmp.value_col(m, lab)]) for lab in cmp.labels)
        tol = 0.0 if exact else tolerance
        for lab in cmp.labels[1:]:
            r = f[cmp.ratio_col(m, lab)]
            keep |= r.notna() & ((r - 1.0).abs() > tol)
    return Comparison(frame=f[keep].reset_index(drop=True), keys=cmp.keys, metrics=cmp.metrics, files=cmp.files,
                      kinds=cmp.kinds, constants=cmp.constants, machines=cmp.machines, machine=cmp.machine)


def summary_ratios(cmp: Comparison) -> dict[str, tuple[float, str]]:
    """One figure per ratio column over the rows present in A and X: for parts of a whole (per-layer rows of
    an additive metric) the ratio of the sums ('total'), else the geometric mean of the ratios over rows
    with non-zero values ('geomean')."""
    out = {}
    parts = all(k == "layers" for k in cmp.kinds.values())
    base = cmp.labels[0]
    for m in cmp.metrics:
        for lab in cmp.labels[1:]:
            a, b = cmp.frame[f"{m}_{base}"].astype("float64"), cmp.frame[f"{m}_{lab}"].astype("float64")
            both = a.notna() & b.notna()
            if parts and m in ADDITIVE:
                sa, sb = a[both].sum(), b[both].sum()
                out[f"{m}_ratio_{lab}"] = (sb / sa if sa else float("nan"), "total")
                continue
            r = (b / a)[both & (a > 0) & (b > 0)]
            val = math.exp(sum(math.log(v) for v in r) / len(r)) if len(r) else float("nan")
            out[f"{m}_ratio_{lab}"] = (val, "geomean")
    return out


def unit_of(metric: str) -> str:
    c = column_info(metric)
    return c.unit if c else ""
