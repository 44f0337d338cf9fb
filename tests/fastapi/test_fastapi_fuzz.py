"""Property tests: any bytes in ``Authorization`` (or the query, or ``X-Request-ID``) get a
400 or 401, never a 500, and nothing a client sent is echoed into a response header.

Requests go straight to the ASGI app, below any HTTP client's header validation.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi_sample_app import build_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer

ISSUER = FakeIssuer()
APP: FastAPI = build_app(AuthBridge(ISSUER.verifier()))


def good_token() -> str:
    """A fresh token per example: one minted at import would expire during a long suite."""
    return ISSUER.token()


EXPECTED_CODES = {400: "invalid_request", 401: {"token_missing", "invalid_token"}}
CHALLENGES = {
    'Bearer realm="authbridge"',
    'Bearer realm="authbridge", error="invalid_token", '
    'error_description="The access token is invalid or has expired"',
    'Bearer realm="authbridge", error="invalid_request", '
    'error_description="The request carries a malformed or duplicated credential"',
}


async def call(path: str, headers: list[tuple[bytes, bytes]], query: bytes = b"") -> Any:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"t"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(dict(message))

    await APP(scope, receive, send)
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], start["headers"], body


def check_refusal(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    assert status in (400, 401)
    code = json.loads(body)["code"]
    expected = EXPECTED_CODES[status]
    assert code in expected if isinstance(expected, set) else code == expected
    challenge = dict(headers)[b"www-authenticate"].decode()
    assert challenge in CHALLENGES


header_bytes = st.binary(min_size=0, max_size=300)
prefixed = st.builds(
    lambda scheme, rest: scheme + rest,
    st.sampled_from([b"Bearer ", b"bearer ", b"BEARER", b"Bearer  ", b"Basic "]),
    header_bytes,
)
fuzz_settings = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@fuzz_settings
@given(value=st.one_of(header_bytes, prefixed))
def test_any_authorization_value_is_refused_cleanly(value: bytes) -> None:
    status, headers, body = asyncio.run(call("/me", [(b"authorization", value)]))
    check_refusal(status, headers, body)


@fuzz_settings
@given(value=st.one_of(header_bytes, prefixed), query=st.binary(max_size=100))
def test_guarded_routes_refuse_cleanly_too(value: bytes, query: bytes) -> None:
    for path in ("/read", "/admin", "/maybe"):
        status, headers, body = asyncio.run(call(path, [(b"authorization", value)], query))
        if path == "/maybe" and status == 200:
            continue  # no usable credential: an anonymous caller
        check_refusal(status, headers, body)


@fuzz_settings
@given(segment=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
def test_mangled_payloads_are_invalid_tokens(segment: str) -> None:
    head, _, signature = good_token().split(".")
    token = f"{head}.{segment}.{signature}".encode()
    status, headers, body = asyncio.run(call("/me", [(b"authorization", b"Bearer " + token)]))
    assert status == 401
    assert json.loads(body)["code"] == "invalid_token"
    check_refusal(status, headers, body)


# Query strings built from near-miss names, encoded and not, so that a percent-encoded
# ``access_token`` (``access%5Ftoken``, ``%61ccess_token``...) turns up often.
query_names = st.sampled_from(
    [
        b"access_token",
        b"access%5Ftoken",
        b"access%5ftoken",
        b"%61ccess_token",
        b"access_%74oken",
        b"access%5Ftokens",
        b"access+token",
        b"access%20token",
        b"ACCESS_TOKEN",
        b"access%5F",
        b"token",
        b"x",
        b"",
        b"%",
        b"%zz",
        b"%00",
        b"\xff",
    ]
)
query_pieces = st.lists(
    st.tuples(query_names, st.sampled_from([b"", b"=", b"=v", b"=%5F"])).map(b"".join),
    max_size=4,
).flatmap(lambda items: st.sampled_from([b"&", b";", b"&&"]).map(lambda sep: sep.join(items)))


@fuzz_settings
@given(request_id=header_bytes, query=st.one_of(st.binary(max_size=200), query_pieces))
def test_request_ids_and_queries_never_break_a_good_request(
    request_id: bytes, query: bytes
) -> None:
    good = good_token()
    headers = [(b"authorization", b"Bearer " + good.encode()), (b"x-request-id", request_id)]
    status, response_headers, body = asyncio.run(call("/me", headers, query))
    # The oracle is the server's own decoding of the query (Starlette's QueryParams).
    if "access_token" in QueryParams(query):
        assert status == 400
        assert json.loads(body)["code"] == "invalid_request"
    else:
        assert status == 200
        assert json.loads(body) == {"sub": ISSUER.user["id"]}
    fixed = {b"no-store", b"Authorization", b"application/json"}
    fixed |= {v.encode() for v in CHALLENGES}
    for name, value in response_headers:
        assert value in fixed or (name == b"content-length" and value.isdigit())
        assert good.split(".")[1].encode() not in value
