"""Request bodies parsed strictly: no NaN/Infinity, no huge numbers, no lone surrogates,
no duplicate keys: the rules of the library's token parser (``authbridge.jose``). Each is a
JSON error, which FastAPI answers with 422 (never 500).

FastAPI parses the body before it runs any dependency, so without care a request with no
token and a broken body would get 422 instead of 401. A body that fails to parse therefore
first authenticates the request (through the same, overridable, ``get_principal``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from starlette.requests import Request
from starlette.responses import Response

from authbridge.fastapi import get_principal
from authbridge.jose import loads_json

__all__ = ["StrictJSONRequest", "StrictJSONRoute", "loads_strict"]

_MAX_NUMBER_CHARS: Final = 32


def loads_strict(raw: bytes) -> Any:
    """Parse ``raw`` with the library's strict parser; every refusal is a ``JSONDecodeError``."""
    try:
        return loads_json(raw, max_number_chars=_MAX_NUMBER_CHARS)
    except json.JSONDecodeError:
        raise
    except ValueError as exc:
        raise json.JSONDecodeError(str(exc), "", 0) from None


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = loads_strict(await self.body())
            except json.JSONDecodeError:
                await self._authenticate()  # 401 (RFC 6750) before 422
                raise
        return self._json

    async def _authenticate(self) -> None:
        dependency = self.app.dependency_overrides.get(get_principal, get_principal)
        await dependency(self, SecurityScopes())


class StrictJSONRoute(APIRoute):
    """An ``APIRoute`` whose handlers see ``StrictJSONRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
