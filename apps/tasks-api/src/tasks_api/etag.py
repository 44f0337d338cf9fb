"""Entity tags for tasks, and ``If-Match`` parsing and evaluation (RFC 9110 §8.8.3, §13.1.1)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["IF_MATCH_PATTERN", "IfMatch", "InvalidIfMatch", "etag_for", "parse_if_match"]

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE;  etagc = %x21 / %x23-7E / obs-text (%x80-FF).
_ENTITY_TAG: Final = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
# If-Match = "*" / #entity-tag. List elements are separated by OWS "," OWS, and a recipient
# ignores empty elements (§5.6.1.2), but at least one tag must be there: an empty value, or
# commas alone, is no entity-tag list at all.
_IF_MATCH_BODY: Final = (
    rf"[ \t]*(?:\*|(?:,[ \t]*)*{_ENTITY_TAG}(?:[ \t]*,(?:[ \t]*{_ENTITY_TAG})?)*)[ \t]*"
)
# The same grammar, anchored, for the OpenAPI document (ECMA-262 and Python read it alike).
IF_MATCH_PATTERN: Final = f"^{_IF_MATCH_BODY}$"
_IF_MATCH: Final = re.compile(_IF_MATCH_BODY)
_TAG: Final = re.compile(_ENTITY_TAG)


class InvalidIfMatch(ValueError):
    """The ``If-Match`` value is not ``*`` or a list of entity-tags (a 400, not a 412)."""


@dataclass(frozen=True)
class IfMatch:
    """A parsed ``If-Match``: ``*`` or the strong tags it lists (weak tags never match)."""

    wildcard: bool
    strong: frozenset[str]

    def allows(self, current: str) -> bool:
        """Whether a write to a task whose tag is ``current`` may go ahead."""
        return self.wildcard or current in self.strong


def parse_if_match(values: Sequence[str]) -> IfMatch:
    """Every ``If-Match`` field line of a request, combined as RFC 9110 §5.3 says."""
    combined = ", ".join(values)
    if _IF_MATCH.fullmatch(combined) is None:
        raise InvalidIfMatch("If-Match must be * or a comma-separated list of entity-tags")
    if combined.strip(" \t") == "*":
        return IfMatch(wildcard=True, strong=frozenset())
    # The whole value matched the grammar, so scanning finds exactly the listed tags.
    tags = _TAG.findall(combined)
    return IfMatch(
        wildcard=False, strong=frozenset(tag for tag in tags if not tag.startswith("W/"))
    )


def etag_for(task_id: uuid.UUID, version: int) -> str:
    """A strong tag that changes with every write to the task."""
    digest = hashlib.sha256(f"{task_id}:{version}".encode()).hexdigest()[:32]
    return f'"{digest}"'
