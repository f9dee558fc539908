"""One guideline experiment (configs/guidelines/gN.yaml) as a typed object, and the networks it builds.

An Experiment is the paper's setup, one row per table row with the paper's channel numbers and speeds, and
the benchmark network in the lwbench network format. `Experiment.net(row, scale, setup)` turns a row at a
scale (x1 / x2 / x4) and a channel setup (the paper's `gpu` or `arm` channels) into a Net. The file is read
by lwbench.guidelines.load (every key checked, with its line); this module holds the evaluation: channel
numbers at a scale, derived widths, and the network, every failure a ConfigError naming the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lwbench.errors import ConfigError, LwbenchError
from lwbench.guidelines.checks import MAX_CHANNELS
from lwbench.spec.yamlio import line_of

GUIDELINES = ("G1", "G2", "G3", "G4")
SCALES = ("x1", "x2", "x4")
SETUPS = ("gpu", "arm")
ROUNDINGS = ("nearest", "floor", "ceil")   # scale.xN.round: c·factor to the nearest multiple, down, or up
SPREAD_LIMIT = 0.06          # madds spread (max/min - 1) allowed within one experiment at one scale


class SpreadError(LwbenchError):
    """An experiment's rows differ in madds by more than SPREAD_LIMIT: the configuration is wrong."""


@dataclass
class GuidelineRow:
    setting: str
    paper: dict[str, list[float]]            # setup -> speeds at x1, x2, x4 (gpu: batches/s, arm: images/s)
    channels: dict[str, dict]                # setup -> the paper's x1 channels (G1, G2); {} when the scale gives them
    params: dict                             # literal params and derived widths (expressions over the channels)
    input_channels: object
    layers: list
    deviation: dict = field(default_factory=dict)   # setup -> x1 channels built instead of the paper's, + note
    index: int = 0                           # position in rows: (key paths rows[i]...)
    raw: dict = field(default_factory=dict, repr=False)   # the row's YAML mapping (lines of its keys)
    net_key: str = "network"                 # where layers / input_channels come from: rows[i] or network


