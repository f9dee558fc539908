"""The whole calibration grid: the single-layer groups of `design`, the blocks of `blocks`, the synthetic networks
of `chains`, the fault probes, and the speed reference (lwbench.predict.speed: one fixed synthetic network, timed
first and last).

ONNX Runtime's grid is the same designed grid with three changes: its overhead chains are ReLUs on a tiny map
(ORT eliminates Identity nodes, so a chain of identities would be an empty graph), it has no page-fault
probes (ORT allocates from its own arena; glibc's thresholds do not reach it), and it has pointwise and depthwise
convolutions whose channels are not multiples of 8 (group `unaligned`; the depthwise ones not of 4 either, the
multiple ORT 1.32 blocks them at on AVX2 and AVX-512; each spread from the fewest channels to the most): ORT runs
those outside its NCHWc layout, another kernel, and the calibration's NCHWc rule keys them apart
(lwbench.predict.layout); the designed channel lists are nearly all multiples of 4.
"""

from __future__ import annotations

import random

from lwbench.predict import design as d
from lwbench.predict.blocks import blocks as make_blocks
from lwbench.predict.chains import chains as make_chains
from lwbench.predict.speed import probes as speed_probes

ORT_SKIP = ("fault", "fault-base")


def _ort_overhead() -> list[d.Probe]:
    out = []
    for n in (1, 2, 4, 8, 16, 32):
        for c in (2, 8):
            nodes = tuple(("relu", {}, ("x" if i == 0 else i - 1,)) for i in range(n))
            out.append(d.Probe("overhead", (c, 4, 4), nodes, target=None, label=f"{n} relus", extra={"n": n}))
    return out


UNALIGNED = (20, 22, 26, 28, 30, 34, 36, 38, 44, 46, 52, 54, 58, 60, 62, 68, 70, 76, 78, 84, 90, 100, 102, 106,
             116, 118, 122, 140, 146, 164, 174, 196, 218, 234, 244, 290, 348, 466)
N_UNALIGNED = {"pw": 14, "dw1": 10, "dw2": 8}   # 1,500 measurements with the speed reference's two


def _strata(rng: random.Random, n: int, make, values=UNALIGNED) -> list[d.Probe]:
    """n probes, the i-th with channels from the i-th of n equal slices of `values`, fewest to most: ten free
    draws can miss one end (the 3x3 stride-1 kind of G's fourth ORT calibration had 7 probes, the fewest 106
    channels, where ShuffleNet V1 x0.5 has 25-50 and ShuffleNet V2 x1.0 58: those layers were read at 106)."""
    out: dict[str, d.Probe] = {}
    k = len(values)
    for i in range(n):
        part = values[i * k // n:(i + 1) * k // n]
        for _ in range(40):
            q = make(rng, rng.choice(part))
            if q is not None and q.id not in out:
                out[q.id] = q
                break
    return list(out.values())


def _ort_unaligned(rng: random.Random) -> list[d.Probe]:
    def pw(r, c):
        return d._conv_probe("unaligned", c, d._pick(r, d.SIZES, 7, 112), d._pick(r, d.CHANNELS, 16),
                             1, 1, 1, False, "pw-unaligned")

    def dw(r, c, s):
        return d._conv_probe("unaligned", c, d._pick(r, d.SIZES, 7, 112), c, 3, s, c, False, "dw-unaligned")

    odd = tuple(c for c in UNALIGNED if c % 4)     # ORT 1.32 blocks a depthwise layer of 4k channels (AVX2, AVX-512)
    return (_strata(rng, N_UNALIGNED["pw"], pw) + _strata(rng, N_UNALIGNED["dw1"], lambda r, c: dw(r, c, 1), odd)
            + _strata(rng, N_UNALIGNED["dw2"], lambda r, c: dw(r, c, 2), odd))


def grid(seed: int = 0, blocks: bool = True, runtime: str = "torch") -> list[d.Probe]:
    """Every calibration probe of `runtime`, in a stable order; the same seed gives the same grid."""
    rng = random.Random(seed)
    parts = d.layer_groups(rng)
    parts.append(speed_probes())        # the speed reference, timed first and last (lwbench.predict.speed)
    if blocks:
        parts.append(make_blocks(rng))
        parts.append(make_chains(random.Random(seed + 1)))   # its own stream: the other groups stay as they were
    if runtime == "onnxruntime":
        parts[0] = _ort_overhead()
        parts.append(_ort_unaligned(random.Random(seed + 2)))
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
