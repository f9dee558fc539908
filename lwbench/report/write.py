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
EXTENSIONS = {"csv": "csv", "json": "json", "md": "md", "markdown": "md"}  # file extension -> format


def infer_format(fmt: str | None, output: str | None, option: str = "--output") -> str:
    """--format wins; else the output's extension (.csv, .json, .md, .markdown); else a table on the terminal.

    An output with another extension (or none) and no --format, or a --format that contradicts the output's
    extension (`-f json -o x.csv`), is one line (InputError, exit code 2) before anything runs: a file must
    never get a format its name does not say."""
    accepted = ", ".join(f".{e}" for e in EXTENSIONS)
    ext = Path(output).suffix.lower().lstrip(".") if output else ""
    if fmt:
        if output and ext in EXTENSIONS and EXTENSIONS[ext] != fmt:
            raise InputError(f"--format {fmt} contradicts {option} {output} (a .{ext} file); drop --format or "
                             f"name the file .{fmt}")
        return fmt
    if output:
        if ext not in EXTENSIONS:
            got = f"extension .{ext}" if ext else "no extension"
            raise InputError(f"{option} {output}: {got}; expected one of {accepted} (or give --format csv|json|md)")
        return EXTENSIONS[ext]
    return "table"


def file_format(fmt: str | None, output: str | None, option: str = "--output") -> str:
    """`infer_format`, refusing `--format table` together with an output file (a table is for the terminal)."""
    kind = infer_format(fmt, output, option)
    if kind == "table" and output:
        raise InputError(f"--format table prints to the terminal; with {option} {output} use csv, json or md")
    return kind


def machine_block() -> dict:
    """The machine block of an export (lwbench.measure.machine): CPU, OS, lwbench version and commit, command,
    date. torch and GPU fields only when torch is already loaded, so an analytic export stays torch-free."""
    import sys

    from lwbench.measure.machine import machine_info

    return machine_info(with_torch="torch" in sys.modules)


def machine_comment(machine: dict, key: str = "machine") -> str:
    """The Markdown form of a metadata block: `<!-- machine: {json} -->` (read back by report.load)."""
    return f"<!-- {key}: {json.dumps(machine, separators=(',', ':'), default=str)} -->"


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
