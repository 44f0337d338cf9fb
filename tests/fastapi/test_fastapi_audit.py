"""The audit log: structured events, no token material, escaped attacker data, throttling."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest

from authbridge.fastapi.audit import (
    AuditLog,
    FailureThrottle,
    clean,
    request_id_from,
    token_hints,
)
from authbridge.testing import FakeIssuer

LOGGER = "authbridge.audit"


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == LOGGER]  # type: ignore[attr-defined]


def assert_no_token_material(caplog: pytest.LogCaptureFixture, *tokens: str) -> None:
    """Neither a whole token, its signature, nor its payload segment appear anywhere."""
    text = caplog.text + repr([r.__dict__ for r in caplog.records])
    for token in tokens:
        head, payload, signature = [*token.split("."), "", ""][:3]
        for part in (token, payload, signature):
            if len(part) >= 8:
                assert part not in text
        if len(head) >= 8:
            assert head not in text


async def test_success_event_after_verification(
    client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    token = issuer.token()
    await client.get("/me", headers=bearer(token, **{"X-Request-ID": "req-42"}))
    await client.get("/me", headers=bearer(token))
    first, second = events(caplog)
    assert first["outcome"] == "success"
    assert first["sub"] == issuer.user["id"]
    assert first["iss"] == issuer.base_url
    assert first["request_id"] == "req-42"
    assert first["client_ip"] == "127.0.0.1"
    assert first["cached"] is False
    assert second["cached"] is True
    assert len(second["request_id"]) == 32  # generated
    levels = [r.levelno for r in caplog.records if r.name == LOGGER]
    assert levels == [logging.INFO, logging.DEBUG]
    assert_no_token_material(caplog, token)


EXPECTED_CODES = {
    "garbage": "token_malformed",
    "bad signature": "invalid_signature",
    "unknown kid": "unknown_key",
    "expired": "token_expired",
    "wrong audience": "invalid_audience",
    "wrong issuer": "invalid_issuer",
    "HS256 without an HS path": "algorithm_not_allowed",
}


def failing(issuer: FakeIssuer) -> dict[str, str]:
    head, payload, signature = issuer.token().split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return {
        "garbage": "not-a-jwt",
        "bad signature": f"{head}.{payload}.{flipped}",
        "unknown kid": FakeIssuer(issuer.base_url).token(),
        "expired": issuer.token(now=time.time() - 4000),
        "wrong audience": issuer.token(aud="https://other.example"),
        "wrong issuer": issuer.token(iss="https://evil.example"),
        "HS256 without an HS path": issuer.token(alg="HS256"),
    }


async def test_fine_failure_codes_go_to_the_log_only(
    client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    tokens = failing(issuer)
    bodies = set()
    for token in tokens.values():
        response = await client.get("/me", headers=bearer(token))
        bodies.add(response.text)
    assert len(bodies) == 1  # the client sees one coarse answer
    logged = events(caplog)
    assert [e["code"] for e in logged] == [EXPECTED_CODES[r] for r in tokens]
    assert all(e["outcome"] == "failure" and e["status"] == 401 for e in logged)
    assert all("sub" not in e for e in logged)  # never from an unverified token
    assert_no_token_material(caplog, *tokens.values())


async def test_failure_event_carries_kid_and_unverified_iss(
    client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    token = FakeIssuer(issuer.base_url).token()
    await client.get("/me", headers=bearer(token))
    (event,) = events(caplog)
    assert event["kid"] == token_hints(token)[1]
    assert event["alg"] == "EdDSA"
    assert event["iss"] == issuer.base_url
    assert event["code"] == "unknown_key"


async def test_attacker_values_are_escaped_and_truncated(
    client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    evil_kid = "k\r\nFAKE LOG LINE\x1b[31m" + "x" * 500
    evil_iss = 'https://evil"\n' + "y" * 500
    token = issuer.token(header={"kid": evil_kid}, iss=evil_iss)
    await client.get("/me", headers=bearer(token, **{"X-Request-ID": "bad id\nwith newline"}))
    (event,) = events(caplog)
    for field in ("kid", "iss"):
        value = event[field]
        for unsafe in ("\n", "\r", "\x1b", '"'):
            assert unsafe not in value
        assert len(value) <= 64 + 3 + 5 * 6  # truncated (escapes may lengthen it)
    assert event["kid"].startswith("k\\u000d\\u000aFAKE LOG LINE\\u001b")
    assert all("\n" not in r.getMessage() for r in caplog.records)  # one line per event
    assert event["request_id"] != "bad id\nwith newline"
    assert len(event["request_id"]) == 32


async def test_denied_event_names_the_requirement(
    client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    token = issuer.token(role="user")
    await client.get("/admin", headers=bearer(token))
    denied = [e for e in events(caplog) if e["outcome"] == "denied"]
    assert len(denied) == 1
    assert denied[0]["code"] == "insufficient_scope"
    assert denied[0]["status"] == 403
    assert denied[0]["sub"] == issuer.user["id"]  # verified, so it may be logged
    assert denied[0]["required"] == ["admin"]
    assert_no_token_material(caplog, token)


async def test_missing_credentials_are_info_not_warning(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    await client.get("/me")
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.INFO
    assert record.audit["code"] == "token_missing"  # type: ignore[attr-defined]


async def test_a_flood_of_bad_tokens_is_throttled(
    client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    forged = FakeIssuer(issuer.base_url).token()
    for _ in range(200):
        response = await client.get("/me", headers=bearer(forged))
        assert response.status_code == 401
    logged = events(caplog)
    assert 1 <= len(logged) <= 10  # 5 per second per (code, ip); the loop may cross a second
    assert_no_token_material(caplog, forged)


def test_throttle_reports_what_it_suppressed() -> None:
    now = [100.0]
    throttle = FailureThrottle(per_key=2, overall=100, window=1.0, clock=lambda: now[0])
    assert [throttle.admit("a") for _ in range(5)] == [0, 0, None, None, None]
    assert throttle.admit("b") == 0  # another key has its own budget
    now[0] += 1.0
    assert throttle.admit("a") == 3  # the first event of the new window reports the gap
    assert throttle.admit("a") == 0


def test_throttle_has_an_overall_ceiling_and_bounded_memory() -> None:
    now = [0.0]
    throttle = FailureThrottle(per_key=5, overall=10, window=1.0, max_keys=50, clock=lambda: now[0])
    admitted = [throttle.admit(("code", f"10.0.0.{i}")) for i in range(1000)]
    assert sum(a is not None for a in admitted) == 10
    assert len(throttle._windows) <= 50


def test_clean_escapes_everything_unsafe() -> None:
    assert clean("plain-kid_1") == "plain-kid_1"
    assert clean('a"b\\c') == "a\\u0022b\\u005cc"
    assert clean("é\u2028\U0001f600") == "\\u00e9\\u2028\\U0001f600"
    assert clean("x" * 100) == "x" * 64 + "..."
    assert clean(12) is None


def test_request_id_rules() -> None:
    assert request_id_from([(b"x-request-id", b"abc-123.DEF:4_5")]) == "abc-123.DEF:4_5"
    for bad in (b"", b"x" * 65, b"a b", b"a\nb", b"\xff"):
        generated = request_id_from([(b"x-request-id", bad)])
        assert generated != bad.decode("latin-1")
        assert len(generated) == 32


def test_token_hints_never_fail() -> None:
    for junk in ("", "a", "a.b", "a.b.c.d", "!!!.@@@.###", "e30.e30.e30", "W10.W10.x"):
        assert token_hints(junk) in {(None, None, None)}
    assert token_hints("eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.e30.x") == ("EdDSA", "k1", None)


def test_jws_shaped_values_are_redacted() -> None:
    token = FakeIssuer().token()
    head, payload, signature = token.split(".")
    for value in (token, f"kid-{token}", f"{head}.{payload}", f"x.{payload}.{signature}"):
        cleaned = clean(value)
        assert cleaned is not None
        assert "[redacted]" in cleaned
        for part in (payload[:20], signature[:20]):
            assert part not in cleaned
    assert clean("https://auth.example.com") == "https://auth.example.com"
    assert clean("api.my-company.internal1") == "api.my-company.internal1"


async def test_a_token_pasted_into_the_kid_is_not_logged(
    client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    secret_token = issuer.token()
    pasted = secret_token[:250]  # the header, a dot, and the start of the payload
    carrier = FakeIssuer(issuer.base_url).token(header={"kid": pasted})
    await client.get("/me", headers=bearer(carrier))
    (event,) = events(caplog)
    assert event["kid"].startswith("[redacted]")
    payload_start = secret_token.split(".")[1][:40]
    assert payload_start not in caplog.text


def test_a_throttled_failure_never_reads_the_token(
    issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusal path hands the audit log a function for the token: under a flood, events
    the throttle drops cost no header scan or token decoding."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    log = AuditLog(throttle=FailureThrottle(per_key=1, overall=10))
    scope = {"type": "http", "client": ("203.0.113.9", 1), "method": "GET", "path": "/x"}
    token = issuer.token()
    reads: list[int] = []

    def read_token() -> str:
        reads.append(1)
        return token

    for _ in range(3):
        log.failure("invalid_signature", scope=scope, token=read_token, status=401)
    assert reads == [1]  # the admitted event only
    (event,) = events(caplog)
    assert event["kid"] == issuer.jwks()["keys"][0]["kid"]
    assert event["alg"] == "EdDSA"
    assert_no_token_material(caplog, token)
