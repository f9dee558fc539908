"""The honest verdict on a guideline: does the paper's claimed ordering hold on this device? Each adjacent
pair of the claim's chains holds, contradicts, or is within noise (the medians differ by no more than the
mean of the two IQRs); an ordering within noise confirms nothing. Judged from rows with median_ms and
iqr_ms, so a saved file is judged again exactly as a fresh run."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from lwbench.guidelines.experiment import Experiment


def device_word(device: str) -> str:
    return "GPU" if device.startswith("cuda") else "CPU"


PAIR_STATES = ("holds", "contradicts", "noise", "unmeasured")


def compare_pair(a: Mapping | None, b: Mapping | None) -> str:
    """One claimed ordering, `a` faster than `b`, from two rows' median_ms and iqr_ms (same batch, so the
    speed ratio is median_b / median_a): 'unmeasured' when either median is missing; 'noise' when the
    difference of the medians is within the measured spread, |median_a - median_b| <= (iqr_a + iqr_b) / 2
    (the two interquartile ranges, taken as centred on the medians, overlap): neither confirms nor
    contradicts; else 'holds' (a is faster) or 'contradicts' (a is slower)."""
    ma, mb = (None if r is None else r.get("median_ms") for r in (a, b))
    if ma is None or mb is None or (isinstance(ma, float) and math.isnan(ma)) or \
            (isinstance(mb, float) and math.isnan(mb)):
        return "unmeasured"
    ia, ib = (float(r.get("iqr_ms") or 0.0) for r in (a, b))
    if abs(ma - mb) <= (ia + ib) / 2:
        return "noise"
    return "holds" if ma < mb else "contradicts"


@dataclass
class Judgement:
    """The verdict on one guideline at one scale: the state, the claim's pairs by outcome, the headline."""

    state: str                       # holds | partly | not | inconclusive | unmeasured
    pairs: dict[str, int]            # holds / contradicts / noise / unmeasured -> adjacent pairs of the chains
    headline: str                    # the headline pair's outcome (compare_pair)
    ratio: float | None              # speed(fast) / speed(slow) = median_ms(slow) / median_ms(fast)

    @property
    def total(self) -> int:
        return sum(self.pairs.values())


def judge(exp: Experiment, rows: Mapping[str, Mapping]) -> Judgement:
    """Judge the paper's claim from {setting: row with median_ms and iqr_ms}, statistically honestly: each
    adjacent pair of the claim's chains (fastest first) holds, contradicts, or is within noise
    (`compare_pair`); an ordering within noise confirms nothing.

    state: 'holds' (every pair holds), 'partly' (the headline pair holds, not every other),
    'not' (the headline pair is contradicted), 'inconclusive' (the headline pair is within noise),
    'unmeasured' (the headline pair was not measured)."""
    pairs = dict.fromkeys(PAIR_STATES, 0)
    for chain in exp.claim.get("chains", []):
        for a, b in zip(chain, chain[1:]):
            pairs[compare_pair(rows.get(a), rows.get(b))] += 1
    fast, slow = exp.claim["headline"]
    head = compare_pair(rows.get(fast), rows.get(slow))
    ratio = rows[slow]["median_ms"] / rows[fast]["median_ms"] if head != "unmeasured" else None
    if head == "unmeasured":
        state = "unmeasured"
    elif head == "noise":
        state = "inconclusive"
    elif head == "contradicts":
        state = "not"
    else:
        state = "holds" if pairs["holds"] == sum(pairs.values()) else "partly"
    return Judgement(state, pairs, head, ratio)


_STATE_WORDS = {"holds": "holds", "partly": "partly holds", "not": "does not hold",
                "inconclusive": "is inconclusive", "unmeasured": "was not measured"}


def _pairs_text(j: Judgement) -> str:
    p = j.pairs
    text = f"orderings: {p['holds']} hold, {p['contradicts']} contradict, {p['noise']} within noise"
    return text + (f", {p['unmeasured']} unmeasured" if p["unmeasured"] else "") + f" (of {j.total})"


def verdict(exp: Experiment, by_scale: Mapping[str, list[dict]], device: str) -> str:
    """One line: does the paper's ordering hold on this device, by how much, beside the paper's GPU and ARM,
    and how many of the claim's orderings hold, contradict or are within noise (`judge`).

    e.g. "G1 holds on this CPU: 1:1 is 1.31x faster than 1:12 (paper GPU 1.98x, ARM 1.32x); orderings: 3 hold,
    0 contradict, 0 within noise (of 3)".
    """
    fast, slow = exp.claim["headline"]
    parts, states = [], []
    for scale, group in by_scale.items():
        j = judge(exp, {g["setting"]: g for g in group})
        states.append((scale, j.state))
        if j.state == "unmeasured":
            parts.append(f"{scale}: not measured")
            continue
        pg = exp.paper(exp.row(fast), "gpu", scale) / exp.paper(exp.row(slow), "gpu", scale)
        pa = exp.paper(exp.row(fast), "arm", scale) / exp.paper(exp.row(slow), "arm", scale)
        noise = " (within noise)" if j.headline == "noise" else ""
        word = "faster" if j.ratio >= 1 else "slower"
        shown = j.ratio if j.ratio >= 1 else 1 / j.ratio
        parts.append(f"{scale}: {fast} is {shown:.2f}x {word} than {slow}{noise} (paper GPU {pg:.2f}x, "
                     f"ARM {pa:.2f}x); {_pairs_text(j)}")
    kinds = {s for _, s in states}
    if len(kinds) == 1:
        head = _STATE_WORDS[kinds.pop()]
    else:
        head = "; ".join(f"{_STATE_WORDS[s]} at {sc}" for sc, s in states)
    if len(parts) == 1:
        parts[0] = parts[0].split(": ", 1)[1]
    busy = sum(bool(g.get("contended")) for group in by_scale.values() for g in group)
    note = f" [{busy} of {sum(map(len, by_scale.values()))} rows contended by other load]" if busy else ""
    return f"{exp.guideline} {head} on this {device_word(device)}: " + " | ".join(parts) + note


def reverdict(exps: list[Experiment], result: Mapping, device: str) -> dict[str, str]:
    """The verdicts, judged again from saved rows (median_ms, iqr_ms per setting and scale); a guideline
    whose rows carry no timing keeps the saved line."""
    out = dict(result.get("verdicts") or {})
    for exp in exps:
        mine = [r for r in result["rows"] if r.get("guideline") == exp.guideline]
        if not any(r.get("median_ms") is not None for r in mine):
            continue
        by_scale: dict[str, list[dict]] = {}
        for r in mine:
            by_scale.setdefault(str(r.get("scale")), []).append(r)
        out[exp.guideline] = verdict(exp, by_scale, device)
    return out
