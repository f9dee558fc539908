"""One typed row per export kind. The column order of an export is the field order of its row type, and
report/schema.py takes its column lists (presence and order) from these types: a field without a documented
column, or a documented column no row type has, fails at import (and in tests/test_report_schema.py).

    layers  -> lwbench.count.LayerRow (the analytic counter makes it; the torch-side counter too)
    summary -> Profile.summary() (fixed columns + one per category: madds_<category>, mac_elems_<category>)
    timing  -> BenchRow            zoo -> ZooRow            verify -> VerifyRow
    guidelines, breakdown -> lwbench.guidelines;  compare, plot -> columns made from the files compared/plotted

Rows travel as plain dicts (`asdict(row)`), which is what CSV/JSON/Markdown and pandas take."""

from __future__ import annotations

from dataclasses import dataclass, fields

from lwbench.count import LayerRow  # noqa: F401 - the layers row type, listed here with the others


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
    rounds: int | None = None
    rounds_spread: float | None = None
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


@dataclass
class ZooRow:
    """`lwbench list`: one network of the zoo at its native resolution, batch 1, float32."""

    model: str
    family: str
    input: str
    params: int
    madds: int
    mac_elems: int
    source: str


@dataclass
class VerifyRow:
    """`lwbench verify`: one layer, the analytic count beside the torch-side counter's and fvcore's."""

    model: str
    layer: str
    kind: str
    params_analytic: int
    params_torch: int | None
    madds_analytic: int
    madds_torch: int | None
    mac_elems_analytic: int
    mac_elems_torch: int | None
    madds_fvcore: int | None = None
    agree: bool = False


def columns(row_type) -> tuple[str, ...]:
    """The export's columns: the row type's fields, in order."""
    return tuple(f.name for f in fields(row_type))


BENCH_COLUMNS = columns(BenchRow)
ZOO_COLUMNS = columns(ZooRow)
VERIFY_COLUMNS = columns(VerifyRow)
