"""Hypothesis over the parser, the verifier and the HTTP layer.

Invariants:

* the parser and the verifier raise only ``AuthError`` subclasses, whatever the input;
* nothing is accepted without a trusted key's signature (mutants of a genuine token, and
  tokens with generated headers and claims signed by an attacker's key, always fail);
* over HTTP, never a 5xx; a 200 only for a genuine token; every 401 carries
  ``WWW-Authenticate``, and a bad token always gets the one ``invalid_token`` answer.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from security_support import INVALID_TOKEN_CHALLENGE, MISSING_CHALLENGE, KeyRing, TasksApi

from authbridge.errors import AuthError
from authbridge.jose.b64 import b64url_decode, b64url_encode
from authbridge.jose.parse import parse_compact
from authbridge.jose.strict_json import loads_object
from security.log_guard import watch_token
from tokens import ba_claims, dumps, ed25519_key, sign_raw

RING = KeyRing()
GENUINE = {key.alg: key.sign(ba_claims()) for key in RING.all}
ATTACKER = ed25519_key(RING.ed.kid)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# CI size (about 10 s per test). A longer hunt:
# AUTHBRIDGE_FUZZ_EXAMPLES=5000 uv run pytest tests/security/test_security_fuzz.py --timeout=0
FUZZ = settings(
    max_examples=int(os.environ.get("AUTHBRIDGE_FUZZ_EXAMPLES", "300")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutants(draw: st.DrawFn) -> str:
    """A genuine token with a few characters replaced, inserted or deleted."""
    token = draw(st.sampled_from(sorted(GENUINE.values())))
    chars = list(token)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        i = draw(st.integers(min_value=0, max_value=len(chars) - 1))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        c = draw(st.sampled_from(B64URL + ".=+/ ~"))
        if op == "replace":
            chars[i] = c
        elif op == "insert":
            chars.insert(i, c)
        elif len(chars) > 1:
            del chars[i]
    return "".join(chars)


@st.composite
def forged(draw: st.DrawFn) -> str:
    """A well-formed token with generated header and claims, signed by an attacker's key."""
    header: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "alg": st.sampled_from(["EdDSA", "ES256", "RS256", "HS256", "none", "Ed25519"]),
                "kid": st.sampled_from([RING.ed.kid, RING.ec.kid, "x"]) | st.text(max_size=10),
                "typ": st.sampled_from(["JWT", "jwt", "at+jwt"]),
                "jwk": st.just(ATTACKER.jwk),
                "crit": st.lists(st.text(max_size=5), max_size=2),
            },
        )
    )
    claims = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
    if draw(st.booleans()):
        claims = {**ba_claims(), **claims}
    return sign_raw(dumps(header), dumps(claims), ATTACKER.private, "EdDSA")


tokens_strategy = (
    mutants()
    | forged()
    | st.text(alphabet=B64URL + ".", max_size=300)
    | st.text(max_size=100)
    | st.builds(
        lambda h, p, s: f"{b64url_encode(h)}.{b64url_encode(p)}.{b64url_encode(s)}",
        st.binary(max_size=60),
        st.binary(max_size=200),
        st.binary(max_size=80),
    )
)


@FUZZ
@given(text=st.text(max_size=400) | st.text(alphabet=B64URL + ".=", max_size=400))
def test_parser_raises_only_auth_errors(text: str) -> None:
    try:
        jws = parse_compact(text, max_bytes=8192)
    except AuthError:
        return
    assert text.count(".") == 2
    assert isinstance(jws.alg, str)
    assert jws.alg


@FUZZ
@given(raw=st.binary(max_size=300))
def test_strict_json_raises_only_value_error(raw: bytes) -> None:
    try:
        loaded = loads_object(raw)
    except ValueError:
        return
    assert isinstance(loaded, dict)
    assert json.loads(raw.decode("utf-8")) == loaded


@FUZZ
@given(data=st.binary(max_size=100), text=st.text(alphabet=B64URL + "=+/ ", max_size=60))
def test_base64url_has_exactly_one_spelling(data: bytes, text: str) -> None:
    assert b64url_decode(b64url_encode(data)) == data
    try:
        decoded = b64url_decode(text)
    except ValueError:
        return
    assert b64url_encode(decoded) == text  # anything accepted is the canonical spelling


@FUZZ
@given(token=tokens_strategy)
async def test_verifier_accepts_nothing_but_the_genuine_tokens(token: str) -> None:
    assume(token not in GENUINE.values())
    watch_token(token)
    for verifier in (RING.jwks_only(), RING.two_paths()):
        try:
            principal = await verifier.verify(token)
        except AuthError:
            continue
        pytest.fail(f"accepted a token not signed by a trusted key: sub={principal.sub!r}")


