"""Sorting rows (dicts or dataclasses such as LayerRow) by a named column, for `--sort COLUMN [--desc]`."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass

from lwbench.errors import InputError, suggest


def _get(row, column: str):
    if isinstance(row, dict):
        return row.get(column)
    return getattr(row, column, None)


def columns_of(rows) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for k in (r if isinstance(r, dict) else asdict(r) if is_dataclass(r) else {}):
            if k not in cols:
                cols.append(k)
    return cols


def sort_rows(rows: list, column: str, desc: bool = False) -> list:
    """Rows sorted by `column` (numbers numerically, text alphabetically; missing values last, whatever the
    direction); stable, so ties keep their order. Unknown column: InputError with the closest names."""
    rows = list(rows)
    cols = columns_of(rows)
    if rows and column not in cols:
        raise InputError(f"--sort: no column {column!r}{suggest(column, cols)}; columns: {', '.join(cols)}")
    present = [r for r in rows if _get(r, column) is not None and _get(r, column) != ""]
    missing = [r for r in rows if r not in present]
    numeric = all(isinstance(_get(r, column), (int, float)) for r in present)
    key = (lambda r: _get(r, column)) if numeric else (lambda r: str(_get(r, column)))
    return sorted(present, key=key, reverse=desc) + missing
