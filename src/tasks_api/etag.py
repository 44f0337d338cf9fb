"""Entity tags for tasks and ``If-Match`` evaluation (RFC 9110 §8.8.3, §13.1.1)."""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["etag_for", "if_match_allows"]


def etag_for(task_id: uuid.UUID, version: int) -> str:
    """A strong tag that changes with every write to the task."""
    digest = hashlib.sha256(f"{task_id}:{version}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def if_match_allows(header: str, current: str) -> bool:
    """Whether ``If-Match`` lets a write through: ``*`` or a strong match (weak never matches)."""
    candidates = [part.strip() for part in header.split(",")]
    return any(candidate in ("*", current) for candidate in candidates if candidate)
