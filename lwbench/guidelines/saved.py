"""A result saved by `lwbench guidelines --output` (G1-G4 rows) or `--breakdown --output` (Figure 2 rows),
read back through lwbench.report.load to re-render it (`--from`) and judge its verdicts again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lwbench.errors import InputError
from lwbench.guidelines.experiment import GUIDELINES
from lwbench.guidelines.run import LIMITS
from lwbench.report.tables.guidelines import FIG2_CATEGORIES, speed_unit
from lwbench.vocab import category_key

# the columns a saved file needs to be re-rendered (beyond the schema's required ones)
RERENDER_COLUMNS = {
    "guidelines": ("guideline", "setting", "scale", "device", "reference", "channels", "madds", "mac_elems"),
    "breakdown": ("model", "device", "batch", "threads", "forward_median_ms", "layers_total_ms",
                  *[category_key(c) + "_pct" for c in FIG2_CATEGORIES]),
}
_EXPECTED = ("expected a CSV or JSON file written by `lwbench guidelines --output` (columns guideline, setting, "
             "scale, channels, madds, mac_elems, …) or by `lwbench guidelines --breakdown --output` (columns "
             "model, forward_median_ms, layers_total_ms, conv_pct, …)")


@dataclass
class Saved:
    """A result read back from a file: its kind ('guidelines' or 'breakdown'), the result (rows and the
    metadata: spreads, verdicts, config, duration_s, measured_s, budget) and the machine block."""

    kind: str
    result: dict
    machine: dict


def read_saved(path: str) -> Saved:
    """A CSV or JSON file written by `lwbench guidelines` (G1-G4 rows) or `--breakdown` (Figure 2 rows) ->
    Saved, to re-render it. The kind is told by the columns (lwbench.report.schema.detect_kind); any other
    file (a bench export, a CSV not from lwbench, a file lacking columns, Markdown) is an InputError naming
    the file and what was expected."""
    from lwbench.report.load import read_rows

    if Path(path).suffix.lower() in (".md", ".markdown"):
        raise InputError(f"{path}: a Markdown file cannot be re-rendered; {_EXPECTED}")
    rows, meta = read_rows(path, _EXPECTED)
    meta = _metadata(meta, path)
    kind = _saved_kind(path, rows)
    if kind == "guidelines":
        unknown = sorted({str(r.get("guideline")) for r in rows} - set(GUIDELINES))
        if unknown:
            raise InputError(f"{path}: rows of guideline {', '.join(unknown)}; re-rendering knows G1, G2, G3, G4 "
                             "(configs/guidelines)")
        for r in rows:
            r["speed"] = r.get(speed_unit(str(r.get("device") or "cpu")))
    machine = meta.pop("machine", None)
    result = {"rows": rows, **meta}
    if kind == "guidelines":
        result.setdefault("spreads", {})
        result.setdefault("verdicts", {})
        result.setdefault("config", {})
        result["limits"] = dict(LIMITS)
    return Saved(kind, result, machine if isinstance(machine, dict) else {})


def _metadata(meta: dict, path: str) -> dict:
    """A CSV's comment lines as the result's metadata: machine, config, budget (JSON objects), duration_s and
    measured_s (seconds), `madds_spread G? x?` (percent) -> spreads, `verdict G?` -> verdicts (a JSON
    document has spreads and verdicts as objects). Other keys are not lwbench guidelines' and are left out."""
    out: dict = {}
    try:
        for key, value in meta.items():
            if key in ("machine", "config", "budget"):
                if not isinstance(value, dict):
                    raise ValueError(f"{key} is not a JSON object")
                out[key] = value
            elif key in ("duration_s", "measured_s"):
                out[key] = float(value)
            elif key.startswith("madds_spread "):
                out.setdefault("spreads", {})[key.split(" ", 1)[1]] = float(str(value).rstrip("%")) / 100
            elif key.startswith("verdict "):
                out.setdefault("verdicts", {})[key.split(" ", 1)[1]] = str(value)
            elif key in ("spreads", "verdicts"):          # a JSON document's own keys
                if not isinstance(value, dict):
                    raise ValueError(f"{key} is not a JSON object")
                out[key] = dict(value)
    except (TypeError, ValueError) as e:
        raise InputError(f"{path}: a comment line is not what lwbench guidelines writes ({e}); {_EXPECTED}") from None
    return out


def _saved_kind(path: str, rows: list[dict]) -> str:
    from lwbench.report.schema import KINDS, detect_kind

    if not rows:
        raise InputError(f"{path}: no rows; {_EXPECTED}")
    cols = list(dict.fromkeys(k for r in rows for k in r))
    kind = detect_kind(cols)
    if kind in RERENDER_COLUMNS:
        miss = [c for c in RERENDER_COLUMNS[kind] if c not in cols]
        if miss:
            raise InputError(f"{path}: a {kind} file missing columns {', '.join(miss)}, needed to re-render it")
        return kind
    if kind is not None:
        raise InputError(f"{path}: a {kind} export ({KINDS[kind].title.lower()}), not a result of lwbench "
                         f"guidelines; {_EXPECTED}")
    shown = ", ".join(cols[:6]) + (", …" if len(cols) > 6 else "")
    raise InputError(f"{path}: not a result of lwbench guidelines (columns: {shown}); {_EXPECTED}")


def read_result_csv(path: str) -> tuple[dict, dict]:
    """A file written by `lwbench guidelines --output x.csv|x.json` -> (result, machine), to re-render it;
    InputError for anything else (a breakdown file too: use read_saved)."""
    saved = read_saved(path)
    if saved.kind != "guidelines":
        raise InputError(f"{path}: a {saved.kind} file, not the G1-G4 rows of lwbench guidelines")
    return saved.result, saved.machine
