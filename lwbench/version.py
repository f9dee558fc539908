"""The version of lwbench (one home; pyproject.toml says the same)."""

__version__ = "0.1.0"


def cache_root():
    """The folder lwbench's caches live under (exported ONNX graphs, counted page faults): $LWBENCH_CACHE, else
    ~/.cache/lwbench. Each cache keys its files by lwbench's version, so one root serves every version."""
    import os
    from pathlib import Path

    return Path(os.environ.get("LWBENCH_CACHE") or Path.home() / ".cache" / "lwbench")
