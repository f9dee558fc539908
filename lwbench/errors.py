"""One exception family. The CLI turns any of these into one line and exit code 2."""

from __future__ import annotations

import difflib


class LwbenchError(Exception):
    """Base of every error lwbench reports to a user as one line."""


class ConfigError(LwbenchError):
    """A network/guideline YAML file is wrong: says which file, which key, what was expected, what was got."""

    def __init__(self, file: str, key: str, expected: str, got: object = None, line: int | None = None):
        self.file, self.key, self.expected, self.got, self.line = file, key, expected, got, line
        where = f"{file}:{line}" if line else f"{file}"
        msg = f"{where}: {key}: {expected}" if key else f"{where}: {expected}"
        if got is not None:
            msg += f", got {got!r}" if not isinstance(got, str) else f", got {got}"
        super().__init__(msg)


class UnknownNameError(LwbenchError):
    """A zoo name, op, block or key that does not exist; suggests the closest ones."""


class InputError(LwbenchError):
    """Bad command-line input (a shape, a module path, a device that is not there)."""


def suggest(word: str, choices, n: int = 3) -> str:
    """' (did you mean: a, b?)' for the closest choices, or '' when none is close."""
    close = difflib.get_close_matches(str(word), sorted(map(str, choices)), n=n, cutoff=0.5)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


def debug_enabled() -> bool:
    """LWBENCH_DEBUG set to anything but '', 0, false, no or off: show tracebacks instead of one line."""
    import os

    return os.environ.get("LWBENCH_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


def one_line(text: object) -> str:
    """A message as one line: newlines and runs of blanks become single spaces (the CLI's promise)."""
    return " ".join(str(text).split())


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the CLI's handler so that cleanup runs as for Ctrl-C: a worker child
    is killed (subprocess.run kills on any exception), temp folders are removed, locks released, rows kept."""
