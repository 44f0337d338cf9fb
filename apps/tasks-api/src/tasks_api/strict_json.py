"""Request bodies parsed strictly: no NaN/Infinity, no huge numbers, no lone surrogates,
no duplicate keys: the rules of the library's token parser (``authbridge.jose``). Each is a
JSON error, which FastAPI answers with 422 (never 500).

FastAPI parses the body before it runs any dependency, so without care a request with no
token and a broken body would get 422 instead of 401. A body that fails to parse therefore
first authenticates the request (through the same, overridable, ``get_principal``).

``StrictJSONRoute`` also runs an endpoint's fast path (``fast_path``) when it has one: a
coroutine that answers a plainly valid request itself, calling the same guards and the same
handler code, and returns None for anything else, which FastAPI then solves and validates as
always (so every refusal, and its body, is FastAPI's). FastAPI's dependency solving and
per-parameter validation cost a list request more CPU than its query (docs/tasks-api.md).
The fast path is off while ``app.dependency_overrides`` is set: overrides are FastAPI's."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from starlette.requests import Request
from starlette.responses import Response

from authbridge.fastapi import get_principal
from authbridge.jose import loads_json

__all__ = ["FastPath", "StrictJSONRequest", "StrictJSONRoute", "fast_path", "loads_strict"]

_MAX_NUMBER_CHARS: Final = 32
_FAST_PATH: Final = "__tasks_fast_path__"

# A request's answer, or None: "let FastAPI handle this one".
FastPath = Callable[[Request], Coroutine[Any, Any, Response | None]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def fast_path(fast: FastPath) -> Callable[[Endpoint], Endpoint]:
    """Decorate an endpoint (below ``@router.get`` and the like) with its fast path. Kept on
    the function, so that it survives ``include_router``, which copies routes."""

    def attach(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _FAST_PATH, fast)
        return endpoint

    return attach


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
    """An ``APIRoute`` whose handlers see ``StrictJSONRequest``, trying the endpoint's fast
    path first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        fast: FastPath | None = getattr(self.endpoint, _FAST_PATH, None)

        async def strict_handler(request: Request) -> Response:
            strict = StrictJSONRequest(request.scope, request.receive)
            if fast is not None and not strict.app.dependency_overrides:
                response = await fast(strict)
                if response is not None:
                    return response
            # The same request object: a body the fast path read is not read twice.
            return await handler(strict)

        return strict_handler
