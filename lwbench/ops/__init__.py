"""Op kinds: `get_op(kind)` gives shape inference, cost rule and torch builder of one kind.

Importing this package registers the built-in kinds (lwbench/ops/defs.py) eagerly: OPS is complete from the
first import, whatever is registered later."""

from lwbench.ops import defs  # noqa: F401  (registers the built-in kinds)
from lwbench.ops.registry import (
    OPS,
    REQUIRED,
    Attr,
    Cost,
    OpDef,
    ShapeError,
    all_ops,
    fixed_category,
    get_op,
    module_table,
    register,
)

BUILTIN = frozenset(OPS)  # the kinds (and aliases) of defs.py: a Net of only these depends on lwbench's code alone

__all__ = ["BUILTIN", "OPS", "REQUIRED", "Attr", "Cost", "OpDef", "ShapeError", "all_ops", "fixed_category", "get_op",
           "module_table", "register"]
