"""The calibration's speed reference: one fixed synthetic network, timed first and last in every calibration and
again, whenever asked, by `lwbench calibrate --check CALIB.json`.

A calibration describes the machine as it ran while it was measured. The fingerprint (CPU model, cores,
threads, runtime and versions) says whether a calibration is for this machine; it cannot say whether the machine
still runs at the speed it was calibrated at: a shared cloud host, a thermal or power limit, another tenant move
it by tens of percent over minutes to hours (results/README.md, "The machines": the development VM E ran 12-31%
faster in one five-minute run than in the run before it). A prediction made then is right for the machine as it
was and wrong for the machine as it is, and nothing in the prediction shows it.

So the grid holds one more network, the same in every calibration: a synthetic network drawn from
lwbench.predict.chains' space with a fixed seed (103 layers at 128x128, a mix of block kinds, 104M madds: the
size of a mobile network), never a zoo network. It is measured as the first group (`speed`) and as the last
(`speed-end`), each in a fresh worker with the synthetic networks' timer; the calibration stores both times and
the minutes between them (`checks.speed`: how far the machine moved during its own calibration). `calibrate
--check` measures it again now, on this machine or the calibration's target, with the calibration's settings,
READINGS times (a fresh worker each, seconds apart), and compares their median: within the tolerance the
calibration still describes the machine; beyond it, the machine has moved since (or is loaded now), and the
check says by how much; and when the readings themselves differ by more than the tolerance the machine is
unsteady: it moves within seconds (E did: one reading of the reference repeated to a median 17% a minute
later, results/README.md "The speed reference"), and no calibration holds to that tolerance on it now. Nothing is
fitted on the reference and nothing is rescaled by it.
"""

from __future__ import annotations

import random
from dataclasses import replace

from lwbench.predict.design import Probe

SEED = 7                     # lwbench.predict.chains.chain's first draw from Random(7): a mobile-sized network
GROUP, GROUP_END = "speed", "speed-end"
TOLERANCE_PCT = 10.0
READINGS = 3                 # `calibrate --check` reads the reference this many times, a fresh worker each


def reference(group: str = GROUP) -> Probe:
    """The speed reference as a probe of `group` (the same network for every group, seed and runtime)."""
    from lwbench.predict.chains import chain

    rng = random.Random(SEED)
    for _ in range(100):
        p = chain(rng, 0)
        if p is not None:
            return replace(p, group=group, label=f"speed reference ({p.label.split(': ', 1)[1]})")
    raise AssertionError("the speed reference's draw broke every size bound")   # the fixed seed draws one at once


def probes() -> list[Probe]:
    return [reference(GROUP), reference(GROUP_END)]


def summary(probes_: list[Probe], records: dict[str, dict], stat: str) -> dict | None:
    """`checks.speed` of a calibration: the reference's time at its start and end, the drift between, the
    minutes between; None when it has no reference (made before lwbench timed one)."""
    from lwbench.predict.probetime import probe_ms

    recs = {p.group: records.get(p.id) for p in probes_ if p.group in (GROUP, GROUP_END)}
    start, end = recs.get(GROUP), recs.get(GROUP_END)
    if start is None:
        return None
    out = {"reference": reference().label, "statistic": stat, "start_ms": probe_ms(start, stat=stat),
           "start_at": start.get("at"), "end_ms": None, "end_at": None, "drift_pct": None, "minutes": None}
    if end is not None:
        out.update(end_ms=probe_ms(end, stat=stat), end_at=end.get("at"))
        out["drift_pct"] = 100.0 * (out["end_ms"] / out["start_ms"] - 1.0)
        if start.get("at") and end.get("at"):
            out["minutes"] = (end["at"] - start["at"]) / 60.0
    return out


def moved(cal_speed: dict | None) -> bool:
    """Whether the reference moved by more than TOLERANCE_PCT between a calibration's start and end."""
    drift = (cal_speed or {}).get("drift_pct")
    return drift is not None and abs(drift) > TOLERANCE_PCT


def compare(cal_speed: dict, now: list[dict], stat: str, tolerance_pct: float = TOLERANCE_PCT) -> dict:
    """The check's verdict on `now` (the reference's records, one per reading, each a fresh worker a few seconds
    apart) against the calibration's time (the mean of its start and end): `within` the tolerance; `beyond` it;
    or `unsteady` when the readings themselves differ by more than the tolerance (max/min - 1): the machine moves
    within seconds, and no calibration holds to that tolerance on it now, whatever the median says."""
    import statistics

    from lwbench.predict.probetime import probe_ms

    times = [t for t in (cal_speed.get("start_ms"), cal_speed.get("end_ms")) if t]
    then = sum(times) / len(times)
    readings = [probe_ms(r, stat=stat) for r in now]
    now_ms = statistics.median(readings)
    ratio = now_ms / then
    spread = 100.0 * (max(readings) / min(readings) - 1.0)
    verdict = "unsteady" if spread > tolerance_pct else \
        "within" if abs(ratio - 1.0) * 100.0 <= tolerance_pct else "beyond"
    shares = [r.get("cpu_share") for r in now if r.get("cpu_share") is not None]
    return {"statistic": stat, "calibration_ms": then, "now_ms": now_ms, "readings_ms": readings,
            "spread_pct": spread, "ratio": ratio, "change_pct": 100.0 * (ratio - 1.0), "tolerance_pct": tolerance_pct,
            "verdict": verdict, "within": verdict == "within", "now_cpu_share": min(shares) if shares else None,
            "now_calls": sum((r.get("timing") or {}).get("n") or 0 for r in now)}
