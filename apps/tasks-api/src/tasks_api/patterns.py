"""The text input rules as regular expressions: each is published verbatim as an OpenAPI
``pattern`` and is also what the API's validators match, so the document cannot promise
less, or more, than the code accepts (Schemathesis checks both directions).

The patterns use only syntax that ECMA-262, Rust's ``regex`` (which validates them in
Schemathesis) and Python's ``re`` read alike. JSON cannot carry a lone surrogate, and the
strict JSON parser refuses one anyway; the Python side excludes them all the same.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic.json_schema import WithJsonSchema

__all__ = [
    "DESCRIPTION_PATTERN",
    "DUE_AT_PATTERN",
    "SEARCH_PATTERN",
    "TITLE_MAX",
    "TITLE_PATTERN",
    "compiled",
    "documented",
    "due_at_shape",
]

TITLE_MAX: Final = 200
# What ``str.strip()`` removes: every character for which ``str.isspace()`` is true.
_SPACE: Final = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# C0 and C1 controls (Cc), and the line and paragraph separators (Zl, Zp).
_CONTROL: Final = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_SURROGATES: Final = r"\ud800-\udfff"

# Both at once: what may not begin or end a trimmed title.
_CONTROL_OR_SPACE: Final = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

# A title is trimmed, then must be 1-200 characters with no control character or separator:
# surrounding whitespace (control whitespace included, as strip() removes it) is allowed.
TITLE_PATTERN: Final = (
    rf"^[{_SPACE}]*[^{_CONTROL_OR_SPACE}]"
    rf"(?:[^{_CONTROL}]{{0,{TITLE_MAX - 2}}}[^{_CONTROL_OR_SPACE}])?[{_SPACE}]*$"
)
# A description keeps tab, line feed and carriage return; no other control character.
DESCRIPTION_PATTERN: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# The list route's `q`: no control character.
SEARCH_PATTERN: Final = r"^[^\x00-\x1f\x7f-\x9f]*$"

# RFC 3339 date-time (the OpenAPI `date-time` format) with the seconds a datetime can hold
# (no leap second 60), dated 1900-01-01 to 9999-12-30: with any offset (less than 24 hours)
# that is still a datetime once converted to UTC.
_MONTH_DAY: Final = r"(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME: Final = (
    r"[Tt](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
_YEAR_BEFORE_9999: Final = r"(?:19\d\d|[2-8]\d\d\d|9[0-8]\d\d|99[0-8]\d|999[0-8])"
_DATE_IN_RANGE: Final = (
    rf"(?:{_YEAR_BEFORE_9999}-{_MONTH_DAY}"
    r"|9999-(?:0[1-9]|1[01])-(?:0[1-9]|[12]\d|3[01])"
    r"|9999-12-(?:0[1-9]|[12]\d|30))"
)
DUE_AT_PATTERN: Final = rf"^{_DATE_IN_RANGE}{_TIME}$"
_DUE_AT_SHAPE: Final = re.compile(rf"\d{{4}}-{_MONTH_DAY}{_TIME}")


def compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` for Python's ``fullmatch``; no negated class admits a lone surrogate."""
    return re.compile(pattern.replace("[^", f"[^{_SURROGATES}"))


def due_at_shape(text: str) -> bool:
    """Whether ``text`` is an RFC 3339 date-time as ``DUE_AT_PATTERN`` spells one, any year."""
    return _DUE_AT_SHAPE.fullmatch(text) is not None


def documented(pattern: str, **extra: Any) -> WithJsonSchema:
    """The OpenAPI schema of a string a validator checks against ``pattern``."""
    return WithJsonSchema({"type": "string", "pattern": pattern, **extra})
