"""Running the guideline experiments: count every row (the analytic plan, madds spread checked), then time
every row on this machine through lwbench.measure's timing engine, the rows of one table at one scale
interleaved in round-robin slices so that slow drift and other load hit every row alike."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from lwbench.guidelines.experiment import SCALES, SPREAD_LIMIT, Experiment, SpreadError, setup_for
from lwbench.guidelines.verdict import verdict
from lwbench.measure.timer import CONTENDED_SHARE  # one threshold for bench and guidelines
from lwbench.report.tables.guidelines import speed_unit

QUICK_RESOLUTION = 8
DEFAULT_MIN_TIME = 4.0       # s measured per row (all rounds together)
DEFAULT_MAX_TIME = 10.0      # s at most per row, when min_runs runs take longer than DEFAULT_MIN_TIME
DEFAULT_ROUNDS = 4
TIME_LIMIT_S = 600           # the default run (G1-G4 at x1, x2, x4) must plan to finish within this on 2 cores
LIMITS = {"madds_spread": SPREAD_LIMIT, "cpu_share": CONTENDED_SHARE}   # the thresholds a table's caption states


# ------------------------------------------------------------------------------------------ analytic plan
def plan(exp: Experiment, scale: str, setup: str, batch: int, resolution: int | None = None) -> dict:
    """Count every row at one scale: params, madds, mac_elems; the madds spread; SpreadError above 6%."""
    from lwbench.count import count

    rows = []
    for r in exp.rows:
        net = exp.net(r, scale, setup, resolution)
        tot = count(net, batch=batch).totals
        rows.append({"row": r, "net": net, "channels": exp.channels_text(r, scale, setup),
                     "params": tot["params"], "madds": tot["madds"], "mac_elems": tot["mac_elems"]})
    madds = [x["madds"] for x in rows]
    spread = max(madds) / min(madds) - 1 if min(madds) > 0 else math.inf
    if spread > SPREAD_LIMIT:
        worst = ", ".join(f"{x['row'].setting}: {x['madds']:,}" for x in rows)
        raise SpreadError(f"{exp.file}: rows: {exp.guideline} {scale} ({setup} channels): madds spread {spread:.1%} is "
                          f"above {SPREAD_LIMIT:.0%}, a configuration error ({worst})")
    return {"rows": rows, "spread": spread}


def plan_all(exps: list[Experiment], rc: RunConfig) -> tuple[dict, dict]:
    """Every experiment counted at every scale of the run: ({(guideline, scale): (plan, batch)}, spreads)."""
    setup = rc.setup or setup_for(rc.device)
    plans, spreads = {}, {}
    for exp in exps:
        batch = rc.batch or int(exp.batch[setup])
        for scale in rc.scales:
            p = plan(exp, scale, setup, batch, rc.resolution)
            plans[exp.guideline, scale] = (p, batch)
            spreads[f"{exp.guideline} {scale}"] = p["spread"]
    return plans, spreads


# ------------------------------------------------------------------------------------------ settings
@dataclass
class RunConfig:
    device: str = "cpu"
    scales: tuple[str, ...] = SCALES
    threads: int | None = None
    batch: int | None = None                  # None: the paper's batch for the setup (GPU 8, ARM 1)
    setup: str | None = None                  # None: setup_for(device)
    resolution: int | None = None             # None: the paper's 56
    min_time_s: float = DEFAULT_MIN_TIME
    warmup_s: float = 0.3
    min_runs: int = 10
    max_time_s: float = DEFAULT_MAX_TIME
    rounds: int = DEFAULT_ROUNDS  # interleave the rows of a table: each row measured in `rounds` slices, round-robin

    @classmethod
    def quick(cls, device: str = "cpu", **kw) -> RunConfig:
        """Tiny settings for CI that still run every code path: 8x8 input, x1 only, 10 ms per row."""
        base = dict(device=device, scales=("x1",), resolution=QUICK_RESOLUTION, min_time_s=0.01, warmup_s=0.0,
                    min_runs=2, max_time_s=0.5, batch=1, rounds=2)
        base.update({k: v for k, v in kw.items() if v is not None})
        return cls(**base)

    @classmethod
    def make(cls, quick: bool = False, **kw) -> RunConfig:
        """The command's settings: --quick's, or the defaults (DEFAULT_MIN_TIME per row in DEFAULT_ROUNDS
        rounds); options given as None keep the default."""
        if quick:
            return cls.quick(**kw)
        return cls(**{k: v for k, v in kw.items() if v is not None})

    def timer_config(self, round_index: int | None = None):
        """The whole measurement's config, or (round_index) one round's slice of it: 1/rounds of the time
        and runs; the later rounds warm up briefly (the model is warm already)."""
        from lwbench.measure.timer import TimerConfig

        k = 1 if round_index is None else max(1, self.rounds)
        warm = self.warmup_s if not round_index else min(self.warmup_s, 0.05)
        return TimerConfig(warmup_runs=1 if self.warmup_s == 0 or round_index else 2, warmup_s=warm,
                           min_runs=max(1, math.ceil(self.min_runs / k)), min_time_s=self.min_time_s / k,
                           max_time_s=max(self.max_time_s, self.min_time_s) / k)


@dataclass
class Budget:
    """The time a run plans to spend timing, from its settings alone (nothing is timed): every row (table
    row x scale) is measured in `rounds` slices that together take at least min_time_s and min_runs runs and
    stop at max_time_s; each slice warms up first (the first for warmup_s, the later ones briefly).

    planned_s = rows x (min_time_s + warm-ups): the time when min_runs runs fit into min_time_s (any row of
    a few ms; the slowest default row takes about 25 ms on a 2-core x86 CPU);
    cap_s = rows x (max_time_s + warm-ups): the most the measured phases can take, whatever the speed,
    give or take one run per slice. Building and counting the networks come on top (seconds)."""

    rows: int
    rounds: int
    min_time_s: float
    max_time_s: float
    warmup_s: float                   # per row, all rounds together

    @classmethod
    def of(cls, exps: list[Experiment], rc: RunConfig) -> Budget:
        rounds = max(1, rc.rounds)
        cfgs = [rc.timer_config(r) for r in range(rounds)]
        return cls(rows=sum(len(e.rows) for e in exps) * len(rc.scales), rounds=rounds,
                   min_time_s=sum(c.min_time_s for c in cfgs), max_time_s=sum(c.max_time_s for c in cfgs),
                   warmup_s=sum(c.warmup_s for c in cfgs))

    @property
    def planned_s(self) -> float:
        return self.rows * (self.min_time_s + self.warmup_s)

    @property
    def cap_s(self) -> float:
        return self.rows * (self.max_time_s + self.warmup_s)

    def to_dict(self) -> dict:
        return {"rows": self.rows, "rounds": self.rounds, "row_min_time_s": self.min_time_s,
                "row_max_time_s": self.max_time_s, "row_warmup_s": round(self.warmup_s, 6),
                "planned_s": round(self.planned_s, 3), "cap_s": round(self.cap_s, 3)}

    def text(self) -> str:
        return (f"plan: {self.rows} rows x {self.rounds} rounds; about {self.planned_s:.3g} s of timing "
                f"({self.min_time_s:g} s measured + {self.warmup_s:.2g} s warm-up a row), at most "
                f"{self.cap_s:.3g} s ({self.max_time_s:g} s a row), plus building and counting")


# ------------------------------------------------------------------------------------------ timing
class _RowTimer:
    """One row's model and input, timed in slices (rounds); the samples of all rounds pooled into one Timing."""

    def __init__(self, net, device: str, batch: int, threads: int | None):
        self.net, self.device, self.batch, self.threads = net, device, batch, threads
        self.model = self.x = None
        self.samples: list[float] = []
        self.first_run_ms = math.nan
        self.extra: dict = {}
        self.shares: list[float] = []
        self.error = ""

    def run(self, cfg) -> None:
        """Time one round with the timing engine (time_module: one sample = one forward of the whole batch)."""
        if self.error:
            return
        try:
            import torch

            from lwbench.build import build
            from lwbench.measure.timer import time_module

            if self.model is None:
                self.model = build(self.net).to(self.device)
                self.x = torch.randn(self.batch, *self.net.input_shape, device=self.device)
            t = time_module(self.model, self.x, device=self.device, threads=self.threads, cfg=cfg)
        except (RuntimeError, MemoryError) as e:      # record the failure, carry on (timm's bulk rule)
            self.error = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            return
        if not self.samples:
            self.first_run_ms = t.first_run_ms
        self.samples += t.samples_ms
        self.extra.update(t.extra)
        if t.extra.get("cpu_share") is not None:
            self.shares.append(t.extra["cpu_share"])

    def timing(self):
        from lwbench.measure.timer import stats_from_samples

        self.model = self.x = None                     # free the weights once the row is done
        if self.error or not self.samples:
            return None
        t = stats_from_samples(self.samples, self.first_run_ms)
        t.extra.update(self.extra)
        t.extra["cpu_share"] = sum(self.shares) / len(self.shares) if self.shares else None
        return t


