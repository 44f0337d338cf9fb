"""Read and set ``KEY=value`` lines in dotenv files, keeping every other line as it was."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["read_env_value", "set_env_values"]


def _line_pattern(key: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*(?:export\s+)?{re.escape(key)}\s*=(?P<value>.*)$")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if " #" in value:
        value = value.split(" #", 1)[0].rstrip()
    return value


def read_env_value(path: Path, key: str) -> str | None:
    """The value of the last ``key=`` line, or None if absent or empty."""
    if not path.exists():
        return None
    pattern = _line_pattern(key)
    found: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = pattern.match(line)
        if match:
            found = _unquote(match.group("value")) or None
    return found


def set_env_values(text: str, values: dict[str, str]) -> str:
    """``text`` with each key's line replaced (or appended when missing)."""
    lines = text.splitlines()
    for key, value in values.items():
        pattern = _line_pattern(key)
        replaced = False
        for index, line in enumerate(lines):
            if pattern.match(line):
                lines[index] = f"{key}={value}"
                replaced = True
        if not replaced:
            lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"
