"""A network document's top level, checked when it is read: every key known, every value of the type the
compiler expects (so `params: [1, 2]` or `blocks: [a, b]` is one line, not a TypeError later), names usable
as zoo names, `expect:` figures known."""

from __future__ import annotations

import re
from pathlib import Path

from lwbench.errors import ConfigError, suggest
from lwbench.spec.yamlio import line_of, read_yaml

TOP_KEYS = ("name", "family", "source", "notes", "input", "params", "channels", "variants", "expect",
            "blocks", "layers")
EXPECT_FIGURES = tuple(f"{b}{u}" for b in ("params", "madds", "madds_conv") for u in ("", "_m", "_b"))
EXPECT_KEYS = (*EXPECT_FIGURES, "source", "notes", "doc")
_NET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEXT = (str, int, float)
_MAPPINGS = ("input", "params", "channels", "variants", "blocks", "expect")


def read_doc(path: str | Path, data: bytes | None = None) -> dict:
    """The checked top level of a network file (`data`: its bytes, where the caller has read them)."""
    file = str(path)
    doc = read_yaml(path, data)
    if doc is None:
        raise ConfigError(file, "", "the file is empty (expected name, input, layers, ...)")
    if not isinstance(doc, dict):
        raise ConfigError(file, "", "expected a mapping at the top (name, input, layers, ...)", type(doc).__name__)
    for k in doc:
        if k not in TOP_KEYS:
            raise ConfigError(file, str(k), f"unknown top-level key{suggest(str(k), TOP_KEYS)}", line=line_of(doc, k))
    for k in ("name", "layers"):
        if k not in doc:
            raise ConfigError(file, k, "missing (required)")
    _check_name(doc["name"], file, "name", line_of(doc, "name"))
    _check_types(doc, file, "")
    if not isinstance(doc["layers"], list):
        raise ConfigError(file, "layers", "expected a list of layers", type(doc["layers"]).__name__,
                          line_of(doc, "layers"))
    for name, bdef in (doc.get("blocks") or {}).items():
        if not isinstance(bdef, dict):
            raise ConfigError(file, f"blocks.{name}", "expected a mapping with args and layers",
                              type(bdef).__name__, line_of(doc["blocks"], name))
    _check_expect_keys(doc.get("expect"), file, "expect", doc)
    for v, over in (doc.get("variants") or {}).items():
        _check_name(v, file, f"variants.{v}", line_of(doc["variants"], v))
        if over is not None and not isinstance(over, dict):
            raise ConfigError(file, f"variants.{v}", "expected a mapping of overrides (params, resolution, expect, "
                              "notes)", type(over).__name__, line_of(doc["variants"], v))
        if over:
            _check_types(over, file, f"variants.{v}.")
            _check_expect_keys(over.get("expect"), file, f"variants.{v}.expect", over)
    return doc


def _check_name(name, file: str, key: str, line: int | None) -> None:
    if not isinstance(name, str) or not _NET_NAME.match(name):
        got = "nothing" if name is None else name
        raise ConfigError(file, key, "expected a network name (letters, digits, _ . + -)", got, line)


def _check_types(holder: dict, file: str, prefix: str) -> None:
    """Free text is text, mappings are mappings, parameter names are $-usable words."""
    for k in ("family", "source", "notes"):
        v = holder.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, _TEXT)):
            raise ConfigError(file, prefix + k, "expected text", type(v).__name__, line_of(holder, k))
    for k in _MAPPINGS:
        v = holder.get(k)
        if v is not None and not isinstance(v, dict):
            raise ConfigError(file, prefix + k, "expected a mapping", type(v).__name__, line_of(holder, k))
    for p, v in (holder.get("params") or {}).items():
        if not isinstance(p, str) or not _PARAM_NAME.match(p):
            raise ConfigError(file, f"{prefix}params.{p}", "expected a parameter name (a letter or _, then letters, "
                              "digits, _)", line=line_of(holder["params"], p))
        if isinstance(v, dict):
            raise ConfigError(file, f"{prefix}params.{p}", "expected a number, text or a list", "a mapping",
                              line_of(holder["params"], p))


def _check_expect_keys(expect, file: str, key: str, holder) -> None:
    """An `expect:` block names published figures (lwbench.count.check_expect): a misspelt one is an error at
    load, not a figure silently never checked."""
    if expect is None:
        return
    if not isinstance(expect, dict):
        raise ConfigError(file, key, "expected a mapping of figure: value (params, madds, madds_conv, each also _m "
                          "or _b)", type(expect).__name__, line_of(holder, "expect"))
    for k in expect:
        if k not in EXPECT_KEYS:
            raise ConfigError(file, f"{key}.{k}", f"unknown figure{suggest(str(k), EXPECT_KEYS)}; known: params, madds, "
                              "madds_conv (each also _m, _b), source, notes", line=line_of(expect, k))


def variant_names(doc: dict) -> list[str]:
    return [str(doc["name"]), *map(str, doc.get("variants") or {})]
