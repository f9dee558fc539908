"""The grid file of `lwbench sweep`: which networks, and each dimension's values.

    networks:                          # zoo names, zoo globs, YAML paths (relative to this file), factories
      - mobilenet_v2
      - shufflenet_v2_x*               # every zoo name the pattern matches
      - nets/my_net.yaml               # or nets/my_net.yaml:variant
      - module: mypkg.models:build     # a torch factory (package.module:factory or file.py:factory)
      - name: mnasnet1_0               # a network with its own values for some dimensions
        resolution: [224]
    width: {from: 0.25, to: 1.5, step: 0.05}     # a range, a list or one value (null: the file's own width)
    resolution: {from: 96, to: 224, step: 32}
    batch: [1, 8]
    threads: [1]
    dtype: [float32]
    runtime: [torch]
    target: [local]
    device: cpu
    mode: eager
    layout: nchw
    analytic: true                     # count every point (params, madds, mac)
    timing: true                       # time every point on every target
    timer: {warmup_s: 0.5, min_runs: 10, min_time_s: 1.0, max_time_s: 10}
    cooldown_s: 0                      # pause between timing jobs on one target
    timeout_s: 600                     # per timing job
    retries: 2                         # transient failures (timeout, lost target) are retried this often
    seed: 0                            # the shuffle of the timing order within a target

Predicted latency for untimed points is not a grid key: `lwbench sweep GRID.yaml --calibration CALIB.json`
(lwbench.sweep.predicted; a prediction is not part of a job's id).

Read with lwbench.spec.yamlio (safe loader, duplicate keys refused, line of every key): every error names the
file, the line and the key, and unknown keys are refused with a suggestion.
"""

from __future__ import annotations

import fnmatch
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from lwbench.errors import ConfigError, LwbenchError, suggest
from lwbench.spec.yamlio import line_of, read_yaml

DIMENSIONS = ("width", "resolution", "batch", "threads", "dtype", "runtime", "target", "device", "mode", "layout")
TOP_KEYS = ("networks", *DIMENSIONS, "analytic", "timing", "timer", "cooldown_s", "timeout_s", "retries", "seed", "doc")
NET_KEYS = ("name", "module", *DIMENSIONS)
TIMER_KEYS = ("warmup_runs", "warmup_s", "min_runs", "min_time_s", "max_time_s", "max_runs")
DEFAULTS = {"width": [None], "resolution": [None], "batch": [1], "threads": [None], "dtype": ["float32"],
            "runtime": ["torch"], "target": ["local"], "device": ["cpu"], "mode": ["eager"], "layout": ["nchw"]}
MAX_VALUES = 10_000          # per dimension
MAX_POINTS = 1_000_000       # per grid, analytic points and timing points each
MAX_NETWORKS = 1_000
MAX_GRID_BYTES = 1 << 20


@dataclass
class Network:
    """One network entry: what Job.net gets (a zoo name, a YAML path, or 'module:SPEC') and its dimensions."""

    spec: str
    label: str
    kind: str                    # zoo | yaml | module
    dims: dict                   # dimension -> list of values
    line: int | None = None
    widthable: bool = True


@dataclass
class Grid:
    file: str
    networks: list[Network]
    analytic: bool = True
    timing: bool = True
    timer: dict = field(default_factory=dict)
    cooldown_s: float = 0.0
    timeout_s: float = 600.0
    retries: int = 2
    seed: int = 0


