"""The Principal: immutable, typed, compared and shown by identity, never by raw claims."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import msgspec
import pytest

from authbridge import ClaimNames, Principal
from authbridge.claims import build_principal


def _alice(**fields: object) -> Principal:
    values: dict[str, object] = {"sub": "u1", "issuer": "https://auth.example.com"}
    values.update(fields)
    return Principal(**values)  # type: ignore[arg-type]


def test_defaults() -> None:
    p = _alice()
    assert (p.email, p.name, p.email_verified, p.image, p.session_id, p.expires_at) == (None,) * 6
    assert p.roles == p.scopes == frozenset()
    assert p.audience == ()
    assert p.credential == "jwt"
    assert dict(p.claims) == {}


def test_immutable() -> None:
    p = _alice()
    with pytest.raises(AttributeError):
        p.sub = "u2"  # type: ignore[misc]


def test_claims_are_not_part_of_identity_equality_hash_or_repr() -> None:
    a = _alice(email="a@example.com", claims=MappingProxyType({"secretish": "x" * 40}))
    b = _alice(email="a@example.com")
    assert a == b
    assert hash(a) == hash(b)
    assert a != _alice(email="b@example.com")
    assert a != "u1"
    assert "secretish" not in repr(a)
    assert "claims" not in repr(a)
    assert repr(a).startswith("Principal(sub='u1', issuer='https://auth.example.com'")
    assert len({a, b, _alice(sub="u2")}) == 2


def test_replace_returns_a_new_principal() -> None:
    p = _alice(roles=frozenset({"user"}))
    q = msgspec.structs.replace(p, roles=frozenset({"admin"}))
    assert q.roles == {"admin"}
    assert p.roles == {"user"}
    assert q.sub == p.sub


def test_build_principal_maps_claims_and_drops_wrong_types() -> None:
    claims = {
        "sub": "u1",
        "email": None,
        "name": 5,
        "emailVerified": "yes",
        "image": None,
        "role": "admin,user",
        "scope": "tasks:read tasks:write",
        "sid": None,
        "aud": ["a", "b"],
        "exp": 1_800_000_000,
    }
    p = build_principal(claims, ClaimNames(), issuer="iss")
    assert p == Principal(
        sub="u1",
        issuer="iss",
        roles=frozenset({"admin", "user"}),
        scopes=frozenset({"tasks:read", "tasks:write"}),
        audience=("a", "b"),
        expires_at=datetime.fromtimestamp(1_800_000_000, UTC),
    )
    assert p.claims == claims
    with pytest.raises(TypeError):
        p.claims["sub"] = "u2"  # type: ignore[index]


def test_principal_field_order_matches_build_principal() -> None:
    # build_principal passes the fields by position (speed): a reordering must fail here.
    assert Principal.__struct_fields__ == (
        "sub",
        "issuer",
        "email",
        "name",
        "email_verified",
        "image",
        "roles",
        "scopes",
        "session_id",
        "organization_id",
        "organization_role",
        "impersonator",
        "audience",
        "expires_at",
        "credential",
        "claims",
    )
