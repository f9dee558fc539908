"""The whole calibration grid: the single-layer groups of `design`, the blocks of `blocks`, the fault probes."""

from __future__ import annotations

import random

from lwbench.predict import design as d
from lwbench.predict.blocks import blocks as make_blocks


def grid(seed: int = 0, blocks: bool = True) -> list[d.Probe]:
    """Every calibration probe, in a stable order; the same seed gives the same grid."""
    rng = random.Random(seed)
    parts = d.layer_groups(rng)
    if blocks:
        parts.append(make_blocks(rng))
    parts.append(d.fault_probes())
    seen: dict[str, d.Probe] = {}
    for part in parts:
        for p in part:
            seen.setdefault(p.id, p)
    return list(seen.values())
