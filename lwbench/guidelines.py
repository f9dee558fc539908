"""ShuffleNet V2's guideline experiments G1–G4 (Ma et al., ECCV 2018, Sec. 2, Tables 1–4), as data.

Each experiment lives in `configs/guidelines/gN.yaml`: the paper's setup, one row per table row with the
paper's channel numbers and speeds, and the benchmark network in the lwbench network format. This module
turns a row at a scale (x1 / x2 / x4) and a channel setup (the paper's `gpu` or `arm` channels) into a Net,
counts it (madds and mac must come out as the paper's formulas say), times it on this machine, and
compares the measured ordering with the paper's claim:

- G1: one 1x1 conv c1->c2 has MAC = h·w·(c1+c2) + c1·c2, lowest at c1 = c2 for fixed madds h·w·c1·c2.
- G2: a 1x1 group conv c->c with g groups has MAC = h·w·2c + c²/g, growing with g at fixed madds.
- G3: fragments (convs in series or parallel) cost speed at equal madds.
- G4: element-wise ops (ReLU, shortcut add) have zero madds but real cost.

Also the time breakdown of the paper's Figure 2: share of time per op category, by forward hooks.
No torch import at module level: counting stays torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lwbench.errors import ConfigError, InputError, LwbenchError, suggest
from lwbench.measure.timer import CONTENDED_SHARE  # one threshold for bench and guidelines

GUIDELINES = ("G1", "G2", "G3", "G4")
SCALES = ("x1", "x2", "x4")
SETUPS = ("gpu", "arm")
SPREAD_LIMIT = 0.06          # madds spread (max/min - 1) allowed within one experiment at one scale
QUICK_RESOLUTION = 8
DEFAULT_MIN_TIME = 4.0       # s measured per row (all rounds together)
DEFAULT_MAX_TIME = 10.0      # s at most per row, when min_runs runs take longer than DEFAULT_MIN_TIME
DEFAULT_ROUNDS = 4
TIME_LIMIT_S = 600           # the default run (G1-G4 at x1, x2, x4) must plan to finish within this on 2 cores
FIG2_CATEGORIES = ("conv", "element-wise", "shuffle", "concat/split", "other")
FIG2_NETS = ("shufflenet_v1_g3_x1_0", "mobilenet_v2")
# lwbench.count categories -> the paper's Figure 2 categories (conv includes linear: both are GEMMs)
_FIG2 = {"conv": "conv", "pointwise": "conv", "depthwise": "conv", "linear": "conv",
         "element-wise": "element-wise", "shuffle": "shuffle", "concat/split": "concat/split"}
_TOP_KEYS = ("guideline", "title", "table", "source", "notes", "setup", "scale", "scales", "reference", "claim",
             "blocks", "rows", "network")
_ROW_KEYS = ("setting", "channels", "params", "paper", "input_channels", "layers", "deviation")


class SpreadError(LwbenchError):
    """An experiment's rows differ in madds by more than SPREAD_LIMIT: the configuration is wrong."""


# ------------------------------------------------------------------------------------------ definitions
@dataclass
class GuidelineRow:
    setting: str
    paper: dict[str, list[float]]            # setup -> speeds at x1, x2, x4 (gpu: batches/s, arm: images/s)
    channels: dict[str, dict]                # setup -> the paper's x1 channels (G1, G2); {} when the scale gives them
    params: dict                             # literal params and derived widths (expressions over the channels)
    input_channels: object
    layers: list
    deviation: dict = field(default_factory=dict)   # setup -> x1 channels built instead of the paper's, + note


