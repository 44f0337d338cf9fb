"""``@better-auth/api-key`` 1.7.5's ``validateApiKey``, as pure decisions on one ``apikey`` row.

The plugin (``dist/index.mjs``: ``validateApiKey``, ``claimUsageInDatabase``,
``consumeRemaining``, ``consumeRateLimit``, ``evaluateRateLimit``) checks, in this order:

1. the row exists (by the SHA-256 base64url hash of the key) and is of the expected
   configuration (``configId`` null or ``"default"`` both mean the default one);
2. ``enabled === false`` refuses (``KEY_DISABLED``);
3. ``expiresAt`` set and ``Date.now() > expiresAt`` deletes the row and refuses
   (``KEY_EXPIRED``);
4. ``remaining === 0 && refillAmount === null`` deletes the row and refuses
   (``USAGE_EXCEEDED``);
5. ``remaining !== null``: a refill when ``refillInterval && refillAmount`` and more than
   ``refillInterval`` ms passed since ``lastRefillAt ?? createdAt`` (compare-and-swap on the
   observed ``lastRefillAt``: ``remaining = refillAmount - 1``), else a decrement guarded by
   ``remaining > 0`` (none left refuses, ``USAGE_EXCEEDED``);
6. the rate limit, on the row the step above returned (so a rate-limited request has already
   used one of its ``remaining``): see :func:`rate_limit_decision`;
7. ``updatedAt = now`` (no row any more refuses, ``INVALID_API_KEY``).

This module holds the decisions (the clock is a parameter, so they are unit-tested with a fake
one); ``database.py`` applies them as guarded single-statement UPDATEs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from authbridge.errors import (
    ApiKeyDisabled,
    ApiKeyExpired,
    ApiKeyUsageExceeded,
    InvalidApiKey,
)

__all__ = [
    "KeyRow",
    "RateDecision",
    "Refusal",
    "hash_key",
    "rate_limit_decision",
    "refill_due",
    "refusal",
    "scopes_from_permissions",
]

# Scope names go into WWW-Authenticate: printable ASCII without space, quote or backslash.
_SCOPE_PART: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_MAX_PERMISSIONS_TEXT: Final = 16_384


def hash_key(key: str) -> str:
    """The plugin's ``defaultKeyHasher``: SHA-256, base64url without padding."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One ``apikey`` row, its values converted (dates aware UTC, counts ints).

    ``last_refill_at_raw`` is the value exactly as stored: the refill's compare-and-swap
    matches on it, as the plugin's ``where lastRefillAt = <observed>`` does.
    """

    id: str
    reference_id: str
    config_id: str | None
    enabled: bool | None
    expires_at: datetime | None
    remaining: int | None
    refill_amount: int | None
    refill_interval: int | None
    last_refill_at: datetime | None
    last_refill_at_raw: Any
    created_at: datetime | None
    rate_limit_enabled: bool | None
    rate_limit_time_window: int | None
    rate_limit_max: int | None
    request_count: int
    last_request: datetime | None
    permissions: str | None

    @property
    def unlimited(self) -> bool:
        """No usage count and no refill: nothing but the rate limit counts its uses."""
        return self.remaining is None and not self.refill_amount and not self.refill_interval


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a row is refused, and whether the plugin deletes it while refusing."""

    error: InvalidApiKey
    delete: bool = False


def _is_default(config_id: str | None) -> bool:
    return not config_id or config_id == "default"


def refusal(row: KeyRow, now: datetime, expected_config: str = "default") -> Refusal | None:
    """Steps 1–4: the refusals decided on the row as read, before any write."""
    if not (
        (_is_default(row.config_id) and _is_default(expected_config))
        or row.config_id == expected_config
    ):
        return Refusal(InvalidApiKey())
    if row.enabled is False:
        return Refusal(ApiKeyDisabled())
    if row.expires_at is not None and now > row.expires_at:
        return Refusal(ApiKeyExpired(), delete=True)
    if row.remaining == 0 and row.refill_amount is None:
        return Refusal(ApiKeyUsageExceeded(), delete=True)
    return None


def refill_due(row: KeyRow, now: datetime) -> bool:
    """Step 5's refill test: ``refillInterval && refillAmount`` and the interval has passed
    since ``lastRefillAt ?? createdAt`` (strictly more, in milliseconds)."""
    if not row.refill_interval or not row.refill_amount:
        return False
    last = row.last_refill_at or row.created_at
    if last is None:
        return False  # JavaScript: new Date(undefined) is NaN, and NaN > x is false
    return _ms(now - last) > row.refill_interval


RateKind = Literal["skip", "touch", "start", "reset", "deny", "increment"]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """``evaluateRateLimit``'s answer. ``touch`` is its "skip" that still writes
    ``lastRequest`` (rate limiting off, globally or for this key); ``skip`` writes nothing
    (no window or no maximum). ``window_start`` is ``now - window`` (reset and increment)."""

    kind: RateKind
    window_start: datetime | None = None
    max: int = 0


def rate_limit_decision(row: KeyRow, now: datetime, *, enabled: bool = True) -> RateDecision:
    """Step 6, decided on the row: the plugin's ``evaluateRateLimit``, branch for branch."""
    if not enabled or row.rate_limit_enabled is False:
        return RateDecision("touch")
    window, limit = row.rate_limit_time_window, row.rate_limit_max
    if window is None or limit is None:
        return RateDecision("skip")
    if row.last_request is None:
        return RateDecision("start")
    window_start = now - timedelta(milliseconds=window)
    if _ms(now - row.last_request) > window:
        return RateDecision("reset", window_start)
    if row.request_count >= limit:
        return RateDecision("deny")
    return RateDecision("increment", window_start, limit)


def _ms(delta: timedelta) -> int:
    """A duration in whole milliseconds, as two JavaScript ``getTime()`` values subtract."""
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def scopes_from_permissions(text: object) -> frozenset[str]:
    """Better Auth permissions ``{"tasks": ["read", "write"]}`` as scopes
    ``tasks:read tasks:write``. Text that is not such a JSON object gives no scope (the plugin's
    ``safeJSONParse`` gives null); a name that cannot be a scope token is left out."""
    if not isinstance(text, str) or not text or len(text) > _MAX_PERMISSIONS_TEXT:
        return frozenset()
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return frozenset()
    if isinstance(document, str):  # the plugin's legacy double-stringified value
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            return frozenset()
    if not isinstance(document, dict):
        return frozenset()
    scopes: set[str] = set()
    for resource, actions in document.items():
        if not isinstance(actions, list) or _SCOPE_PART.fullmatch(resource) is None:
            continue
        for action in actions:
            if isinstance(action, str) and _SCOPE_PART.fullmatch(action) is not None:
                scopes.add(f"{resource}:{action}")
    return frozenset(scopes)
