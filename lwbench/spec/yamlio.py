"""Safe YAML reading with line numbers: a SafeLoader subclass (no object construction) whose mappings
remember the line of each key, and which rejects duplicate keys instead of silently keeping the last."""

from __future__ import annotations

from pathlib import Path

import yaml

from lwbench.errors import ConfigError
from lwbench.spec.limits import MAX_DEPTH, MAX_SCALAR_DIGITS, MAX_YAML_NODES, LimitError, check_nodes, read_limited


class LineDict(dict):
    """A dict from YAML that knows the 1-based line of each of its keys (`.lines[key]`) and its own."""

    lines: dict
    line: int | None = None


_RESOLVED: dict = {}  # (node kind, short scalar text, implicit flags) -> tag: the same answer every time


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when present; still safe
    def resolve(self, kind, value, implicit):
        """The safe resolver's tag, remembered per short value: with no path resolvers (the safe loader has
        none) it depends on nothing else, and libyaml asks it once per node."""
        if self.yaml_path_resolvers or (value is not None and len(value) > 64):
            return super().resolve(kind, value, implicit)
        key = (kind, value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_RESOLVED) < 20_000:
                _RESOLVED[key] = tag
        return tag


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.lines = {}
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
            raise ConfigError(loader.name, "", f"a key must be a plain word, got {kind}", line=line)
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ConfigError(loader.name, str(key), "duplicate key", line=line)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    digits = sum(c.isalnum() for c in node.value)
    if digits > MAX_SCALAR_DIGITS:
        raise ConfigError(loader.name, "", f"integer with {digits} digits (at most {MAX_SCALAR_DIGITS})",
                          line=node.start_mark.line + 1)
    return loader.construct_yaml_int(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def read_yaml(path: str | Path, data: bytes | None = None) -> object:
    """Parse one YAML file safely, within the bounds of lwbench.spec.limits (size, aliases, depth); every
    failure is one ConfigError naming the file and, where there is one, the line. `data`: the file's bytes,
    where the caller has read them already (within MAX_FILE_BYTES)."""
    path = Path(path)
    text = read_text(path, data)
    loader = _Loader(text)
    loader.name = str(path)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _construct_tree(loader, node)
        except Exception:  # noqa: BLE001 - not a plain tree, or bad: the checked path below decides, as always
            pass
        check_nodes(node)
        return loader.construct_document(node)
    except LimitError as e:
        raise ConfigError(str(path), "", str(e)) from None
    except yaml.MarkedYAMLError as e:
        line, msg = _describe(e, text)
        raise ConfigError(str(path), "", f"invalid YAML: {msg}", line=line) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1 if isinstance(e.position, int) else None
        what = f"character {e.character!r}" if isinstance(e.character, str) else f"byte {e.character!r}"
        raise ConfigError(str(path), "", f"invalid YAML: {what} not allowed ({e.reason})", line=line) from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), "", f"invalid YAML: {' '.join(str(e).split())}") from None
    finally:
        loader.dispose()


_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_PLAIN_SCALARS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null"))


class _NotATree(Exception):
    pass


def _construct_tree(loader: _Loader, root) -> object:
    """The document of a composed graph that is a plain tree (no shared mapping or list, no merge key, only the
    core tags) within MAX_YAML_NODES and MAX_DEPTH, built in one walk: for such a graph check_nodes would pass
    (every value counted once per use, as check_nodes counts an alias) and this is what construct_document
    builds. Anything else (or any error) raises, and read_yaml takes the checked path, which reports it as
    always. Touches no node."""
    seen: set[int] = set()      # collections: one used twice (an alias) is not a tree
    size = 0
    ctors, scalar = loader.yaml_constructors, yaml.ScalarNode

    def value(node, depth):     # a scalar (the common case, no call to build) or a collection
        nonlocal size
        if type(node) is scalar and node.tag == _STR:
            size += 1
            return node.value   # construct_yaml_str: the text
        return build(node, depth)

    def build(node, depth):
        nonlocal size
        size += 1
        if depth > MAX_DEPTH or size > MAX_YAML_NODES:
            raise _NotATree
        tag = node.tag
        if isinstance(node, scalar):
            if tag not in _PLAIN_SCALARS:
                raise _NotATree
            return ctors[tag](loader, node)
        if id(node) in seen or depth + 1 > MAX_DEPTH:
            raise _NotATree
        seen.add(id(node))
        if tag == _TAG + "seq" and isinstance(node, yaml.SequenceNode):
            return [value(v, depth + 1) for v in node.value]
        if tag != _TAG + "map" or not isinstance(node, yaml.MappingNode):
            raise _NotATree
        out = LineDict()
        out.lines, out.line = {}, node.start_mark.line + 1
        for key_node, value_node in node.value:
            if type(key_node) is not scalar or key_node.tag not in _PLAIN_SCALARS:
                raise _NotATree
            key = value(key_node, depth + 1)
            if key in out:
                raise _NotATree
            out[key] = value(value_node, depth + 1)
            out.lines[key] = key_node.start_mark.line + 1
        return out

    return build(root, 1)


def read_text(path: Path, data: bytes | None = None) -> str:
    """A text file as UTF-8, read within MAX_FILE_BYTES (or its bytes `data`, already read); a UTF-16 file, a
    NUL byte or a byte that is not UTF-8 is one ConfigError with the line where it is."""
    try:
        data = read_limited(path) if data is None else data
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except LimitError as e:
        raise ConfigError(str(path), "", str(e)) from None
    except OSError as e:
        raise ConfigError(str(path), "", f"cannot read file ({e.strerror or e.__class__.__name__})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(str(path), "", "file is UTF-16; save it as UTF-8", line=1)
    nul = data.find(b"\0")
    if nul >= 0:
        raise ConfigError(str(path), "", "NUL byte (a binary or UTF-16 file? save it as UTF-8 text)",
                          line=data.count(b"\n", 0, nul) + 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), "", f"byte 0x{data[e.start]:02x} is not UTF-8 (save the file as UTF-8)",
                          line=data.count(b"\n", 0, e.start) + 1) from None


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