@dataclass
class Experiment:
    guideline: str
    title: str
    table: int
    file: str
    source: str
    notes: str
    resolution: int
    blocks: int
    batch: dict[str, int]
    devices: dict[str, dict]
    reference: str
    claim: dict
    rows: list[GuidelineRow]
    scale_rule: dict | None = None           # G1/G2: x2 / x4 derived from the x1 channels
    scales: dict | None = None               # G3/G4: the paper's channel setting per scale and setup
    net_blocks: dict = field(default_factory=dict)
    net_params: dict = field(default_factory=dict)

    def row(self, setting: str) -> GuidelineRow:
        for r in self.rows:
            if r.setting == setting:
                return r
        raise KeyError(setting)

    def channel_params(self, row: GuidelineRow, scale: str, setup: str) -> dict[str, int]:
        """The row's channel numbers at a scale: the paper's x1 numbers, or derived by the scale rule."""
        if self.scales is not None:
            return dict(self.scales[scale][setup])
        base = dict(row.channels[setup])
        if scale == "x1" and setup in row.deviation:
            return {**base, **row.deviation[setup]}
        rule = self.scale_rule[scale]
        env = {**row.params, **base}
        factor = float(_eval(rule.get("factor", 1), env, self.file, f"scale.{scale}.factor"))
        multiple = int(_eval(rule.get("multiple_of", 1), env, self.file, f"scale.{scale}.multiple_of"))
        return {k: _scaled(v, factor, multiple) for k, v in base.items()}

    def params(self, row: GuidelineRow, scale: str, setup: str) -> tuple[dict, list[str]]:
        """All parameters of a row's network at a scale, and the names that are channel widths."""
        chans = self.channel_params(row, scale, setup)
        env = {**chans}
        widths = list(chans)
        for src, where in ((self.net_params, "network.params"), (row.params, f"rows[{row.setting}].params")):
            for k, v in src.items():
                env[k] = _eval(v, env, self.file, f"{where}.{k}")
                if isinstance(v, str):
                    widths.append(k)           # an expression over the channels: a derived width
        return env, widths

    def net(self, row: GuidelineRow, scale: str, setup: str, resolution: int | None = None):
        """The row's benchmark network (an lwbench Net) at a scale, with the given channel setup."""
        from lwbench.spec import compile_doc

        env, _ = self.params(row, scale, setup)
        cin = _eval(row.input_channels, env, self.file, f"rows[{row.setting}].input_channels")
        res = resolution or self.resolution
        doc = {"name": f"{self.guideline.lower()}_{_slug(row.setting)}_{scale}_{setup}",
               "input": {"channels": int(cin), "resolution": int(res)},
               "params": env, "blocks": self.net_blocks, "layers": row.layers}
        return compile_doc(doc, self.file)

    def channels_text(self, row: GuidelineRow, scale: str, setup: str) -> str:
        """`c1=32,c2=32`; a width built differently from the paper's says so: `c=184 (paper 180)`."""
        env, widths = self.params(row, scale, setup)
        dev = row.deviation.get(setup, {}) if scale == "x1" else {}
        return ",".join(f"{k}={env[k]}" + (f" (paper {row.channels[setup][k]})" if k in dev else "") for k in widths)

    def paper(self, row: GuidelineRow, setup: str, scale: str) -> float:
        return row.paper[setup][SCALES.index(scale)]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _scaled(c: int, factor: float, multiple: int) -> int:
    """round(c·factor) to the nearest multiple (Python's round: half to even); exact when c·factor is whole."""
    if factor == 1:
        return int(c)
    v = c * factor
    if abs(v - round(v)) < 1e-9 and round(v) % multiple == 0:
        return int(round(v))
    return int(round(v / multiple) * multiple)


def _eval(raw, env: Mapping, file: str, key: str):
    if not isinstance(raw, str):
        return raw
    from lwbench.spec.expr import ExprError, evaluate

    try:
        return evaluate(raw, env)
    except ExprError as e:
        raise ConfigError(file, key, str(e)) from None


def guidelines_dir() -> Path:
    from lwbench.spec.zoo import configs_dir

    return configs_dir() / "guidelines"


def _need(doc: Mapping, key: str, file: str, where: str = ""):
    if key not in doc:
        raise ConfigError(file, f"{where}{key}", "missing (required)")
    return doc[key]


def load_experiment(name_or_path: str) -> Experiment:
    """`G1` … `G4` (configs/guidelines/gN.yaml) or a path to a guideline YAML file -> Experiment."""
    from lwbench.spec.yamlio import line_of, read_yaml

    text = str(name_or_path)
    if text.upper() in GUIDELINES:
        path = guidelines_dir() / f"{text.lower()}.yaml"
    elif text.endswith((".yaml", ".yml")):
        path = Path(text)
    else:
        raise InputError(f"unknown guideline '{text}'{suggest(text.upper(), GUIDELINES)} (G1, G2, G3, G4 or a YAML path)")
    if not path.is_file():
        raise InputError(f"{path}: no such guideline file")
    file = str(path)
    doc = read_yaml(path)
    if not isinstance(doc, dict):
        raise ConfigError(file, "", "expected a mapping (guideline, setup, rows, network, ...)", type(doc).__name__)
    for k in doc:
        if k not in _TOP_KEYS:
            raise ConfigError(file, str(k), f"unknown key{suggest(k, _TOP_KEYS)}", line=line_of(doc, k))
    setup = _need(doc, "setup", file)
    if ("scale" in doc) == ("scales" in doc):
        raise ConfigError(file, "scale", "give exactly one of scale (a rule from the x1 channels) or scales "
                          "(the channels per scale)")
    net = doc.get("network") or {}
    rows = [_row(r, i, net, file) for i, r in enumerate(_need(doc, "rows", file))]
    exp = Experiment(
        guideline=str(_need(doc, "guideline", file)), title=str(doc.get("title", "")), table=int(doc.get("table", 0)),
        file=file, source=str(doc.get("source", "")), notes=str(doc.get("notes", "")),
        resolution=int(_need(setup, "resolution", file, "setup.")), blocks=int(setup.get("blocks", 10)),
        batch=dict(_need(setup, "batch", file, "setup.")), devices=dict(setup.get("devices") or {}),
        reference=str(_need(doc, "reference", file)), claim=dict(_need(doc, "claim", file)), rows=rows,
        scale_rule=doc.get("scale"), scales=doc.get("scales"),
        net_blocks={**(doc.get("blocks") or {}), **(net.get("blocks") or {})}, net_params=dict(net.get("params") or {}),
    )
    _validate(exp)
    return exp


