"""Human times for claims: "2026-11-27 10:15 UTC, expires in 12 min" / "expired 3 h ago"."""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["describe_duration", "describe_time", "format_utc", "relative"]


def format_utc(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return f"{timestamp!r} (out of range)"


def describe_duration(seconds: float) -> str:
    """A rounded, short duration: "45 s", "12 min", "3 h", "2 d"."""
    seconds = abs(seconds)
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


def relative(timestamp: float, now: float, *, future: str, past: str) -> str:
    """``future``/``past`` are phrases like "expires in" / "expired"; "ago" is appended."""
    delta = timestamp - now
    if delta >= 0:
        return f"{future} {describe_duration(delta)}"
    return f"{past} {describe_duration(delta)} ago"


_PHRASES = {
    "exp": ("expires in", "expired"),
    "iat": ("issued in", "issued"),
    "nbf": ("becomes valid in", "became valid"),
}


def describe_time(claim: str, timestamp: object, now: float) -> str | None:
    """E.g. "exp 2026-11-27 10:15 UTC, expires in 12 min"; None if not a number."""
    if type(timestamp) not in (int, float):
        return None
    value = float(timestamp)  # type: ignore[arg-type]
    if not math.isfinite(value):
        return None
    future, past = _PHRASES.get(claim, ("in", ""))
    return f"{claim} {format_utc(value)}, {relative(value, now, future=future, past=past)}"