def _header_values() -> st.SearchStrategy[bytes]:
    printable = st.binary(max_size=80).map(
        lambda b: bytes(c for c in b if c not in (0, 10, 13) and c >= 32)
    )
    return st.one_of(
        tokens_strategy.map(lambda t: b"Bearer " + t.encode("utf-8", "replace")),
        st.sampled_from([b"Bearer", b"Bearer ", b"bearer  x", b"Basic YTpi", b""]),
        printable,
        printable.map(lambda b: b"Bearer " + b),
    )


@FUZZ
@given(value=_header_values(), route=st.sampled_from(["/api/tasks", "/api/me", "/api/tasks/x"]))
async def test_http_never_5xx_and_every_refusal_is_a_proper_401(
    tasks_api: TasksApi, value: bytes, route: str
) -> None:
    """One app for all examples (the fixture is shared on purpose)."""
    genuine = tasks_api.alice.headers["Authorization"].encode()
    assume(value != genuine)
    text = value.decode("latin-1")
    if text.startswith("Bearer "):
        watch_token(text[7:])
    response = await tasks_api.client.get(route, headers=[(b"Authorization", value)])
    assert response.status_code < 500, response.text
    assert response.status_code != 200
    if response.status_code == 401:
        challenges = response.headers.get_list("www-authenticate")
        assert len(challenges) == 1
        assert challenges[0] in (INVALID_TOKEN_CHALLENGE, MISSING_CHALLENGE)
        if challenges[0] == INVALID_TOKEN_CHALLENGE:
            assert response.json()["code"] == "invalid_token"
    else:
        assert response.status_code == 400
        assert 'error="invalid_request"' in response.headers["www-authenticate"]


_CLAIM_NAMES = [
    "sub", "email", "name", "image", "emailVerified", "email_verified", "role", "roles",
    "scope", "scp", "scopes", "sid", "aud", "iss", "iat", "nbf", "exp", "id",
]  # fmt: skip


@FUZZ
@given(overrides=st.dictionaries(st.sampled_from(_CLAIM_NAMES), json_values, max_size=5))
async def test_genuinely_signed_odd_claims_never_break_the_api(
    tasks_api: TasksApi, overrides: dict[str, Any]
) -> None:
    """The issuer's own signature over claims of any JSON type (custom payloads, a user's
    odd profile fields): /api/me and /api/tasks answer 200, 401 or 403, never a 5xx."""
    issuer = tasks_api.issuer
    claims = {**issuer.claims(), **overrides}
    key = issuer.signing_key()
    token = watch_token(
        sign_raw(dumps({"alg": "EdDSA", "kid": key.kid}), dumps(claims), key.private, "EdDSA")
    )
    for route in ("/api/me", "/api/tasks"):
        response = await tasks_api.client.get(route, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 401, 403), (route, response.status_code, response.text)
        if response.status_code == 200 and route == "/api/me":
            assert response.json()["sub"] == claims["sub"]


_printable = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=120,
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "PATCH", "DELETE"]),
    if_match=_printable | st.sampled_from(['"x"', "*", 'W/"x"', '"a", "b"', ",,,"]),
    request_id=_printable,
    origin=_printable,
    content_type=_printable | st.sampled_from(["application/json", "text/plain", ""]),
    body=st.binary(max_size=200) | st.sampled_from([b'{"title":"t"}', b"{}", b"[]", b"null"]),
)
async def test_other_request_headers_never_break_the_api(
    tasks_api: TasksApi,
    method: str,
    if_match: str,
    request_id: str,
    origin: str,
    content_type: str,
    body: bytes,
) -> None:
    """With a valid token, odd If-Match, X-Request-ID, Origin, Content-Type and bodies on the
    task routes: never a 5xx, and Bob's requests never touch Alice's task."""
    task_id = (await tasks_api.create(tasks_api.alice))["id"]
    headers = {
        **tasks_api.bob.headers,
        "If-Match": if_match,
        "X-Request-ID": request_id,
        "Origin": origin,
        "Content-Type": content_type,
    }
    encoded = {k: v.encode("latin-1") for k, v in headers.items()}
    for target in (task_id, "00000000-0000-4000-8000-000000000000"):
        response = await tasks_api.client.request(
            method,
            f"/api/tasks/{target}",
            headers=encoded,
            content=body if method == "PATCH" else None,
        )
        assert response.status_code < 500, response.text
        assert response.status_code not in (200, 204)
    mine = await tasks_api.client.get(f"/api/tasks/{task_id}", headers=tasks_api.alice.headers)
    assert mine.status_code == 200
    assert mine.json()["title"] == "a task"
