"""Request bodies parsed strictly: no NaN/Infinity, no huge numbers, no lone surrogates,
no duplicate keys. Each is a JSON error, which FastAPI answers with 422 (never 500).

FastAPI parses the body before it runs any dependency, so without care a request with no
token and a broken body would get 422 instead of 401. A body that fails to parse therefore
first authenticates the request (through the same, overridable, ``get_principal``)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from starlette.requests import Request
from starlette.responses import Response

from authbridge.fastapi import get_principal

__all__ = ["StrictJSONRequest", "StrictJSONRoute", "loads_strict"]

_MAX_NUMBER_CHARS: Final = 32


class _Rejected(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _Rejected(f"{name} is not JSON")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_NUMBER_CHARS:
        raise _Rejected("number too large")
    return int(text)


def _finite_float(text: str) -> float:
    if len(text) > _MAX_NUMBER_CHARS:
        raise _Rejected("number too long")
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected("number out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Rejected("duplicate key")
    return result


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_constant=_reject_constant,
    parse_int=_bounded_int,
    parse_float=_finite_float,
)


def _check_strings(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Rejected("lone surrogate") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def loads_strict(raw: bytes) -> Any:
    """Parse ``raw``; every refusal is a ``json.JSONDecodeError``."""
    try:
        text = raw.decode("utf-8")
        value = _DECODER.decode(text)
        if "\\u" in text:  # escapes are the only way to smuggle in a lone surrogate
            _check_strings(value)
        return value
    except json.JSONDecodeError:
        raise
    except (UnicodeDecodeError, _Rejected, RecursionError, ValueError) as exc:
        raise json.JSONDecodeError(type(exc).__name__, "", 0) from None


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
