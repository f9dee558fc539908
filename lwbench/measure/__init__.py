"""Measurement: latency timers and statistics (timer), the machine block (machine), CPU topology and
pinning (cpus), per-layer time joined to the analytic rows (layers), and the per-configuration worker
process used by `lwbench bench` (worker). Nothing here imports torch at module level."""

from __future__ import annotations

from lwbench.measure.machine import machine_info
from lwbench.measure.timer import TimerConfig, Timing, stats_from_samples, time_callable, time_module

__all__ = ["TimerConfig", "Timing", "stats_from_samples", "time_callable", "time_module", "machine_info"]
