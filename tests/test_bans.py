"""Better Auth admin-plugin bans in JWT claims (``ClaimRules.validate``) and ``bans.py``.

The rule is the plugin's own (better-auth 1.7.25, plugins/admin/admin.mjs): ``banned`` true
refuses unless ``banExpires`` is a moment before now; an unreadable expiry refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from authbridge import UserBanned
from authbridge.bans import ban_in_force, parse_ban_expires
from authbridge.claims import ClaimRules
from authbridge.errors import AuthError, InvalidClaims
from tokens import AUDIENCE, ISSUER, NOW, USER_ID, user_object

RULES = ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}))
MOMENT = datetime.fromtimestamp(NOW, UTC)


def js_iso(moment: datetime) -> str:
    """JSON.stringify of a JS Date: milliseconds and Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def claims(**user: Any) -> dict[str, Any]:
    """Better Auth's default JWT payload (the whole user) with the admin plugin's fields."""
    payload = user_object(**{"role": "user", "banReason": None, **user})
    payload.update(sub=USER_ID, iss=ISSUER, aud=AUDIENCE, iat=int(NOW), exp=int(NOW) + 900)
    return payload


def test_user_banned_is_a_public_401() -> None:
    error = UserBanned()
    assert (error.code, error.public_code, error.status) == ("user_banned", "user_banned", 401)
    assert isinstance(error, AuthError)


@pytest.mark.parametrize("fields", [{}, {"banned": False, "banExpires": None}, {"banned": None}])
def test_tokens_without_a_ban_pass(fields: dict[str, Any]) -> None:
    assert RULES.validate(claims(**fields), NOW) == NOW + 900 + RULES.leeway


@pytest.mark.parametrize(
    "expires",
    [
        None,  # a permanent ban
        js_iso(MOMENT + timedelta(days=1)),  # Date.toJSON in the payload
        js_iso(MOMENT + timedelta(seconds=1)),
        js_iso(MOMENT),  # not yet past: Better Auth lifts it only when strictly before now
        (NOW + 3600) * 1000,  # epoch milliseconds
        NOW + 3600,  # epoch seconds
        0,  # JavaScript-falsy: Better Auth reads it as no expiry
        "",
    ],
)
def test_a_ban_in_force_refuses(expires: Any) -> None:
    with pytest.raises(UserBanned) as caught:
        RULES.validate(claims(banned=True, banExpires=expires, banReason="spam"), NOW)
    assert caught.value.code == "user_banned"


def test_banned_without_ban_expires_refuses() -> None:
    payload = claims(banned=True)
    assert "banExpires" not in payload
    with pytest.raises(UserBanned):
        RULES.validate(payload, NOW)


@pytest.mark.parametrize(
    "expires",
    [
        js_iso(MOMENT - timedelta(milliseconds=1)),
        js_iso(MOMENT - timedelta(days=30)),
        "2026-12-01T10:00:00+02:00",  # an offset, earlier than NOW (2027-01-15)
        (NOW - 1) * 1000,
        NOW - 1,
    ],
)
def test_an_expired_ban_does_not_refuse(expires: Any) -> None:
    assert RULES.validate(claims(banned=True, banExpires=expires), NOW) > NOW


@pytest.mark.parametrize(
    "expires",
    [
        "not a date",
        "1700000000",  # a numeric string is no date Better Auth writes
        "2020-13-45T00:00:00Z",
        True,
        [],
        {"date": "2020-01-01T00:00:00Z"},
        float("nan"),
        float("inf"),
        "2020-01-01T00:00:00Z" + "0" * 64,
    ],
)
def test_an_unreadable_expiry_fails_closed(expires: Any) -> None:
    with pytest.raises(UserBanned):
        RULES.validate(claims(banned=True, banExpires=expires), NOW)


@pytest.mark.parametrize("banned", ["true", 1, 0, "false", [], {}])
def test_a_banned_claim_that_is_not_a_boolean_is_invalid(banned: Any) -> None:
    with pytest.raises(InvalidClaims):
        RULES.validate(claims(banned=banned), NOW)


def test_the_ban_is_checked_after_the_other_claims() -> None:
    """An expired token is answered as expired, whoever its user is."""
    payload = claims(banned=True)
    payload["exp"] = int(NOW) - 100
    with pytest.raises(AuthError) as caught:
        RULES.validate(payload, NOW)
    assert caught.value.code == "token_expired"


def test_parse_ban_expires_formats() -> None:
    moment = datetime(2026, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    expected = moment.timestamp()
    assert parse_ban_expires("2026-05-01T12:00:00.250Z") == expected
    assert parse_ban_expires("2026-05-01T14:00:00.250+02:00") == expected
    assert parse_ban_expires("2026-05-01 12:00:00.250") == expected  # no zone: UTC
    assert parse_ban_expires(moment) == expected  # PostgreSQL timestamptz
    assert parse_ban_expires(moment.astimezone(timezone(timedelta(hours=-5)))) == expected
    assert parse_ban_expires(moment.replace(tzinfo=None)) == expected  # timestamp: UTC
    assert parse_ban_expires(int(expected * 1000)) == expected
    assert parse_ban_expires(expected) == expected
    for bad in ("", "  ", "20260501", "1746100800", None, b"2026-05-01", True, float("nan")):
        assert parse_ban_expires(bad) is None


def test_ban_in_force_edges() -> None:
    assert ban_in_force(None, NOW)
    assert ban_in_force(NOW, NOW)  # equal: Better Auth lifts a ban only when strictly past
    assert not ban_in_force(NOW - 0.001, NOW)
    assert ban_in_force("garbage", NOW)
