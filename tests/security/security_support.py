"""Shared pieces of the security suite: verifiers with one or two trusted paths, the Tasks API
on SQLite with a real ``AuthBridge``, two callers, and the one shape every token refusal has.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from authbridge import SharedSecret, StaticJWKS, TrustedIssuer, Verifier
from authbridge.errors import AuthError
from authbridge.fastapi import AuthBridge
from authbridge.jose.b64 import b64url_encode
from authbridge.testing import FakeIssuer
from security.log_guard import watch, watch_token
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings
from tokens import (
    AUDIENCE,
    ISSUER,
    FixedClock,
    TestKey,
    dumps,
    ec_key,
    ed25519_key,
    hs_secret,
    jwks,
    rsa_key,
    sign_raw,
)

HS_ISSUER = "https://services.example.com"
HS_AUDIENCE = "https://tasks.example.com"


@dataclass
class KeyRing:
    """The issuer's real keys (one per family) and an HS256 secret for the second path."""

    ed: TestKey = field(default_factory=lambda: ed25519_key("ed-1"))
    ec: TestKey = field(default_factory=lambda: ec_key("ec-1"))
    rsa: TestKey = field(default_factory=lambda: rsa_key("rsa-1"))
    secret: str = field(default_factory=lambda: str(watch(hs_secret())))

    @property
    def all(self) -> tuple[TestKey, ...]:
        return (self.ed, self.ec, self.rsa)

    def jwks_path(self) -> TrustedIssuer:
        return TrustedIssuer.create(StaticJWKS(jwks(*self.all)), issuer=ISSUER, audience=AUDIENCE)

    def hs_path(self) -> TrustedIssuer:
        return TrustedIssuer.create(
            SharedSecret(self.secret), issuer=HS_ISSUER, audience=HS_AUDIENCE
        )

    def jwks_only(self) -> Verifier:
        return Verifier(self.jwks_path(), clock=FixedClock())

    def two_paths(self) -> Verifier:
        return Verifier(self.jwks_path(), self.hs_path(), clock=FixedClock())


async def refused(verifier: Verifier, token: str) -> AuthError:
    """Verify ``token`` and return the error; fail the test if it was accepted."""
    watch_token(token)
    try:
        principal = await verifier.verify(token)
    except AuthError as error:
        return error
    raise AssertionError(f"accepted a forged token for sub={principal.sub!r}")


# --- HTTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    sub: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_caller(issuer: FakeIssuer, **claims: Any) -> Caller:
    user = issuer.make_user()
    return Caller(user["id"], watch_token(issuer.token(user, **claims)))


@dataclass
class TasksApi:
    """The Tasks API over ASGI, verifying FakeIssuer tokens (and HS256 tokens of ``secret``)."""

    app: FastAPI
    client: httpx.AsyncClient
    issuer: FakeIssuer
    alice: Caller
    bob: Caller

    async def create(self, caller: Caller, **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/tasks", json={"title": "a task", **fields}, headers=caller.headers
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def sqlite_settings(folder: Path, **extra: Any) -> ServiceSettings:
    return ServiceSettings(database_url=f"sqlite+aiosqlite:///{folder}/tasks.db", **extra)


@asynccontextmanager
async def running_tasks_api(
    folder: Path, issuer: FakeIssuer | None = None, *, verifier: Verifier | None = None
) -> AsyncIterator[TasksApi]:
    issuer = issuer or FakeIssuer()
    watch(issuer.secret)
    bridge = AuthBridge(verifier or issuer.verifier())
    app = create_app(sqlite_settings(folder), bridge=bridge)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://tasks.test") as client:
            yield TasksApi(app, client, issuer, make_caller(issuer), make_caller(issuer))


# The default realm of AuthBridge, whatever it is today.
REALM: str = inspect.signature(AuthBridge).parameters["realm"].default
MISSING_CHALLENGE = f'Bearer realm="{REALM}"'
INVALID_TOKEN_CHALLENGE = (
    f'Bearer realm="{REALM}", error="invalid_token", '
    'error_description="The access token is invalid or has expired"'
)


def assert_invalid_token(response: httpx.Response) -> None:
    """V48/V51/V53: the one answer for every bad token, whatever the reason."""
    assert response.status_code == 401, (response.status_code, response.text[:200])
    assert response.headers.get_list("www-authenticate") == [INVALID_TOKEN_CHALLENGE]
    assert response.json() == {
        "detail": "The access token is invalid or has expired.",
        "code": "invalid_token",
    }
    assert response.headers["cache-control"] == "no-store"


class UvicornThread:
    """uvicorn serving an app on 127.0.0.1 in a background thread: a real socket and h11."""

    def __init__(self, app: FastAPI, *, log_level: str = "warning") -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level=log_level)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()))

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# --- listeners that must never be contacted -----------------------------------------------


