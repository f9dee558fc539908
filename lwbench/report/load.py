"""Load any lwbench export back into a pandas DataFrame plus its metadata.

Accepted: CSV (leading `# key: value` comment lines, e.g. `# machine: {json}`), JSON (a profile object, a list
of profile objects, a `{machine, rows}` document, or a plain list of rows) and Markdown tables written by
`--format md`. Column types follow the schema (lwbench/report/schema.py), so every export loads back into the
values that were written: integers stay integers, empty text stays "", lists (samples_ms) become lists.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from lwbench.errors import InputError
from lwbench.report.schema import KINDS, validate


@dataclass
class Export:
    """A loaded export: the rows, their kind (schema), metadata (machine block, profile header, …)."""

    frame: object  # pandas.DataFrame
    kind: str
    meta: dict = field(default_factory=dict)
    path: str = ""
    format: str = ""

    @property
    def machine(self) -> dict:
        return self.meta.get("machine") or {}


def _parse_value(text: str):
    text = text.strip()
    if text[:1] in "{[\"" or text in ("true", "false", "null"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def split_comments(text: str) -> tuple[dict, str]:
    """Leading `# key: value` lines -> metadata dict (JSON values decoded); the rest of the text."""
    meta: dict = {}
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        body = lines[i].lstrip("#").strip()
        if body:
            key, sep, val = body.partition(":")
            if sep:
                meta[key.strip()] = _parse_value(val)
            else:
                meta.setdefault("comments", []).append(body)
        i += 1
    return meta, "".join(lines[i:])


def _column_type(col: str, kind: str | None) -> str | None:
    from lwbench.report.schema import column_info

    order = ((kind,) if kind else ()) + tuple(k for k in KINDS if k != kind and k != "compare")
    info = column_info(col, order)
    return info.type if info else None


def coerce(frame, kind: str | None = None):
    """Give each known column its schema type: str columns '' for missing, ints int64 (Int64 with gaps), bools,
    JSON lists decoded. Unknown columns keep what pandas inferred."""
    import pandas as pd

    for col in frame.columns:
        t = _column_type(str(col), kind)
        s = frame[col]
        if t == "str":
            frame[col] = s.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v)).astype(object)
        elif t in ("int", "float"):
            numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
            num = s if numeric else pd.to_numeric(s.mask(s.astype(str) == ""), errors="coerce")
            bad = num.isna() & s.notna() & (s.astype(str) != "")
            if bad.any():
                continue  # validate() reports it
            if t == "int":
                num = num.astype("int64") if not num.isna().any() else num.astype("Int64")
            else:
                num = num.astype("float64")
            frame[col] = num
        elif t == "bool":
            vals = s.map(_to_bool)
            frame[col] = vals.astype(bool) if vals.notna().all() and all(isinstance(v, bool) for v in vals) else vals
        elif t == "list[float]":
            frame[col] = s.map(lambda v: json.loads(v) if isinstance(v, str) and v.strip().startswith("[") else
                               ([] if v is None or v == "" or (isinstance(v, float) and v != v) else v))
    return frame


_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _to_bool(v):
    if type(v).__name__ == "bool_":  # numpy
        return bool(v)
    if isinstance(v, bool) or v is None or (isinstance(v, float) and v != v):
        return v
    text = str(v).strip().lower()
    return None if text == "" else _BOOLS.get(text, v)


def read_text(path: str | Path, expected: str = "expected a CSV, JSON or Markdown export") -> str:
    """The file's text; a missing file, a directory, a binary or unreadable file is one InputError line that
    names the file and, where it helps, what was `expected`."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory; {expected}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file; {expected}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None


def _from_csv(text: str, source: str):
    import pandas as pd

    meta, body = split_comments(text)
    if not body.strip():
        raise InputError(f"{source}: empty (no header row)")
    str_cols = {c for k in KINDS.values() for c in (x.name for x in k.columns) if _column_type(c, None) == "str"}
    try:
        frame = pd.read_csv(io.StringIO(body), dtype={c: str for c in str_cols}, keep_default_na=False,
                            na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise InputError(f"{source}: not a readable CSV ({str(e).splitlines()[0]})") from None
    return frame, meta


def _rows_from_json(doc, source: str) -> tuple[list[dict], dict]:
    def is_profile(d):
        return isinstance(d, dict) and isinstance(d.get("layers"), list)

    if is_profile(doc):
        meta = {k: v for k, v in doc.items() if k != "layers"}
        return list(doc["layers"]), meta
    if isinstance(doc, list) and doc and all(is_profile(d) for d in doc):
        meta = {"profiles": [{k: v for k, v in d.items() if k != "layers"} for d in doc]}
        machines = [p.get("machine") for p in meta["profiles"]]
        if machines[0] and all(m == machines[0] for m in machines):
            meta["machine"] = machines[0]  # one run, one machine block, repeated in each profile object
        return [r for d in doc for r in d["layers"]], meta
    if isinstance(doc, list) and doc and all(isinstance(d, dict) and isinstance(d.get("rows"), list) for d in doc):
        meta = {"documents": [{k: v for k, v in d.items() if k != "rows"} for d in doc]}
        return [r for d in doc for r in d["rows"]], meta  # e.g. `lwbench verify -f json`: one check per network
    if isinstance(doc, dict) and isinstance(doc.get("rows"), list):
        return list(doc["rows"]), {k: v for k, v in doc.items() if k != "rows"}
    if isinstance(doc, list) and all(isinstance(r, dict) for r in doc):
        return doc, {}
    raise InputError(f"{source}: not an lwbench JSON export (expected a profile object, a list of rows or "
                     "profiles, or a {machine, rows} document)")


def _from_json(text: str, source: str):
    import pandas as pd

    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InputError(f"{source}: not valid JSON ({e})") from None
    rows, meta = _rows_from_json(doc, source)
    cols = meta.get("columns")
    if not rows and isinstance(cols, list):  # no rows (`compare --changed` of equal files): the columns still
        return pd.DataFrame([], columns=cols), meta
    return pd.DataFrame(rows), meta


def _md_tables(text: str) -> tuple[list[tuple[list[str], list[list[str]], str]], dict]:
    """Pipe tables as (header, rows, title); `<!-- key: json -->` comments as metadata."""
    import re

    tables: list[tuple[list[str], list[list[str]], str]] = []
    meta: dict = {}
    title, current = "", None
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"^<!--\s*([\w .-]+?)\s*:\s*(.*?)\s*-->$", s)
        if m:
            meta[m.group(1)] = _parse_value(m.group(2))
            continue
        if not s.startswith("|"):
            current = None
            if s.startswith("#"):
                title = s.lstrip("#").strip()
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if current is None:
            current = (cells, [], title)
            tables.append(current)
        elif all(c and set(c) <= set("-:") for c in cells):
            continue  # the separator line
        else:
            current[1].append(cells)
    return tables, meta


