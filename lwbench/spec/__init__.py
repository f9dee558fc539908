"""YAML -> IR. No torch import anywhere in this package."""

from __future__ import annotations

from lwbench.ir import Net
from lwbench.spec.parse import compile_doc, read_doc
from lwbench.spec.zoo import index, resolve


def load(name_or_path: str, width: float | None = None, resolution: int | None = None) -> Net:
    """A zoo name (`mobilenet_v1_x0_5`) or a YAML path -> Net, optionally re-scaled in width/resolution."""
    file, variant = resolve(name_or_path)
    doc = read_doc(file)
    return compile_doc(doc, file, variant or str(doc["name"]), width, resolution)


__all__ = ["load", "index", "resolve", "compile_doc", "read_doc"]