class _Reader:
    def __init__(self, file: str):
        self.file = file

    def fail(self, key: str, expected: str, got=None, holder=None, sub=None, line=None):
        raise ConfigError(self.file, key, expected, got, line if line is not None else line_of(holder, sub))

    def keys(self, mapping: dict, allowed, key_prefix: str):
        for k in mapping:
            if k not in allowed:
                self.fail(f"{key_prefix}{k}", f"unknown key{suggest(str(k), allowed)}; known: {', '.join(allowed)}",
                          holder=mapping, sub=k)

    def number(self, v, key, holder, sub, *, integer=False, positive=True, allow_zero=False):
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        if ok and integer:
            ok = float(v).is_integer()
        if ok and positive:
            ok = v > 0 or (allow_zero and v == 0)
        if not ok:
            what = "an integer" if integer else "a number"
            bound = " >= 0" if allow_zero else " above 0" if positive else ""
            self.fail(key, f"expected {what}{bound}", v, holder, sub)
        return int(v) if integer else float(v)

    def range_(self, spec: dict, key: str, holder, sub, integer: bool) -> list:
        self.keys(spec, ("from", "to", "step"), f"{key}.")
        for k in ("from", "to", "step"):
            if k not in spec:
                self.fail(f"{key}.{k}", "missing (a range is {from: A, to: B, step: S})", holder=holder, sub=sub)
        lo, hi, step = (self.number(spec[k], f"{key}.{k}", spec, k, integer=integer) for k in ("from", "to", "step"))
        if hi < lo:
            self.fail(f"{key}.to", f"expected at least from ({lo:g})", hi, spec, "to")
        n = math.floor((hi - lo) / step + 1e-9) + 1
        if n > MAX_VALUES:
            self.fail(key, f"a range of at most {MAX_VALUES} values", f"{n} values", holder, sub)
        return [int(lo + i * step) if integer else round(lo + i * step, 10) for i in range(n)]

    def values(self, raw, dim: str, key: str, holder, sub) -> list:
        """One dimension's values: a scalar, a list, or (width, resolution) a range."""
        integer = dim in ("resolution", "batch", "threads")
        if isinstance(raw, dict):
            if dim not in ("width", "resolution"):
                self.fail(key, "expected a value or a list (ranges are for width and resolution)", "a mapping",
                          holder, sub)
            return self.range_(raw, key, holder, sub, integer)
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            self.fail(key, "expected at least one value", "[]", holder, sub)
        if len(items) > MAX_VALUES:
            self.fail(key, f"at most {MAX_VALUES} values", len(items), holder, sub)
        out = []
        for i, v in enumerate(items):
            k = f"{key}[{i}]" if isinstance(raw, list) else key
            out.append(self.scalar(v, dim, k, holder, sub))
        return list(dict.fromkeys(out))

    def scalar(self, v, dim: str, key: str, holder, sub):
        if v is None and dim in ("width", "resolution", "threads"):
            return None                      # the file's own width / resolution; the default threads
        if dim == "width":
            return self.number(v, key, holder, sub)
        if dim in ("resolution", "batch", "threads"):
            return self.number(v, key, holder, sub, integer=True)
        if not isinstance(v, str) or not v.strip():
            self.fail(key, "expected a name", v, holder, sub)
        v = v.strip() if dim == "target" else v.strip().lower()
        from lwbench.measure.timer import LAYOUTS, MODES
        from lwbench.vocab import DTYPE_BYTES

        choices = {"dtype": tuple(DTYPE_BYTES), "mode": MODES, "layout": LAYOUTS}.get(dim)
        if choices and v not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}{suggest(v, choices)}", v, holder, sub)
        return v


def _grid_dir(file: str) -> Path:
    return Path(file).resolve().parent


def _network_spec(r: _Reader, name, key: str, holder, sub, base: Path, line=None) -> list[tuple[str, str, str]]:
    """(spec, label, kind) for one `networks` name: a zoo glob expands to every zoo name it matches."""
    from lwbench.spec.zoo import index

    if not isinstance(name, str) or not name.strip():
        r.fail(key, "expected a zoo name, a YAML path or {module: package.module:factory}", name, holder, sub, line)
    name = name.strip()
    path_part = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    if path_part.endswith((".yaml", ".yml")) or "/" in path_part:
        p = Path(path_part)
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            r.fail(key, f"no such YAML file ({p})", name, holder, sub, line)
        spec = str(p) + (name[len(path_part):] if name != path_part else "")
        return [(spec, name, "yaml")]
    zoo = index()
    if any(c in name for c in "*?["):
        hits = [n for n in sorted(zoo) if fnmatch.fnmatchcase(n, name)]
        if not hits:
            r.fail(key, "the pattern matches no zoo network (lwbench list shows the zoo)", name, holder, sub, line)
        return [(n, n, "zoo") for n in hits]
    if name not in zoo:
        r.fail(key, f"unknown network{suggest(name, zoo)} (lwbench list shows the zoo)", name, holder, sub, line)
    return [(name, name, "zoo")]


def _module_spec(r: _Reader, raw, key: str, holder, sub, base: Path) -> tuple[str, str, str]:
    if not isinstance(raw, str) or raw.count(":") < 1 or not raw.rpartition(":")[2]:
        r.fail(key, "expected package.module:factory or file.py:factory", raw, holder, sub)
    mod, _, attr = raw.rpartition(":")
    if mod.endswith(".py"):
        p = Path(mod) if Path(mod).is_absolute() else base / mod
        if not p.is_file():
            r.fail(key, f"no such Python file ({p})", raw, holder, sub)
        mod = str(p)
    return f"module:{mod}:{attr}", raw, "module"


def _widthable(spec: str, kind: str) -> bool:
    """Whether `width` can scale this network: a YAML file with a channel rule."""
    if kind == "module":
        return False
    from lwbench.spec import cache
    from lwbench.spec.zoo import resolve

    file, _ = resolve(spec)
    return "channels" in cache.document(file)[0]


