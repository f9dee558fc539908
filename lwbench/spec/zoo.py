"""The zoo: every network name (file name and its variants) found in the configs folder."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from lwbench.errors import ConfigError, InputError, LwbenchError, UnknownNameError, suggest

_PACKAGE = Path(__file__).resolve().parent.parent  # lwbench/ (resolved once: every load asks for the zoo)


def configs_dir() -> Path:
    """LWBENCH_CONFIGS if set (it must be a folder), else configs/ beside the package (a source checkout or
    editable install)."""
    env = os.environ.get("LWBENCH_CONFIGS")
    if env is not None:
        if not env.strip() or not Path(env).is_dir():
            raise InputError(f"LWBENCH_CONFIGS={env!r}: not a folder (it names the folder of network YAML files)")
        return Path(env)
    here = _PACKAGE
    for cand in (here.parent / "configs", here / "_configs"):
        if cand.is_dir():
            return cand
    return here.parent / "configs"


@lru_cache(maxsize=4)
def _index(root: str) -> tuple[dict[str, tuple[str, str]], tuple[str, ...]]:
    from lwbench.spec.parse import read_doc, variant_names

    out: dict[str, tuple[str, str]] = {}
    errors: list[str] = []
    for path in sorted(Path(root).glob("*.yaml")):
        try:  # one broken file must not hide the rest of the zoo
            doc = read_doc(path)
            names = variant_names(doc)
        except LwbenchError as e:
            errors.append(str(e))
            continue
        for name in names:
            if name in out:
                errors.append(str(ConfigError(str(path), "name", f"'{name}' is also defined in {out[name][0]}")))
                continue
            out[name] = (str(path), name)
    return out, tuple(errors)


def index() -> dict[str, tuple[str, str]]:
    """name -> (file, variant) for every network of the zoo."""
    return _index(str(configs_dir()))[0]


def errors() -> tuple[str, ...]:
    """One line per zoo file that could not be read (bad YAML, duplicate names)."""
    return _index(str(configs_dir()))[1]


def resolve(name_or_path: str) -> tuple[str, str | None]:
    """A zoo name, or a path to a YAML file (optionally `file.yaml:variant`) -> (file, variant or None)."""
    text = str(name_or_path)
    path, _, variant = text.partition(":") if text.count(":") == 1 and not Path(text).exists() else (text, "", "")
    if path.endswith((".yaml", ".yml")) or os.sep in path or Path(path).is_file():
        return path, variant or None
    zoo = index()
    if text not in zoo:
        broken = f"; {len(errors())} zoo file(s) could not be read, first: {errors()[0]}" if errors() else ""
        raise UnknownNameError(f"unknown network '{text}'{suggest(text, zoo)} (lwbench list shows the zoo){broken}")
    return zoo[text]


_VENUE = re.compile(r"\b(?:[A-Z][A-Za-z]{2,5} \d{4}|arXiv:\d{4}\.\d{4,5})")


def short_source(source: str, width: int = 40) -> str:
    """A citation shortened for a table: 'Howard et al., arXiv:1704.04861', 'Ma et al., ECCV 2018'.

    Authors are the text before the quoted title (a long list becomes 'First et al.'); the venue is the first
    'ABC 2018' or arXiv id after the title. Anything else is cut at `width` characters with an ellipsis.
    Exports keep the full `source:`.
    """
    text = " ".join(str(source).split())
    authors, quote, rest = text.partition('"')
    authors = authors.strip().rstrip(",").strip()
    if quote and authors:
        title_end = rest.find('"')
        venue = _VENUE.search(rest[title_end + 1:] if title_end >= 0 else rest)
        tail = f", {venue.group(0)}" if venue else ""
        for who in (authors, re.split(r",|&| and ", authors)[0].strip() + " et al."):  # 'A, B & C' -> 'A et al.'
            if len(who + tail) <= width:
                return who + tail
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
