"""One error shape everywhere: ``{"detail": str, "code": str}``.

Validation errors name the offending field(s) in ``detail`` and never echo the input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

__all__ = [
    "ApiError",
    "DatabaseUnavailable",
    "error_response",
    "install_error_handlers",
    "not_found",
    "validation_detail",
]

logger = logging.getLogger("tasks_api")

_CODE_FOR_STATUS: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    500: "internal_error",
    503: "unavailable",
}
# The methods a 405's ``Allow`` is built from (HEAD is served only where a route lists it).
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_LOCATION_PREFIXES: Final = frozenset({"body", "query", "path", "header", "cookie"})
_MAX_DETAIL_CHARS: Final = 1000


class ApiError(Exception):
    """An expected failure with a status, a stable code and a fixed, safe detail."""

    def __init__(
        self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


class DatabaseUnavailable(Exception):
    """The database cannot be reached right now (store.py raises it from the driver's error,
    kept as ``__cause__``): answered 503, never 500."""


def not_found() -> ApiError:
    """The one 404 for a task that is missing *or* belongs to someone else."""
    return ApiError(404, "not_found", "Task not found.")


def error_response(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def _safe(text: str) -> str:
    # A lone surrogate in a field name would make the JSON response unencodable.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] in _LOCATION_PREFIXES:
        parts = parts[1:]
    return _safe(".".join(parts) or "body")[:100]


def validation_detail(errors: Sequence[Mapping[str, Any]]) -> str:
    """``"title: Value error, must not be empty; limit: ..."`` — field names, no input."""
    messages = []
    for error in errors:
        message = _safe(str(error.get("msg", "is invalid"))).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            message = "is not valid JSON"
            messages.append(f"body: {message}")
            continue
        messages.append(f"{_field_name(error.get('loc', ()))}: {message}")
    return "; ".join(messages)[:_MAX_DETAIL_CHARS] or "The request is invalid."


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.detail, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "validation_error", validation_detail(exc.errors()))


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path.

    Starlette's router answers 405 with the ``Allow`` of the *first* route whose path matched,
    so ``PUT /api/tasks/{id}`` was told ``Allow: GET`` although PATCH and DELETE exist too
    (RFC 9110 §15.5.6: ``Allow`` lists the target's methods). Each route is asked, through
    its public ``matches``, whether it would take the path with each method."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        probe = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
        }
        if any(route.matches(dict(probe))[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _CODE_FOR_STATUS.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else "The request failed."
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        detail = "Not found."
    elif exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
    return error_response(exc.status_code, str(code), detail, headers)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    # The exception text may name hosts and users: log its type only.
    logger.warning("database unavailable on %s (%s)", request.url.path, type(exc).__name__)
    return error_response(
        503,
        "database_unavailable",
        "The database is unavailable. Retry later.",
        {"Retry-After": "5", "Cache-Control": "no-store"},
    )


def is_connection_failure(exc: DBAPIError) -> bool:
    """A driver error that means "the server cannot be reached right now", not a bad query:
    SQLSTATE class 08 (connection exception) or 57P01-57P03 (shutting down, crashed, starting
    up: asyncpg reports these as a plain ``DBAPIError`` during a restart of PostgreSQL)."""
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if isinstance(state, str) and (state.startswith("08") or state in _RESTART_STATES):
        return True
    return bool(exc.connection_invalidated)


_RESTART_STATES = frozenset({"57P01", "57P02", "57P03"})


async def _driver_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    if is_connection_failure(exc):
        return await _database_unavailable(request, exc)
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Internal server error.")


def _document_validation_errors(app: FastAPI) -> None:
    """Make the OpenAPI 422 schema FastAPI adds describe the body this app really sends."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = {
                    "title": "HTTPValidationError",
                    "type": "object",
                    "required": ["detail", "code"],
                    "properties": {
                        "detail": {"type": "string", "title": "Detail"},
                        "code": {"type": "string", "title": "Code"},
                    },
                }
                schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    _document_validation_errors(app)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Connection-level failures (server down, pool exhausted, refused socket): 503, not 500.
    # The task routes' raw driver path raises DatabaseUnavailable; SQLAlchemy (readiness,
    # migrations) raises its own.
    for failure in (
        DatabaseUnavailable,
        OperationalError,
        InterfaceError,
        PoolTimeout,
        ConnectionError,
    ):
        app.add_exception_handler(failure, _database_unavailable)
    app.add_exception_handler(DBAPIError, _driver_error)  # other driver errors: by SQLSTATE
    app.add_exception_handler(Exception, _unexpected)
