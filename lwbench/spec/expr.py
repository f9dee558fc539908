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
    try:  # a text too long to be an expression is not remembered (the memo holds short texts only)
        return (_compiled(text) if len(text) <= 2 * MAX_EXPR_CHARS else _compile_text(text))(env, funcs)
    except (RecursionError, MemoryError):
        raise ExprError(f"expression too deeply nested or too large: '{text.strip()[:60]}'") from None


def _compile_text(raw: str) -> Callable:
    """The expression as a function of (env, funcs), made once per source text (`_compiled`): a zoo file repeats
    the same few expressions in every block. Every check of the tree walk stays, in the same order, at
    evaluation time."""
    text = raw.strip()
    m = _NAME.fullmatch(text)
    if m:
        return _name_fn(m.group(1))
    if len(text) > MAX_EXPR_CHARS:
        return _raiser(ExprError, f"expression of {len(text)} characters (at most {MAX_EXPR_CHARS})")
    return _compile(_parse(text), text)


_compiled = functools.lru_cache(maxsize=4096)(_compile_text)


def _raiser(cls, message: str) -> Callable:
    def fn(env, funcs):
        raise cls(message)

    return fn


def _name_fn(name: str) -> Callable:
    def fn(env, funcs):
        if name not in env:
            return _lookup(name, env)
        return env[name]

    return fn


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


def _compile(node: ast.AST, text: str) -> Callable:
    """A closure per syntax node; what the node cannot be (a bare word, an attribute, a subscript) is a closure
    that raises when reached, as the tree walk raised when it reached it."""
    make = _MAKERS.get(type(node))
    fn = make(node, text) if make is not None else None
    return fn or _raiser(ExprError, f"'{text}' uses something other than arithmetic on $names")


def _c_constant(node, text):
    if not isinstance(node.value, (int, float, bool)):
        return None
    try:
        v = _bounded(node.value, text)
    except ExprError as e:
        return _raiser(ExprError, str(e))
    return lambda env, funcs: v


def _c_name(node, text):
    if node.id.startswith(_PREFIX):
        return _name_fn(node.id[len(_PREFIX):])
    if node.id in ("True", "False"):
        v = node.id == "True"
        return lambda env, funcs: v
    return _raiser(BareNameError, f"bare name '{node.id}' in '{text}' (parameters are written $name)")


def _c_binop(node, text):
    op = _BINOPS.get(type(node.op))
    if op is None:
        return None
    fa, fb = _compile(node.left, text), _compile(node.right, text)
    return lambda env, funcs: _binop(op, fa(env, funcs), fb(env, funcs), text)


def _c_unary(node, text):
    f = _compile(node.operand, text)
    if isinstance(node.op, ast.Not):
        return lambda env, funcs: not f(env, funcs)
    if isinstance(node.op, ast.USub):
        return lambda env, funcs: -_number(f(env, funcs), text)
    if isinstance(node.op, ast.UAdd):
        return lambda env, funcs: +_number(f(env, funcs), text)
    return None


def _c_boolop(node, text):
    fs = [_compile(v, text) for v in node.values]
    if isinstance(node.op, ast.And):
        return lambda env, funcs: all(f(env, funcs) for f in fs)
    return lambda env, funcs: any(f(env, funcs) for f in fs)


def _c_compare(node, text):
    if not all(type(o) in _CMPOPS for o in node.ops):
        return None
    first = _compile(node.left, text)
    rest = [(_CMPOPS[type(o)], _compile(c, text)) for o, c in zip(node.ops, node.comparators)]

    def fn(env, funcs):
        left = first(env, funcs)
        for op, f in rest:
            right = f(env, funcs)
            try:
                if not op(left, right):
                    return False
            except TypeError:
                raise ExprError(f"cannot compare {left!r} with {right!r} in '{text}'") from None
            left = right
        return True

    return fn


def _c_ifexp(node, text):
    test, body, orelse = (_compile(n, text) for n in (node.test, node.body, node.orelse))
    return lambda env, funcs: body(env, funcs) if test(env, funcs) else orelse(env, funcs)


def _c_call(node, text):
    if not isinstance(node.func, ast.Name) or node.keywords:
        return None
    name = node.func.id
    fargs = [_compile(a, text) for a in node.args]

    def fn(env, funcs):
        f = funcs.get(name)
        if f is None:
            from lwbench.errors import suggest

            raise ExprError(f"unknown function '{name}'{suggest(name, funcs)}")
        args = [a(env, funcs) for a in fargs]
        try:
            v = f(*args)
        except (TypeError, ValueError, ArithmeticError) as e:
            raise ExprError(f"{name}(): {e} in '{text}'") from None
        return _bounded(v, text)

    return fn


_MAKERS = {ast.Constant: _c_constant, ast.Name: _c_name, ast.BinOp: _c_binop, ast.UnaryOp: _c_unary,
           ast.BoolOp: _c_boolop, ast.Compare: _c_compare, ast.IfExp: _c_ifexp, ast.Call: _c_call}