def _row(raw, i: int, net: Mapping, file: str) -> GuidelineRow:
    key = f"rows[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(file, key, "expected a mapping (setting, channels, paper, ...)", raw)
    for k in raw:
        if k not in _ROW_KEYS:
            raise ConfigError(file, f"{key}.{k}", f"unknown key{suggest(k, _ROW_KEYS)}")
    paper = dict(_need(raw, "paper", file, f"{key}."))
    for s in SETUPS:
        v = paper.get(s)
        if not isinstance(v, list) or len(v) != len(SCALES) or not all(isinstance(x, (int, float)) for x in v):
            raise ConfigError(file, f"{key}.paper.{s}", "expected the paper's three speeds [x1, x2, x4]", v)
    layers = raw.get("layers", net.get("layers"))
    cin = raw.get("input_channels", net.get("input_channels"))
    if layers is None or cin is None:
        raise ConfigError(file, f"{key}.layers", "no network: give layers and input_channels (row or network)")
    return GuidelineRow(setting=str(_need(raw, "setting", file, f"{key}.")), paper=paper,
                        channels=dict(raw.get("channels") or {}), params=dict(raw.get("params") or {}),
                        input_channels=cin, layers=layers, deviation=_deviation(raw, key, file))


def _deviation(raw: Mapping, key: str, file: str) -> dict:
    """A row's stated departure from the paper's x1 channels: {setup: {name: value}}; needs a `note`."""
    dev = dict(raw.get("deviation") or {})
    if dev and not dev.pop("note", None):
        raise ConfigError(file, f"{key}.deviation", "needs a note saying why the paper's channels are not built")
    for s, v in dev.items():
        if s not in SETUPS or not isinstance(v, dict):
            raise ConfigError(file, f"{key}.deviation.{s}", "expected gpu or arm: {channel: value}", v)
    return dev


def _validate(exp: Experiment) -> None:
    f = exp.file
    names = [r.setting for r in exp.rows]
    if len(set(names)) != len(names):
        raise ConfigError(f, "rows", "settings must be unique", names)
    for key, chain in [("reference", [exp.reference]), ("claim.headline", exp.claim.get("headline", [])),
                       *[(f"claim.chains[{i}]", c) for i, c in enumerate(exp.claim.get("chains", []))]]:
        for s in chain:
            if s not in names:
                raise ConfigError(f, key, f"unknown setting '{s}'{suggest(s, names)}")
    if len(exp.claim.get("headline", [])) != 2:
        raise ConfigError(f, "claim.headline", "expected [faster setting, slower setting]", exp.claim.get("headline"))
    if exp.scale_rule is not None:
        for s in SCALES:
            if s not in exp.scale_rule:
                raise ConfigError(f, f"scale.{s}", "missing (give factor, round, multiple_of)")
        for r in exp.rows:
            if set(r.channels) != set(SETUPS):
                raise ConfigError(f, f"rows[{r.setting}].channels", "expected the paper's x1 channels for gpu and arm")
    else:
        for s in SCALES:
            if set((exp.scales or {}).get(s) or {}) != set(SETUPS):
                raise ConfigError(f, f"scales.{s}", "expected the channels for gpu and arm")


def load_all(names: list[str] | None = None) -> list[Experiment]:
    return [load_experiment(n) for n in (names or GUIDELINES)]


# ------------------------------------------------------------------------------------------ analytic plan
def setup_for(device: str) -> str:
    """The paper's channel setup measured on a device: its GPU channels on CUDA, its ARM channels on a CPU."""
    return "gpu" if device.startswith("cuda") else "arm"


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
        raise SpreadError(f"{exp.file}: {exp.guideline} {scale} ({setup} channels): madds spread {spread:.1%} is above "
                          f"{SPREAD_LIMIT:.0%}, a configuration error ({worst})")
    return {"rows": rows, "spread": spread}


# ------------------------------------------------------------------------------------------ measuring
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


