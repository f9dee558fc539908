"""The vocabulary of the export schema: what a column and an export kind are, and the columns several kinds
share (model, params, madds, mac, the timing statistics). report/schema.py builds the kinds from these."""

from __future__ import annotations

import re
from dataclasses import dataclass

TYPES = ("str", "int", "float", "bool", "list[float]")


@dataclass(frozen=True)
class Column:
    """One column. `name` may hold a `<placeholder>` (a family of columns, e.g. `madds_<category>`).

    better: "lower" / "higher" when a smaller / larger value is better (compare colours), else "".
    """

    name: str
    unit: str
    type: str
    meaning: str
    required: bool = False
    better: str = ""

    @property
    def pattern(self) -> re.Pattern | None:
        if "<" not in self.name:
            return None
        parts = re.split(r"(<[^>]+>)", self.name)
        sub = {"<label>": "[A-Z]"}  # compare's file labels A, B, C, …
        return re.compile("^" + "".join(sub.get(p, ".+") if p.startswith("<") else re.escape(p) for p in parts) + "$")

    def matches(self, col: str) -> bool:
        p = self.pattern
        return bool(p.match(col)) if p else col == self.name


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    doc: str
    columns: tuple[Column, ...]
    config: tuple[str, ...] = ()  # columns that identify a row (the configuration measured or counted)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column | None:
        """The definition of a column: an exact name first, then a family (`madds_<category>`). A name that is
        only a placeholder (`<key>`: the aligned columns of a comparison; `<y>`, `<group>` of plotted numbers)
        documents, it defines nothing: those columns keep their own types."""
        for c in self.columns:
            if c.name == name:
                return c
        for c in self.columns:
            if c.pattern is not None and not re.fullmatch(r"<[^>]+>", c.name) and c.matches(name):
                return c
        return None


def _c(name, unit, type_, meaning, required=False, better=""):
    return Column(name, unit, type_, meaning, required, better)


# --- shared column definitions -----------------------------------------------------------------------------
MODEL = _c("model", "", "str", "Network name: a zoo name (`lwbench list`) or the `name:` of a YAML file.", True)
PARAMS = _c("params", "parameters", "int", "Learnable parameters (weights and biases; BN γ, β).", True, "lower")
MADDS = _c("madds", "multiply-adds", "int", "Multiply-adds of conv/linear/matmul for the whole batch "
           "(one multiply-add = 1; what papers call FLOPs and fvcore calls flops).", True, "lower")
MAC_ELEMS = _c("mac_elems", "elements", "int", "Memory access cost (ShuffleNet V2, Sec. 2): feature-map elements "
               "read and written for the whole batch plus weights and buffers read once per batch.", True, "lower")
MAC_BYTES = _c("mac_bytes", "bytes", "int", "mac_elems × bytes per element of `dtype`.", False, "lower")
OUT_ELEMS = _c("out_elems", "elements", "int", "Output feature-map elements written for the whole batch "
               "(0 for free ops: views, identities).", False, "lower")
BATCH = _c("batch", "images", "int", "Images per batch; madds, mac and times are for the whole batch.", True)
DTYPE = _c("dtype", "", "str", "Element type (float32, bfloat16, float16, int8): sets mac_bytes; in timing rows "
           "the precision the network ran in (float32, bfloat16 or float16: parameters and input cast, no autocast).")
INPUT = _c("input", "C×H×W", "str", "Input shape per image, e.g. 3x224x224.")

TIMING_STATS = (
    _c("n", "runs", "int", "Measured runs (after warm-up) behind the statistics."),
    _c("median_ms", "ms", "float", "Median latency of one run (one forward of the whole batch): the headline.",
       True, "lower"),
    _c("mean_ms", "ms", "float", "Mean latency of one run.", False, "lower"),
    _c("std_ms", "ms", "float", "Standard deviation of the run latencies.", False, "lower"),
    _c("iqr_ms", "ms", "float", "Inter-quartile range (p75 − p25) of the run latencies.", False, "lower"),
    _c("min_ms", "ms", "float", "Fastest run.", False, "lower"),
    _c("p90_ms", "ms", "float", "90th percentile of the run latencies.", False, "lower"),
    _c("p99_ms", "ms", "float", "99th percentile of the run latencies.", False, "lower"),
    _c("max_ms", "ms", "float", "Slowest measured run.", False, "lower"),
    _c("images_per_s", "images/s", "float", "Throughput: batch / median_s.", False, "higher"),
    _c("batches_per_s", "batches/s", "float", "Throughput: 1 / median_s (ShuffleNet V2's GPU speed unit).",
       False, "higher"),
    _c("noisy", "", "bool", "True when iqr_ms / median_ms > 10%: the figure is not stable."),
    _c("first_run_ms", "ms", "float", "The very first call, reported apart (never folded into the statistics).",
       False, "lower"),
    _c("compile_s", "s", "float", "Preparation time in script/compile modes; empty in eager mode.", False, "lower"),
    _c("cpu_share", "fraction", "float", "Process CPU time / (wall time × threads) while timing: well below 1 on "
       "CPU means other processes took the cores.", False, "higher"),
    _c("contended", "", "bool", "True when a CPU row's cpu_share was below 0.85: other load disturbed it."),
)
