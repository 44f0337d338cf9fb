"""A design alternative measured by the HTTP benchmark: authenticate in a pure-ASGI middleware
and let endpoints read ``request.user``, with no FastAPI dependency at all.

Every FastAPI dependency costs a fixed amount of framework work per request (about as much
as all of authbridge's own work on a cache hit), so this is the cheapest correct shape: the
middleware verifies each request under ``protected`` path prefixes once (the verifier's
synchronous cache first), answers failures with authbridge's RFC 6750 responses, marks
successful answers private (``Cache-Control: no-store``, ``Vary: Authorization``), and puts the
``Principal`` where Starlette's ``request.user`` reads it.

Its costs are ergonomic rather than computational: protection is by path prefix, not declared
on the route (so it is not in the OpenAPI document unless declared separately), and scope or
role checks are the endpoint's job. It is a prototype for the benchmark, not a shipped API.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authbridge.errors import AuthError
from authbridge.fastapi import AuthBridge
from authbridge.fastapi.credentials import bearer_from_headers

__all__ = ["MiddlewareAuth"]


class MiddlewareAuth:
    """Verifies credentials for requests under ``protected`` prefixes; sets ``scope["user"]``."""

    def __init__(self, app: ASGIApp, bridge: AuthBridge, protected: tuple[str, ...]) -> None:
        self.app = app
        self.bridge = bridge
        self.protected = protected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.protected):
            await self.app(scope, receive, send)
            return
        bridge = self.bridge
        try:
            token = bearer_from_headers(scope["headers"], scope.get("query_string", b""))
            principal = bridge.verifier.verify_cached(token)
            if principal is None:
                principal = await bridge.verifier.verify(token)
        except AuthError as error:
            await _refuse(bridge, error, scope, send)
            return
        scope["user"] = principal

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: Any = list(message.get("headers") or [])
                headers += [(b"cache-control", b"no-store"), (b"vary", b"Authorization")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_private)


async def _refuse(bridge: AuthBridge, error: AuthError, scope: Scope, send: Send) -> None:
    answer = bridge.refuse(error, scope)  # logs it; RFC 6750 status and headers
    body = json.dumps({"detail": answer.detail, "code": answer.code}).encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in (answer.headers or {}).items()]
    headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
