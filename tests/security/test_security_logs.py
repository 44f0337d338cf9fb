"""V56: logs never carry a token, a signature or a secret, and attacker-sized values are cut.

The session-wide guard (``log_guard``) checks every record of the whole run; these tests
check the guard itself, and drive the attack corpus through the Tasks API with a private
guard so that a leak fails *this* test, with the record in hand.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx
import pytest
from fastapi import WebSocket
from security_support import (
    TasksApi,
    UvicornThread,
    bad_tokens,
    make_caller,
    sqlite_settings,
)

from authbridge.fastapi import AuthBridge, WebSocketUser
from authbridge.jose.b64 import b64url_encode
from authbridge.testing import FakeIssuer
from security.log_guard import LogGuard, capturing, guard, pytest_runtest_setup
from tasks_api.app import create_app
from tokens import ba_claims, cookie_cache_jwt, ed25519_key, hs_secret

TOKEN_HEADER = b64url_encode(b'{"alg":"EdDSA","kid":"k"}')


def test_v56_the_guard_catches_every_kind_of_leak() -> None:
    key = ed25519_key("k")
    token = key.sign(ba_claims())
    secret = hs_secret()
    private = LogGuard()
    private.watch(secret)
    private.watch_token(token)
    session_token = "edIda55cDWMSK41DH5zG9ea1wmojrLkn.aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1E="
    logger = logging.getLogger("authbridge.selftest")
    names = ("authbridge.selftest", "httpx.selftest", "httpcore.selftest")
    with capturing(private, isolated=names):
        logger.warning("token %s", token)
        logger.warning("signature only: %s", token.rsplit(".", 1)[1])
        logger.error("secret in extra", extra={"config": {"secret": secret}})
        logger.info("cookie better-auth.session_token=%s", session_token.replace("+", "%2B"))
        try:
            raise ValueError(f"bad token {token}")
        except ValueError:
            logger.exception("failed")
        logging.getLogger("httpx.selftest").info("GET /x?access_token=%s", token)  # allowed
        logging.getLogger("httpcore.selftest").debug("headers %s", secret)  # never a secret
        logger.info("an ordinary line about kid=%s and sub=%s", "ed-1", "u" * 32)
    whats = [leak.what for leak in private.leaks]
    assert "a watched token or signature" in whats
    assert whats.count("a watched secret") == 2
    assert "a Better Auth signed session token" in whats
    assert whats.count("a compact JWS") == 2  # the message and the exception text
    assert private.records_seen == 8
    loggers = {leak.logger for leak in private.leaks}
    assert "httpcore.selftest" in loggers
    assert "httpx.selftest" not in loggers
    # Leak reports never repeat the value.
    assert all(token not in str(leak) and secret not in str(leak) for leak in private.leaks)


def test_v56_the_session_guard_is_installed_and_watching() -> None:
    root = logging.getLogger()
    assert root.getEffectiveLevel() == logging.DEBUG
    assert any(type(h).__name__ == "_GuardHandler" for h in root.handlers)
    before = guard.watched
    ed25519_key("w").sign(ba_claims())  # minted through the wrapped signer
    cookie_cache_jwt(hs_secret())  # and the HMAC key it was made with
    assert guard.watched >= before + 3


def test_v56_the_guard_survives_code_that_configures_logging() -> None:
    """Litestar's default logging config replaces the root logger's handlers and sets it to
    INFO when an app is built: the guard puts its handler back at once, or the rest of the run
    would go unwatched, and the next test starts with the root logger at DEBUG again."""
    root = logging.getLogger()
    saved, this_test = root.handlers[:], guard.current_test
    try:
        logging.config.dictConfig(
            {"version": 1, "disable_existing_loggers": False, "root": {"level": "INFO"}}
        )
        assert any(type(h).__name__ == "_GuardHandler" for h in root.handlers)
        assert root.getEffectiveLevel() == logging.INFO  # the configured level, for now
        pytest_runtest_setup(cast(pytest.Item, SimpleNamespace(nodeid="next test")))
        assert root.getEffectiveLevel() == logging.DEBUG
    finally:
        guard.current_test = this_test
        for handler in saved:
            if handler not in root.handlers:
                root.addHandler(handler)


async def test_v56_the_attack_corpus_through_http_leaves_no_token_in_any_log(
    tasks_api: TasksApi,
) -> None:
    private = LogGuard()
    bad = bad_tokens(tasks_api.issuer)
    for token in bad.values():
        private.watch_token(token)
    private.watch(tasks_api.issuer.secret)
    audit: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name == "authbridge.audit":
                audit.append(record)

    keeper = Keep(logging.DEBUG)
    logging.getLogger().addHandler(keeper)
    try:
        with capturing(private):
            for token in bad.values():
                await tasks_api.client.get(
                    "/api/tasks",
                    headers={"Authorization": f"Bearer {token}", "X-Request-ID": token[:200]},
                )
            await tasks_api.client.get("/api/tasks", headers=tasks_api.alice.headers)
    finally:
        logging.getLogger().removeHandler(keeper)
    assert private.leaks == [], private.leaks
    assert audit, "the audit log recorded nothing"
    failures = [r for r in audit if r.audit["outcome"] == "failure"]  # type: ignore[attr-defined]
    assert failures
    for record in audit:
        message = record.getMessage()
        assert "\r" not in message
        assert "\n" not in message
        event = record.audit  # type: ignore[attr-defined]
        for field in ("kid", "iss", "alg"):
            value = event.get(field)
            assert value is None or len(value) <= 67, (field, len(value))
        # An attacker-chosen request id that is not a short safe string is replaced.
        assert len(event["request_id"]) <= 64


def test_v56_tokens_from_sign_raw_are_watched_too() -> None:
    from tokens import dumps, sign_raw

    before = guard.watched
    sign_raw(dumps({"alg": "HS256"}), dumps({"sub": "x"}), hs_secret().encode(), "HS256")
    assert guard.watched >= before + 3  # token, signature, key


def test_v56_a_token_sent_in_the_query_string_stays_out_of_the_access_log(
    tmp_path: Path,
) -> None:
    """RFC 6750 §2.3 clients put the token in ``?access_token=``; authbridge ignores it, but
    the server's access log (uvicorn's, as ``tasks-api serve`` runs it) must not keep it."""
    issuer = FakeIssuer()
    app = create_app(sqlite_settings(tmp_path), bridge=AuthBridge(issuer.verifier()))
    caller = make_caller(issuer)
    private = LogGuard()
    private.watch_token(caller.token)
    with (
        UvicornThread(app, log_level="info") as base_url,
        capturing(private, isolated=("uvicorn.access",)),
    ):
        with httpx.Client(base_url=base_url, timeout=10) as client:
            alone = client.get("/api/tasks", params={"access_token": caller.token})
            both = client.get(
                "/api/tasks", params={"access_token": caller.token}, headers=caller.headers
            )
            deep = client.get("/api/tasks", params={"q": "x", "ACCESS_TOKEN": caller.token})
            pasted = client.get(f"/api/tasks/{caller.token}", headers=caller.headers)
        time.sleep(0.2)  # the access log line is written after the response
    assert (alone.status_code, both.status_code) == (401, 400)
    assert deep.status_code == 401
    assert pasted.status_code == 404
    assert private.records_seen >= 4
    assert private.leaks == [], [leak.what for leak in private.leaks]


SESSION_TOKEN = "edIda55cDWMSK41DH5zG9ea1wmojrLkn"
SIGNED_SESSION = SESSION_TOKEN + ".aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1E="


def test_v56_query_token_redaction_spellings() -> None:
    from authbridge.redact import redact_url

    token = ed25519_key("r").sign(ba_claims())
    cookie_form = SIGNED_SESSION.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    for path, secret in (
        (f"/api/tasks?access_token={token}", token),
        (f"/api/tasks?q=1&access_token={token}&limit=2", token),
        (f"/api/tasks?ACCESS_TOKEN={token}", token),
        (f"/api/tasks?access%5Ftoken={token}", token),
        (f"/api/tasks?%61ccess_token={token}", token),
        (f"/api/tasks?a=1;access_token={token}", token),
        (f"/api/tasks/{token}", token),
        (f"/api/tasks?other={token}", token),
        (f"/api/tasks?token={SESSION_TOKEN}", SESSION_TOKEN),
        (f"/api/tasks?session_token={SESSION_TOKEN}", SESSION_TOKEN),
        (f"/api/tasks?x-api-key={SESSION_TOKEN}", SESSION_TOKEN),
        (f"/api/tasks?Password={SESSION_TOKEN}", SESSION_TOKEN),
        (f"/api/tasks/{cookie_form}", SESSION_TOKEN),
        (f"/api/tasks?x={SIGNED_SESSION}", SESSION_TOKEN),
    ):
        redacted = redact_url(path)
        assert secret not in redacted, path
        assert "[redacted]" in redacted
    assert redact_url("/api/tasks?q=access_token") == "/api/tasks?q=access_token"
    assert redact_url("/api/tasks?limit=2&q=token") == "/api/tasks?limit=2&q=token"
    assert redact_url("/api/tasks/token=1") == "/api/tasks/token=1"  # a path, not a query


async def test_v56_a_websocket_url_token_stays_out_of_the_server_log() -> None:
    """Browsers cannot set headers on a WebSocket, so some clients put the token in the URL;
    uvicorn logs each handshake's URL on ``uvicorn.error``."""
    import websockets
    from fastapi import FastAPI

    issuer = FakeIssuer()
    bridge = AuthBridge(issuer.verifier())
    app = FastAPI()
    bridge.install(app)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: WebSocketUser) -> None:
        await websocket.send_json({"sub": user.sub})
        await websocket.close()

    caller = make_caller(issuer)
    private = LogGuard()
    private.watch_token(caller.token)
    with (
        UvicornThread(app, log_level="info") as base_url,
        capturing(private, isolated=("uvicorn.error", "uvicorn.access")),
    ):
        url = base_url.replace("http://", "ws://") + f"/ws?access_token={caller.token}"
        async with websockets.connect(url, subprotocols=["bearer", caller.token]) as socket:
            reply = json.loads(await socket.recv())
        await asyncio.sleep(0.2)
    assert reply == {"sub": caller.sub}
    assert private.records_seen >= 1
    assert private.leaks == [], [leak.what for leak in private.leaks]
