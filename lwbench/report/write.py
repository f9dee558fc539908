"""Writing results: CSV, JSON and Markdown, always atomically (temp file + rename), so a crash never leaves
a half-written file and an earlier good file is only replaced by a complete new one."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from lwbench.errors import InputError

FORMATS = ("table", "csv", "json", "md")


def infer_format(fmt: str | None, output: str | None) -> str:
    """--format wins; else the output's extension; else a table on the terminal."""
    if fmt:
        return fmt
    if output:
        ext = Path(output).suffix.lower().lstrip(".")
        return {"csv": "csv", "json": "json", "md": "md", "markdown": "md"}.get(ext, "csv")
    return "table"


def atomic_write(path: str | Path, text: str) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file gets the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _columns(rows: list[Mapping]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def _cell(v) -> object:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, separators=(",", ":"))
    return "" if v is None else v


def to_csv(rows: Iterable[Mapping], comments: Mapping | None = None) -> str:
    """CSV text; `comments` become leading `# key: value` lines (pandas: read_csv(..., comment='#'))."""
    rows = list(rows)
    buf = io.StringIO()
    for k, v in (comments or {}).items():
        buf.write(f"# {k}: {json.dumps(v, separators=(',', ':')) if isinstance(v, (dict, list)) else v}\n")
    w = csv.DictWriter(buf, fieldnames=_columns(rows), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(v) for k, v in r.items()})
    return buf.getvalue()


def to_json(obj: object) -> str:
    return json.dumps(obj, indent=2, default=str) + "\n"


def to_markdown(rows: Iterable[Mapping], title: str | None = None) -> str:
    rows = list(rows)
    cols = _columns(rows)
    out = [f"### {title}\n"] if title else []
    out.append("| " + " | ".join(cols) + " |")
    out.append("|" + "|".join("---:" if rows and isinstance(rows[0].get(c), (int, float)) else "---" for c in cols) + "|")
    for r in rows:
        out.append("| " + " | ".join(str(_cell(r.get(c, ""))) for c in cols) + " |")
    return "\n".join(out) + "\n"


def emit(text: str, output: str | None) -> None:
    """Write to `output` atomically, or to stdout."""
    if output:
        atomic_write(output, text)
    else:
        import sys

        sys.stdout.write(text)