@dataclass
class ScaleRule:
    """G1/G2: a scale's channels from the x1 channels: c·factor, rounded (`round`) to a multiple of
    `multiple_of` (an expression over the row's channels and params, e.g. $g)."""

    factor: object = 1
    round: str = "nearest"
    multiple_of: object = 1


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
    scale_rule: dict[str, ScaleRule] | None = None   # G1/G2: x2 / x4 derived from the x1 channels
    scales: dict | None = None               # G3/G4: the paper's channel setting per scale and setup
    net_blocks: dict = field(default_factory=dict)
    net_params: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)   # the YAML document (lines of its keys)
    block_keys: dict = field(default_factory=dict)        # block name -> its key path (blocks.x / network.blocks.x)

    def row(self, setting: str) -> GuidelineRow:
        for r in self.rows:
            if r.setting == setting:
                return r
        raise KeyError(setting)

    # ------------------------------------------------------------------ channels and parameters
    def _fail(self, key: str, expected: str, got=None, holder=None, sub=None):
        raise ConfigError(self.file, key, expected, got, line_of(holder, sub) if holder is not None else None)

    def channel_params(self, row: GuidelineRow, scale: str, setup: str) -> dict[str, int]:
        """The row's channel numbers at a scale: the paper's x1 numbers, or derived by the scale rule."""
        if self.scales is not None:
            return dict(self.scales[scale][setup])
        base = dict(row.channels[setup])
        if scale == "x1" and setup in row.deviation:
            return {**base, **row.deviation[setup]}
        rule = self.scale_rule[scale]
        env = {**row.params, **base}
        key = f"scale.{scale}"
        holder = (self.raw.get("scale") or {}).get(scale)
        factor = self._evaluate(rule.factor, env, f"{key}.factor", holder, "factor", row, setup)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) \
                or not 0 < factor <= 64:
            self._fail(f"{key}.factor", f"expected a finite number above 0 and at most 64{_at(row, scale, setup)}",
                       factor, holder, "factor")
        multiple = self._evaluate(rule.multiple_of, env, f"{key}.multiple_of", holder, "multiple_of", row, setup)
        if isinstance(multiple, bool) or not isinstance(multiple, int) or not 1 <= multiple <= MAX_CHANNELS:
            self._fail(f"{key}.multiple_of", f"expected an integer from 1 to {MAX_CHANNELS}{_at(row, scale, setup)}",
                       multiple, holder, "multiple_of")
        out = {k: _scaled(v, factor, multiple, rule.round) for k, v in base.items()}
        for k, v in out.items():
            if not 1 <= v <= MAX_CHANNELS:
                self._fail(key, f"gives {k}={v} channels from {base[k]}; expected 1 to {MAX_CHANNELS}"
                           f"{_at(row, scale, setup)}", holder=self.raw.get("scale"), sub=scale)
        return out

    def _evaluate(self, raw, env: Mapping, key: str, holder, sub, row: GuidelineRow, setup: str, scale: str = ""):
        if not isinstance(raw, str):
            return raw
        from lwbench.spec.expr import ExprError, evaluate

        try:
            return evaluate(raw, env)
        except ExprError as e:
            self._fail(key, f"{e}{_at(row, scale, setup)}", holder=holder, sub=sub)
        except (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError) as e:
            self._fail(key, f"cannot evaluate {raw!r} ({type(e).__name__}){_at(row, scale, setup)}",
                       holder=holder, sub=sub)

    def params(self, row: GuidelineRow, scale: str, setup: str) -> tuple[dict, list[str]]:
        """All parameters of a row's network at a scale, and the names that are channel widths."""
        chans = self.channel_params(row, scale, setup)
        env: dict = {**chans}
        widths = list(chans)
        net_raw = self.raw.get("network") or {}
        for src, where, holder in ((self.net_params, "network.params", net_raw.get("params")),
                                   (row.params, f"rows[{row.index}].params", row.raw.get("params"))):
            for k, v in src.items():
                env[k] = self._evaluate(v, env, f"{where}.{k}", holder, k, row, setup, scale)
                if isinstance(v, str):
                    widths.append(k)           # an expression over the channels: a derived width
        return env, widths

    def input_channels(self, row: GuidelineRow, scale: str, setup: str, env: Mapping | None = None) -> int:
        """The row's input channels at a scale: a whole number, 1 to MAX_CHANNELS; a fraction is refused (as a
        network YAML refuses one), never truncated."""
        env = self.params(row, scale, setup)[0] if env is None else env
        key = f"{row.net_key}.input_channels"
        holder = row.raw if row.net_key != "network" else self.raw.get("network")
        v = self._evaluate(row.input_channels, env, key, holder, "input_channels", row, setup, scale)
        if isinstance(v, float) and math.isfinite(v) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            hint = " (use round(), floor() or ceil())" if isinstance(v, float) else ""
            self._fail(key, f"expected an integer{hint}{_at(row, scale, setup)}", v, holder, "input_channels")
        if not 1 <= v <= MAX_CHANNELS:
            self._fail(key, f"expected 1 to {MAX_CHANNELS} channels{_at(row, scale, setup)}", v, holder,
                       "input_channels")
        return v

    def check(self) -> None:
        """Evaluate every row at every scale and setup (channels, params, input channels): a bad expression
        or value is found when the file is loaded, not in the middle of a run."""
        for row in self.rows:
            for scale in SCALES:
                for setup in SETUPS:
                    self.input_channels(row, scale, setup)

    # ------------------------------------------------------------------ the network
    def network_doc(self, row: GuidelineRow, scale: str, setup: str, resolution: int | None = None) -> dict:
        """The row's benchmark network at a scale and channel setup, as a network YAML document (configs/README)."""
        env, _ = self.params(row, scale, setup)
        cin = self.input_channels(row, scale, setup, env)
        res = resolution or self.resolution
        return {"name": f"{self.guideline.lower()}_{_slug(row.setting)}_{scale}_{setup}",
                "input": {"channels": cin, "resolution": int(res)},
                "params": env, "blocks": self.net_blocks, "layers": row.layers}

    def net(self, row: GuidelineRow, scale: str, setup: str, resolution: int | None = None):
        """The row's benchmark network (an lwbench Net) at a scale, with the given channel setup."""
        from lwbench.spec import compile_doc

        doc = self.network_doc(row, scale, setup, resolution)
        try:
            return compile_doc(doc, self.file)
        except ConfigError as e:
            raise self._rekey(e, row, scale, setup) from None
        except (ArithmeticError, MemoryError) as e:   # an expression too large for lwbench.spec to evaluate
            raise ConfigError(self.file, f"{row.net_key}.layers", f"an expression cannot be evaluated "
                              f"({type(e).__name__}: {e}){_at(row, scale, setup)}") from None
        except RecursionError:
            cycle = block_cycle(self.net_blocks)
            key = self.block_keys.get(cycle[0], "blocks") if cycle else f"{row.net_key}.layers"
            what = f"block {cycle[0]} uses itself ({' > '.join(cycle)})" if cycle else "blocks nest too deeply"
            holder = ((self.raw.get("network") or {}) if key.startswith("network.") else self.raw).get("blocks")
            line = line_of(holder, cycle[0]) if cycle else None
            raise ConfigError(self.file, key, f"{what}{_at(row, scale, setup)}", line=line) from None

    def _rekey(self, e: ConfigError, row: GuidelineRow, scale: str, setup: str) -> ConfigError:
        """A network error's key as it is in this file: layers -> rows[i].layers or network.layers,
        blocks.x -> blocks.x or network.blocks.x, input.channels -> ...input_channels."""
        key = re.sub(r"(?<![\w.])blocks\.(\w+)", lambda m: self.block_keys.get(m.group(1), m.group(0)), e.key)
        if key.startswith("layers"):
            key = f"{row.net_key}.{key}"
        elif key == "input.channels":
            key = f"{row.net_key}.input_channels"
        elif key == "input.resolution":
            key = "setup.resolution"
        return ConfigError(self.file, key, f"{e.expected}{_at(row, scale, setup)}", e.got, e.line)

    def channels_text(self, row: GuidelineRow, scale: str, setup: str) -> str:
        """`c1=32,c2=32`; a width built differently from the paper's says so: `c=184 (paper 180)`."""
        env, widths = self.params(row, scale, setup)
        dev = row.deviation.get(setup, {}) if scale == "x1" else {}
        return ",".join(f"{k}={env[k]}" + (f" (paper {row.channels[setup][k]})" if k in dev else "") for k in widths)

    def paper(self, row: GuidelineRow, setup: str, scale: str) -> float:
        return row.paper[setup][SCALES.index(scale)]


