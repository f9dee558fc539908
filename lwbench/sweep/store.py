"""The sweep's results: an append-only JSONL file, one line per finished job.

- Each line is written with one `write` on a file opened in append mode, then flushed and fsynced before the
  next job starts: a crash (SIGKILL, power) loses at most the job in flight, and the file is never rewritten.
- A line cut short by a kill mid-write (a torn last line) is the only damage a crash can do; reading skips it
  and opening the store for writing cuts that torn tail off (everything before the last newline is kept as
  is), so the next line starts clean.
- Session lines (`"kind": "session"`) carry the machine block and the grid of each run that appended.
- An exclusive lock (flock) keeps two sweeps from appending to one store at once.
- `--resume` reads the ids already there and skips them; an id is written once.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

from lwbench.errors import InputError

MAX_LINE = 1 << 20    # a row is a few hundred bytes (samples at most some kB): longer lines are not ours


@dataclass
class Contents:
    rows: list[dict] = field(default_factory=list)        # job rows, in file order
    sessions: list[dict] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)    # 1-based numbers of unreadable lines
    torn_tail: int = 0                                     # bytes after the last newline

    @property
    def ids(self) -> set[str]:
        return {r["id"] for r in self.rows}


def read_store(path: str) -> Contents:
    """Every readable line of a store; a torn or corrupt line is skipped (and counted), never fatal."""
    out = Contents()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return out
    except OSError as e:
        raise InputError(f"{path}: cannot read the sweep store ({e.strerror})") from None
    end = data.rfind(b"\n") + 1
    out.torn_tail = len(data) - end
    for i, raw in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw) if len(raw) <= MAX_LINE else None
        except (ValueError, UnicodeDecodeError):
            rec = None
        if not isinstance(rec, dict):
            out.bad_lines.append(i)
        elif rec.get("kind") == "session":
            out.sessions.append(rec)
        elif isinstance(rec.get("id"), str):
            out.rows.append(rec)
        else:
            out.bad_lines.append(i)
    return out


class Store:
    """The store opened for appending (a context manager)."""

    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None
        self.written = 0

    def __enter__(self) -> Store:
        import fcntl

        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise InputError(f"--store {self.path}: the folder {folder} does not exist")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise InputError(f"--store {self.path}: cannot open for appending ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(f"--store {self.path}: another sweep is writing to it (locked)") from None
        self.fd = fd
        self._cut_torn_tail()
        return self

    def _cut_torn_tail(self) -> None:
        size = os.fstat(self.fd).st_size
        if not size:
            return
        back = min(size, MAX_LINE + 1)
        os.lseek(self.fd, size - back, os.SEEK_SET)
        tail = os.read(self.fd, back)
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        keep = size - back + cut + 1 if cut >= 0 else (0 if back == size else size)
        os.ftruncate(self.fd, keep)       # only the partial line a kill left is removed
        os.fsync(self.fd)

    def append(self, record: dict) -> None:
        line = (json.dumps(clean(record), separators=(",", ":"), default=str, allow_nan=False) + "\n").encode()
        view = memoryview(line)
        while view:                      # O_APPEND: each write lands at the end, whatever else happened
            n = os.write(self.fd, view)
            view = view[n:]
        os.fsync(self.fd)
        self.written += 1

    def session(self, **info) -> None:
        self.append({"kind": "session", "time_unix": time.time(), **info})

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def clean(value):
    """JSON has no NaN or infinity: those become null (a row must always be readable)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value