_TIMING_KEYS = ("n", "median_ms", "mean_ms", "std_ms", "iqr_ms", "min_ms", "p90_ms", "p99_ms", "max_ms", "noisy",
                "first_run_ms")


def _row_record(exp: Experiment, scale: str, setup: str, item: dict, rc: RunConfig, batch: int) -> dict:
    r = item["row"]
    return {
        "guideline": exp.guideline, "table": exp.table, "setting": r.setting, "reference": r.setting == exp.reference,
        "scale": scale, "device": rc.device, "channel_setup": setup, "channels": item["channels"],
        "input": f"{batch}x{'x'.join(map(str, item['net'].input_shape))}", "batch": batch, "threads": rc.threads,
        "params": item["params"], "madds": item["madds"], "mac_elems": item["mac_elems"],
    }


def _add_timing(rec: dict, timing, rc: RunConfig) -> None:
    st = timing.stats()
    for k in _TIMING_KEYS:
        rec[k] = st.get(k)
    rec["images_per_s"] = timing.images_per_s(rec["batch"])
    rec["batches_per_s"] = timing.batches_per_s()
    rec["speed"] = rec[speed_unit(rc.device)]
    rec["iqr_pct"] = 100 * st["iqr_ms"] / st["median_ms"] if st["median_ms"] else None
    rec["threads"] = timing.extra.get("threads", rc.threads)
    rec["interop_threads"] = timing.extra.get("interop_threads")
    share = timing.extra.get("cpu_share")
    rec["cpu_share"] = share
    rec["contended"] = bool(rc.device == "cpu" and share is not None and share < CONTENDED_SHARE)
    rec["error"] = ""
    rec["samples_ms"] = list(timing.samples_ms)


