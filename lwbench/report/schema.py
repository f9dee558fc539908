"""The one schema of every lwbench export: per-layer rows, per-network summaries, timing rows, guideline rows
and comparisons. Each column has a name (which carries its unit), a unit, a type and a meaning.

The same columns appear in CSV, JSON and Markdown. CSV files carry the machine block (and other metadata)
as leading `# key: value` comment lines (`# machine: {json}`); JSON documents carry it as a "machine" key.
`lwbench schema` prints this; docs/schema.md is generated from it (`lwbench schema --format md`).

`detect_kind(columns)` recognises an export from its columns; `validate(frame)` checks one and returns its
kind, raising `InputError` (one line) for a file that is not an lwbench export or lacks columns.
"""

from __future__ import annotations

from lwbench.errors import InputError
from lwbench.report.columns import (  # noqa: F401 - the schema's vocabulary, re-exported
    BATCH,
    DTYPE,
    INPUT,
    MAC_BYTES,
    MAC_ELEMS,
    MADDS,
    MODEL,
    OUT_ELEMS,
    PARAMS,
    TIMING_STATS,
    TYPES,
    Column,
    Kind,
    _c,
)

LAYERS = Kind(
    "layers", "Per-layer rows",
    "`lwbench profile NET --format csv|json|md`: one row per layer of the IR (the layer name is the module path "
    "of the built torch model). CSV: a `# machine: {json}` line, then the rows; JSON: a profile object "
    "`{machine, model, input, batch, dtype, bn_policy, totals, madds_by_kind, mac_elems_by_kind, layers: [rows]}` (with `--module` also `unsupported: {aten op: calls}` and `params_not_run`), "
    "or a list of them for several networks; Markdown: `<!-- machine: {json} -->`, then a table per network. "
    "`lwbench profile NET --time` adds the measured columns (time_ms … gb_per_s; out_elems and note are then "
    "left out) and the machine block: CSV comment lines `# machine:`, `# timer:`, `# end_to_end MODEL:`, "
    "`# by_category MODEL:`; JSON `{machine, timer, end_to_end, layers, by_category}`; the network runs in "
    "--dtype (float32, bfloat16 or float16), recorded in end_to_end.dtype, and mac_bytes / gb_per_s use its size.",
    (
        MODEL,
        _c("layer", "", "str", "Layer name = module path in the built torch model (joins counted and timed rows).",
           True),
        _c("kind", "", "str", "Op kind from the registry (conv2d, batchnorm, relu, add, concat, shuffle, …).", True),
        _c("category", "", "str", "Coarse group: conv (full or grouped k×k), depthwise, pointwise (1×1), linear, "
           "element-wise, pooling, concat/split, shuffle, other."),
        _c("in_shape", "C×H×W", "str", "Input shape(s) per image; several inputs joined by '+'."),
        _c("out_shape", "C×H×W", "str", "Output shape(s) per image; several outputs joined by '+'."),
        PARAMS, MADDS, MAC_ELEMS, MAC_BYTES, OUT_ELEMS,
        _c("note", "", "str", "Reporting remarks (e.g. 'bn folded in (+bias)'); empty otherwise."),
        _c("time_ms", "ms", "float", "`profile --time`: median measured time of this layer (forward hooks; "
           "own kernels plus a little hook overhead).", False, "lower"),
        _c("time_pct", "%", "float", "`profile --time`: share of the summed per-layer time.", False),
        _c("madds_pct", "%", "float", "`profile --time`: share of the network's madds."),
        _c("mac_pct", "%", "float", "`profile --time`: share of the network's mac_elems."),
        _c("gflop_per_s", "GFLOP/s", "float", "`profile --time`: achieved 2·madds / time_ms (one multiply-add "
           "= 2 floating-point operations).", False, "higher"),
        _c("gb_per_s", "GB/s", "float", "`profile --time`: achieved mac_bytes / time_ms.", False, "higher"),
    ),
    config=("model", "layer"),
)