def device_word(device: str) -> str:
    return "GPU" if device.startswith("cuda") else "CPU"


def speed_unit(device: str) -> str:
    """CPU speeds in images/s (the paper's ARM unit), CUDA speeds in batches/s (its GPU unit)."""
    return "batches_per_s" if device.startswith("cuda") else "images_per_s"


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


def _row_record(exp: Experiment, scale: str, setup: str, item: dict, rc: RunConfig, batch: int, threads) -> dict:
    r = item["row"]
    return {
        "guideline": exp.guideline, "table": exp.table, "setting": r.setting, "reference": r.setting == exp.reference,
        "scale": scale, "device": rc.device, "channel_setup": setup, "channels": item["channels"],
        "input": f"{batch}x{'x'.join(map(str, item['net'].input_shape))}", "batch": batch, "threads": threads,
        "params": item["params"], "madds": item["madds"], "mac_elems": item["mac_elems"],
    }


_TIMING_KEYS = ("n", "median_ms", "mean_ms", "std_ms", "iqr_ms", "min_ms", "p90_ms", "p99_ms", "max_ms", "noisy",
                "first_run_ms")


def _add_timing(rec: dict, timing, unit: str) -> None:
    st = timing.stats()
    for k in _TIMING_KEYS:
        rec[k] = st.get(k)
    rec["images_per_s"] = timing.images_per_s(rec["batch"])
    rec["batches_per_s"] = timing.batches_per_s()
    rec["speed"] = rec[unit]
    rec["iqr_pct"] = 100 * st["iqr_ms"] / st["median_ms"] if st["median_ms"] else None


def _add_ratios(group: list[dict], exp: Experiment, scale: str) -> None:
    """ratio = speed / reference row's speed, measured and in the paper (GPU and ARM)."""
    ref = next((g for g in group if g["setting"] == exp.reference), None)
    for g in group:
        r = exp.row(g["setting"])
        refrow = exp.row(exp.reference)
        g["ratio"] = g["speed"] / ref["speed"] if ref and ref.get("speed") and g.get("speed") else None
        for s, unit in (("gpu", "batches_per_s"), ("arm", "images_per_s")):
            p, pref = exp.paper(r, s, scale), exp.paper(refrow, s, scale)
            g[f"paper_{s}_{unit}"] = p
            g[f"paper_{s}_ratio"] = p / pref


def run_experiments(exps: list[Experiment], rc: RunConfig, on_row: Callable[[dict], None] | None = None,
                    on_start: Callable[[str], None] | None = None, on_tick: Callable[[], None] | None = None) -> dict:
    """Count, check the madds spread of every experiment first (a bad config stops before any timing), then
    time every row, the rows of one table at one scale interleaved in `rc.rounds` rounds (their samples
    pooled). `on_row(record)` is called when a row is done, `on_tick()` after an earlier round of a row,
    `on_start(label)` before each round of a row.

    Returns {"rows": [...], "spreads": {...}, "verdicts": {...}, "duration_s": wall time of the whole run
    (counting, building, warming up, timing), "measured_s": the sum of the measured runs' times}.
    """
    import time

    t0 = time.perf_counter()
    setup = rc.setup or setup_for(rc.device)
    unit = speed_unit(rc.device)
    plans = {}
    spreads = {}
    for exp in exps:
        batch = rc.batch or int(exp.batch[setup])
        for scale in rc.scales:
            p = plan(exp, scale, setup, batch, rc.resolution)
            plans[exp.guideline, scale] = (p, batch)
            spreads[f"{exp.guideline} {scale}"] = p["spread"]
    from lwbench.measure.timer import check_device

    check_device(rc.device)
    rounds = max(1, rc.rounds)
    rows: list[dict] = []
    verdicts: dict[str, str] = {}
    for exp in exps:
        by_scale = {}
        for scale in rc.scales:
            p, batch = plans[exp.guideline, scale]
            timers = [_RowTimer(item["net"], rc.device, batch, rc.threads) for item in p["rows"]]
            group = []
            for rnd in range(rounds):       # round-robin: slow drift and other load hit every row alike
                cfg = rc.timer_config(rnd)
                for item, timer in zip(p["rows"], timers):
                    if on_start:
                        on_start(f"{exp.guideline} {scale} {item['row'].setting}"
                                 + (f" ({rnd + 1}/{rounds})" if rounds > 1 else ""))
                    timer.run(cfg)
                    if rnd < rounds - 1:
                        if on_tick:
                            on_tick()
                        continue
                    rec = _row_record(exp, scale, setup, item, rc, batch, rc.threads)
                    rec["madds_spread"] = p["spread"]
                    rec["rounds"] = rounds
                    timing = timer.timing()
                    if timing is None:
                        rec.update({"speed": None, "error": timer.error or "no samples"})
                    else:
                        _add_timing(rec, timing, unit)
                        rec["threads"] = timing.extra.get("threads", rc.threads)
                        rec["interop_threads"] = timing.extra.get("interop_threads")
                        share = timing.extra.get("cpu_share")
                        rec["cpu_share"] = share
                        rec["contended"] = bool(rc.device == "cpu" and share is not None and share < CONTENDED_SHARE)
                        rec["error"] = ""
                        rec["samples_ms"] = list(timing.samples_ms)
                    group.append(rec)
                    rows.append(rec)
                    _add_ratios(group, exp, scale)
                    if on_row:
                        on_row(rec)
            by_scale[scale] = group
        verdicts[exp.guideline] = verdict(exp, by_scale, rc.device)
    measured = sum(sum(r.get("samples_ms") or ()) for r in rows) / 1000
    return {"rows": rows, "spreads": spreads, "verdicts": verdicts,
            "duration_s": round(time.perf_counter() - t0, 3), "measured_s": round(measured, 3)}


