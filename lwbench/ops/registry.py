"""The op registry: op kind -> definition with shape inference, cost rule and torch builder side by side.

Unknown kinds are errors, never silently zero; kinds that cost nothing say so with `free=True`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lwbench.errors import UnknownNameError, suggest
from lwbench.ir import Shape

REQUIRED = object()


class ShapeError(ValueError):
    """Raised by an op's shape inference: `key` is the attribute at fault ('' for the op itself)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


@dataclass(frozen=True)
class Attr:
    """An op attribute: kind is int | pair (int or [a, b]) | float | bool | str | ints (list of int)."""

    kind: str
    default: object = REQUIRED
    choices: tuple = ()
    doc: str = ""


@dataclass(frozen=True)
class Cost:
    """Exact per-image counts of one layer.

    params: learnable parameters; buffers: other constants it reads (BN running statistics);
    madds: multiply-adds (conv/linear only; one multiply-add = 1); act_in / act_out: feature-map elements
    read / written. Memory access cost (ShuffleNet V2, Sec. 2): mac = batch·(act_in + act_out) + params + buffers.
    """

    params: int = 0
    buffers: int = 0
    madds: int = 0
    act_in: int = 0
    act_out: int = 0


@dataclass(frozen=True)
class OpDef:
    kind: str
    attrs: dict[str, Attr]
    infer: Callable[[dict, list[Shape]], list[Shape]]
    cost: Callable[[dict, list[Shape], list[Shape]], Cost]
    build: Callable[[dict, list[Shape]], object]
    category: Callable[[dict, list[Shape], list[Shape]], str]
    inputs: str = "one"  # one | many (merges: add, mul, concat)
    free: bool = False  # truly free (a view or a no-op at inference): zero madds and zero mac, on purpose
    doc: str = ""
    aliases: tuple = field(default=())


OPS: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    """Add an op kind; a duplicate name (or alias) raises instead of overwriting."""
    for name in (op.kind, *op.aliases):
        if name in OPS:
            raise ValueError(f"op kind '{name}' registered twice")
        OPS[name] = op
    return op


def get_op(kind: str) -> OpDef:
    _ensure_loaded()
    try:
        return OPS[kind]
    except KeyError:
        raise UnknownNameError(f"unknown op '{kind}'{suggest(kind, OPS)}") from None


def all_ops() -> dict[str, OpDef]:
    _ensure_loaded()
    return {k: v for k, v in OPS.items() if k == v.kind}


def _ensure_loaded() -> None:
    if not OPS:
        from lwbench.ops import defs  # noqa: F401  (registers the built-in kinds)