SUMMARY = Kind(
    "summary", "Per-network summary rows",
    "`lwbench profile --all` / `lwbench profile NET… --summary`: one row per network (`Profile.summary()`). "
    "CSV: a `# machine: {json}` line, then the rows; JSON: `{machine, rows}`; Markdown: `<!-- machine: {json} "
    "-->`, then the table. Timing columns are present when the summary was joined with a measurement.",
    (
        MODEL,
        _c("input", "C×H×W", "str", "Input shape per image, e.g. 3x224x224.", True),
        BATCH,
        _c("dtype", "", "str", DTYPE.meaning, True),
        _c("layers", "layers", "int", "Rows of the per-layer profile (BN folded in removes rows).", True),
        PARAMS, MADDS, MAC_ELEMS, MAC_BYTES, OUT_ELEMS,
        _c("madds_<category>", "multiply-adds", "int", "Multiply-adds of one layer category (category with '/' "
           "and '-' written '_': madds_conv, madds_depthwise, madds_pointwise, madds_linear, …; every "
           "category present, 0 where none).", False, "lower"),
        _c("mac_elems_<category>", "elements", "int", "Memory access cost of one layer category (mac_elems_"
           "element_wise, mac_elems_shuffle, mac_elems_concat_split, …: ShuffleNet V2's G3/G4 costs).", False, "lower"),
        *[c for c in TIMING_STATS if c.name in ("median_ms", "iqr_ms", "images_per_s", "batches_per_s")],
    ),
    config=("model", "input", "batch", "dtype"),
)
# in a summary, timing columns are optional
SUMMARY = Kind(SUMMARY.name, SUMMARY.title, SUMMARY.doc,
               tuple(Column(c.name, c.unit, c.type, c.meaning, c.required and c.unit != "ms", c.better)
                     for c in SUMMARY.columns), SUMMARY.config)

TIMING = Kind(
    "timing", "Timing rows",
    "`lwbench bench`: one row per (model, device, mode, layout, threads, batch, dtype). JSON: "
    "`{machine: {...}, timer: {...}, rows: [rows]}` where each row adds `samples_ms`. CSV: the machine block "
    "and the timer settings as leading `# machine: {json}` / `# timer: {json}` comment lines; Markdown: an "
    "HTML comment `<!-- machine: {json} -->` before the table.",
    (
        MODEL,
        _c("device", "", "str", "Where it ran: cpu, cuda, cuda:1, …", True),
        _c("mode", "", "str", "eager, script (TorchScript) or compile (torch.compile)."),
        _c("layout", "", "str", "Memory format: contiguous (NCHW) or channels_last (NHWC)."),
        _c("threads", "threads", "int", "CPU intra-op threads (torch.set_num_threads); inter-op threads are 1.",
           True),
        BATCH,
        DTYPE,
        _c("runtime", "", "str", "What ran the network (`--runtime`, lwbench.runtimes): torch, …; absent in "
           "files written before runtimes existed (they are torch)."),
        _c("target", "", "str", "Where it ran (`--target`, lwbench.targets): local, or the remote target's spec."),
        _c("input", "C×H×W", "str", "Input shape per image, e.g. 3x224x224."),
        _c("cores", "", "str", "CPU cores the run was pinned to (a Linux CPU list, e.g. 0-3 or 4-7)."),
        _c("interop_threads", "threads", "int", "Inter-op threads (1 unless the platform refuses)."),
        _c("options", "", "str", "The runtime's options, `name=value` separated by spaces (onnxruntime: "
           "`ort_opt=all`, the graph optimisation level); empty for torch."),
        _c("ep", "", "str", "onnxruntime: the execution provider that ran the graph (CPUExecutionProvider, "
           "CUDAExecutionProvider); empty for torch."),
        _c("valid", "", "bool", "onnxruntime: the output matched torch's on the same input within the tolerance "
           "(float32: rel_err <= 1e-4; int8: l2_rel_err <= 0.75, int8 noise on lively random weights). An invalid row has an error and no latency."),
        _c("max_abs_err", "output units", "float", "onnxruntime: largest |output − torch output| on the checked input."),
        _c("rel_err", "fraction", "float", "onnxruntime: max_abs_err / max |torch output| (the float32 tolerance)."),
        _c("l2_rel_err", "fraction", "float", "onnxruntime: ‖output − torch output‖ / ‖torch output‖ (the int8 "
           "tolerance)."),
        *TIMING_STATS,
        _c("rounds", "rounds", "int", "`bench --rounds N`: round-robin rounds the row was measured in, each a fresh "
           "worker timing 1/N of --min-time, the samples pooled into the statistics; empty for one round."),
        _c("rounds_spread", "fraction", "float", "`bench --rounds N`: max/min − 1 of the rounds' own medians (how "
           "far the machine drifted during the row's rounds); empty for one round."),
        Column(PARAMS.name, PARAMS.unit, PARAMS.type, PARAMS.meaning, False, PARAMS.better),
        Column(MADDS.name, MADDS.unit, MADDS.type, MADDS.meaning, False, MADDS.better),
        Column(MAC_ELEMS.name, MAC_ELEMS.unit, MAC_ELEMS.type, MAC_ELEMS.meaning, False, MAC_ELEMS.better),
        _c("error", "", "str", "Why the row did not run (one line); empty when it ran."),
        _c("samples_ms", "ms", "list[float]", "JSON only (a JSON list in CSV): every measured run's latency."),
    ),
    config=("model", "device", "mode", "layout", "threads", "batch", "dtype"),
)