def block_cycle(blocks: Mapping) -> list[str] | None:
    """The first chain of blocks that comes back to its start (a > b > a), from the `block:` names their
    layers call, else None."""
    def calls(node) -> list[str]:
        if isinstance(node, dict):
            own = [str(node["block"])] if isinstance(node.get("block"), (str, int)) else []
            return own + [c for v in node.values() if isinstance(v, (dict, list)) for c in calls(v)]
        if isinstance(node, list):
            return [c for v in node for c in calls(v)]
        return []

    graph = {str(k): [c for c in calls(v) if c in blocks] for k, v in blocks.items()}
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            name, path = stack.pop()
            for nxt in graph.get(name, ()):
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return None


def _at(row: GuidelineRow, scale: str, setup: str) -> str:
    where = ", ".join(x for x in (scale, f"{setup} channels" if setup else "") if x)
    return f" (row {row.setting}" + (f", {where})" if where else ")")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _scaled(c: int, factor: float, multiple: int, rounding: str = "nearest") -> int:
    """c·factor to a multiple of `multiple`: nearest (Python's round: half to even), floor or ceil; exact
    when c·factor is a whole multiple."""
    if factor == 1:
        return int(c)
    v = c * factor
    if abs(v - round(v)) < 1e-9 and round(v) % multiple == 0:
        return int(round(v))
    step = {"nearest": round, "floor": math.floor, "ceil": math.ceil}[rounding]
    return int(step(v / multiple) * multiple)


def setup_for(device: str) -> str:
    """The paper's channel setup measured on a device: its GPU channels on CUDA, its ARM channels on a CPU."""
    return "gpu" if device.startswith("cuda") else "arm"
