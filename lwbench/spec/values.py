"""How the compiler reads one YAML value: an expression over $names, a plain string, or a typed op attribute
(int, pair, ints, float, bool, str), each refused with its file, line and key. The channel rule (`ch()`)."""

from __future__ import annotations

import math

from lwbench.errors import ConfigError, suggest
from lwbench.ops.registry import Attr
from lwbench.spec.expr import BareNameError, ExprError, evaluate, make_divisible
from lwbench.spec.limits import MAX_DIM
from lwbench.spec.yamlio import line_of


def _round_rules():
    return {
        "make_divisible": lambda v, r: make_divisible(v, r.get("divisor", 8), r.get("min_value"), r.get("min_ratio", 0.9)),
        "floor": lambda v, r: max(int(r.get("min_value") or 1), math.floor(v)),
        "ceil": lambda v, r: max(int(r.get("min_value") or 1), math.ceil(v)),
        "round": lambda v, r: max(int(r.get("min_value") or 1), round(v)),
    }


class Values:
    """The value half of lwbench.spec.parse._Compiler (which sets `file`, `env` and `funcs`)."""

    file: str
    env: dict
    funcs: dict

    # ------------------------------------------------------------ errors and values
    def fail(self, key: str, expected: str, got=None, mapping=None, sub=None):
        line = line_of(mapping, sub) if mapping is not None else None
        raise ConfigError(self.file, key, expected, got, line)

    def _channel_rule(self, rule):
        if not isinstance(rule, dict):
            self.fail("channels", "expected a mapping like {round: make_divisible, divisor: 8}", rule)
        rules = _round_rules()
        kind = rule.get("round", "make_divisible")
        if not isinstance(kind, str) or kind not in rules:
            self.fail("channels.round", f"expected one of {', '.join(rules)}{suggest(kind, rules)}", kind, rule, "round")
        for k in rule:
            if k not in ("round", "divisor", "min_value", "min_ratio", "doc"):
                self.fail(f"channels.{k}", f"unknown key{suggest(k, ('round', 'divisor', 'min_value', 'min_ratio'))}",
                          mapping=rule, sub=k)
        width = self.env["width"]
        fn = rules[kind]
        return lambda c: fn(c * width, rule)

    def expr(self, raw, env, key, mapping=None, sub=None):
        """Evaluate a YAML value: strings are expressions over $names, other scalars pass through."""
        if isinstance(raw, str):
            try:
                return evaluate(raw, env, self.funcs)
            except ExprError as e:
                self.fail(key, str(e), mapping=mapping, sub=sub)
        if isinstance(raw, list):
            return [self.expr(v, env, f"{key}[{i}]", mapping, sub) for i, v in enumerate(raw)]
        return raw

    def loose(self, raw, env, key, mapping=None, sub=None):
        """Untyped value (block argument): an expression if it is one, else the plain string."""
        if isinstance(raw, str):
            try:
                return evaluate(raw, env, self.funcs)
            except BareNameError:
                return raw
            except ExprError as e:
                self.fail(key, str(e), mapping=mapping, sub=sub)
        return self.expr(raw, env, key, mapping, sub)

    def typed(self, raw, attr: Attr, env, key, mapping, sub):
        if raw is None and attr.default is None:
            return None
        kind, t = attr.kind, type(raw)
        if t is int and (kind == "int" or kind == "pair") and -MAX_DIM <= raw <= MAX_DIM:
            return raw                 # a plain integer in range: what the checks below return for it
        if t is bool and kind == "bool":
            return raw
        if attr.kind == "str":
            v = self.loose(raw, env, key, mapping, sub)
            if attr.choices and v not in attr.choices:
                self.fail(key, f"expected one of {', '.join(attr.choices)}{suggest(v, attr.choices)}", v, mapping, sub)
            return v
        v = self.expr(raw, env, key, mapping, sub)
        if v is None and attr.default is None:  # a block argument left null: the op's own default
            return None
        if attr.kind == "int":
            return self.as_int(v, key, mapping, sub)
        if attr.kind == "pair":
            if isinstance(v, (list, tuple)):
                if len(v) != 2:
                    self.fail(key, "expected an integer or a pair [h, w]", v, mapping, sub)
                a, b = (self.as_int(x, key, mapping, sub) for x in v)
                return a if a == b else (a, b)
            return self.as_int(v, key, mapping, sub)
        if attr.kind == "ints":
            if not isinstance(v, (list, tuple)) or not v:
                self.fail(key, "expected a list of integers", v, mapping, sub)
            return tuple(self.as_int(x, key, mapping, sub) for x in v)
        if attr.kind == "float":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.fail(key, "expected a number", v, mapping, sub)
            return float(v)
        if attr.kind == "bool":
            if not isinstance(v, bool):
                self.fail(key, "expected true or false", v, mapping, sub)
            return v
        raise AssertionError(attr.kind)

    def as_int(self, v, key, mapping=None, sub=None) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(key, "expected an integer", v, mapping, sub)
        if isinstance(v, float):
            if not v.is_integer():
                self.fail(key, "expected an integer (use round(), floor(), ceil() or ch())", v, mapping, sub)
            v = int(v)
        if abs(v) > MAX_DIM:
            self.fail(key, f"expected an integer of at most {MAX_DIM:,}", v, mapping, sub)
        return v