GUIDELINES = Kind(
    "guidelines", "Guideline rows",
    "`lwbench guidelines`: ShuffleNet V2's G1–G4 experiments (Ma et al., ECCV 2018, Sec. 2, Tables 1–4), one "
    "row per setting and scale, the paper's figures beside the measured ones. CSV comment lines: `# machine:`, "
    "`# config:`, `# budget:` (the time planned before the run: rows, rounds, per-row min/max time, planned_s, "
    "cap_s), `# duration_s:` (the run's wall time, s), `# measured_s:` (the sum of the measured runs, s), "
    "`# madds_spread G? x?:`, `# verdict G?:`; JSON `{machine, config, budget, duration_s, measured_s, spreads, "
    "verdicts, rows}` where rows add `samples_ms`; Markdown: the same metadata as `<!-- key: json -->` comments, "
    "a readable table per guideline, then the rows with these columns (what `lwbench compare`/`plot` load).",
    (
        _c("guideline", "", "str", "G1 (equal channel width minimises mac), G2 (group convolution), "
           "G3 (fragmentation), G4 (element-wise operations).", True),
        _c("table", "table", "int", "Number of the paper's table the rows reproduce (1 … 4)."),
        _c("setting", "", "str", "The row of the paper's table, e.g. '1:1', 'g=2', '2-fragment-series', "
           "'ReLU, short-cut'.", True),
        _c("reference", "", "bool", "True for the row the ratios are taken against."),
        _c("scale", "", "str", "The paper's column: x1, x2, x4 (G1/G2: 1×, 2×, 4× the x1 madds; G3/G4: its "
           "three channel settings)."),
        _c("device", "", "str", "Where it ran: cpu (speed in images/s, the paper's ARM unit) or cuda "
           "(batches/s, its GPU unit).", True),
        _c("channel_setup", "", "str", "Which of the paper's channel settings was built: gpu or arm."),
        _c("channels", "channels", "str", "Channel widths of the micro-network (c1:c2, c, per the table)."),
        _c("input", "N×C×H×W", "str", "Input shape including the batch, e.g. 1x128x56x56."),
        _c("batch", "images", "int", "Images per batch."),
        _c("threads", "threads", "int", "CPU intra-op threads (inter-op 1)."),
        _c("interop_threads", "threads", "int", "Inter-op threads in effect."),
        Column(PARAMS.name, PARAMS.unit, PARAMS.type, PARAMS.meaning, False, PARAMS.better),
        Column(MADDS.name, MADDS.unit, MADDS.type, "Multiply-adds of the micro-network for the batch (held "
               "nearly constant across a guideline's settings by design; see madds_spread).", False, "lower"),
        Column(MAC_ELEMS.name, MAC_ELEMS.unit, MAC_ELEMS.type, MAC_ELEMS.meaning, False, "lower"),
        _c("madds_spread", "fraction", "float", "max/min − 1 of the madds of the experiment's settings at this "
           "scale (above 0.06 is a configuration error)."),
        _c("rounds", "rounds", "int", "Round-robin slices the rows of a table were measured in (samples pooled)."),
        *[c for c in TIMING_STATS if c.name not in ("compile_s",)],
        _c("iqr_pct", "%", "float", "iqr_ms / median_ms × 100: the spread of the measurement."),
        _c("ratio", "×", "float", "Speed / the reference row's speed, in the paper's unit for the device "
           "(images_per_s on cpu, batches_per_s on cuda); > 1: faster than the reference.", False, "higher"),
        _c("paper_gpu_batches_per_s", "batches/s", "float", "The paper's GPU figure for this setting (GTX 1080Ti, "
           "batches/s).", False, "higher"),
        _c("paper_gpu_ratio", "×", "float", "The paper's GPU speed / its reference row's.", False, "higher"),
        _c("paper_arm_images_per_s", "images/s", "float", "The paper's ARM figure for this setting "
           "(Snapdragon 810, one thread, images/s).", False, "higher"),
        _c("paper_arm_ratio", "×", "float", "The paper's ARM speed / its reference row's.", False, "higher"),
        _c("error", "", "str", "Why the row did not run (one line); empty when it ran."),
        _c("samples_ms", "ms", "list[float]", "JSON only: every measured run's latency."),
    ),
    config=("guideline", "setting", "scale", "device", "channel_setup", "threads", "batch"),
)

