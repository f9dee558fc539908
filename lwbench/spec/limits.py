"""Bounds on every input lwbench reads, in one place. Each is far above anything a real network needs (the
largest zoo file is 9 KB, 620 YAML nodes, 12 levels deep, 816 layers) and low enough that hostile input is
refused in well under a second with one line, instead of hanging or exhausting memory.

`read_limited` reads a file with a size bound: /dev/zero, a 50 MB file or a FIFO (opened without blocking on
a missing writer) all end after at most `max_bytes + 1` bytes. `check_nodes` walks a composed YAML node graph
*before* it is turned into Python objects: aliases are counted every time they are used (so an alias bomb is
measured at its expanded size without being expanded), recursive aliases are refused, and so is nesting
deeper than MAX_DEPTH (which would otherwise hit Python's recursion limit while constructing).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

MAX_FILE_BYTES = 1 << 20  # a network / guideline YAML file (zoo files are under 10 KB)
MAX_YAML_NODES = 100_000  # YAML nodes after alias expansion
MAX_DEPTH = 64  # YAML nesting levels
MAX_SCALAR_DIGITS = 100  # an integer written in a YAML file
MAX_EXPR_CHARS = 500  # one expression string
MAX_INT_BITS = 256  # any integer an expression computes (also each intermediate value)
MAX_REPEAT = 10_000  # `repeat:` of one item
MAX_LAYERS = 20_000  # layers of one network after expansion (efficientnet_b7: 816)
MAX_NESTING = 64  # nested layer lists (inline `layers:`, branches, block calls) while compiling
MAX_DIM = (1 << 31) - 1  # any integer attribute (channels, kernel, stride, ...) and any tensor dimension
MAX_ELEMS = 1 << 36  # elements of one tensor, parameters of one layer


class LimitError(ValueError):
    """An input is over one of the bounds above (message is user-facing, without the file name)."""


def read_limited(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of `path`, refusing more than `max_bytes`. Never blocks on a FIFO without a writer (it reads as
    empty) and never reads more than max_bytes + 1 bytes of an endless device such as /dev/zero."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # O_NONBLOCK was only for opening a FIFO; now read normally
        if stat.S_ISREG(mode) and os.fstat(fd).st_size > max_bytes:
            raise LimitError(f"file is {os.fstat(fd).st_size:,} bytes, more than the limit of {max_bytes:,}")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 16, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise LimitError(f"more than the limit of {max_bytes:,} bytes (not a network file?)")
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_nodes(root) -> None:
    """Refuse a composed YAML graph that is recursive, deeper than MAX_DEPTH or, with every alias expanded,
    larger than MAX_YAML_NODES. Iterative (no recursion), linear in the number of distinct nodes."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_YAML_NODES:
                raise LimitError(f"more than {MAX_YAML_NODES:,} YAML values once aliases are expanded "
                                 "(an alias bomb?)")
            if depth[key] > MAX_DEPTH:
                raise LimitError(f"nested deeper than {MAX_DEPTH} levels")
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        for k in kids:
            if id(k) in on_path:
                raise LimitError("an alias refers to a value that contains it (recursive alias)")
            if id(k) not in size:
                stack.append((k, False))
        if len(on_path) > MAX_DEPTH:
            raise LimitError(f"nested deeper than {MAX_DEPTH} levels")


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_int(v: int, what: str = "value") -> int:
    """An integer computed from user input must stay within MAX_INT_BITS bits."""
    if v.bit_length() > MAX_INT_BITS:
        raise LimitError(f"{what} too large (more than {MAX_INT_BITS} bits)")
    return v
