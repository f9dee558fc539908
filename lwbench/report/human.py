"""Human-readable numbers for tables only (exports keep exact integers)."""

from __future__ import annotations


def si(v: float, digits: int = 2) -> str:
    """1234567 -> '1.23M'. Exact below 1000."""
    if v is None:
        return ""
    a = abs(v)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if a >= scale:
            return f"{v / scale:.{digits}f}{unit}"
    return f"{v:g}" if isinstance(v, float) else str(v)


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
