"""lwbench: exact params, multiply-adds (madds) and memory access cost (mac) of lightweight CNNs, per layer,
beside their measured latency.

    import lwbench
    net = lwbench.load("mobilenet_v1", width=0.5)
    prof = lwbench.count(net)              # no torch needed
    prof.totals["madds"], prof.to_frame()
    model = lwbench.build(net)             # torch nn.Module whose module names are the layer names
"""

from __future__ import annotations

from lwbench.count import Profile, check_expect, count
from lwbench.errors import ConfigError, LwbenchError
from lwbench.ir import Net
from lwbench.spec import load
from lwbench.version import __version__

_LAZY = {  # torch-dependent parts, imported on first use so `import lwbench` stays torch-free
    "build": ("lwbench.build", "build"),
    "count_module": ("lwbench.measure.torchcount", "count_module"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'lwbench' has no attribute '{name}'")


__all__ = ["__version__", "load", "count", "build", "count_module", "check_expect", "Net", "Profile",
           "LwbenchError", "ConfigError"]