# ------------------------------------------------------------------------------------------ verdicts
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


# ------------------------------------------------------------------------------------------ Figure 2
def fig2_category(category: str) -> str:
    return _FIG2.get(category, "other")


def breakdown(names: list[str] | None, device: str = "cpu", threads: int | None = None, batch: int = 1,
              min_time_s: float = 1.0, resolution: int | None = None,
              on_skip: Callable[[str], None] | None = None) -> list[dict]:
    """The paper's Figure 2: share of forward time per op category (conv, element-wise, shuffle, concat/split,
    other), measured on this device by `lwbench.measure.layers` (forward hooks on every layer module, whose
    names are the IR layer names). Each layer's time is its median over the measured runs; shares are of the
    sum over layers. The unhooked forward (median) is reported beside it, so the hooks' overhead is visible.
    Batch norm is a separate element-wise layer here (not folded), as in an unfused inference graph.
    """
    from lwbench.errors import UnknownNameError
    from lwbench.spec import load

    out = []
    for name in names or FIG2_NETS:
        try:
            net = load(name, resolution=resolution)
        except UnknownNameError:
            if on_skip:
                on_skip(f"breakdown: {name} is not in configs/ (skipped)")
            continue
        out.append(_breakdown_one(net, device, threads, batch, min_time_s))
    return out


def _breakdown_one(net, device: str, threads: int | None, batch: int, min_time_s: float) -> dict:
    from lwbench.count import count
    from lwbench.measure.layers import timed_profile
    from lwbench.measure.timer import TimerConfig

    prof = count(net, batch=batch)
    cfg = TimerConfig(min_time_s=min_time_s, warmup_s=min(0.3, min_time_s), max_time_s=max(10.0, min_time_s))
    res = timed_profile(net, prof, device=device, threads=threads, cfg=cfg)
    per = dict.fromkeys(FIG2_CATEGORIES, 0.0)
    for r in res["layers"]:
        per[fig2_category(r["category"])] += r["time_ms"] or 0.0
    total = sum(per.values())
    row = {"model": net.name, "device": device, "batch": batch, "threads": threads, "runs": res["hooked"].n,
           "forward_median_ms": res["end_to_end"].median_ms, "hooked_median_ms": res["hooked"].median_ms,
           "layers_total_ms": total}
    for c in FIG2_CATEGORIES:
        key = c.replace("/", "_").replace("-", "_")
        row[f"{key}_ms"] = per[c]
        row[f"{key}_pct"] = 100 * per[c] / total if total else 0.0
    row["madds"] = prof.totals["madds"]
    return row


# ------------------------------------------------------------------------------------------ saved results
# the columns a saved file needs to be re-rendered (beyond the schema's required ones)
RERENDER_COLUMNS = {
    "guidelines": ("guideline", "setting", "scale", "device", "reference", "channels", "madds", "mac_elems"),
    "breakdown": ("model", "device", "batch", "threads", "forward_median_ms", "layers_total_ms",
                  *[c.replace("/", "_").replace("-", "_") + "_pct" for c in FIG2_CATEGORIES]),
}
_EXPECTED = ("expected a CSV or JSON file written by `lwbench guidelines --output` (columns guideline, setting, "
             "scale, channels, madds, mac_elems, …) or by `lwbench guidelines --breakdown --output` (columns "
             "model, forward_median_ms, layers_total_ms, conv_pct, …)")


@dataclass
class Saved:
    """A result read back from a file: its kind ('guidelines' or 'breakdown'), the result (rows and the
    metadata: spreads, verdicts, config, duration_s, measured_s, budget) and the machine block."""

    kind: str
    result: dict
    machine: dict


