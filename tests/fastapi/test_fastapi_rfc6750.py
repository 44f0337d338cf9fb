"""RFC 6750 answers over HTTP: V1, V2, V47–V53, V55."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi_sample_app import build_app

from authbridge.fastapi import AuthBridge
from authbridge.keys.remote import RemoteJWKS
from authbridge.testing import FakeIssuer
from authbridge.verifier import TrustedIssuer, Verifier

REALM_ONLY = 'Bearer realm="authbridge"'
INVALID_TOKEN = (
    'Bearer realm="authbridge", error="invalid_token", '
    'error_description="The access token is invalid or has expired"'
)
INVALID_REQUEST = (
    'Bearer realm="authbridge", error="invalid_request", '
    'error_description="The request carries a malformed or duplicated credential"'
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_missing(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == REALM_ONLY
    assert "error=" not in response.headers["www-authenticate"]
    assert response.json() == {"detail": "Authentication is required.", "code": "token_missing"}


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID_TOKEN
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "detail": "The access token is invalid or has expired.",
        "code": "invalid_token",
    }


def assert_invalid_request(response: httpx.Response) -> None:
    assert response.status_code == 400
    assert response.headers["www-authenticate"] == INVALID_REQUEST
    assert response.json()["code"] == "invalid_request"


# --- V47: no credentials, or another scheme ------------------------------------------------


async def test_no_credentials_is_a_bare_challenge(client: httpx.AsyncClient) -> None:
    assert_missing(await client.get("/me"))


@pytest.mark.parametrize(
    "value",
    ["Basic dXNlcjpwYXNz", "Digest username=x", "Token abc", "Bearerx abc", "JWT a.b.c"],
)
async def test_another_scheme_is_a_bare_challenge(client: httpx.AsyncClient, value: str) -> None:
    assert_missing(await client.get("/me", headers={"Authorization": value}))


@pytest.fixture
def quiet_httpx(caplog: pytest.LogCaptureFixture) -> None:
    """httpx logs each request URL at INFO: keep tokens put in a URL on purpose out of logs."""
    caplog.set_level(logging.WARNING, logger="httpx")


async def test_query_access_token_is_never_a_credential(
    client: httpx.AsyncClient, issuer: FakeIssuer, quiet_httpx: None
) -> None:
    response = await client.get("/me", params={"access_token": issuer.token()})
    assert_missing(response)


async def test_form_access_token_alone_is_never_a_credential(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.post("/submit", data={"access_token": issuer.token()})
    assert_missing(response)


# --- scheme handling and success --------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_scheme_is_case_insensitive(
    client: httpx.AsyncClient, issuer: FakeIssuer, scheme: str
) -> None:
    response = await client.get("/me", headers={"Authorization": f"{scheme} {issuer.token()}"})
    assert response.status_code == 200
    assert response.json() == {"sub": issuer.user["id"]}


async def test_authenticated_responses_are_private(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.get("/me", headers=bearer(issuer.token()))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Authorization"


async def test_private_headers_also_on_responses_returned_directly(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.get("/raw", headers=bearer(issuer.token()))
    assert response.text == issuer.user["id"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Authorization"


async def test_an_endpoint_cache_policy_is_kept_and_vary_extended(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.get("/own-cache-policy", headers=bearer(issuer.token()))
    assert response.headers["cache-control"] == "private, max-age=30"
    assert response.headers["vary"] == "Accept, Authorization"


async def test_public_routes_are_untouched(client: httpx.AsyncClient, issuer: FakeIssuer) -> None:
    response = await client.get("/public", headers=bearer("not-even-a-jwt"))
    assert response.status_code == 200
    assert "cache-control" not in response.headers
    assert "vary" not in response.headers


# --- V49 / V2: malformed requests ----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Bearer",
        "Bearer ",
        "Bearer  a.b.c",
        "Bearer a.b.c extra",
        "Bearer a.b.c\t",
        'Bearer "a.b.c"',
        "Bearer a.b.c,",
        "Bearer \u00e9t\u00e9",
    ],
)
async def test_malformed_bearer_header_is_invalid_request(
    client: httpx.AsyncClient, value: str
) -> None:
    headers = [(b"authorization", value.encode("latin-1"))]
    assert_invalid_request(await client.get("/me", headers=headers))


async def test_two_authorization_headers_are_invalid_request(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    assert_invalid_request(await client.get("/me", headers=headers))


async def test_header_plus_query_token_is_invalid_request(
    client: httpx.AsyncClient, issuer: FakeIssuer, quiet_httpx: None
) -> None:
    token = issuer.token()
    response = await client.get("/me", params={"access_token": token}, headers=bearer(token))
    assert_invalid_request(response)


# Clients and attackers may percent-encode any character of the name; the server decodes it.
ENCODED_NAMES = [
    "access%5Ftoken",
    "access%5ftoken",
    "%61ccess_token",
    "access_%74oken",
    "%61%63cess%5Ftoken",
]


@pytest.mark.parametrize("name", ENCODED_NAMES)
async def test_header_plus_percent_encoded_query_token_is_invalid_request(
    client: httpx.AsyncClient, issuer: FakeIssuer, quiet_httpx: None, name: str
) -> None:
    token = issuer.token()
    assert (await client.get("/me", headers=bearer(token))).status_code == 200  # now cached
    response = await client.get(f"/me?{name}=x", headers=bearer(token))
    assert_invalid_request(response)
    fresh = issuer.token()  # not cached: the full path decides
    assert_invalid_request(await client.get(f"/me?q=1&{name}=x", headers=bearer(fresh)))


@pytest.mark.parametrize("name", ENCODED_NAMES)
async def test_header_plus_percent_encoded_form_token_is_invalid_request(
    client: httpx.AsyncClient, issuer: FakeIssuer, name: str
) -> None:
    response = await client.post(
        "/submit",
        content=f"note=x&{name}=y".encode(),
        headers={**bearer(issuer.token()), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_invalid_request(response)


@pytest.mark.parametrize("query", ["q=100%25", "access%5Ftokens=x", "x=access%5Ftoken", "a%20b=c"])
async def test_percent_encoded_queries_without_the_name_are_fine(
    client: httpx.AsyncClient, issuer: FakeIssuer, query: str
) -> None:
    token = issuer.token()
    for _ in range(2):  # the full path, then the cache fast path
        assert (await client.get(f"/me?{query}", headers=bearer(token))).status_code == 200


async def test_header_plus_form_token_is_invalid_request(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token()
    response = await client.post(
        "/submit", data={"note": "x", "access_token": token}, headers=bearer(token)
    )
    assert_invalid_request(response)


async def test_header_plus_unrelated_form_is_fine(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.post("/submit", data={"note": "x"}, headers=bearer(issuer.token()))
    assert response.status_code == 200


async def test_header_plus_json_body_mentioning_access_token_is_fine(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.post(
        "/submit", json={"access_token": "x"}, headers=bearer(issuer.token())
    )
    assert response.status_code == 200


# --- V48 / V53: one shape for every token failure -----------------------------------------


def failing_tokens(issuer: FakeIssuer) -> dict[str, str]:
    other = FakeIssuer(issuer.base_url)
    good = issuer.token()
    head, payload, signature = good.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return {
        "garbage": "not-a-jwt",
        "two segments": f"{head}.{payload}",
        "bad signature": f"{head}.{payload}.{flipped}",
        "unknown kid (other issuer's key)": other.token(),
        "expired": issuer.token(now=time.time() - 4000),
        "not yet valid": issuer.token(nbf=int(time.time()) + 3600),
        "wrong audience": issuer.token(aud="https://other.example"),
        "wrong issuer": issuer.token(iss="https://evil.example"),
        "no sub": issuer.token(sub=None, id=None),
        "no exp": issuer.token(exp=None),
        "alg none": f"{head[:0]}eyJhbGciOiJub25lIn0.{payload}.",
        "HS256 without an HS path": issuer.token(alg="HS256"),
        "unknown header param": issuer.token(header={"jku": "https://evil.example/jwks"}),
        "too large": issuer.token(image="https://img.example/" + "a" * 9000),
    }


async def test_every_token_failure_has_the_same_401(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    answers = set()
    for reason, token in failing_tokens(issuer).items():
        response = await client.get("/me", headers=bearer(token))
        assert response.status_code == 401, reason
        assert_invalid_token(response)
        answers.add((response.status_code, response.headers["www-authenticate"], response.text))
    assert len(answers) == 1


async def test_a_forged_token_gets_401_not_403_on_guarded_routes(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    forged = FakeIssuer(issuer.base_url).token(scope="tasks:read", role="admin")
    for path in ("/read", "/admin", "/read-write", "/write-security", "/admin-reader"):
        assert_invalid_token(await client.get(path, headers=bearer(forged)))
        assert_missing(await client.get(path))


async def test_attacker_data_never_reaches_headers(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    evil = 'evil"\r\nX-Injected: 1'
    token = issuer.token(header={"kid": evil}, iss=evil, sub=evil)
    response = await client.get("/me", headers=bearer(token))
    assert_invalid_token(response)
    assert "x-injected" not in response.headers
    for value in response.headers.values():
        assert "evil" not in value


# --- V50: insufficient scope --------------------------------------------------------------


async def test_missing_scope_is_403_with_scope(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.get("/read-write", headers=bearer(issuer.token(scope="tasks:read")))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="authbridge", error="insufficient_scope", '
        'error_description="The access token lacks the required scope or role", '
        'scope="tasks:read tasks:write"'
    )
    assert response.json() == {
        "detail": "The access token lacks the required scope or role.",
        "code": "insufficient_scope",
    }


async def test_missing_role_is_403_without_scope_param(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.get("/admin", headers=bearer(issuer.token(role="user")))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert "scope=" not in challenge.replace("insufficient_scope", "")
    assert response.json()["code"] == "insufficient_scope"


# --- 503: keys unavailable ---------------------------------------------------------------


async def test_keys_unavailable_is_503_with_retry_after() -> None:
    issuer = FakeIssuer(base_url=None)
    with issuer.serving() as jwks_url:
        assert issuer.server is not None
        issuer.server.status = 503  # the issuer is down and nothing is cached
        verifier = Verifier(
            TrustedIssuer.create(
                RemoteJWKS(jwks_url, timeout=2.0), issuer=issuer.base_url, audience=issuer.base_url
            )
        )
        app: FastAPI = build_app(AuthBridge(verifier))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.get("/me", headers=bearer(issuer.token()))
        await verifier.aclose()
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.json() == {
        "detail": "Authentication is temporarily unavailable. Retry later.",
        "code": "keys_unavailable",
    }


async def test_the_cache_fast_path_never_skips_request_checks(
    client: httpx.AsyncClient, issuer: FakeIssuer, quiet_httpx: None
) -> None:
    token = issuer.token()
    assert (await client.get("/me", headers=bearer(token))).status_code == 200  # now cached
    two = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    assert_invalid_request(await client.get("/me", headers=two))
    query = await client.get("/me", params={"access_token": "x"}, headers=bearer(token))
    assert_invalid_request(query)
    form = await client.post("/submit", data={"access_token": "x"}, headers=bearer(token))
    assert_invalid_request(form)
    spaced = [(b"authorization", b"Bearer  " + token.encode())]
    assert_invalid_request(await client.get("/me", headers=spaced))
    trailing = [(b"authorization", b"Bearer " + token.encode() + b" ")]
    assert_invalid_request(await client.get("/me", headers=trailing))
    assert (await client.get("/me", headers=bearer(token))).status_code == 200


async def test_refusal_bodies_are_the_same_bytes_on_every_request(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    """The handler renders each (detail, code) body once: later refusals send those bytes,
    exactly what ``JSONResponse`` renders, with their own status and headers."""
    head, payload, signature = issuer.token().split(".")
    forged = f"{head}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    answers = [
        await client.get("/me", headers={"Authorization": f"Bearer {forged}"}) for _ in range(3)
    ]
    missing = await client.get("/me")
    for answer in answers:
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["www-authenticate"].startswith('Bearer realm="')
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
        assert answer.content == JSONResponse(answer.json()).body
        assert answer.content == answers[0].content
    assert missing.json()["code"] == "token_missing"
    assert missing.content != answers[0].content
    assert (
        missing.headers["www-authenticate"] == answers[0].headers["www-authenticate"].split(",")[0]
    )
