"""CORS (Starlette's middleware) whose refused preflights use the API's error shape."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response

__all__ = ["JSONErrorCORSMiddleware"]


class JSONErrorCORSMiddleware(CORSMiddleware):
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
