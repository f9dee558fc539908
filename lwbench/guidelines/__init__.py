"""ShuffleNet V2's guideline experiments G1–G4 (Ma et al., ECCV 2018, Sec. 2, Tables 1–4), as data.

Each experiment lives in `configs/guidelines/gN.yaml`: the paper's setup, one row per table row with the
paper's channel numbers and speeds, and the benchmark network in the lwbench network format.

- read.py: the YAML file -> Experiment (lwbench.spec.yamlio's line-aware reader; every key checked, typed,
  bounded; unknown keys refused with a suggestion; one line with file, line and key path);
- experiment.py: an Experiment and the networks it builds (a row at a scale x1 / x2 / x4 and a channel setup,
  the paper's `gpu` or `arm` channels);
- run.py: count every row (madds and mac come out as the paper's formulas say; the madds spread is checked),
  then time every row on this machine;
- verdict.py: does the paper's ordering hold here, honestly (an ordering within noise confirms nothing);
- breakdown.py: the time breakdown of the paper's Figure 2 (share of time per op category);
- saved.py: a saved CSV / JSON read back through lwbench.report.load, to re-render and re-judge it.
The tables and export texts are lwbench.report.tables.guidelines. No torch import at module level.

- G1: one 1x1 conv c1->c2 has MAC = h·w·(c1+c2) + c1·c2, lowest at c1 = c2 for fixed madds h·w·c1·c2.
- G2: a 1x1 group conv c->c with g groups has MAC = h·w·2c + c²/g, growing with g at fixed madds.
- G3: fragments (convs in series or parallel) cost speed at equal madds.
- G4: element-wise ops (ReLU, shortcut add) have zero madds but real cost.
"""

from __future__ import annotations

from lwbench.guidelines.breakdown import FIG2_NETS, breakdown, fig2_category
from lwbench.guidelines.experiment import (
    GUIDELINES,
    ROUNDINGS,
    SCALES,
    SETUPS,
    SPREAD_LIMIT,
    Experiment,
    GuidelineRow,
    ScaleRule,
    SpreadError,
    setup_for,
)
from lwbench.guidelines.read import guidelines_dir, load_all, load_experiment
from lwbench.guidelines.run import (
    DEFAULT_MAX_TIME,
    DEFAULT_MIN_TIME,
    DEFAULT_ROUNDS,
    LIMITS,
    QUICK_RESOLUTION,
    TIME_LIMIT_S,
    Budget,
    RunConfig,
    plan,
    plan_all,
    run_experiments,
)
from lwbench.guidelines.saved import RERENDER_COLUMNS, Saved, read_result_csv, read_saved
from lwbench.guidelines.verdict import PAIR_STATES, Judgement, compare_pair, device_word, judge, reverdict, verdict
from lwbench.report.tables.guidelines import (
    FIG2_CATEGORIES,
    breakdown_table,
    export_rows,
    markdown,
    render,
    render_breakdown,
    rich_table,
    speed_unit,
    table_header,
    table_rows,
    title,
)

__all__ = [
    "DEFAULT_MAX_TIME", "DEFAULT_MIN_TIME", "DEFAULT_ROUNDS", "FIG2_CATEGORIES", "FIG2_NETS", "GUIDELINES", "LIMITS",
    "PAIR_STATES", "QUICK_RESOLUTION", "RERENDER_COLUMNS", "ROUNDINGS", "SCALES", "SETUPS", "SPREAD_LIMIT",
    "TIME_LIMIT_S", "Budget", "Experiment", "GuidelineRow", "Judgement", "RunConfig", "Saved", "ScaleRule",
    "SpreadError", "breakdown", "breakdown_table", "compare_pair", "device_word", "export_rows", "fig2_category",
    "guidelines_dir", "judge", "load_all", "load_experiment", "markdown", "plan", "plan_all", "read_result_csv",
    "read_saved", "render", "render_breakdown", "reverdict", "rich_table", "run_experiments", "setup_for",
    "speed_unit", "table_header", "table_rows", "title", "verdict",
]
