"""Typed reading of one guideline YAML document: every value checked where it is read, every error one
ConfigError naming the file, the line (from lwbench.spec.yamlio's line-aware mappings) and the key path.

Bounds keep every figure sane (the paper's experiments are 56x56 maps of at most a few thousand channels);
values beyond them are refused with the bound named, never computed into a hang or an overflow."""

from __future__ import annotations

import math
import re

from lwbench.errors import ConfigError, suggest
from lwbench.spec.yamlio import line_of

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_CHANNELS = 1 << 16
MAX_RESOLUTION = 4096
MAX_BATCH = 4096
MAX_TABLE = 99
MAX_BLOCKS = 1000
MAX_FACTOR = 64.0
MAX_TEXT = 10_000            # characters of a title, note or setting


class Reader:
    """Checks values of one file; `holder`/`sub` locate the line of the key (the mapping and its key)."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, key: str, expected: str, got=None, holder=None, sub=None):
        line = line_of(holder, sub) if holder is not None else None
        raise ConfigError(self.file, key, expected, got, line)

    def mapping(self, value, key: str, allowed, required=(), holder=None, sub=None, what: str = "") -> dict:
        """A mapping whose keys are all in `allowed` (an unknown key is refused with a suggestion, at its line)
        and which has every `required` key."""
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping ({what or ', '.join(map(str, allowed))})", _shown(value), holder, sub)
        for k in value:
            if k not in allowed:
                self.fail(_join(key, k), f"unknown key{suggest(str(k), allowed)}; expected one of "
                          f"{', '.join(map(str, allowed))}", holder=value, sub=k)
        for k in required:
            if k not in value:
                self.fail(_join(key, k), "missing (required)", holder=holder, sub=sub)
        return value

    def text(self, value, key: str, holder=None, sub=None, scalar: bool = False) -> str:
        """A string (scalar=True: also a number, as a YAML setting like `1:1` or `5` reads)."""
        ok = isinstance(value, str) or (scalar and isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            self.fail(key, "expected text" + (" (a setting name)" if scalar else ""), _shown(value), holder, sub)
        out = str(value)
        if len(out) > MAX_TEXT:
            self.fail(key, f"expected at most {MAX_TEXT} characters", f"{len(out)} characters", holder, sub)
        if scalar and not out.strip():
            self.fail(key, "expected a non-empty setting name", holder=holder, sub=sub)
        return out

    def integer(self, value, key: str, lo: int, hi: int, holder=None, sub=None) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not value.is_integer()):
            self.fail(key, f"expected an integer from {lo} to {hi}", _shown(value), holder, sub)
        if not lo <= value <= hi:
            self.fail(key, f"expected an integer from {lo} to {hi}", _shown(value), holder, sub)
        return int(value)

    def number(self, value, key: str, lo: float, hi: float, holder=None, sub=None, open_lo: bool = True) -> float:
        """A finite number in (lo, hi] (open_lo) or [lo, hi]."""
        bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
        if not bad:
            bad = value <= lo if open_lo else value < lo
            bad = bad or value > hi
        if bad:
            span = f"above {lo:g}" if open_lo else f"from {lo:g}"
            self.fail(key, f"expected a finite number {span} and at most {hi:g}", _shown(value), holder, sub)
        return float(value)

    def choice(self, value, key: str, choices, holder=None, sub=None) -> str:
        if not isinstance(value, str) or value not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}{suggest(str(value), choices)}", _shown(value),
                      holder, sub)
        return value

    def name(self, value, key: str, reserved=(), holder=None, sub=None) -> str:
        """A parameter name ($name in expressions): letters, digits, _; not a reserved one."""
        if not isinstance(value, str) or not NAME_RE.match(value):
            self.fail(key, "expected a name of letters, digits and _ (not starting with a digit)", _shown(value),
                      holder, sub)
        if value in reserved:
            self.fail(key, f"is a reserved name ({', '.join(reserved)})", holder=holder, sub=sub)
        return value

    def items(self, value, key: str, what: str, holder=None, sub=None, min_len: int = 1) -> list:
        if not isinstance(value, list):
            self.fail(key, f"expected a list ({what})", _shown(value), holder, sub)
        if len(value) < min_len:
            self.fail(key, f"expected at least {min_len} ({what})", len(value), holder, sub)
        return value

    def expression_or(self, value, key: str, holder=None, sub=None, kinds=(int, float, bool)):
        """A literal of `kinds` or an expression text ($names are evaluated later, per row and scale)."""
        if isinstance(value, str) or (isinstance(value, kinds) and value is not None):
            if isinstance(value, float) and not math.isfinite(value):
                self.fail(key, "expected a finite number or an expression", value, holder, sub)
            return value
        self.fail(key, "expected a number, true/false or an expression over $names", _shown(value), holder, sub)


def _join(key: str, sub) -> str:
    return f"{key}.{sub}" if key else str(sub)


def _shown(value):
    """The `got` part of a message: short values as they are, long or nested ones by their type."""
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return type(value).__name__ if len(repr(value)) > 60 else value
    return value if len(repr(value)) <= 60 else f"{type(value).__name__} of {len(repr(value))} characters"