def _item_lines(file: str) -> dict[str, list[int]]:
    """Line of each item of the top-level lists (read_yaml's mappings know their keys' lines, lists do not)."""
    import yaml

    try:
        root = yaml.compose(Path(file).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    out = {}
    for k, v in getattr(root, "value", []) if isinstance(root, yaml.MappingNode) else []:
        if isinstance(v, yaml.SequenceNode):
            out[str(k.value)] = [item.start_mark.line + 1 for item in v.value]
    return out


def _entries(r: _Reader, doc: dict, base: Path) -> list[tuple]:
    """(index, spec, label, kind, dimension overrides, the entry's mapping or None, line) per network."""
    nets = doc.get("networks")
    if "networks" not in doc:
        r.fail("networks", "missing (a list of zoo names, YAML paths or {module: ...})")
    if not isinstance(nets, list) or not nets:
        r.fail("networks", "expected a non-empty list", nets, doc, "networks")
    lines = _item_lines(r.file).get("networks", [])
    out = []
    for i, item in enumerate(nets):
        key = f"networks[{i}]"
        line = lines[i] if i < len(lines) else line_of(doc, "networks")
        if isinstance(item, dict):
            r.keys(item, NET_KEYS, f"{key}.")
            if ("name" in item) == ("module" in item):
                r.fail(key, "expected exactly one of name, module", line=line)
            specs = ([_module_spec(r, item["module"], f"{key}.module", item, "module", base)] if "module" in item
                     else _network_spec(r, item["name"], f"{key}.name", item, "name", base))
            over = {d: r.values(item[d], d, f"{key}.{d}", item, d) for d in DIMENSIONS if d in item}
        else:
            specs = _network_spec(r, item, key, None, None, base, line)
            item, over = None, {}
        out += [(i, s, label, kind, over, item, line) for s, label, kind in specs]
    if len(out) > MAX_NETWORKS:
        r.fail("networks", f"at most {MAX_NETWORKS} networks", len(out), doc, "networks")
    return out


def _settings(r: _Reader, doc: dict, grid: Grid) -> None:
    for k in ("analytic", "timing"):
        if k in doc:
            if not isinstance(doc[k], bool):
                r.fail(k, "expected true or false", doc[k], doc, k)
            setattr(grid, k, doc[k])
    if not (grid.analytic or grid.timing):
        r.fail("timing", "analytic and timing are both false: the grid has nothing to do", holder=doc, sub="timing")
    if "timer" in doc:
        t = doc["timer"]
        if not isinstance(t, dict):
            r.fail("timer", "expected a mapping (warmup_s, min_runs, min_time_s, max_time_s, ...)", t, doc, "timer")
        r.keys(t, TIMER_KEYS, "timer.")
        for k, v in t.items():
            integer = k.endswith("_runs")
            t_val = r.number(v, f"timer.{k}", t, k, integer=integer, allow_zero=True)
            grid.timer[k] = t_val
        from lwbench.measure.timer import TimerConfig

        try:
            TimerConfig(**grid.timer)
        except LwbenchError as e:
            r.fail("timer", str(e), holder=doc, sub="timer")
    if "cooldown_s" in doc:
        grid.cooldown_s = r.number(doc["cooldown_s"], "cooldown_s", doc, "cooldown_s", allow_zero=True)
    if "timeout_s" in doc:
        grid.timeout_s = r.number(doc["timeout_s"], "timeout_s", doc, "timeout_s")
    if "retries" in doc:
        grid.retries = r.number(doc["retries"], "retries", doc, "retries", integer=True, allow_zero=True)
        if grid.retries > 10:
            r.fail("retries", "at most 10", grid.retries, doc, "retries")
    if "seed" in doc:
        grid.seed = r.number(doc["seed"], "seed", doc, "seed", integer=True, positive=False)


def read_grid(path: str) -> Grid:
    """Read and validate a grid file; every problem is one ConfigError naming file, line and key."""
    file = str(path)
    if os.path.isfile(file) and os.path.getsize(file) > MAX_GRID_BYTES:
        raise ConfigError(file, "", f"a grid file of at most {MAX_GRID_BYTES} bytes",
                          f"{os.path.getsize(file)} bytes")
    doc = read_yaml(file)
    r = _Reader(file)
    if not isinstance(doc, dict):
        r.fail("", "expected a mapping at the top (networks, width, resolution, ...)", type(doc).__name__)
    r.keys(doc, TOP_KEYS, "")
    top = {d: r.values(doc[d], d, d, doc, d) for d in DIMENSIONS if d in doc}
    grid = Grid(file=file, networks=[])
    _settings(r, doc, grid)
    from lwbench.measure.timer import TimerConfig

    grid.timer = TimerConfig(**grid.timer).to_dict()   # every setting in the job identity, defaults included
    for i, spec, label, kind, over, item, line in _entries(r, doc, _grid_dir(file)):
        dims = {d: over.get(d, top.get(d, DEFAULTS[d])) for d in DIMENSIONS}
        net = Network(spec=spec, label=label, kind=kind, dims=dims, line=line, widthable=_widthable(spec, kind))
        if not net.widthable and dims["width"] != [None]:
            why = ("a torch factory has no channel rule" if kind == "module" else
                   f"{label} has no channel rule (channels:), so width cannot scale it")
            if "width" in over:
                r.fail(f"networks[{i}].width", f"{why}; use width: null", holder=item, sub="width")
            r.fail("width", f"{why} (networks[{i}], line {line}); give that entry `width: null` (its named "
                   "variants are its widths)", holder=doc, sub="width")
        if kind == "module" and dims["resolution"] == [None]:
            dims["resolution"] = [224]
        grid.networks.append(net)
    return grid