BREAKDOWN = Kind(
    "breakdown", "Time per op category (ShuffleNet V2, Fig. 2)",
    "`lwbench guidelines --breakdown [--runtime onnxruntime]`: one row per network, the measured time split by op "
    "category (torch: forward hooks per layer; onnxruntime: ORT's per-node kernel times joined to the layers, a "
    "fused node in its main layer's category) next to the end-to-end latency.",
    (
        MODEL,
        _c("runtime", "", "str", "What ran it: torch (eager, hooks) or onnxruntime (profiler)."),
        _c("ort_opt", "", "str", "onnxruntime: the graph optimisation level (--ort-opt)."),
        _c("ep", "", "str", "onnxruntime: the execution provider that ran it."),
        _c("device", "", "str", "Where it ran: cpu or cuda.", True),
        BATCH,
        _c("threads", "threads", "int", "CPU intra-op threads."),
        _c("runs", "runs", "int", "Measured forward passes with hooks."),
        _c("forward_median_ms", "ms", "float", "End-to-end median latency without hooks.", True, "lower"),
        _c("hooked_median_ms", "ms", "float", "Median latency of the forward with per-layer hooks.", False,
           "lower"),
        _c("layers_total_ms", "ms", "float", "Sum of the per-layer medians (onnxruntime: of every profiled node's "
           "kernel median).", True, "lower"),
        _c("<category>_ms", "ms", "float", "Summed per-layer time of one category: conv (with linear), "
           "element_wise, shuffle, concat_split, other.", False, "lower"),
        _c("<category>_pct", "%", "float", "That category's share of layers_total_ms."),
        _c("ort_own_ms", "ms", "float", "onnxruntime: kernel time of ORT's own nodes (layout reorders, copies, "
           "Q/DQ), a category of its own.", False, "lower"),
        _c("ort_own_pct", "%", "float", "onnxruntime: ort_own_ms's share of layers_total_ms."),
        _c("unattributed_ms", "ms", "float", "onnxruntime: kernel time the join could not place on a layer (0 on "
           "every zoo network).", False, "lower"),
        _c("unattributed_pct", "%", "float", "onnxruntime: unattributed_ms's share of layers_total_ms."),
        _c("fused_groups", "groups", "int", "onnxruntime: ORT nodes (or merged nodes) that compute more than one layer."),
        _c("fused_layers", "layers", "int", "onnxruntime: layers inside those fused groups."),
        _c("fused_pct", "%", "float", "onnxruntime: the fused groups' share of layers_total_ms."),
        _c("rel_err", "fraction", "float", "onnxruntime: max |ORT - torch| / max |torch| of the checked output."),
        Column(MADDS.name, MADDS.unit, MADDS.type, MADDS.meaning, False, "lower"),
    ),
    config=("model", "device", "batch", "threads"),
)

