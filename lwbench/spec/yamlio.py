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
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(str(path), "", f"invalid YAML: {e.problem or e.context}", line=line) from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), "", f"invalid YAML: {e}") from None
    finally:
        loader.dispose()


def line_of(mapping: object, key: object) -> int | None:
    """Line of `key` inside a mapping read by read_yaml, else None."""
    if isinstance(mapping, LineDict):
        return mapping.lines.get(key, mapping.line)
    return None
