"""The whole calibration grid: the single-layer groups of `design`, the blocks of `blocks`, the synthetic networks
of `chains`, the fault probes.

ONNX Runtime's grid is the same designed grid with two changes: its overhead chains are ReLUs on a tiny map
(ORT eliminates Identity nodes, so a chain of identities would be an empty graph), and it has no page-fault
probes (ORT allocates from its own arena; glibc's thresholds do not reach it).
"""

from __future__ import annotations

import random

from lwbench.predict import design as d
from lwbench.predict.blocks import blocks as make_blocks
from lwbench.predict.chains import chains as make_chains

ORT_SKIP = ("fault", "fault-base")


def _ort_overhead() -> list[d.Probe]:
    out = []
    for n in (1, 2, 4, 8, 16, 32):
        for c in (2, 8):
            nodes = tuple(("relu", {}, ("x" if i == 0 else i - 1,)) for i in range(n))
            out.append(d.Probe("overhead", (c, 4, 4), nodes, target=None, label=f"{n} relus", extra={"n": n}))
    return out


def grid(seed: int = 0, blocks: bool = True, runtime: str = "torch") -> list[d.Probe]:
    """Every calibration probe of `runtime`, in a stable order; the same seed gives the same grid."""
    rng = random.Random(seed)
    parts = d.layer_groups(rng)
    if blocks:
        parts.append(make_blocks(rng))
        parts.append(make_chains(random.Random(seed + 1)))   # its own stream: the other groups stay as they were
    if runtime == "onnxruntime":
        parts[0] = _ort_overhead()
    else:
        parts.append(d.fault_probes())
    seen: dict[str, d.Probe] = {}
    for part in parts:
        for p in part:
            seen.setdefault(p.id, p)
    return list(seen.values())


def subset(probes: list[d.Probe], per_group: int) -> list[d.Probe]:
    """`per_group` probes of every group, evenly spaced through it (so every kind of the group is sampled), all
    overhead chains, and the `minus` helpers the kept probes need: a smoke-test calibration that runs in seconds
    or a few minutes, never one for results."""
    by_group: dict[str, list[d.Probe]] = {}
    for p in probes:
        by_group.setdefault(p.group, []).append(p)
    keep: list[d.Probe] = []
    for group, ps in by_group.items():
        n = len(ps) if group == "overhead" else min(per_group, len(ps))
        keep += [ps[round(i * (len(ps) - 1) / max(1, n - 1))] for i in range(n)] if n > 1 else ps[:n]
    by_id, ids = {p.id: p for p in probes}, {p.id for p in keep}
    need = sorted({p.minus for p in keep if p.minus} - ids)
    return keep + [by_id[i] for i in need if i in by_id]