class TrapListener:
    """A TCP listener on 127.0.0.1 that counts every connection made to it (V14 SSRF)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> TrapListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def trap_listeners(count: int) -> Iterator[list[TrapListener]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(TrapListener()) for _ in range(count)]


def header_of(token: str) -> Mapping[str, Any]:
    import json

    from authbridge.jose.b64 import b64url_decode

    loaded: Mapping[str, Any] = json.loads(b64url_decode(token.split(".")[0]))
    return loaded


# --- one bad token per failure reason ---------------------------------------------------


def _respell(last: str) -> str:
    """Another base64url character for the last position (Ed25519: 86 chars, 2 spare bits)."""
    return "B" if last == "A" else "A"


def bad_tokens(issuer: FakeIssuer) -> dict[str, str]:
    """One token per failure reason, each built here."""
    key = issuer.signing_key()
    genuine = issuer.token()
    head, payload, signature = genuine.split(".")
    attacker = ed25519_key(key.kid)
    public = key.private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = issuer.claims()
    tokens = {
        "expired": issuer.token(now=time.time() - 7200),
        "not yet valid": issuer.token(nbf=int(time.time()) + 3600),
        "wrong issuer": issuer.token(iss=issuer.base_url + "/"),
        "wrong audience": issuer.token(aud="https://other.example"),
        "no sub": issuer.token(sub=None),
        "exp as string": issuer.token(exp=str(int(time.time()) + 600)),
        "bad signature": f"{head}.{payload}.{signature[:-4]}AAAA",
        "signed by another key": attacker.sign(claims),
        "unknown kid": issuer.token(header={"kid": "no-such-kid"}),
        "alg none": f"{b64url_encode(dumps({'alg': 'none'}))}.{payload}.",
        "alg NONE with sig": (
            f"{b64url_encode(dumps({'alg': 'NONE', 'kid': key.kid}))}.{payload}.{signature}"
        ),
        "hs256 with public pem": sign_raw(
            dumps({"alg": "HS256", "kid": key.kid}), dumps(claims), pem, "HS256"
        ),
        "embedded jwk": sign_raw(
            dumps({"alg": "EdDSA", "kid": key.kid, "jwk": attacker.jwk}),
            dumps(claims),
            attacker.private,
            "EdDSA",
        ),
        "jku": sign_raw(
            dumps({"alg": "EdDSA", "kid": key.kid, "jku": "http://127.0.0.1:9/jwks"}),
            dumps(claims),
            attacker.private,
            "EdDSA",
        ),
        "crit b64": sign_raw(
            dumps({"alg": "EdDSA", "kid": key.kid, "crit": ["b64"], "b64": False}),
            dumps(claims),
            key.private,
            "EdDSA",
        ),
        "jwe": (
            f"{b64url_encode(dumps({'alg': 'dir', 'enc': 'A256GCM', 'zip': 'DEF'}))}.AA.AA.AA.AA"
        ),
        "duplicate alg": sign_raw(
            f'{{"alg":"none","alg":"EdDSA","kid":"{key.kid}"}}'.encode(),
            dumps(claims),
            key.private,
            "EdDSA",
        ),
        "utf-16 payload": sign_raw(
            dumps({"alg": "EdDSA", "kid": key.kid}),
            dumps(claims).decode().encode("utf-16"),
            key.private,
            "EdDSA",
        ),
        "kid traversal": issuer.token(header={"kid": "../../../../etc/passwd"}),
        "kid crlf": issuer.token(header={"kid": 'x"\r\nX-Injected: 1'}),
        "kid sql": issuer.token(header={"kid": "' OR 1=1 --"}),
        "kid huge": issuer.token(header={"kid": "k" * 4000}),
        "kid not a string": issuer.token(header={"kid": ["a"]}),
        "oversized": genuine + "A" * 9000,
        "two segments": f"{head}.{payload}",
        "padding": f"{head}.{payload}.{signature}==",
        "non-canonical base64": f"{head}.{payload}.{signature[:-1]}{_respell(signature[-1])}",
        "not base64 json": "abc.def.ghi",
    }
    for token in tokens.values():
        watch_token(token)
    return tokens