def read_saved(path: str) -> Saved:
    """A CSV or JSON file written by `lwbench guidelines` (G1-G4 rows) or `--breakdown` (Figure 2 rows) ->
    Saved, to re-render it. The kind is told by the columns (lwbench.report.schema.detect_kind); any other
    file (a bench export, a CSV not from lwbench, a file lacking columns, Markdown) is an InputError naming
    the file and what was expected."""
    p = Path(path)
    if p.suffix.lower() in (".md", ".markdown"):
        raise InputError(f"{path}: a Markdown file cannot be re-rendered; {_EXPECTED}")
    from lwbench.report.load import read_text

    text = read_text(p, _EXPECTED)
    rows, meta = _saved_json(text, path) if text.lstrip()[:1] in "[{" else _saved_csv(text, path)
    kind = _saved_kind(path, rows)
    if kind == "guidelines":
        unknown = sorted({str(r.get("guideline")) for r in rows} - set(GUIDELINES))
        if unknown:
            raise InputError(f"{path}: rows of guideline {', '.join(unknown)}; re-rendering knows G1, G2, G3, G4 "
                             "(configs/guidelines)")
        for r in rows:
            r["speed"] = r.get(speed_unit(str(r.get("device") or "cpu")))
    machine = meta.pop("machine", None)
    result = {"rows": rows, **meta}
    if kind == "guidelines":
        result.setdefault("spreads", {})
        result.setdefault("verdicts", {})
        result.setdefault("config", {})
    return Saved(kind, result, machine if isinstance(machine, dict) else {})


def _saved_kind(path: str, rows: list[dict]) -> str:
    from lwbench.report.schema import KINDS, detect_kind

    if not rows:
        raise InputError(f"{path}: no rows; {_EXPECTED}")
    cols = list(dict.fromkeys(k for r in rows for k in r))
    kind = detect_kind(cols)
    if kind in RERENDER_COLUMNS:
        miss = [c for c in RERENDER_COLUMNS[kind] if c not in cols]
        if miss:
            raise InputError(f"{path}: a {kind} file missing columns {', '.join(miss)}, needed to re-render it")
        return kind
    if kind is not None:
        raise InputError(f"{path}: a {kind} export ({KINDS[kind].title.lower()}), not a result of lwbench "
                         f"guidelines; {_EXPECTED}")
    shown = ", ".join(cols[:6]) + (", …" if len(cols) > 6 else "")
    raise InputError(f"{path}: not a result of lwbench guidelines (columns: {shown}); {_EXPECTED}")


def _saved_csv(text: str, path: str) -> tuple[list[dict], dict]:
    """Leading `# key: value` lines -> metadata (machine, config, budget: JSON; madds_spread G? x?: percent;
    verdict G?: text; duration_s, measured_s: seconds); the rest -> rows with typed cells."""
    import csv
    import json

    comments: dict[str, str] = {}
    body = []
    for line in text.splitlines(keepends=True):
        if line.startswith("# ") and not body:
            key, _, value = line[2:].rstrip("\n").partition(": ")
            comments[key] = value
        elif line.strip():
            body.append(line)
    meta: dict = {}
    try:
        for key in ("machine", "config", "budget"):
            if key in comments:
                meta[key] = json.loads(comments[key])
        for key in ("duration_s", "measured_s"):
            if key in comments:
                meta[key] = float(comments[key])
        spreads = {k.split(" ", 1)[1]: float(v.rstrip("%")) / 100 for k, v in comments.items()
                   if k.startswith("madds_spread ")}
    except ValueError as e:
        raise InputError(f"{path}: a comment line is not what lwbench guidelines writes ({e}); {_EXPECTED}") from None
    if spreads:
        meta["spreads"] = spreads
    verdicts = {k.split(" ", 1)[1]: v for k, v in comments.items() if k.startswith("verdict ")}
    if verdicts:
        meta["verdicts"] = verdicts
    try:
        rows = [{k: _parse_cell(v) for k, v in r.items() if k is not None} for r in csv.DictReader(body)]
    except csv.Error as e:
        raise InputError(f"{path}: not a readable CSV ({e}); {_EXPECTED}") from None
    return rows, meta


def _saved_json(text: str, path: str) -> tuple[list[dict], dict]:
    import json

    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InputError(f"{path}: not valid JSON ({e}); {_EXPECTED}") from None
    if isinstance(doc, dict) and isinstance(doc.get("rows"), list) and all(isinstance(r, dict) for r in doc["rows"]):
        return [dict(r) for r in doc["rows"]], {k: v for k, v in doc.items() if k != "rows"}
    raise InputError(f"{path}: a JSON document without a rows list; {_EXPECTED}")


