"""CORS (Starlette's middleware) whose refused preflights use the API's error shape.

A request without ``Origin`` (no browser cross-origin call: servers, curl, the benchmark)
skips Starlette's per-request header objects: its answer only gains ``Origin`` in ``Vary``,
merged exactly as Starlette's ``MutableHeaders`` would (one ``Vary`` line, at the first one's
place, the values joined). Everything else goes through Starlette's middleware.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

__all__ = ["JSONErrorCORSMiddleware", "vary_origin"]

_ORIGIN: Final = b"origin"
_VARY: Final = b"vary"


def vary_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Origin`` added to ``Vary`` as Starlette's CORS answer adds it."""
    found = [index for index, (name, _) in enumerate(headers) if name == _VARY]
    joined = b", ".join([*(headers[index][1] for index in found), b"Origin"])
    for index in reversed(found[1:]):
        del headers[index]
    if found:
        headers[found[0]] = (_VARY, joined)
    else:
        headers.append((_VARY, joined))
    return headers


class JSONErrorCORSMiddleware(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == _ORIGIN for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def send_varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = vary_origin(list(message.get("headers") or ()))
            await send(message)

        await self.app(scope, receive, send_varying)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in ("content-length", "content-type")
        }
        detail = bytes(response.body).decode("utf-8", "replace")  # "Disallowed CORS origin"
        return JSONResponse(
            {"detail": f"{detail}.", "code": "cors_rejected"},
            status_code=response.status_code,
            headers=headers,
        )
