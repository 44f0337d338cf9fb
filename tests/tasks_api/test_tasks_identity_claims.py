"""Identity claims and NUL bytes: nothing a caller sends reaches the database as a 5xx.

PostgreSQL's text type cannot hold U+0000 (asyncpg refuses it), and UTF-8 cannot hold a lone
surrogate; SQLite stores both. So a validly signed token whose ``sub`` held a NUL answered
200 on SQLite and 500 on PostgreSQL. Identity claims must now be printable strings of bounded
length, or the token is ``invalid_claims`` (a 401). Every test here runs on both backends.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Api
from tokens import dumps, sign_raw

INVALID_TOKEN_CHALLENGE = (
    'Bearer realm="authbridge", error="invalid_token", '
    'error_description="The access token is invalid or has expired"'
)
MISSING_ID = "00000000-0000-4000-8000-000000000000"
ROUTES = [
    ("GET", "/api/me"),
    ("GET", "/api/tasks"),
    ("POST", "/api/tasks"),
    ("GET", f"/api/tasks/{MISSING_ID}"),
    ("PATCH", f"/api/tasks/{MISSING_ID}"),
    ("DELETE", f"/api/tasks/{MISSING_ID}"),
    ("GET", "/api/admin/stats"),
]
IDENTITY_CLAIMS = ["sub", "id", "sid", "email", "role", "activeOrganizationId", "organizationId"]
BAD_VALUES = ["user\x00id", "\x00", "a\ud800b", "x" * 400, "ok\x1bescape"]


def signed(api: Api, **overrides: Any) -> str:
    """A token genuinely signed by the issuer, its payload as escaped JSON (so that a lone
    surrogate travels as ``\\ud800``, as a JSON encoder would send it)."""
    key = api.issuer.signing_key()
    claims = {**api.issuer.claims(), **overrides}
    header = dumps({"alg": key.alg, "kid": key.kid})
    return sign_raw(header, dumps(claims), key.private, key.alg)


async def _call(api: Api, method: str, path: str, token: str) -> Any:
    body = {"title": "t"} if method in ("POST", "PATCH") else None
    return await api.client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.parametrize("claim", IDENTITY_CLAIMS)
@pytest.mark.parametrize("value", BAD_VALUES, ids=["nul-inside", "nul", "surrogate", "long", "esc"])
async def test_a_signed_token_with_a_bad_identity_claim_is_a_401_on_every_route(
    api: Api, claim: str, value: str
) -> None:
    token = signed(api, **{"role": "admin", claim: value})
    for method, path in ROUTES:
        response = await _call(api, method, path, token)
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert response.headers.get_list("www-authenticate") == [INVALID_TOKEN_CHALLENGE]
        assert response.json()["code"] == "invalid_token"
    # The database holds nothing from it.
    good = api.issuer.token()
    listing = await api.client.get("/api/admin/stats", headers={"Authorization": f"Bearer {good}"})
    assert listing.status_code == 403


async def test_nul_bytes_in_every_other_input_are_refused_not_a_5xx(api: Api) -> None:
    """The query, the path, the headers and the body, each with a NUL (and a lone surrogate
    where the transport can carry one): a 4xx on PostgreSQL as on SQLite."""
    alice = api.caller()
    task = await api.create(alice)
    own = f"/api/tasks/{task['id']}"
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/tasks?q=a%00b", {}),
        ("GET", "/api/tasks?q=%ED%A0%80", {}),  # a UTF-8-encoded surrogate
        ("GET", "/api/tasks?cursor=a%00b", {}),
        ("GET", "/api/tasks?completed=%00", {}),
        ("GET", "/api/tasks?sort=%00", {}),
        ("GET", "/api/tasks?limit=1%00", {}),
        ("GET", "/api/tasks/a%00b", {}),
        ("GET", f"{own}%00", {}),
        ("PATCH", own, {"json": {"title": "a\x00b"}}),
        ("PATCH", own, {"json": {"description": "a\x00b"}}),
        ("PATCH", own, {"json": {"priority": "low\x00"}}),
        ("PATCH", own, {"json": {"due_at": "2030-01-01T00:00:00\x00Z"}}),
        ("PATCH", own, {"content": b'{"title": "a\\ud800b"}'}),
        ("PATCH", own, {"headers": {"If-Match": '"a\x00b"'}, "json": {"title": "x"}}),
        ("POST", "/api/tasks", {"json": {"title": "a\x00b"}}),
        ("POST", "/api/tasks", {"json": {"title\x00": "x"}}),
        ("POST", "/api/tasks", {"content": b'{"title": "x", "description": "\\u0000"}'}),
        ("DELETE", own, {"headers": {"If-Match": "\x00"}}),
        ("GET", "/api/me", {"headers": {"X-Request-ID": "a\x00b"}}),
    ]
    for method, path, options in requests:
        headers = {**alice.headers, **options.pop("headers", {})}
        if "content" in options:
            headers["Content-Type"] = "application/json"
        encoded = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
        response = await api.client.request(method, path, headers=encoded, **options)
        assert 400 <= response.status_code < 500 or response.status_code == 200, (
            method,
            path,
            options,
            response.status_code,
            response.text,
        )
        assert response.status_code != 500
    after = await api.client.get(own, headers=alice.headers)
    assert after.status_code == 200
    assert after.json()["title"] == task["title"]  # nothing above changed the task


# Text of every kind, NULs and lone surrogates included, as a claim's value.
claim_text = st.text(alphabet=st.characters(codec=None), max_size=40) | st.sampled_from(
    ["\x00", "a\x00", "\ud800", "\udfff", "x" * 300]
)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(claim=st.sampled_from(IDENTITY_CLAIMS), value=claim_text)
async def test_generated_identity_claims_never_reach_the_database_as_a_5xx(
    api: Api, claim: str, value: str
) -> None:
    token = signed(api, **{claim: value})
    for method, path in ROUTES:
        response = await _call(api, method, path, token)
        assert response.status_code < 500, (claim, value, method, path, response.text)
        if response.status_code == 401:
            assert response.headers.get_list("www-authenticate") == [INVALID_TOKEN_CHALLENGE]
