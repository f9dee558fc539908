"""Options shared by several commands, defined once."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer


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


def console(stderr: bool = False):
    """A rich console; when not on a terminal (pipes, CI) it is 160 columns wide so tables stay readable."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 160)
