"""Words and thresholds with one home: dtype sizes, layer categories and their column spelling, the spelling of
every timing statistic, and the "contended" rule.

Pure Python at the bottom of the import order (lwbench.errors, lwbench.ir beside it): everything may import it.
"""

from __future__ import annotations

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}      # bytes per element (mac_bytes)
TOTAL_KEYS = ("params", "madds", "mac_elems", "mac_bytes", "out_elems")   # the analytic totals of a network
# layer categories (lwbench/ops/defs.py), in the order of ShuffleNet V2's Fig. 2 breakdown and reports
CATEGORIES = ("conv", "depthwise", "pointwise", "linear", "element-wise", "shuffle", "concat/split", "pooling", "other")


def category_key(category: str) -> str:
    """A category as a column-name part: 'concat/split' -> 'concat_split', 'element-wise' -> 'element_wise'."""
    return category.replace("/", "_").replace("-", "_")


# the statistics of a Timing (lwbench.measure.timer), in column order; every export spells them so
TIMING_STATS = ("n", "median_ms", "mean_ms", "std_ms", "iqr_ms", "min_ms", "p90_ms", "p99_ms", "max_ms", "noisy",
                "first_run_ms", "compile_s")
NOISE_IQR_RATIO = 0.10     # a timing whose IQR / median exceeds this is noisy
CONTENDED_SHARE = 0.85     # a CPU row whose process got less CPU time than this per thread was contended


def is_contended(cpu_share: float | None, device: str) -> bool | None:
    """The one "contended" rule: a CPU row whose process got < CONTENDED_SHARE of its threads' CPU time (other
    load took its cores); None where it does not apply (no share measured; on CUDA the host mostly waits)."""
    if cpu_share is None or not str(device).startswith("cpu"):
        return None
    return bool(cpu_share < CONTENDED_SHARE)
