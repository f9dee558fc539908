"""Safe arithmetic for YAML values: `$name` substitution plus + - * / // % **, comparisons, and/or/not,
`a if c else b` and a few whitelisted functions. Parsed with `ast` and walked node by node: there is no
eval, no attribute access, no subscripts, no calls outside the whitelist.

Examples: `$out - $in`, `ch(64)`, `round($in * $t)`, `make_divisible($in * 0.25, 8)`, `ceil($depth * 3)`,
`$stride == 1 and $in == $out`.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from collections.abc import Callable, Mapping

from lwbench.spec.limits import MAX_EXPR_CHARS, MAX_INT_BITS

_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_PREFIX = "_v_"

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


class ExprError(ValueError):
    """The expression is malformed or names something unknown (message is user-facing)."""


class BareNameError(ExprError):
    """A bare word where a $name was expected: in untyped places the text is then a plain string."""


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, min_ratio: float = 0.9) -> int:
    """Nearest multiple of `divisor`, at least `min_value` (default divisor), never below min_ratio·v.

    The rule of the TF MobileNet code and torchvision's `_make_divisible`.
    """
    divisor = int(divisor)
    min_value = divisor if min_value is None else int(min_value)
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < min_ratio * v:
        new_v += divisor
    return new_v


BASE_FUNCS: dict[str, Callable] = {
    "make_divisible": make_divisible,
    "round": round,  # Python's round: half to even, as torchvision's int(round(x)) under Python 3
    "floor": math.floor,
    "ceil": math.ceil,
    "int": int,
    "min": min,
    "max": max,
    "abs": abs,
}


def evaluate(text: str, env: Mapping[str, object], funcs: Mapping[str, Callable] | None = None) -> object:
    """Evaluate one expression string. A string that is exactly `$name` returns the value as is (any type)."""
    funcs = BASE_FUNCS if funcs is None else funcs
    text = text.strip()
    m = _NAME.fullmatch(text)
    if m:
        return _lookup(m.group(1), env)
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"expression of {len(text)} characters (at most {MAX_EXPR_CHARS})")
    try:
        return _walk(_parse(text), env, funcs, text)
    except (RecursionError, MemoryError):
        raise ExprError(f"expression too deeply nested or too large: '{text[:60]}'") from None


def _bounded(v, text: str):
    """Every value an expression computes stays a plain, bounded number: an integer of at most MAX_INT_BITS
    bits, a finite float (so nothing downstream meets a 10**(64**5) or an inf)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v.bit_length() > MAX_INT_BITS:
        raise ExprError(f"value too large (more than {MAX_INT_BITS} bits) in '{text}'")
    if isinstance(v, float) and not math.isfinite(v):
        raise ExprError(f"value is not a finite number ({v}) in '{text}'")
    return v


def _number(v, text: str):
    if not isinstance(v, (int, float)):
        raise ExprError(f"arithmetic on {v!r}, which is not a number, in '{text}'")
    return v


def _binop(op, a, b, text: str):
    a, b = _number(a, text), _number(b, text)
    if op is operator.pow:
        if abs(b) > 64:
            raise ExprError(f"exponent too large in '{text}'")
        if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > MAX_INT_BITS + 64:
            raise ExprError(f"value too large (more than {MAX_INT_BITS} bits) in '{text}'")
    try:
        v = op(a, b)
    except OverflowError:
        raise ExprError(f"value too large in '{text}'") from None
    except (ArithmeticError, TypeError, ValueError) as e:  # ZeroDivision, Overflow ("1e300 ** 2"), complex
        raise ExprError(f"{e} in '{text}'") from None
    if isinstance(v, complex):  # (-8) ** 0.5
        raise ExprError(f"value is not a real number in '{text}'")
    return _bounded(v, text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.AST:
    """The expression's syntax tree (read-only, so shared): a zoo file repeats the same few expressions in every
    block, and parsing them once per text roughly halves the cost of evaluating."""
    src = _NAME.sub(lambda mm: _PREFIX + mm.group(1), text)
    try:
        return ast.parse(src, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a literal over 4,300 digits
        raise ExprError(f"cannot parse expression '{text}'") from None


def _lookup(name: str, env: Mapping[str, object]) -> object:
    if name not in env:
        from lwbench.errors import suggest

        raise ExprError(f"unknown name ${name}{suggest(name, env)}")
    return env[name]


def _walk(node: ast.AST, env, funcs, text):  # noqa: C901 - one branch per allowed node type
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return _bounded(node.value, text)
    if isinstance(node, ast.Name):
        if node.id.startswith(_PREFIX):
            return _lookup(node.id[len(_PREFIX):], env)
        if node.id in ("True", "False"):
            return node.id == "True"
        raise BareNameError(f"bare name '{node.id}' in '{text}' (parameters are written $name)")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _walk(node.left, env, funcs, text), _walk(node.right, env, funcs, text)
        return _binop(_BINOPS[type(node.op)], a, b, text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        v = _walk(node.operand, env, funcs, text)
        if isinstance(node.op, ast.Not):
            return not v
        return -_number(v, text) if isinstance(node.op, ast.USub) else +_number(v, text)
    if isinstance(node, ast.BoolOp):
        vals = (_walk(v, env, funcs, text) for v in node.values)
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
        left = _walk(node.left, env, funcs, text)
        for op, right_node in zip(node.ops, node.comparators):
            right = _walk(right_node, env, funcs, text)
            try:
                if not _CMPOPS[type(op)](left, right):
                    return False
            except TypeError:
                raise ExprError(f"cannot compare {left!r} with {right!r} in '{text}'") from None
            left = right
        return True
    if isinstance(node, ast.IfExp):
        cond = _walk(node.test, env, funcs, text)
        return _walk(node.body if cond else node.orelse, env, funcs, text)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        fn = funcs.get(node.func.id)
        if fn is None:
            from lwbench.errors import suggest

            raise ExprError(f"unknown function '{node.func.id}'{suggest(node.func.id, funcs)}")
        args = [_walk(a, env, funcs, text) for a in node.args]
        try:
            v = fn(*args)
        except (TypeError, ValueError, ArithmeticError) as e:
            raise ExprError(f"{node.func.id}(): {e} in '{text}'") from None
        return _bounded(v, text)
    raise ExprError(f"'{text}' uses something other than arithmetic on $names")
