"""The rich console every command prints through."""

from __future__ import annotations


def console(stderr: bool = False):
    """A rich console; when not on a terminal (pipes, CI) it is 160 columns wide so tables stay readable."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 160)
