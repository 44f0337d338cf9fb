"""The checklist at the HTTP level, against the real Tasks API: V1, V2, V47–V56, and through
HTTP a representative subset of the token-level items (none, key confusion, key references,
JWE, claims, kid injection, size).

V54 (foreign objects are 404s identical to missing ones) lives with the other API-abuse tests
in ``test_security_api_abuse.py``; V56 (logs) in ``test_security_logs.py``.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from security_support import (
    HS_AUDIENCE,
    HS_ISSUER,
    INVALID_TOKEN_CHALLENGE,
    MISSING_CHALLENGE,
    REALM,
    TasksApi,
    UvicornThread,
    assert_invalid_token,
    bad_tokens,
    make_caller,
    running_tasks_api,
    sqlite_settings,
)

from authbridge import TrustedIssuer, Verifier
from authbridge.fastapi import AuthBridge
from authbridge.jose.b64 import b64url_encode
from authbridge.testing import FakeIssuer
from security.log_guard import watch_token
from tasks_api.app import create_app
from tokens import dumps, ed25519_key, sign_raw

INVALID_REQUEST_CHALLENGE = (
    f'Bearer realm="{REALM}", error="invalid_request", '
    'error_description="The request carries a malformed or duplicated credential"'
)
# RFC 6750 §3: error_description characters; the rest of the challenge is fixed syntax.
_SAFE_HEADER = re.compile(r"[\x20-\x7e]*")


def routes(task_id: str = "00000000-0000-4000-8000-000000000000") -> list[tuple[str, str]]:
    return [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", f"/api/tasks/{task_id}"),
        ("PATCH", f"/api/tasks/{task_id}"),
        ("DELETE", f"/api/tasks/{task_id}"),
        ("GET", "/api/me"),
        ("GET", "/api/admin/stats"),
    ]


async def call(
    api: TasksApi, method: str, path: str, headers: Any = None, **kwargs: Any
) -> httpx.Response:
    if method in ("POST", "PATCH") and "json" not in kwargs and "content" not in kwargs:
        kwargs["json"] = {"title": "x"}
    return await api.client.request(method, path, headers=headers, **kwargs)


def assert_missing(response: httpx.Response) -> None:
    """V47: no credentials (or another scheme): a bare challenge, no error code."""
    assert response.status_code == 401, response.text
    assert response.headers.get_list("www-authenticate") == [MISSING_CHALLENGE]
    assert response.json()["code"] == "token_missing"


def assert_invalid_request(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers.get_list("www-authenticate") == [INVALID_REQUEST_CHALLENGE]
    assert response.json()["code"] == "invalid_request"


# --- V1, V2 ---------------------------------------------------------------------------------


async def test_v01_a_token_counts_only_in_the_authorization_header(tasks_api: TasksApi) -> None:
    token = tasks_api.alice.token
    # In the query string, a form body or a cookie, a valid token is no credential at all.
    assert_missing(await tasks_api.client.get("/api/me", params={"access_token": token}))
    assert_missing(
        await tasks_api.client.post(
            "/api/tasks",
            content=f"access_token={token}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    assert_missing(
        await tasks_api.client.get("/api/me", headers={"Cookie": f"access_token={token}"})
    )
    assert_missing(
        await tasks_api.client.get("/api/me", headers={"X-Access-Token": token, "Token": token})
    )
    # The scheme name is case-insensitive (RFC 9110 §11.1).
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        response = await tasks_api.client.get(
            "/api/me", headers={"Authorization": f"{scheme} {token}"}
        )
        assert response.status_code == 200, scheme
        assert response.json()["sub"] == tasks_api.alice.sub


async def test_v01_exactly_one_b64token_after_one_space(tasks_api: TasksApi) -> None:
    token = tasks_api.alice.token
    for value in (
        f"Bearer  {token}",
        f"Bearer {token} {token}",
        f"Bearer {token} ",
        f"Bearer\t{token}",
        f"Bearer {token},",
        f'Bearer "{token}"',
        f"Bearer {token}\x00",
    ):
        response = await tasks_api.client.get("/api/me", headers={"Authorization": value})
        assert response.status_code in (400, 401), value
        assert response.status_code != 200


async def test_v02_two_credentials_are_an_invalid_request(tasks_api: TasksApi) -> None:
    alice, bob = tasks_api.alice, tasks_api.bob
    two_headers = [
        ("Authorization", f"Bearer {alice.token}"),
        ("Authorization", f"Bearer {bob.token}"),
    ]
    for method, path in routes():
        assert_invalid_request(await call(tasks_api, method, path, headers=two_headers))
        same_twice = [("Authorization", f"Bearer {alice.token}")] * 2
        assert_invalid_request(await call(tasks_api, method, path, headers=same_twice))
        assert_invalid_request(
            await call(
                tasks_api, method, path, headers=alice.headers, params={"access_token": bob.token}
            )
        )
        # The server decodes parameter names, so an encoded name is the same parameter.
        encoded = f"{path}{'&' if '?' in path else '?'}access%5Ftoken={bob.token}"
        assert_invalid_request(await call(tasks_api, method, encoded, headers=alice.headers))
    form = await tasks_api.client.post(
        "/api/tasks",
        content=f"title=x&access_token={bob.token}",
        headers={**alice.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_invalid_request(form)


# --- V47–V53 ---------------------------------------------------------------------------------


async def test_v47_no_credentials_or_another_scheme_is_a_bare_challenge(
    tasks_api: TasksApi,
) -> None:
    token = tasks_api.alice.token
    for method, path in routes():
        for headers in (
            None,
            {"Authorization": f"Basic {b64url_encode(b'alice:secret')}"},
            {"Authorization": f"Token {token}"},
            {"Authorization": f"Digest {token}"},
            {"Authorization": f"DPoP {token}"},
            {"Authorization": token},
        ):
            assert_missing(await call(tasks_api, method, path, headers=headers))


async def test_v48_v51_v53_every_bad_token_gets_one_identical_answer_on_every_route(
    tasks_api: TasksApi,
) -> None:
    """Whatever failed, the status, headers and body are the same bytes (no oracle)."""
    bad = bad_tokens(tasks_api.issuer)
    answers: dict[tuple[str, str], set[tuple[int, bytes, tuple[tuple[str, str], ...]]]] = {}
    for token in bad.values():
        for method, path in routes():
            response = await call(
                tasks_api, method, path, headers={"Authorization": f"Bearer {token}"}
            )
            assert_invalid_token(response)
            headers = tuple(
                (k, v) for k, v in sorted(response.headers.items()) if k not in ("date",)
            )
            answers.setdefault((method, path), set()).add(
                (response.status_code, response.content, headers)
            )
    for route, shapes in answers.items():
        assert len(shapes) == 1, route


async def test_v49_malformed_requests_are_400_invalid_request(tasks_api: TasksApi) -> None:
    for method, path in routes():
        for value in (
            "Bearer",
            "Bearer ",
            "Bearer  ",
            "Bearer a b",
            "Bearer {}",
            'Bearer "x"',
            "Bearer ä",
        ):
            response = await call(
                tasks_api, method, path, headers={"Authorization": value.encode("utf-8")}
            )
            assert_invalid_request(response)


async def test_v50_missing_role_or_scope_is_403_insufficient_scope(tmp_path: Path) -> None:
    issuer = FakeIssuer()
    async with running_tasks_api(tmp_path, issuer) as api:
        response = await api.client.get("/api/admin/stats", headers=api.alice.headers)
        assert response.status_code == 403
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        admin = make_caller(issuer, role="admin")
        assert (await api.client.get("/api/admin/stats", headers=admin.headers)).status_code == 200
        # A forged admin token is a 401, never a 403: verification comes first.
        forged = ed25519_key(issuer.signing_key().kid).sign(issuer.claims(role="admin"))
        assert_invalid_token(
            await api.client.get("/api/admin/stats", headers={"Authorization": f"Bearer {forged}"})
        )


async def test_v50_scoped_tasks_api_names_the_missing_scope(tmp_path: Path) -> None:
    from asgi_lifespan import LifespanManager
    from security_support import sqlite_settings

    from authbridge.fastapi import AuthBridge
    from tasks_api.app import create_app

    issuer = FakeIssuer()
    app = create_app(
        sqlite_settings(tmp_path, require_scopes=True), bridge=AuthBridge(issuer.verifier())
    )
    reader = make_caller(issuer, scope="tasks:read")
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/api/tasks", headers=reader.headers)).status_code == 200
            denied = await client.post("/api/tasks", json={"title": "x"}, headers=reader.headers)
            assert denied.status_code == 403
            assert denied.headers["www-authenticate"] == (
                f'Bearer realm="{REALM}", error="insufficient_scope", '
                'error_description="The access token lacks the required scope or role", '
                'scope="tasks:write"'
            )


async def test_v51_every_401_carries_one_challenge_with_one_realm(tasks_api: TasksApi) -> None:
    bad = bad_tokens(tasks_api.issuer)
    for method, path in routes():
        for headers in (None, {"Authorization": f"Bearer {bad['expired']}"}):
            response = await call(tasks_api, method, path, headers=headers)
            assert response.status_code == 401
            challenges = response.headers.get_list("www-authenticate")
            assert len(challenges) == 1
            assert challenges[0].count("realm=") == 1
            assert challenges[0].count("scope=") <= 1


async def test_v52_nothing_the_client_sent_is_echoed_into_headers_or_body(
    tasks_api: TasksApi,
) -> None:
    marker = "INJECTED-MARKER"
    issuer = tasks_api.issuer
    hostile = [
        issuer.token(header={"kid": f'{marker}"\r\nSet-Cookie: a=b'}),
        issuer.token(header={"kid": marker, "typ": f'{marker}\\"'}),
        f"{b64url_encode(dumps({'alg': marker + chr(34), 'kid': marker}))}.e30.AAAA",
        issuer.token(iss=f"{marker}\r\nX: y", aud=marker),
    ]
    for token in hostile:
        watch_token(token)
        response = await tasks_api.client.get(
            "/api/tasks", headers={"Authorization": f"Bearer {token}"}
        )
        assert_invalid_token(response)
        raw_headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        assert marker not in raw_headers
        assert marker not in response.text
        for value in response.headers.values():
            assert _SAFE_HEADER.fullmatch(value)
    assert INVALID_TOKEN_CHALLENGE.isascii()


async def test_v53_unknown_kid_costs_about_what_a_bad_signature_costs(tasks_api: TasksApi) -> None:
    """Coarse timing: no fetch or other slow path runs for a kid the issuer never had."""
    issuer = tasks_api.issuer
    genuine = issuer.token()
    head, payload, signature = genuine.split(".")
    bad_signature = f"{head}.{payload}.{'A' * len(signature)}"

    async def median(make: Any) -> float:
        times = []
        for i in range(60):
            token = watch_token(make(i))
            started = time.perf_counter()
            response = await tasks_api.client.get(
                "/api/me", headers={"Authorization": f"Bearer {token}"}
            )
            times.append(time.perf_counter() - started)
            assert response.status_code == 401
        return statistics.median(times[10:])

    unknown = await median(lambda i: issuer.token(header={"kid": f"unknown-{i}"}))
    forged = await median(lambda i: bad_signature)
    assert unknown < 3 * forged + 0.005, (unknown, forged)


async def test_v55_authenticated_answers_are_private(tasks_api: TasksApi) -> None:
    alice = tasks_api.alice
    task = await tasks_api.create(alice)
    for method, path in routes(task["id"]):
        if method == "DELETE" or path.endswith("/stats"):
            continue
        response = await call(tasks_api, method, path, headers=alice.headers)
        assert response.status_code < 300, (method, path, response.status_code)
        assert response.headers["cache-control"] in ("no-store", "private", "private, no-store")
        assert "authorization" in response.headers["vary"].lower()
    # Refusals are not cacheable either.
    for headers in (None, {"Authorization": "Bearer a.b.c"}):
        assert (await call(tasks_api, "GET", "/api/tasks", headers=headers)).headers[
            "cache-control"
        ] == "no-store"


async def test_no_bad_token_on_any_route_is_a_5xx(tasks_api: TasksApi) -> None:
    """The token-level corpus through HTTP never produces a server error."""
    for token in bad_tokens(tasks_api.issuer).values():
        for method, path in routes():
            response = await call(
                tasks_api, method, path, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code < 500


async def test_oversized_authorization_headers_are_refused_not_crashed(tasks_api: TasksApi) -> None:
    genuine = tasks_api.alice.token
    for size in (8193, 65536, 1 << 20):
        padded = genuine + "A" * (size - len(genuine))
        response = await tasks_api.client.get(
            "/api/tasks", headers={"Authorization": f"Bearer {padded}"}
        )
        assert_invalid_token(response)
    many = [("Authorization", f"Bearer {genuine}")] + [
        (f"X-Pad-{i}", "a" * 100) for i in range(500)
    ]
    assert (await tasks_api.client.get("/api/me", headers=many)).status_code == 200


def test_oversized_headers_over_a_real_socket_are_refused_not_crashed(tmp_path: Path) -> None:
    """Through uvicorn (h11): the server's own header limit answers before the app."""
    issuer = FakeIssuer()
    app = create_app(sqlite_settings(tmp_path), bridge=AuthBridge(issuer.verifier()))
    caller = make_caller(issuer)
    with UvicornThread(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.get("/api/me", headers=caller.headers).status_code == 200
        for size in (10_000, 100_000, 1 << 20):
            try:
                response = client.get("/api/me", headers={"Authorization": "Bearer " + "A" * size})
            except httpx.RemoteProtocolError:
                continue  # the server closed the connection: refused, and still alive
            assert response.status_code in (400, 401, 413, 431), response.status_code
        assert client.get("/api/me", headers=caller.headers).status_code == 200


async def test_key_confusion_through_http_with_both_paths_configured(tmp_path: Path) -> None:
    """The Tasks API trusting the JWKS *and* an HS256 secret: an HMAC keyed with any encoding
    of any published public key gets the one invalid_token answer."""
    issuer = FakeIssuer()
    for alg in ("EdDSA", "ES256", "RS256"):
        issuer.signing_key(alg)
    hs_path = TrustedIssuer.create(issuer.shared_secret(), issuer=HS_ISSUER, audience=HS_AUDIENCE)
    verifier = Verifier(issuer.trusted_issuer(), hs_path)
    async with running_tasks_api(tmp_path, issuer, verifier=verifier) as api:
        service = sign_raw(
            dumps({"alg": "HS256"}),
            dumps(issuer.claims(iss=HS_ISSUER, aud=HS_AUDIENCE)),
            issuer.secret.encode(),
            "HS256",
        )
        ok = await api.client.get("/api/me", headers={"Authorization": f"Bearer {service}"})
        assert ok.status_code == 200  # the HS256 path is live
        tried = 0
        for alg in ("EdDSA", "ES256", "RS256"):
            key = issuer.signing_key(alg)
            public = key.private.public_key()
            encodings = [
                public.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
                public.public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
                public.public_bytes(
                    serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
                ),
                dumps(dict(key.public_jwk)),
                dumps(issuer.jwks()),
            ]
            for secret in encodings:
                for claims in (issuer.claims(), issuer.claims(iss=HS_ISSUER, aud=HS_AUDIENCE)):
                    token = sign_raw(
                        dumps({"alg": "HS256", "kid": key.kid}), dumps(claims), secret, "HS256"
                    )
                    response = await api.client.get(
                        "/api/tasks", headers={"Authorization": f"Bearer {watch_token(token)}"}
                    )
                    assert_invalid_token(response)
                    tried += 1
        assert tried == 30
