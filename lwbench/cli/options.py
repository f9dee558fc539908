"""Options shared by several commands, defined once (typer `Annotated` aliases), with their checks against
the registries (--runtime: lwbench.runtimes.RUNTIMES, --target: lwbench.targets.TARGETS)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from lwbench.report.console import console  # noqa: F401 - every command prints through it


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    md = "md"


class DType(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"
    int8 = "int8"


FormatOpt = Annotated[
    Format | None, typer.Option("--format", "-f", help="table (default on a terminal), csv, json or md; "
                                "default from --output's extension.")
]
OutputOpt = Annotated[str | None, typer.Option("--output", "-o", help="Write here (atomically) instead of stdout.")]
WidthOpt = Annotated[float | None, typer.Option("--width", help="Width multiplier α (uses the file's channel rule).")]
ResolutionOpt = Annotated[int | None, typer.Option("--resolution", help="Input resolution ρ (square).")]
BatchOpt = Annotated[int, typer.Option("--batch", "-b", min=1, help="Images per batch (madds and activations scale).")]
DTypeOpt = Annotated[DType, typer.Option("--dtype", help="Element type for mac_bytes (and, with --time, the "
                                        "precision the network runs in).")]
RuntimeOpt = Annotated[str, typer.Option("--runtime", help="What runs the network: torch or onnxruntime (a comma list sweeps; "
                                         "`lwbench.runtimes.RUNTIMES` lists those registered).")]
OrtOptOpt = Annotated[str, typer.Option("--ort-opt", help="With --runtime onnxruntime: ORT's graph optimisation "
                                        "level, disable, basic, extended or all (a comma list sweeps).")]
TargetOpt = Annotated[str, typer.Option("--target", help="Where it runs: local (a comma list sweeps; "
                                        "`lwbench.targets.TARGETS` lists the kinds registered).")]


def runtimes_of(text: str) -> list[str]:
    """--runtime's comma list, each checked against the registry (one line naming the registered ones)."""
    from lwbench.runtimes import check_runtime_name

    return [check_runtime_name(n) for n in split_list(text, "--runtime")]


def targets_of(text: str) -> list[str]:
    """--target's comma list, each checked against the registered kinds of target."""
    from lwbench.targets import check_target_spec

    return [check_target_spec(t) for t in split_list(text, "--target", lower=False)]


def split_list(text: str, option: str, lower: bool = True) -> list[str]:
    """A comma list without empties or repeats (lower-cased unless told); empty: one line."""
    from lwbench.errors import InputError

    vals = list(dict.fromkeys((p.strip().lower() if lower else p.strip()) for p in str(text).split(",")
                              if p.strip()))
    if not vals:
        raise InputError(f"{option}: expected a value")
    return vals


def int_list(text: str, option: str) -> list[int]:
    """Positive integers separated by commas (1,2,4), without repeats; anything else: one line."""
    from lwbench.errors import InputError

    out = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            raise InputError(f"{option}: expected positive integers separated by commas (1,2,4), got {text}")
        out.append(int(part))
    if not out:
        raise InputError(f"{option}: expected positive integers separated by commas (1,2,4), got {text!r}")
    return list(dict.fromkeys(out))
