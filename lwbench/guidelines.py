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

GUIDELINES = ("G1", "G2", "G3", "G4")
SCALES = ("x1", "x2", "x4")
SETUPS = ("gpu", "arm")
CONTENDED_SHARE = 0.85       # a CPU row whose process got less CPU time than this per thread was contended
SPREAD_LIMIT = 0.06          # madds spread (max/min - 1) allowed within one experiment at one scale
QUICK_RESOLUTION = 8
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
    min_time_s: float = 1.0
    warmup_s: float = 0.3
    min_runs: int = 10
    max_time_s: float = 10.0
    rounds: int = 4        # interleave the rows of a table: each row measured in `rounds` slices, round-robin

    @classmethod
    def quick(cls, device: str = "cpu", **kw) -> RunConfig:
        """Tiny settings for CI that still run every code path: 8x8 input, x1 only, 10 ms per row."""
        base = dict(device=device, scales=("x1",), resolution=QUICK_RESOLUTION, min_time_s=0.01, warmup_s=0.0,
                    min_runs=2, max_time_s=0.5, batch=1, rounds=2)
        base.update({k: v for k, v in kw.items() if v is not None})
        return cls(**base)

    def timer_config(self, round_index: int | None = None):
        """The whole measurement's config, or (round_index) one round's slice of it: 1/rounds of the time
        and runs; the later rounds warm up briefly (the model is warm already)."""
        from lwbench.measure.timer import TimerConfig

        k = 1 if round_index is None else max(1, self.rounds)
        warm = self.warmup_s if not round_index else min(self.warmup_s, 0.05)
        return TimerConfig(warmup_runs=1 if self.warmup_s == 0 or round_index else 2, warmup_s=warm,
                           min_runs=max(1, math.ceil(self.min_runs / k)), min_time_s=self.min_time_s / k,
                           max_time_s=max(self.max_time_s, self.min_time_s) / k)


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

    Returns {"rows": [...], "spreads": {...}, "verdicts": {...}}.
    """
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
    return {"rows": rows, "spreads": spreads, "verdicts": verdicts}


# ------------------------------------------------------------------------------------------ verdicts
def _order_score(speed: Mapping[str, float | None], chains: list[list[str]]) -> tuple[int, int]:
    """How many adjacent pairs of the claim's chains (fastest first) the speeds order correctly."""
    ok = total = 0
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            total += 1
            if speed.get(a) is not None and speed.get(b) is not None and speed[a] > speed[b]:
                ok += 1
    return ok, total


def judge(exp: Experiment, speed: Mapping[str, float | None]) -> str:
    """'holds' (every ordering of the claim), 'partly' (the headline ordering, not all), 'not'."""
    fast, slow = exp.claim["headline"]
    ok, total = _order_score(speed, exp.claim.get("chains", []))
    if speed.get(fast) is None or speed.get(slow) is None:
        return "unmeasured"
    if ok == total and speed[fast] > speed[slow]:
        return "holds"
    return "partly" if speed[fast] > speed[slow] else "not"


def verdict(exp: Experiment, by_scale: Mapping[str, list[dict]], device: str) -> str:
    """One line: does the paper's ordering hold on this device, by how much, beside the paper's GPU and ARM.

    e.g. "G1 holds on this CPU: 1:1 is 1.31x faster than 1:12 (paper GPU 1.98x, ARM 1.32x)".
    """
    fast, slow = exp.claim["headline"]
    parts, states = [], []
    for scale, group in by_scale.items():
        speed = {g["setting"]: g.get("speed") for g in group}
        med = {g["setting"]: g for g in group}
        state = judge(exp, speed)
        states.append((scale, state, _order_score(speed, exp.claim.get("chains", []))))
        if state == "unmeasured":
            parts.append(f"{scale}: not measured")
            continue
        ratio = speed[fast] / speed[slow]
        pg = exp.paper(exp.row(fast), "gpu", scale) / exp.paper(exp.row(slow), "gpu", scale)
        pa = exp.paper(exp.row(fast), "arm", scale) / exp.paper(exp.row(slow), "arm", scale)
        a, b = med[fast], med[slow]
        noise = " (within noise)" if abs(a["median_ms"] - b["median_ms"]) < (a["iqr_ms"] + b["iqr_ms"]) / 2 else ""
        word = "faster" if ratio >= 1 else "slower"
        shown = ratio if ratio >= 1 else 1 / ratio
        parts.append(f"{scale}: {fast} is {shown:.2f}x {word} than {slow}{noise} (paper GPU {pg:.2f}x, ARM {pa:.2f}x)")
    where = f"on this {device_word(device)}"
    kinds = {s for _, s, _ in states}
    if len(kinds) == 1:
        state = kinds.pop()
        head = {"holds": "holds", "partly": "partly holds", "not": "does not hold", "unmeasured": "was not measured"}[state]
        if state == "partly":
            ok = sum(o for _, _, (o, _) in states)
            tot = sum(t for _, _, (_, t) in states)
            head += f" ({ok} of {tot} orderings)"
    else:
        head = "; ".join(f"{'holds' if s == 'holds' else 'partly holds' if s == 'partly' else 'does not hold'} at {sc}"
                         for sc, s, _ in states)
    if len(parts) == 1:
        parts[0] = parts[0].split(": ", 1)[1]
    busy = sum(bool(g.get("contended")) for group in by_scale.values() for g in group)
    note = f" [{busy} of {sum(map(len, by_scale.values()))} rows contended by other load]" if busy else ""
    return f"{exp.guideline} {head} {where}: " + "; ".join(parts) + note


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
def read_result_csv(path: str) -> tuple[dict, dict]:
    """A CSV written by `lwbench guidelines --output x.csv` -> (result, machine), to re-render it."""
    import csv
    import json

    comments: dict[str, str] = {}
    body = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for line in f:
                if line.startswith("# "):
                    key, _, value = line[2:].rstrip("\n").partition(": ")
                    comments[key] = value
                else:
                    body.append(line)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    if "machine" not in comments or not body:
        raise InputError(f"{path}: not a result of lwbench guidelines (no '# machine:' line or no rows)")
    rows = [{k: _parse_cell(v) for k, v in r.items()} for r in csv.DictReader(body)]
    for r in rows:
        r["speed"] = r.get(speed_unit(str(r.get("device", "cpu"))))
    spreads = {k.split(" ", 1)[1]: float(v.rstrip("%")) / 100 for k, v in comments.items()
               if k.startswith("madds_spread ")}
    verdicts = {k.split(" ", 1)[1]: v for k, v in comments.items() if k.startswith("verdict ")}
    config = json.loads(comments["config"]) if "config" in comments else {}
    return {"rows": rows, "spreads": spreads, "verdicts": verdicts, "config": config}, json.loads(comments["machine"])


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


def markdown(exps: list[Experiment], result: Mapping, device: str, machine: Mapping | None = None) -> str:
    out = ["# ShuffleNet V2 guidelines G1-G4 on this machine", ""]
    if machine:
        out += [f"Machine: {machine.get('cpu_model')}, {machine.get('cores_logical')} logical cores, "
                f"torch {((machine.get('torch') or {}).get('version'))}, lwbench {machine.get('lwbench')} "
                f"({machine.get('git_commit')}), {machine.get('date_utc')}. Command: `{machine.get('command')}`", ""]
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
            "weights, elements). ratio = speed / the reference row's speed.", ""]
    return "\n".join(out)


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
