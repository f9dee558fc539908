"""Safe YAML reading with line numbers: a SafeLoader subclass (no object construction) whose mappings
remember the line of each key, and which rejects duplicate keys instead of silently keeping the last."""

from __future__ import annotations

from pathlib import Path

import yaml

from lwbench.errors import ConfigError


class LineDict(dict):
    """A dict from YAML that knows the 1-based line of each of its keys (`.lines[key]`) and its own."""

    lines: dict
    line: int | None = None


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when present; still safe
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.lines = {}
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ConfigError(loader.name, str(key), "duplicate key", line=key_node.start_mark.line + 1)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | Path) -> object:
    """Parse one YAML file safely; syntax errors become ConfigError with the line number."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "", f"cannot read file ({e.__class__.__name__})") from None
    loader = _Loader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        line, msg = _describe(e, text)
        raise ConfigError(str(path), "", f"invalid YAML: {msg}", line=line) from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), "", f"invalid YAML: {e}") from None
    finally:
        loader.dispose()


# constructs whose opening mark is where the mistake is (an unclosed bracket or quote), not where the parser
# gave up (often the end of the file)
_OPENERS = {"flow mapping": "'{'", "flow sequence": "'['", "quoted scalar": "a quote"}


def _describe(e: yaml.MarkedYAMLError, text: str) -> tuple[int | None, str]:
    """(line to report, message) for a YAML syntax error. PyYAML gives the problem's mark and, for a construct
    left open, the mark where it was opened (context_mark): for `{`, `[` and quotes that opening line is reported,
    with where the parser gave up beside it."""
    problem, pmark, context, cmark = e.problem, e.problem_mark, e.context, e.context_mark
    pline = pmark.line + 1 if pmark else None
    cline = cmark.line + 1 if cmark else None
    at_end = pmark is not None and not text[pmark.index:].strip()
    where = "at end of file" if at_end else f"at line {pline}" if pline else "later"
    msg = problem or context or "syntax error"
    if cmark is None or context is None:
        return pline or cline, msg
    opener = next((v for k, v in _OPENERS.items() if k in context), None)
    if opener:
        return cline, f"{opener} opened at line {cline} is not closed ({msg} {where})"
    if cline == pline:
        return pline, f"{msg} ({context})"
    return pline, f"{msg} {where} ({context} started at line {cline})"


def line_of(mapping: object, key: object) -> int | None:
    """Line of `key` inside a mapping read by read_yaml, else None."""
    if isinstance(mapping, LineDict):
        return mapping.lines.get(key, mapping.line)
    return None
