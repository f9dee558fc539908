"""Running the guideline experiments: count every row (the analytic plan, madds spread checked), then time
every row on this machine through lwbench.measure's timing engine, the rows of one table at one scale
interleaved in round-robin slices so that slow drift and other load hit every row alike."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from lwbench.guidelines.experiment import SCALES, SPREAD_LIMIT, Experiment, SpreadError, setup_for
from lwbench.guidelines.verdict import verdict
from lwbench.measure.pool import Pool  # one rule for pooling rounds, bench and guidelines
from lwbench.report.tables.guidelines import speed_unit
from lwbench.vocab import CONTENDED_SHARE, is_contended  # one rule for bench and guidelines

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
    runtime: str = "torch"        # lwbench.runtimes: torch, or onnxruntime (each row exported, checked, timed by ORT)
    ort_opt: str = "all"          # onnxruntime's graph optimisation level
    target: str = "local"         # where the rows run (lwbench.targets): remote torch rows run frozen TorchScript

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
def _row_job(exp: Experiment, item: dict, scale: str, setup: str, batch: int, rc: RunConfig, workdir):
    """The row's network written as a network YAML (the same document its count was compiled from, so the
    timed model's layers are the counted ones) and the Job that times it."""
    import json
    from pathlib import Path

    from lwbench.measure.jobs import Job

    doc = exp.network_doc(item["row"], scale, setup, rc.resolution)
    path = Path(workdir) / f"{doc['name']}.yaml"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")    # JSON is YAML
    options = {"ort_opt": rc.ort_opt} if rc.runtime == "onnxruntime" else {}
    remote_torch = rc.target != "local" and rc.runtime == "torch"   # a target runs the exported TorchScript
    return Job(net=str(path), batch=batch, threads=rc.threads, device=rc.device, runtime=rc.runtime,
               options=options, target=rc.target, mode="script" if remote_torch else "eager")


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
    rec["contended"] = bool(is_contended(share, rc.device))
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


def _time_table(exp: Experiment, scale: str, p: dict, batch: int, rc: RunConfig, hooks: Hooks, workdir,
                targets: dict | None = None) -> list[dict]:
    """One table at one scale: every row timed in rc.rounds round-robin slices, each slice a Job run by
    lwbench.measure.jobs.run_jobs in this process (a fresh process per slice would add seconds to each of
    them; the rows of a table share the process alike), the samples of a row pooled. Each row's record is
    handed to hooks.on_row as soon as its last slice is done."""
    from dataclasses import replace

    from lwbench.measure.jobs import run_jobs

    setup = rc.setup or setup_for(rc.device)
    rounds = max(1, rc.rounds)
    jobs = [_row_job(exp, item, scale, setup, batch, rc, workdir) for item in p["rows"]]
    pools = [Pool() for _ in jobs]
    group: list[dict] = []
    for rnd in range(rounds):       # round-robin: slow drift and other load hit every row alike
        timer = rc.timer_config(rnd).to_dict()
        for item, job, pool in zip(p["rows"], jobs, pools):
            if hooks.on_start:
                hooks.on_start(f"{exp.guideline} {scale} {item['row'].setting}"
                               + (f" ({rnd + 1}/{rounds})" if rounds > 1 else ""))
            if not pool.error:
                pool.add(run_jobs([replace(job, timer=timer)], in_process=not targets, targets=targets)[0])
            if rnd < rounds - 1:
                if hooks.on_tick:
                    hooks.on_tick()
                continue
            group.append(_finish_row(exp, scale, setup, item, pool, rc, batch, p["spread"]))
            _add_ratios(group, exp, scale)
            if hooks.on_row:
                hooks.on_row(group[-1])
    return group


def _finish_row(exp: Experiment, scale: str, setup: str, item: dict, pool: Pool, rc: RunConfig, batch: int,
                spread: float) -> dict:
    rec = _row_record(exp, scale, setup, item, rc, batch)
    rec["madds_spread"] = spread
    rec["rounds"] = max(1, rc.rounds)
    timing = pool.timing()
    if timing is None:
        rec.update({"speed": None, "error": pool.error or "no samples"})
    else:
        _add_timing(rec, timing, rc)
    return rec


def run_experiments(exps: list[Experiment], rc: RunConfig, on_row: Callable[[dict], None] | None = None,
                    on_start: Callable[[str], None] | None = None, on_tick: Callable[[], None] | None = None,
                    planned: tuple[dict, dict] | None = None, targets: dict | None = None) -> dict:
    """Count, check the madds spread of every experiment first (a bad config stops before any timing; or
    `planned`, plan_all's result, when the caller counted already), then
    time every row, the rows of one table at one scale interleaved in `rc.rounds` rounds (their samples
    pooled). `on_row(record)` is called when a row is done, `on_tick()` after an earlier round of a row,
    `on_start(label)` before each round of a row. `targets`: {rc.target: an opened Target} for a
    remote run (the rows then run there, each slice a fresh runner process).

    Returns {"rows": [...], "spreads": {...}, "verdicts": {...}, "limits": {...}, "duration_s": wall time of
    the whole run (counting, building, warming up, timing), "measured_s": the sum of the measured runs' times}.
    """
    import time

    from lwbench.measure.timer import check_device

    t0 = time.perf_counter()
    import tempfile

    plans, spreads = planned or plan_all(exps, rc)
    if rc.target == "local":
        check_device(rc.device)
    hooks = Hooks(on_row, on_start, on_tick)
    rows: list[dict] = []
    verdicts: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="lwbench-guidelines-") as workdir:
        for exp in exps:
            by_scale = {}
            for scale in rc.scales:
                p, batch = plans[exp.guideline, scale]
                by_scale[scale] = _time_table(exp, scale, p, batch, rc, hooks, workdir, targets)
                rows += by_scale[scale]
            verdicts[exp.guideline] = verdict(exp, by_scale, rc.device)
    measured = sum(sum(r.get("samples_ms") or ()) for r in rows) / 1000
    return {"rows": rows, "spreads": spreads, "verdicts": verdicts, "limits": dict(LIMITS),
            "duration_s": round(time.perf_counter() - t0, 3), "measured_s": round(measured, 3)}