def _add_ratios(group: list[dict], exp: Experiment, scale: str) -> None:
    """ratio = speed / reference row's speed, measured and in the paper (GPU and ARM)."""
    ref = next((g for g in group if g["setting"] == exp.reference), None)
    refrow = exp.row(exp.reference)
    for g in group:
        r = exp.row(g["setting"])
        g["ratio"] = g["speed"] / ref["speed"] if ref and ref.get("speed") and g.get("speed") else None
        for s, unit in (("gpu", "batches_per_s"), ("arm", "images_per_s")):
            p, pref = exp.paper(r, s, scale), exp.paper(refrow, s, scale)
            g[f"paper_{s}_{unit}"] = p
            g[f"paper_{s}_ratio"] = p / pref


@dataclass
class Hooks:
    """Progress callbacks: on_row(record) when a row is done, on_tick() after an earlier round of a row,
    on_start(label) before each round of a row."""

    on_row: Callable[[dict], None] | None = None
    on_start: Callable[[str], None] | None = None
    on_tick: Callable[[], None] | None = None


def _time_table(exp: Experiment, scale: str, p: dict, batch: int, rc: RunConfig, hooks: Hooks) -> list[dict]:
    """One table at one scale: every row timed in rc.rounds round-robin slices, its samples pooled."""
    setup = rc.setup or setup_for(rc.device)
    rounds = max(1, rc.rounds)
    timers = [_RowTimer(item["net"], rc.device, batch, rc.threads) for item in p["rows"]]
    group: list[dict] = []
    for rnd in range(rounds):       # round-robin: slow drift and other load hit every row alike
        cfg = rc.timer_config(rnd)
        for item, timer in zip(p["rows"], timers):
            if hooks.on_start:
                hooks.on_start(f"{exp.guideline} {scale} {item['row'].setting}"
                               + (f" ({rnd + 1}/{rounds})" if rounds > 1 else ""))
            timer.run(cfg)
            if rnd < rounds - 1:
                if hooks.on_tick:
                    hooks.on_tick()
                continue
            rec = _row_record(exp, scale, setup, item, rc, batch)
            rec["madds_spread"] = p["spread"]
            rec["rounds"] = rounds
            timing = timer.timing()
            if timing is None:
                rec.update({"speed": None, "error": timer.error or "no samples"})
            else:
                _add_timing(rec, timing, rc)
            group.append(rec)
            _add_ratios(group, exp, scale)
            if hooks.on_row:
                hooks.on_row(rec)
    return group


def run_experiments(exps: list[Experiment], rc: RunConfig, on_row: Callable[[dict], None] | None = None,
                    on_start: Callable[[str], None] | None = None, on_tick: Callable[[], None] | None = None,
                    planned: tuple[dict, dict] | None = None) -> dict:
    """Count, check the madds spread of every experiment first (a bad config stops before any timing; or
    `planned`, plan_all's result, when the caller counted already), then
    time every row, the rows of one table at one scale interleaved in `rc.rounds` rounds (their samples
    pooled). `on_row(record)` is called when a row is done, `on_tick()` after an earlier round of a row,
    `on_start(label)` before each round of a row.

    Returns {"rows": [...], "spreads": {...}, "verdicts": {...}, "limits": {...}, "duration_s": wall time of
    the whole run (counting, building, warming up, timing), "measured_s": the sum of the measured runs' times}.
    """
    import time

    from lwbench.measure.timer import check_device

    t0 = time.perf_counter()
    plans, spreads = planned or plan_all(exps, rc)
    check_device(rc.device)
    hooks = Hooks(on_row, on_start, on_tick)
    rows: list[dict] = []
    verdicts: dict[str, str] = {}
    for exp in exps:
        by_scale = {}
        for scale in rc.scales:
            p, batch = plans[exp.guideline, scale]
            by_scale[scale] = _time_table(exp, scale, p, batch, rc, hooks)
            rows += by_scale[scale]
        verdicts[exp.guideline] = verdict(exp, by_scale, rc.device)
    measured = sum(sum(r.get("samples_ms") or ()) for r in rows) / 1000
    return {"rows": rows, "spreads": spreads, "verdicts": verdicts, "limits": dict(LIMITS),
            "duration_s": round(time.perf_counter() - t0, 3), "measured_s": round(measured, 3)}
