"""YAML -> IR. No torch import anywhere in this package."""

from __future__ import annotations

from lwbench.ir import Net
from lwbench.spec.parse import compile_doc, read_doc
from lwbench.spec.zoo import index, resolve


def load(name_or_path: str, width: float | None = None, resolution: int | None = None) -> Net:
    """A zoo name (`mobilenet_v1_x0_5`) or a YAML path -> Net, optionally re-scaled in width/resolution.
    Parsed once per file and expanded once per width (lwbench.spec.cache); the Net is compile_doc's."""
    from lwbench.spec import cache

    return cache.load(name_or_path, width, resolution)


__all__ = ["load", "index", "resolve", "compile_doc", "read_doc"]
