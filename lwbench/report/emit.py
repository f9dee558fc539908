"""THE output switch of every command: table | csv | json | md, to stdout or a file, with the machine envelope.

    kind = resolve_format(fmt, output)        # once, before anything runs: a bad extension fails fast
    emit(kind, rows, output=output, machine=machine_block(), meta={"timer": {...}}, table=lambda rows: ...)

- csv: `# machine: {json}` and `# key: value` lines for each `meta` entry, then the rows (all sections).
- json: `document` when given, else `{machine, **meta, rows}` (or the bare list of rows when there is no
  envelope at all: `lwbench list`).
- md: `markdown` when given (`lwbench schema`), else `<!-- machine: {json} -->` and one such comment per `meta`
  entry, `preamble`, then a table per section.
- table: the rich renderable(s) `table(rows)` returns, printed to the terminal; with --output the same table is
  written as plain text (160 columns). Every command does this: `-f table -o FILE` writes text, never refuses.

`RowSink` is the incremental form for long runs: each finished row rewrites the file atomically (through
report.write.atomic_write) before the next one starts; a run with no successful row never replaces a file
that was there before it started.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from lwbench.report.write import (
    atomic_write,
    check_writable,
    holds_lock,
    infer_format,
    machine_comment,
    output_lock,
    to_csv,
    to_json,
    to_markdown,
)

TABLE_WIDTH = 160


def resolve_format(fmt, output: str | None, option: str = "--output") -> str:
    """--format (an Enum or str) wins, else --output's extension, else table; contradictions are one line."""
    return infer_format(getattr(fmt, "value", fmt), output, option)


def _envelope(machine: Mapping | None, meta: Mapping | None) -> dict:
    env = {} if machine is None else {"machine": machine}
    env.update(meta or {})
    return env


def _strip(rows: Iterable[Mapping], json_only: Sequence[str]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in json_only} for r in rows]


def _empty_md(columns: Sequence[str]) -> str:
    return f"| {' | '.join(columns)} |\n|{'|'.join('---' for _ in columns)}|\n"


def render_table(table: Callable[[list], object], rows: Sequence[Mapping]) -> str:
    """The text of the rich renderable(s) `table(rows)` returns, as the terminal would show them 160 wide."""
    from rich.console import Console

    with open(os.devnull, "w") as sink:
        c = Console(record=True, width=TABLE_WIDTH, file=sink, highlight=False)
        _print_all(c, table(list(rows)))
    return c.export_text()


def _print_all(con, renderables) -> None:
    for r in renderables if isinstance(renderables, (list, tuple)) else [renderables]:
        con.print(r)


def render(kind: str, rows: Sequence[Mapping] = (), *, machine: Mapping | None = None, meta: Mapping | None = None,
           title: str | None = None, sections: Sequence[tuple[str | None, Sequence[Mapping]]] | None = None,
           document: object = None, markdown: str | None = None, preamble: str = "", columns: Sequence[str] = (),
           json_only: Sequence[str] = (), table: Callable[[list], object] | None = None) -> str:
    """The text of one export (see the module doc). `sections` (title, rows) replace `rows` for Markdown and, when
    there are no `rows`, are concatenated for CSV; `document` / `markdown` replace the JSON / Markdown text; `columns` head an empty table; `json_only` columns are left out of CSV and Markdown."""
    env = _envelope(machine, meta)
    secs = list(sections) if sections is not None else [(title, rows)]
    if kind == "json":
        if document is not None:
            return to_json(document)
        return to_json({**env, "rows": list(rows)} if env else list(rows))
    if kind == "csv":
        flat = _strip(rows if rows else [r for _, rs in secs for r in rs], json_only)
        text = to_csv(flat, comments=env)
        return text if flat or not columns else text.rstrip("\n") + "\n" + ",".join(columns) + "\n"
    if kind == "md" and markdown is not None:
        return markdown
    if kind == "md":
        head = [machine_comment(v, k) for k, v in env.items()]
        body = "\n".join(to_markdown(_strip(rs, json_only), t) if rs or not columns else _empty_md(columns)
                         for t, rs in secs)
        return "\n".join([*head, preamble + body]) if head else preamble + body
    if kind == "table":
        if table is None:
            raise ValueError("render: a table export needs table=")
        return render_table(table, rows)
    raise ValueError(f"render: no export format {kind!r}")


def emit(kind: str, rows: Sequence[Mapping] = (), *, output: str | None = None, **how) -> None:
    """Render (keywords as `render`) and write: to `output` atomically, else stdout (a table through rich)."""
    if kind == "table" and not output:
        from lwbench.report.console import console

        _print_all(console(), how["table"](list(rows)))
        return
    text = render(kind, rows, **how)
    if output and holds_lock(output):  # this run holds it (its sink, or a command's own lock)
        atomic_write(output, text)
    elif output:
        with output_lock(output):  # another run writing the same file holds it: refused, not silently replaced
            atomic_write(output, text)
    else:
        import sys

        sys.stdout.write(text)


class RowSink:
    """Collects rows of a long run; with an `output`, rewrites the whole file after each row (atomically).

    `order(rows)` sorts what is written; `ok(row)` says whether a row succeeded. A file that existed before the
    run is replaced only once some row succeeded, so a run that fails throughout keeps the earlier good file.
    The output is checked writable when the sink is made (before the first row is measured) and locked for the
    sink's life (report.write.output_lock): a second run on the same file is refused with one line. Use it as a
    context manager (or call `close`/`release`) so the lock is released however the run ends."""

    def __init__(self, kind: str, output: str | None, *, ok: Callable[[Mapping], bool] = lambda r: True,
                 order: Callable[[list], list] | None = None, **how) -> None:
        self.kind, self.output, self.how = kind, output, how
        self._lock = None
        if output:
            check_writable(output)
            self._lock = output_lock(output)
            self._lock.__enter__()
        self._ok, self._order = ok, order or (lambda rs: rs)
        self._rows: list = []
        self._existed = bool(output) and Path(output).exists()
        self.any_ok = False

    @property
    def rows(self) -> list:
        return self._order(list(self._rows))

    def add(self, row: Mapping) -> None:
        self._rows.append(row)
        self.any_ok = self.any_ok or self._ok(row)
        if self.output and (self.any_ok or not self._existed):
            atomic_write(self.output, render(self.kind, self.rows, **self.how))

    def close(self) -> None:
        """At the end: with no output, the rows go to stdout (a table through rich). Releases the lock."""
        try:
            if not self.output:
                emit(self.kind, self.rows, **self.how)
        finally:
            self.release()

    def release(self) -> None:
        """Release the output's lock (idempotent); the rows written so far stay."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)

    def __enter__(self) -> RowSink:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