VERIFY = Kind(
    "verify", "Verification rows",
    "`lwbench verify NET -o x.csv`: one row per layer, the analytic count beside a second, independent "
    "count (the torch-side counter on the built module: aten ops) and fvcore's for conv/linear layers. JSON: "
    "`{machine, checks, rows}` where `checks` holds one object per network `{model, status, params_analytic, "
    "params_module, layers, torch_layers_agree, fvcore_layers, fvcore_layers_agree, fvcore_unsupported, "
    "lwbench_unsupported, mismatches, forward_input (the real forward pass fvcore traces, N×C×H×W), "
    "forward_layers_agree (layers whose output there has the IR's shape), error, seconds, ok}` and `rows` these "
    "rows; CSV: `# machine:` and `# lwbench verify:` lines; Markdown: `<!-- machine: {json} -->`.",
    (
        MODEL,
        _c("layer", "", "str", "Layer name = module path in the built torch model.", True),
        _c("kind", "", "str", "Op kind from the registry."),
        _c("<quantity>_analytic", "unit of <quantity>", "int", "params, madds or mac_elems from the cost rules "
           "(lwbench.count).", False),
        _c("<quantity>_torch", "unit of <quantity>", "int", "The same quantity from the torch-side counter "
           "(empty when the layer is missing there)."),
        _c("madds_fvcore", "multiply-adds", "int", "fvcore's count for conv/linear layers (fvcore calls them "
           "flops); empty for other kinds or with --no-fvcore."),
        _c("agree", "", "bool", "True when every quantity of the layer agrees across the counters.", True),
    ),
    config=("model", "layer"),
)

COMPARE = Kind(
    "compare", "Comparison rows",
    "`lwbench compare A B [C…] --output FILE`: one row per aligned key; file A is the baseline. Metadata, as "
    "CSV comment lines `# key: {json}`, JSON keys or Markdown `<!-- key: {json} -->` comments: `machine` (where "
    "the comparison was made), `files` (label A, B, C, … -> path), `keys`, `metrics`, `constants` (configuration "
    "columns constant per file) and `machines` (label -> the machine block of that file, when it has one); JSON "
    "also lists the `columns` (so a comparison without rows keeps them).",
    (
        _c("<key>", "", "str", "The key columns the rows were aligned on (layer, kind, model, configuration "
           "columns).", False),
        _c("<metric>_ratio_<label>", "×", "float", "<metric>_<label> / <metric>_A (1.0 = same as the baseline)."),
        _c("<metric>_<label>", "unit of <metric>", "float", "The metric's value in file <label> (empty when the "
           "row is absent from that file)."),
        _c("present", "", "str", "Labels of the files holding this row, e.g. 'A,B' or 'B' (only in B).", True),
    ),
)

