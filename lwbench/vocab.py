"""Words and thresholds with one home: the spelling of every timing statistic, and the "contended" rule.

Pure Python at the bottom of the import order (lwbench.errors, lwbench.ir beside it): everything may import it.
"""

from __future__ import annotations

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
