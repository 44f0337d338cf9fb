"""The bearer credential of a request: ``authbridge/credentials.py``, shared by every layer."""

from __future__ import annotations

from ..credentials import (
    FORM_CONTENT_TYPE,
    api_key_from_headers,
    bearer_candidate,
    bearer_from_headers,
    form_has_access_token,
    header_value,
    is_b64token,
    query_has_access_token,
)

__all__ = [
    "FORM_CONTENT_TYPE",
    "api_key_from_headers",
    "bearer_candidate",
    "bearer_from_headers",
    "form_has_access_token",
    "header_value",
    "is_b64token",
    "query_has_access_token",
]
