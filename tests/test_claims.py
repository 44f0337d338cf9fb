"""Claim rules and the Principal builder: roles, scopes, configurable names, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from authbridge import ClaimNames, ClaimRules, Principal
from authbridge.claims import build_principal
from authbridge.errors import InvalidAudience, InvalidClaims, InvalidIssuer, TokenExpired
from tokens import AUDIENCE, DROP, ISSUER, NOW, USER_ID, ba_claims

RULES = ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}))


def _principal(names: ClaimNames | None = None, **claims: Any) -> Principal:
    return build_principal(ba_claims(**claims), names or ClaimNames(), issuer=ISSUER)


# --- roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("admin", {"admin"}),
        ("admin,user", {"admin", "user"}),  # Better Auth admin plugin: several roles
        ("admin, user", {"admin", "user"}),
        (" admin ,, user ,", {"admin", "user"}),
        ("", set()),
        (None, set()),
        (["admin", "user"], {"admin", "user"}),
    ],
)
def test_roles_from_the_role_claim(role: Any, expected: set[str]) -> None:
    assert _principal(role=role).roles == expected


def test_roles_from_a_roles_list_and_both_claims_merge() -> None:
    assert _principal(roles=["editor", "viewer"]).roles == {"editor", "viewer"}
    assert _principal(role="admin", roles=["editor"]).roles == {"admin", "editor"}
    assert _principal(roles=["ok", ""]).roles == {"ok"}
    assert _principal(roles="a,b").roles == {"a", "b"}


# --- identity claims: printable strings of bounded length, or the token is refused --------

# Each would reach a lookup (the session, the user's rows, an organization) as a key.
IDENTITY_CLAIMS = [
    "sid",
    "id",
    "email",
    "activeOrganizationId",
    "organizationId",
    "organizationRole",
    "impersonatedBy",
    "role",
    "roles",
]
BAD_IDENTIFIERS = [
    "user\x00id",  # NUL: PostgreSQL text refuses it (a 500 before this rule)
    "\x00",
    "a\ud800b",  # a lone surrogate: not encodable as UTF-8
    "tab\there",
    "line\nbreak",
    "\x1b[31mred",  # terminal escape
    "zero\u200bwidth",  # a format character
    "x" * 321,
    7,
    1.5,
    True,
    {"id": "x"},
    ["x", 1],
]


@pytest.mark.parametrize("name", IDENTITY_CLAIMS)
@pytest.mark.parametrize("value", BAD_IDENTIFIERS, ids=repr)
def test_a_bad_identity_claim_refuses_the_token(name: str, value: Any) -> None:
    with pytest.raises(InvalidClaims) as caught:
        _principal(**{name: value})
    assert caught.value.code == "invalid_claims"
    assert name in caught.value.message


@pytest.mark.parametrize("value", ["u\x00", "\ud800", "a b\x7f", "x" * 257, ""])
def test_sub_must_be_a_short_non_empty_printable_string(value: str) -> None:
    with pytest.raises(InvalidClaims, match="'sub'"):
        RULES.validate(ba_claims(sub=value), NOW)


def test_good_identity_claims_pass_and_null_is_absent() -> None:
    principal = _principal(
        id="Üser-1 ok",
        email="ada+tag@example.com",
        sid="s" * 256,
        activeOrganizationId=None,
        organizationId="org_1",
        organizationRole="owner",
        role="admin,user",
        roles=["editor"] * 64,
    )
    assert principal.roles == {"admin", "user", "editor"}
    assert principal.session_id == "s" * 256
    assert _principal(email="a" * 64 + "@" + "b" * 255).email is not None
    with pytest.raises(InvalidClaims):
        _principal(id="x" * 257)
    with pytest.raises(InvalidClaims):
        _principal(roles=["editor"] * 65)


# --- organization and impersonation ----------------------------------------------------------


def test_organization_and_impersonator_come_from_the_claims_definepayload_adds() -> None:
    principal = _principal(
        activeOrganizationId="org_active",
        organizationId="org_other",
        organizationRole="admin,member",
        impersonatedBy="admin_1",
    )
    assert principal.organization_id == "org_active"  # the session's active one wins
    assert principal.organization_role == "admin,member"  # as Better Auth stores it
    assert principal.impersonator == "admin_1"
    assert _principal(organizationId="org_2").organization_id == "org_2"


def test_without_those_claims_the_fields_are_none() -> None:
    principal = _principal(activeOrganizationId=None, organizationRole=None)
    assert principal.organization_id is None
    assert principal.organization_role is None
    assert principal.impersonator is None


def test_organization_fields_take_part_in_identity() -> None:
    assert _principal(activeOrganizationId="org_1") != _principal(activeOrganizationId="org_2")
    assert _principal(impersonatedBy="admin_1") != _principal()
    assert "org_1" in repr(_principal(activeOrganizationId="org_1"))


def test_organization_claim_names_are_configurable_and_checked() -> None:
    names = ClaimNames(organization_id=("org",), organization_role="orgRole", impersonator="actor")
    principal = _principal(names, org="org_9", orgRole="owner", actor="admin_2")
    assert (principal.organization_id, principal.organization_role, principal.impersonator) == (
        "org_9",
        "owner",
        "admin_2",
    )
    # A renamed claim is an identity claim too: a NUL in it refuses the token.
    for claim in ("org", "orgRole", "actor"):
        with pytest.raises(InvalidClaims, match=claim):
            _principal(names, **{claim: "x\x00"})
    assert names.checked.count("sid") == 1  # each name is checked once


# --- scopes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"scope": "tasks:read tasks:write"}, {"tasks:read", "tasks:write"}),
        ({"scope": "  a   b  "}, {"a", "b"}),
        ({"scope": "a,b"}, {"a,b"}),  # RFC 8693: space-delimited only
        ({"scp": ["a", "b"]}, {"a", "b"}),
        ({"scp": "a b"}, {"a", "b"}),
        ({"scopes": ["x"]}, {"x"}),
        ({"scope": "a", "scp": ["b"], "scopes": ["c"]}, {"a", "b", "c"}),
        ({"scope": 5}, set()),
        ({"scopes": [1, "ok"]}, {"ok"}),
        ({}, set()),
    ],
)
def test_scopes(claims: dict[str, Any], expected: set[str]) -> None:
    assert _principal(**claims).scopes == expected


# --- configurable names ------------------------------------------------------------------


def test_claim_names_are_configurable() -> None:
    names = ClaimNames(roles=("groups",), scopes=("permissions",), session_id="session_id")
    principal = _principal(
        names, groups=["ops"], permissions="read write", role="admin", scope="x", session_id="s1"
    )
    assert principal.roles == {"ops"}
    assert principal.scopes == {"read", "write"}
    assert principal.session_id == "s1"
    none = ClaimNames(roles=(), scopes=())
    assert _principal(none, role="admin", scope="x").roles == frozenset()


# --- the other fields ---------------------------------------------------------------------


def test_principal_fields_from_a_better_auth_token() -> None:
    principal = _principal(sid="sess-1", aud=[AUDIENCE, "other"])
    assert principal.sub == USER_ID
    assert principal.issuer == ISSUER
    assert principal.email == "ada@example.com"
    assert principal.name == "Ada Lovelace"
    assert principal.email_verified is True
    assert principal.image is None
    assert principal.session_id == "sess-1"
    assert principal.audience == (AUDIENCE, "other")
    assert principal.expires_at == datetime.fromtimestamp(int(NOW) + 900, UTC)
    assert principal.credential == "jwt"
    assert principal.claims["id"] == USER_ID


def test_wrongly_typed_optional_claims_become_none() -> None:
    principal = _principal(email=None, name=1, emailVerified="true", image={"u": 1}, sid=None)
    assert (principal.email, principal.name, principal.email_verified) == (None, None, None)
    assert (principal.image, principal.session_id) == (None, None)
    assert _principal(emailVerified=None, email_verified=False).email_verified is None
    claims = {k: v for k, v in ba_claims(email_verified=False).items() if k != "emailVerified"}
    assert build_principal(claims, ClaimNames(), issuer=ISSUER).email_verified is False


def test_principal_claims_are_read_only_and_principal_is_frozen() -> None:
    principal = _principal()
    with pytest.raises(TypeError):
        principal.claims["sub"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        principal.sub = "x"  # type: ignore[misc]


def test_has_scopes_and_roles() -> None:
    principal = _principal(scope="a b", role="admin,user")
    assert principal.has_scopes(["a", "b"])
    assert not principal.has_scopes(["a", "c"])
    assert principal.has_scopes(["a", "c"], any_of=True)
    assert principal.has_scopes([])
    assert principal.has_roles(["admin", "x"])
    assert not principal.has_roles(["admin", "x"], any_of=False)


# --- ClaimRules -------------------------------------------------------------------------------


def test_validate_returns_the_deadline() -> None:
    claims = ba_claims()
    assert RULES.validate(claims, NOW) == claims["exp"] + RULES.leeway
    aged = ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}), max_age=60)
    assert aged.validate(claims, NOW) == claims["iat"] + 60 + aged.leeway
    with pytest.raises(TokenExpired):
        aged.validate(claims, NOW + 100)


def test_validate_names_the_missing_claim() -> None:
    with pytest.raises(InvalidClaims) as info:
        RULES.validate({k: v for k, v in ba_claims().items() if k != "aud"}, NOW)
    assert "'aud'" in info.value.message


@pytest.mark.parametrize(
    "options",
    [{"leeway": -1}, {"leeway": 60.5}, {"issuer": ""}, {"audiences": frozenset()}],
)
def test_rules_refuse_bad_policy(options: dict[str, Any]) -> None:
    base: dict[str, Any] = {"issuer": ISSUER, "audiences": frozenset({AUDIENCE})}
    with pytest.raises(ValueError):
        ClaimRules(**{**base, **options})


def test_no_max_lifetime_allows_long_tokens() -> None:
    rules = ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}), max_lifetime=None)
    claims = ba_claims(exp=int(NOW) + 10 * 365 * 86400)
    assert rules.validate(claims, NOW) > NOW


# --- required claims: absent and null are told apart, whichever way validate proves them ----


@pytest.mark.parametrize("name", ["exp", "iat", "iss", "aud", "sub"])
def test_an_absent_required_claim_is_named(name: str) -> None:
    with pytest.raises(InvalidClaims, match=f"lacks the required claim '{name}'"):
        RULES.validate(ba_claims(**{name: DROP}), NOW)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("exp", InvalidClaims, "'exp' is not a number"),
        ("iat", InvalidClaims, "'iat' is not a number"),
        ("iss", InvalidIssuer, None),
        ("aud", InvalidAudience, None),
        ("sub", InvalidClaims, "'sub' is not a short"),
    ],
)
def test_a_null_required_claim_is_present_and_refused(
    name: str, error: type[Exception], message: str | None
) -> None:
    with pytest.raises(error, match=message):
        RULES.validate(ba_claims(**{name: None}), NOW)


def test_an_issuer_not_required_may_be_absent_but_not_null() -> None:
    rules = ClaimRules(
        issuer=ISSUER, audiences=frozenset({AUDIENCE}), required=frozenset({"exp", "sub"})
    )
    assert rules.required_read
    rules.validate(ba_claims(iss=DROP), NOW)
    with pytest.raises(InvalidIssuer):
        rules.validate(ba_claims(iss=None), NOW)
    with pytest.raises(InvalidIssuer):
        rules.validate(ba_claims(iss="https://other.example"), NOW)


def test_required_claims_beyond_the_five_read_are_checked_by_name() -> None:
    rules = ClaimRules(
        issuer=ISSUER,
        audiences=frozenset({AUDIENCE}),
        required=frozenset({"exp", "iat", "iss", "aud", "sub", "jti"}),
    )
    assert not rules.required_read
    with pytest.raises(InvalidClaims, match="lacks the required claim 'jti'"):
        rules.validate(ba_claims(), NOW)
    rules.validate(ba_claims(jti="token-1"), NOW)
