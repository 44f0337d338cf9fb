"""Refusals leave no reference cycles, and cached tokens stay out of the garbage collector.

A flood of forged tokens must not slow everyone else: each refusal that left a reference
cycle (a raised exception's traceback holding frames that hold the exception) fed the
collector, and a full token cache of tracked objects made its oldest-generation passes slow.
Requests go straight into the ASGI app (no HTTP client, whose own objects would count).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request

from authbridge.fastapi import AuthBridge, CurrentUser, principal_of, require_roles
from authbridge.principal import Principal
from authbridge.testing import FakeIssuer

Admin = Annotated[Principal, Depends(require_roles("admin"))]


def _forged(token: str) -> str:
    """The token with one signature character changed: its kid is still a valid key's."""
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def _app(issuer: FakeIssuer, *, fast_path: bool) -> FastAPI:
    app = FastAPI()
    bridge = AuthBridge(issuer.verifier())
    if fast_path:
        bridge.install(app, protect=("/fast",))
    else:
        bridge.install(app)

    @app.get("/user")
    async def user(caller: CurrentUser) -> dict[str, str]:
        return {"sub": caller.sub}

    @app.get("/admin")
    async def admin(caller: Admin) -> dict[str, str]:
        return {"sub": caller.sub}

    @app.get("/fast")
    async def fast(request: Request) -> dict[str, str]:
        return {"sub": principal_of(request).sub}

    return app


async def _call(app: FastAPI, path: str, token: str) -> int:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1234),
        "app": app,
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("path", "fast_path", "status"),
    [
        ("/user", False, 401),
        ("/admin", False, 401),
        ("/fast", True, 401),
        ("/user", True, 401),
    ],
)
async def test_forged_tokens_leave_no_reference_cycles(
    collector_off: None, path: str, fast_path: bool, status: int
) -> None:
    issuer = FakeIssuer()
    app = _app(issuer, fast_path=fast_path)
    forged = _forged(issuer.token())
    async with app.router.lifespan_context(app):
        assert await _call(app, path, forged) == status  # warm: imports, first-use caches
        gc.collect()
        for _ in range(50):
            assert await _call(app, path, forged) == status
        assert gc.collect() == 0


async def test_missing_role_and_expired_tokens_leave_no_reference_cycles(
    collector_off: None,
) -> None:
    issuer = FakeIssuer()
    app = _app(issuer, fast_path=False)
    plain = issuer.token()  # no admin role: 403
    expired = issuer.token(expires_in=-120)
    async with app.router.lifespan_context(app):
        assert await _call(app, "/admin", plain) == 403
        assert await _call(app, "/user", expired) == 401
        gc.collect()
        for _ in range(30):
            assert await _call(app, "/admin", plain) == 403
            assert await _call(app, "/user", expired) == 401
        assert gc.collect() == 0


async def test_cached_tokens_are_not_tracked_by_the_collector() -> None:
    issuer = FakeIssuer()
    verifier = issuer.verifier()
    tokens = [issuer.token(sid=f"session-{number}") for number in range(300)]
    for token in tokens:
        await verifier.verify(token)
    gc.collect()
    before = len(gc.get_objects())
    for token in tokens:
        assert verifier.verify_cached(token) is not None
    principal = verifier.verify_cached(tokens[0])
    assert principal is not None
    assert not gc.is_tracked(principal)
    entry = verifier.cache._entries[tokens[0]]
    assert not gc.is_tracked(entry)  # a gc=False entry, never tracked (cache.py)
    gc.collect()
    assert len(gc.get_objects()) - before < 10  # hits allocate nothing the collector keeps