PLOT = Kind(
    "plot", "Plotted numbers",
    "`lwbench plot FILE -o FIG --data DATA.csv|json|md`: the numbers a figure shows, one row per point or bar, "
    "so a figure can be checked against its export. Metadata (CSV `# key: {json}` lines, JSON keys, Markdown "
    "`<!-- key: {json} -->`): `machine`, `plot` (the figure kind), `source` (the export it was drawn from), "
    "`figure`, and for a roofline `peaks`. Its columns depend on the figure: latency-vs-madds `model, series, "
    "family, madds, <y>`; layer-shares `<group>, madds_share, mac_share, time_share`; roofline `layer, category, "
    "intensity_flop_per_byte, gflop_per_s`; guideline-ratios `guideline, scale, setting, ratio, paper_gpu_ratio, "
    "paper_arm_ratio`. Not an input of compare or plot: use its `source`.",
    (
        _c("model", "", "str", "latency-vs-madds: the network of the point."),
        _c("series", "", "str", "latency-vs-madds: the point's series (one colour and legend entry): what ran it "
           "when runtime, mode, dtype or options vary ('torch eager float32', 'torch compile float32', "
           "'onnxruntime int8'), then any other varying setting as key=value ('threads=4'); empty when there is "
           "one configuration."),
        _c("family", "", "str", "latency-vs-madds: the network's family (the name without its width/resolution "
           "suffix): the marker shape, and the line joining a series' networks of one family."),
        Column(MADDS.name, MADDS.unit, MADDS.type, "latency-vs-madds: the point's x (multiply-adds per batch)."),
        _c("<y>", "unit of <y>", "float", "latency-vs-madds: the point's y, the column chosen with --y "
           "(median_ms, min_ms, p90_ms, mean_ms, images_per_s, batches_per_s)."),
        _c("<group>", "", "str", "layer-shares: the bar's layer, kind or category (--group)."),
        _c("madds_share", "fraction", "float", "layer-shares: the group's madds / the network's madds."),
        _c("mac_share", "fraction", "float", "layer-shares: the group's mac_elems / the network's mac_elems."),
        _c("time_share", "fraction", "float", "layer-shares: the group's time_ms / the summed per-layer time "
           "(`profile --time` exports only)."),
        _c("layer", "", "str", "roofline: the layer of the point (layers with madds and a measured time)."),
        _c("category", "", "str", "roofline: the layer's category (the point's colour)."),
        _c("intensity_flop_per_byte", "FLOP/byte", "float", "roofline: the point's x, 2·madds / mac_bytes."),
        _c("gflop_per_s", "GFLOP/s", "float", "roofline: the point's y, 2·madds / time_ms.", False, "higher"),
        _c("guideline", "", "str", "guideline-ratios: G1 … G4 (one panel each)."),
        _c("scale", "", "str", "guideline-ratios: the paper's column (x1, x2, x4)."),
        _c("setting", "", "str", "guideline-ratios: the row of the paper's table."),
        _c("ratio", "×", "float", "guideline-ratios: measured speed / the reference row's.", False, "higher"),
        _c("paper_gpu_ratio", "×", "float", "guideline-ratios: the paper's GPU ratio.", False, "higher"),
        _c("paper_arm_ratio", "×", "float", "guideline-ratios: the paper's ARM ratio.", False, "higher"),
    ),
)

ZOO = Kind(
    "zoo", "Zoo rows",
    "`lwbench list --format csv|json|md`: one row per network of the zoo at its native resolution (batch 1, "
    "float32), with its source in full. No machine block (nothing is measured): CSV and Markdown are the bare "
    "table, JSON a list of rows.",
    (MODEL, _c("family", "", "str", "The network family (the YAML file's `family:`).", True),
     _c("input", "C×H×W", "str", "Input shape per image, e.g. 3x224x224.", True), PARAMS, MADDS, MAC_ELEMS,
     _c("source", "", "str", "The paper (and code) the YAML reproduces, in full (the table shortens it).", True)),
    config=("model",),
)


def _derived(kind: Kind, row_type, after: tuple[str, ...] = ()) -> Kind:
    """`kind` with its columns in the order of `row_type`'s fields (report.rows), then `after`; a field with
    no column, or an exact column that is neither a field nor in `after`, is a programming error."""
    from dataclasses import fields

    names = [f.name for f in fields(row_type)]
    undocumented = [n for n in names if kind.column(n) is None]
    exact = {c.name: c for c in kind.columns if c.pattern is None}
    stray = [n for n in exact if n not in names and n not in after]
    if undocumented or stray:
        raise RuntimeError(f"schema {kind.name}: fields without a column {undocumented}, columns without a "
                           f"field {stray} (report/rows.py and report/schema.py disagree)")
    ordered: list[Column] = []
    for n in (*names, *after):
        c = exact.get(n) or kind.column(n)   # a family (`<quantity>_analytic`) where its first field is
        if c is not None and c not in ordered:
            ordered.append(c)
    ordered += [c for c in kind.columns if c not in ordered]
    return Kind(kind.name, kind.title, kind.doc, tuple(ordered), kind.config)


def _rows_types():
    from lwbench.report import rows

    return rows