def read_result_csv(path: str) -> tuple[dict, dict]:
    """A file written by `lwbench guidelines --output x.csv|x.json` -> (result, machine), to re-render it;
    InputError for anything else (a breakdown file too: use read_saved)."""
    saved = read_saved(path)
    if saved.kind != "guidelines":
        raise InputError(f"{path}: a {saved.kind} file, not the G1-G4 rows of lwbench guidelines")
    return saved.result, saved.machine


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


def _parse_cell(v: str):
    if v in ("True", "False"):
        return v == "True"
    if v == "":
        return None
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


# ------------------------------------------------------------------------------------------ views
def export_rows(rows: list[dict], with_samples: bool = False) -> list[dict]:
    """Rows for files: `speed` (internal, unit-less name) is dropped, images_per_s / batches_per_s carry it;
    the raw samples go to JSON only."""
    drop = ("speed",) if with_samples else ("speed", "samples_ms")
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def _f(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"


def _ratio(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _speed_text(r: dict) -> str:
    if r.get("speed") is None:
        return "error" if r.get("error") else "-"
    spread = r.get("iqr_pct")
    mark = ("*" if r.get("noisy") else "") + ("†" if r.get("contended") else "")
    return f"{_f(r['speed'])} ±{spread / 2:.1f}%{mark}" if spread is not None else _f(r["speed"])


def _spread_line(exp: Experiment, spreads: Mapping[str, float]) -> str:
    parts = [f"{k.split(' ', 1)[1]} {v:.2%}" for k, v in spreads.items() if k.split(" ", 1)[0] == exp.guideline]
    return (f"madds spread (max/min - 1, limit {SPREAD_LIMIT:.0%}): " + ", ".join(parts)
            + f". * noisy: IQR/median > 10%. † contended: the process got < {CONTENDED_SHARE:.0%} of its threads' "
            "CPU time (other load on the cores).")


def table_rows(exp: Experiment, rows: list[dict]) -> list[list[str]]:
    """The human cells of one guideline's table (shared by the rich table and Markdown)."""
    from lwbench.report.human import si

    out = []
    for r in rows:
        if r["guideline"] != exp.guideline:
            continue
        out.append([r["scale"], r["setting"] + (" (ref)" if r["reference"] else ""), r["channels"], si(r["madds"]),
                    si(r["mac_elems"]), _speed_text(r), _ratio(r.get("ratio")),
                    _f(r.get("paper_gpu_batches_per_s")), _ratio(r.get("paper_gpu_ratio")),
                    _f(r.get("paper_arm_images_per_s")), _ratio(r.get("paper_arm_ratio"))])
    return out


def table_header(device: str) -> list[str]:
    unit = "images/s" if speed_unit(device) == "images_per_s" else "batches/s"
    return ["scale", "setting", "channels", "madds", "mac_elems", f"{unit} median ±IQR/2", "ratio",
            "paper GPU batches/s", "ratio", "paper ARM images/s", "ratio"]


def title(exp: Experiment, rows: list[dict], device: str) -> str:
    mine = [r for r in rows if r["guideline"] == exp.guideline]
    r0 = mine[0] if mine else {}
    return (f"{exp.guideline} (Table {exp.table}): {exp.title}. Input {r0.get('input', '?')}, "
            f"{exp.blocks} blocks, the paper's {str(r0.get('channel_setup', '')).upper()} channels, "
            f"{device}, threads {r0.get('threads', '-')}")


def rich_table(exp: Experiment, result: Mapping, device: str):
    from rich.table import Table

    t = Table(title=title(exp, result["rows"], device), title_justify="left",
              caption=_spread_line(exp, result["spreads"]) + "\n" + result["verdicts"].get(exp.guideline, ""),
              caption_justify="left")
    for i, h in enumerate(table_header(device)):
        t.add_column(h, justify="left" if i < 3 else "right", no_wrap=i in (1, 2))
    for cells in table_rows(exp, result["rows"]):
        t.add_row(*cells)
    return t


def _md_comments(meta: Mapping) -> list[str]:
    """`<!-- key: json -->` lines (docs/schema.md: Markdown exports carry the machine block so)."""
    from lwbench.report.write import machine_comment

    return [machine_comment(v, k) for k, v in meta.items() if v is not None]


def markdown(exps: list[Experiment], result: Mapping, device: str, machine: Mapping | None = None,
             meta: Mapping | None = None) -> str:
    """The tables, spreads and verdicts as Markdown; the machine block, `meta` (config, budget) and the
    duration as `<!-- key: json -->` comments at the top."""
    out = _md_comments({"machine": dict(machine or {}), **(meta or {}), **_durations(result)})
    out += ["", "# ShuffleNet V2 guidelines G1-G4 on this machine", ""]
    if machine:
        out += [f"Machine: {machine.get('cpu_model')}, {machine.get('cores_logical')} logical cores, "
                f"torch {((machine.get('torch') or {}).get('version'))}, lwbench {machine.get('lwbench')} "
                f"({machine.get('git_commit')}), {machine.get('date_utc')}. Command: `{machine.get('command')}`", ""]
    if result.get("duration_s") is not None:
        out += [f"Duration: {result['duration_s']:.1f} s wall, of which {result.get('measured_s') or 0:.1f} s "
                "in measured runs.", ""]
    for exp in exps:
        if not any(r["guideline"] == exp.guideline for r in result["rows"]):
            continue
        out += [f"## {title(exp, result['rows'], device)}", ""]
        head = table_header(device)
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|")
        out += ["| " + " | ".join(c.replace("|", "/") for c in cells) + " |" for cells in table_rows(exp, result["rows"])]
        out += ["", _spread_line(exp, result["spreads"]), "", f"**{result['verdicts'].get(exp.guideline, '')}**", ""]
    out += ["madds = multiply-adds; mac = memory access cost (ShuffleNet V2: input + output feature maps + "
            "weights, elements). ratio = speed / the reference row's speed. A verdict counts an ordering as "
            "within noise when the medians differ by no more than the mean of the two IQRs.", ""]
    from lwbench.report.write import to_markdown

    # the export's rows, the columns of the CSV and JSON (docs/schema.md), which `lwbench compare/plot` load
    out += ["## Rows (the columns of the CSV and JSON exports)", "", to_markdown(export_rows(result["rows"]))]
    return "\n".join(out)


def _durations(result: Mapping) -> dict:
    return {k: result[k] for k in ("duration_s", "measured_s") if result.get(k) is not None}


def render(kind: str, exps: list[Experiment], result: Mapping, device: str, machine: Mapping,
           meta: Mapping | None = None) -> str:
    """The text of a guidelines result as csv (`# key: value` lines: machine, config, budget, duration_s,
    measured_s, madds_spread G? x?, verdict G?), json ({machine, config, budget, spreads, verdicts,
    duration_s, measured_s, rows}: rows with samples_ms) or md."""
    from lwbench.report.write import to_csv, to_json

    meta = dict(meta or {})
    if kind == "csv":
        comments = {"machine": machine, **meta, **_durations(result)}
        comments.update({f"madds_spread {k}": f"{v:.4%}" for k, v in result.get("spreads", {}).items()})
        comments.update({f"verdict {k}": v for k, v in result.get("verdicts", {}).items()})
        return to_csv(export_rows(result["rows"]), comments)
    if kind == "json":
        return to_json({"machine": machine, **meta, **_durations(result), "spreads": result.get("spreads", {}),
                        "verdicts": result.get("verdicts", {}),
                        "rows": export_rows(result["rows"], with_samples=True)})
    return markdown(exps, result, device, machine, meta)


def render_breakdown(kind: str, rows: list[dict], machine: Mapping, meta: Mapping | None = None) -> str:
    """Figure 2's rows as csv (`# machine:` …), json ({machine, …, rows}) or md (`<!-- machine: … -->`)."""
    from lwbench.report.write import to_csv, to_json, to_markdown

    meta = {"machine": dict(machine or {}), **(meta or {})}
    if kind == "csv":
        return to_csv(rows, meta)
    if kind == "json":
        return to_json({**meta, "rows": rows})
    return "\n".join(_md_comments(meta)) + "\n\n" + to_markdown(rows, "ShuffleNet V2 Fig. 2: share of time per op "
                                                                   "category")


def breakdown_table(rows: list[dict]):
    from rich.table import Table

    t = Table(title="ShuffleNet V2 Fig. 2: share of time per op category on this device", title_justify="left",
              caption="per-layer medians from forward hooks, shares of their sum (layers ms); forward = the "
              "unhooked median. conv: conv2d and linear; element-wise: batch norm (not folded), activations, add, "
              "mul; other: pooling, flatten",
              caption_justify="left")
    cols = ["model", "device", "batch", "threads", "forward ms", "layers ms", *FIG2_CATEGORIES]
    for i, c in enumerate(cols):
        t.add_column(c, justify="left" if i < 2 else "right")
    for r in rows:
        t.add_row(r["model"], r["device"], str(r["batch"]), str(r["threads"] or "-"), _f(r["forward_median_ms"]),
                  _f(r["layers_total_ms"]),
                  *[f"{r[c.replace('/', '_').replace('-', '_') + '_pct']:.1f}%" for c in FIG2_CATEGORIES])
    return t