def _from_markdown(text: str, source: str):
    """Pipe tables (one or several, e.g. one per network under `### title` lines) -> one frame: the tables
    with the header of the first one whose columns are an export kind (else of the first table), so a report
    that shows readable tables before its data table (`lwbench guidelines -f md`) loads its data; tables with
    another header (e.g. `profile --time`'s by-category tables) are left out."""
    import pandas as pd

    from lwbench.report.schema import detect_kind

    tables, meta = _md_tables(text)
    if not tables:
        raise InputError(f"{source}: no Markdown table found")
    header = next((t[0] for t in tables if detect_kind(t[0])), tables[0][0])
    same = [t for t in tables if t[0] == header]
    rows = [dict(zip(header, r)) for t in same for r in t[1]]
    frame = pd.DataFrame(rows, columns=header)
    for c in frame.columns:
        if _column_type(c, None) is None:  # unknown columns: numbers where every cell is one
            conv = pd.to_numeric(frame[c].mask(frame[c] == ""), errors="coerce")
            if conv.notna().sum() == (frame[c] != "").sum():
                frame[c] = conv
    titles = [t[2] for t in same if t[2]]
    if titles:
        meta["titles"] = titles
    return frame, meta


def load_export(path: str | Path, kind: str | None = None) -> Export:
    """Read an lwbench export (CSV, JSON or Markdown), coerce it to the schema and validate it."""
    p = Path(path)
    text = read_text(p)
    fmt = p.suffix.lower().lstrip(".")
    stripped = text.lstrip()
    if fmt not in ("csv", "json", "md", "markdown"):
        fmt = "json" if stripped[:1] in "[{" else "md" if stripped[:1] == "|" else "csv"
    reader = {"csv": _from_csv, "json": _from_json, "md": _from_markdown, "markdown": _from_markdown}[fmt]
    frame, meta = reader(text, str(p))
    if "plot" in meta and "source" in meta and kind is None:
        raise InputError(f"{p}: the plotted numbers of a {meta['plot']} figure (`lwbench plot --data`), not an "
                         f"export to compare or plot; use the file it was drawn from: {meta['source']} "
                         "(plain pandas reads it: pd.read_csv(path, comment='#'))")
    found = validate(frame, kind, source=str(p))
    frame = coerce(frame, found)
    validate(frame, found, source=str(p))
    return Export(frame=frame, kind=found, meta=meta, path=str(p), format="md" if fmt == "markdown" else fmt)


def load_frame(path: str | Path, kind: str | None = None):
    """Just the DataFrame of `load_export`."""
    return load_export(path, kind).frame


def read_rows(path: str | Path, expected: str = "expected a CSV or JSON export") -> tuple[list[dict], dict]:
    """A CSV or JSON export as plain rows and its metadata, without pandas (for a command that re-renders
    its own export, e.g. `lwbench guidelines --from`): CSV cells typed as written (True/False, integers,
    floats, text; an empty cell is None), leading `# key: value` lines as metadata (split_comments); JSON a
    `{..., "rows": [...]}` document. Anything else is one InputError naming the file and `expected`."""
    import csv

    text = read_text(path, expected)
    if text.lstrip()[:1] in "[{":
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise InputError(f"{path}: not valid JSON ({e}); {expected}") from None
        if isinstance(doc, dict) and isinstance(doc.get("rows"), list) and all(isinstance(r, dict) for r in doc["rows"]):
            return [dict(r) for r in doc["rows"]], {k: v for k, v in doc.items() if k != "rows"}
        raise InputError(f"{path}: a JSON document without a rows list; {expected}")
    meta, body = split_comments(text)
    try:
        rows = [{k: _cell(v) for k, v in r.items() if k is not None} for r in csv.DictReader(io.StringIO(body))]
    except csv.Error as e:
        raise InputError(f"{path}: not a readable CSV ({e}); {expected}") from None
    return rows, meta


def _cell(v):
    if not isinstance(v, str):          # a short row's missing cells (csv gives None) stay missing
        return None if v is None else v
    if v in ("True", "False"):
        return v == "True"
    if v == "":
        return None
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v
