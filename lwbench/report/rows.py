"""One typed row per export kind. The column order of an export is the field order of its row type;
report/schema.py documents these columns (and a test checks every field is documented).

Rows travel as plain dicts (`asdict(row)`), which is what CSV/JSON/Markdown and pandas take."""

from __future__ import annotations

from dataclasses import dataclass, fields

from lwbench.vocab import TIMING_STATS


@dataclass
class BenchRow:
    """`lwbench bench`: one measured configuration, its analytic counts beside (schema kind "timing").
    JSON rows add `samples_ms` (every measured run) when the row ran."""

    model: str
    device: str
    mode: str
    layout: str
    threads: int | None
    batch: int
    dtype: str
    runtime: str = "torch"
    target: str = "local"
    n: int | None = None
    median_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    iqr_ms: float | None = None
    min_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    images_per_s: float | None = None
    batches_per_s: float | None = None
    noisy: bool | None = None
    first_run_ms: float | None = None
    compile_s: float | None = None
    cpu_share: float | None = None
    contended: bool | None = None
    params: int | None = None
    madds: int | None = None
    mac_elems: int | None = None
    input: str | None = None
    cores: str | None = None
    interop_threads: int | None = None
    options: str = ""
    ep: str | None = None
    valid: bool | None = None
    max_abs_err: float | None = None
    rel_err: float | None = None
    l2_rel_err: float | None = None
    error: str = ""


def columns(row_type) -> tuple[str, ...]:
    """The export's columns: the row type's fields, in order."""
    return tuple(f.name for f in fields(row_type))


BENCH_COLUMNS = columns(BenchRow)
assert set(TIMING_STATS) <= set(BENCH_COLUMNS)