TIMING = _derived(TIMING, _rows_types().BenchRow, after=("samples_ms",))
ZOO = _derived(ZOO, _rows_types().ZooRow)
VERIFY = _derived(VERIFY, _rows_types().VerifyRow)
LAYERS = _derived(LAYERS, _rows_types().LayerRow, after=("time_ms", "time_pct", "madds_pct", "mac_pct",
                                                         "gflop_per_s", "gb_per_s"))

KINDS: dict[str, Kind] = {k.name: k for k in (LAYERS, SUMMARY, TIMING, GUIDELINES, BREAKDOWN, VERIFY, ZOO, COMPARE,
                                              PLOT)}
INPUT_KINDS = tuple(k for k in KINDS if k not in ("compare", "plot"))  # kinds that compare and plot read


def get_kind(name: str) -> Kind:
    from lwbench.errors import suggest

    if name not in KINDS:
        raise InputError(f"schema: no export kind {name!r}; expected one of {', '.join(KINDS)}{suggest(name, KINDS)}")
    return KINDS[name]


def column_info(name: str, kinds: tuple[str, ...] | None = None) -> Column | None:
    """The definition of a column name, looked up in the given kinds (all by default)."""
    for k in kinds or tuple(KINDS):
        c = KINDS[k].column(name)
        if c is not None:
            return c
    return None


def better(name: str) -> str:
    """'lower', 'higher' or '' for a metric column (compare colours)."""
    c = column_info(name)
    return c.better if c else ""


def _coverage(kind: Kind, cols: set[str]) -> tuple[int, int]:
    req = kind.required
    return sum(1 for r in req if r in cols), len(req)


def detect_kind(columns) -> str | None:
    """The export kind whose required columns are all present (the most specific one), else None."""
    cols = set(columns)
    best, best_n = None, -1
    for k in KINDS.values():
        have, need = _coverage(k, cols)
        if need and have == need and need > best_n:
            best, best_n = k.name, need
    return best


def missing_message(columns, source: str = "") -> str:
    """One line saying why these columns are not an lwbench export (closest kind and what it lacks)."""
    cols = set(columns)
    where = f"{source}: " if source else ""
    def score(k: Kind) -> tuple[int, float]:  # most required columns present, then the largest share of them
        have, need = _coverage(k, cols)
        return -have, -have / max(1, need)

    scored = sorted((KINDS[k] for k in INPUT_KINDS), key=score)
    k = scored[0]
    have, need = _coverage(k, cols)
    if have and have / need >= 0.5:
        miss = [r for r in k.required if r not in cols]
        return f"{where}looks like a {k.name} export but is missing columns: {', '.join(miss)}"
    shown = ", ".join(list(columns)[:8]) + (", …" if len(cols) > 8 else "")
    kinds = "; ".join(f"{x} ({', '.join(KINDS[x].required)})" for x in INPUT_KINDS)
    return f"{where}not an lwbench export (expected the columns of one of: {kinds}); got columns: {shown or 'none'}"


def validate(frame, kind: str | None = None, source: str = "") -> str:
    """Check a DataFrame against the schema; returns its kind. Raises InputError (one line) when it is not an
    lwbench export, lacks required columns, or holds non-numbers in a numeric column."""
    import pandas as pd

    cols = [str(c) for c in frame.columns]
    where = f"{source}: " if source else ""
    found = detect_kind(cols)
    if kind is None:
        if found is None:
            raise InputError(missing_message(cols, source))
        kind = found
    k = get_kind(kind)
    miss = [r for r in k.required if r not in cols]
    if miss:
        raise InputError(f"{where}{kind} export is missing columns: {', '.join(miss)}")
    for c in cols:
        info = k.column(c)
        if info is None or info.type not in ("int", "float"):
            continue
        s = frame[c]
        if not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            bad = pd.to_numeric(s.mask(s == ""), errors="coerce").isna() & s.notna() & (s != "")
            if bad.any():
                raise InputError(f"{where}column {c} ({info.unit or info.type}) holds a non-number: "
                                 f"{s[bad].iloc[0]!r} in row {int(bad.to_numpy().nonzero()[0][0]) + 1}")
    return kind


# --- rendering -------------------------------------------------------------------------------------------
