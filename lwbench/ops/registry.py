"""The op registry: op kind -> definition with shape inference, cost rule and torch builder side by side.

Unknown kinds are errors, never silently zero; kinds that cost nothing say so with `free=True`.

The built-in kinds (lwbench/ops/defs.py) are registered when `lwbench.ops` is imported, before anything can
look one up or register its own: a custom kind registered first never hides them. `OpDef.module` names the
torch class a kind builds, so the torch-side counter's table of module classes (`module_table()`) is derived
from the registry: a new kind is one `register(OpDef(...))` call, in one file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

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


class Cost(NamedTuple):
    """Exact per-image counts of one layer (immutable; a named tuple, made once per layer on every path).

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
    module: str = ""  # the torch class `build` returns, dotted ("torch.nn.Conv2d", "lwbench.ops.modules.Add")

    @property
    def fixed_category(self) -> str | None:
        """The category when it does not depend on attributes or shapes (see `fixed_category`), else None."""
        return getattr(self.category, "fixed", None)


def fixed_category(name: str) -> Callable[[dict, list[Shape], list[Shape]], str]:
    """A category rule that is always `name` (and says so: the torch-side counter uses it for a module)."""

    def rule(attrs, ins, outs) -> str:
        return name

    rule.fixed = name
    return rule


OPS: dict[str, OpDef] = {}
NO_PARAMS: set = set()  # cost rules whose `params` is 0 for every input (the loader's size check skips them)


def register(op: OpDef) -> OpDef:
    """Add an op kind; a duplicate name (or alias) raises instead of overwriting."""
    for name in (op.kind, *op.aliases):
        if name in OPS:
            raise ValueError(f"op kind '{name}' registered twice")
        OPS[name] = op
    return op


def get_op(kind: str) -> OpDef:
    try:
        return OPS[kind]
    except KeyError:
        raise UnknownNameError(f"unknown op '{kind}'{suggest(kind, OPS)}") from None


def all_ops() -> dict[str, OpDef]:
    return {k: v for k, v in OPS.items() if k == v.kind}


def module_table() -> dict[str, tuple[str, str | None]]:
    """torch module class name -> (lwbench kind, fixed category or None), from every kind's `module`. A class
    that several kinds build (AdaptiveAvgPool2d: global_avgpool and adaptive_avgpool) names no kind."""
    by_class: dict[str, list[OpDef]] = {}
    for op in all_ops().values():
        if op.module:
            by_class.setdefault(op.module.rsplit(".", 1)[-1], []).append(op)
    return {cls: (ops[0].kind, ops[0].fixed_category) for cls, ops in by_class.items() if len(ops) == 1}
