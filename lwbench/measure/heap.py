"""Keep the C heap of a measuring process from being returned to the kernel after every call.

torch's CPU allocator has no cache: every activation is malloc'd and freed on each forward. glibc hands a
freed block back to the kernel when the free space at the top of its heap exceeds the trim threshold (by
default twice the largest block it has seen freed, at most 64 MiB), so in a process whose heap holds nothing
else above the activations - a fresh `lwbench bench` worker is exactly that - the next forward re-faults every
page of them: mobilenet_v2 at batch 1 takes ~4,000 minor page faults (16 MiB zeroed by the kernel) per call,
resnet18 none. Whether a process is in that state is chance (what else lies on its heap), so the same model
timed by the same timer reads differently from process to process: the CLI's fresh worker read ~10% above
torch.utils.benchmark in a long-lived process (issue #18; results/README.md, "Timer fidelity").

`keep_heap()` (called by the worker before it builds the model) sets glibc's mmap threshold to its 32 MiB
maximum and the trim threshold to 1 GiB, so activations below 32 MiB come from a heap that stays mapped and a
steady-state forward takes no page fault, whatever the process did before - as in a long-lived process whose
heap is pinned, and as in runtimes with their own arena (ONNX Runtime, TFLite). Blocks over 32 MiB are mapped
per call as glibc does in every process. The timer reports the faults per measured call
(lwbench.measure.timer.minor_faults).

LWBENCH_HEAP=trim leaves glibc's defaults alone (to see what the faults cost); so do glibc's own settings
in the environment (MALLOC_*_ or GLIBC_TUNABLES=glibc.malloc.*: the caller chose). Not glibc (macOS, musl,
Windows): nothing is changed and `keep_heap` says so.
"""

from __future__ import annotations

import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3       # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 * 1024 * 1024                 # glibc's largest accepted value on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1024 * 1024 * 1024
MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
_kept: str | None = None


def keep_heap() -> str:
    """Apply the thresholds once per process; returns what is in effect, for the result row
    ('kept (glibc mmap 32 MiB, trim 1 GiB)', 'glibc default (LWBENCH_HEAP=trim)', 'unchanged (not glibc)')."""
    global _kept
    if _kept is not None:
        return _kept
    if os.environ.get("LWBENCH_HEAP", "keep").strip().lower() == "trim":
        _kept = "glibc default (LWBENCH_HEAP=trim)"
        return _kept
    if any(os.environ.get(k) for k in MALLOC_ENV) or "malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        _kept = "unchanged (malloc settings in the environment)"   # the caller chose the allocator's behaviour
        return _kept
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - present only in glibc
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except (OSError, AttributeError):
        ok = None
    _kept = ("kept (glibc mmap 32 MiB, trim 1 GiB)" if ok else
             "unchanged (not glibc)" if ok is None else "unchanged (mallopt refused)")
    return _kept

