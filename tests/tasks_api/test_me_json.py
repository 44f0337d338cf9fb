"""``/api/me``'s direct encoder against pydantic: the same bytes as ``schemas.Me`` for any
Principal, so the OpenAPI document (which still names ``Me``) describes what is sent."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from authbridge import Principal
from tasks_api.me_json import encode_me, me_response
from tasks_api.schemas import Me

TEXT = st.text(max_size=40)
NAMES = st.frozensets(st.text(min_size=1, max_size=12), max_size=5)
PRINCIPALS = st.builds(
    Principal,
    sub=st.text(min_size=1, max_size=40),
    issuer=TEXT,
    email=st.none() | TEXT,
    name=st.none() | TEXT,
    roles=NAMES,
    scopes=NAMES,
    session_id=st.none() | TEXT,
    organization_id=st.none() | TEXT,
    organization_role=st.none() | TEXT,
    impersonator=st.none() | TEXT,
    expires_at=st.none()
    | st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    credential=st.sampled_from(["jwt", "session", "api_key"]),
)


def pydantic_me(user: Principal) -> bytes:
    """What the route answered when it returned a ``Me`` (before msgspec)."""
    return (
        Me(
            sub=user.sub,
            email=user.email,
            name=user.name,
            roles=sorted(user.roles),
            scopes=sorted(user.scopes),
            session_id=user.session_id,
            issuer=user.issuer,
            expires_at=user.expires_at,
            credential=user.credential,
            organization_id=user.organization_id,
            organization_role=user.organization_role,
            impersonator=user.impersonator,
        )
        .model_dump_json()
        .encode()
    )


@given(PRINCIPALS)
def test_encode_me_is_byte_for_byte_pydantic(user: Principal) -> None:
    assert encode_me(user) == pydantic_me(user)


def test_me_response_is_json_with_the_encoded_body() -> None:
    user = Principal(
        sub="u1",
        issuer="https://auth.example.test",
        roles=frozenset({"b", "a"}),
        expires_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    response = me_response(user)
    assert response.media_type == "application/json"
    assert response.body == pydantic_me(user)
    assert b'"roles":["a","b"]' in response.body
    assert b'"expires_at":"2030-01-02T03:04:05Z"' in response.body
