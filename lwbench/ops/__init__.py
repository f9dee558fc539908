"""Op kinds: `get_op(kind)` gives shape inference, cost rule and torch builder of one kind."""

from lwbench.ops.registry import OPS, REQUIRED, Attr, Cost, OpDef, ShapeError, all_ops, get_op, register

__all__ = ["OPS", "REQUIRED", "Attr", "Cost", "OpDef", "ShapeError", "all_ops", "get_op", "register"]
