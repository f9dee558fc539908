"""Writing results: CSV, JSON and Markdown, always atomically (temp file + rename), so a crash never leaves
a half-written file and an earlier good file is only replaced by a complete new one."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
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
    if output is not None and not output.strip():
        raise InputError(f"{option}: an empty path; name a file (or leave {option} out to print to the terminal)")
    ext = Path(output).suffix.lower().lstrip(".") if output else ""
    if fmt:
        if output and ext in EXTENSIONS and fmt == "table":
            raise InputError(f"--format table writes the table as text, not the .{ext} file {option} {output} "
                             f"names; drop --format to write {EXTENSIONS[ext]} there, or name the file .txt")
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
    """Write `text` to `path` through a temp file in the same folder and one rename. Any failure (no folder,
    a directory in the way, disk full, a file that cannot be replaced) is one InputError line; the temp file is
    removed and the old file, if any, is left exactly as it was."""
    with atomic_file(path, "w") as f:
        f.write(text)


@contextmanager
def atomic_file(path: str | Path, mode: str = "w"):
    """`with atomic_file(p) as f:` a file object (text, or binary with mode "wb") whose content replaces `p`
    only when the block ends without an error: the one write path of every lwbench writer (exports, figures)."""
    path = Path(path)
    check_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _write_error(path, e) from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file gets the usual permissions
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, e) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: str | Path) -> None:
    """Refuse, before anything is measured, an output that cannot be written: a directory of that name, a
    parent that is a file, or a folder where no file can be created (tried with a temp file, then removed)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; name a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
    except OSError as e:
        raise _write_error(path, e) from None
    os.close(fd)
    os.unlink(tmp)


def _write_error(path: Path, e: OSError) -> InputError:
    why = e.strerror or e.__class__.__name__
    if isinstance(e, (FileExistsError, NotADirectoryError)) and not path.parent.is_dir():
        why = "a part of its folder path is a file, not a folder"
    kept = "; the existing file is unchanged" if path.is_file() else ""
    return InputError(f"{path}: cannot write ({why}){kept}")


@contextmanager
def output_lock(path: str | Path):
    """Hold an advisory lock on `path` for a whole run (fcntl on a sidecar `.NAME.lock` beside it): a second
    lwbench run writing the same output is refused with one line instead of silently replacing the first's
    rows. The sidecar is removed when the run ends."""
    path = Path(path)
    key = str(path.resolve())
    check_writable(path)
    with _flock(path.parent / f".{path.name}.lock", path) as lock:
        _HELD[key] = lock
        try:
            yield lock
        finally:
            del _HELD[key]


_HELD: dict[str, Path] = {}  # outputs this process has locked (resolved path -> sidecar)


def holds_lock(path: str | Path) -> bool:
    """Whether this process holds `path`'s output_lock (a run's final write then needs no second lock)."""
    return str(Path(path).resolve()) in _HELD


@contextmanager
def _flock(lock: Path, path: Path):
    import fcntl

    while True:
        if str(path.resolve()) in _HELD:  # flock would refuse a second descriptor anyway; say who holds it
            raise InputError(f"{path}: another lwbench run is writing this file (this process); wait for it to "
                             "finish or choose another --output")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise _write_error(lock, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = lock.read_text(errors="replace").strip() if lock.exists() else ""
            raise InputError(f"{path}: another lwbench run is writing this file ({holder or 'lock ' + str(lock)}); "
                             "wait for it to finish or choose another --output") from None
        try:  # the holder before us may have removed the sidecar between our open and our lock: retry
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield lock
    finally:
        Path(lock).unlink(missing_ok=True)
        os.close(fd)


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
