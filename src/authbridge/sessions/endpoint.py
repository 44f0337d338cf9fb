"""One GET to a Better Auth endpoint, read the same way for sessions and API keys.

``get-session`` (and ``organization/get-active-member``) answer with JSON. Whoever asks, the
body is read up to 1 MiB, parsed with the verifier's strict JSON parser (``authbridge.jose``),
and every way the server cannot answer (down, a timeout, an unexpected status, a body too
large or not JSON) is one error, the caller's ``unavailable`` class (a 503 with the server's
``Retry-After``, else 5 seconds), never a 401 the user cannot fix.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpx

from authbridge.errors import ServiceUnavailable
from authbridge.jose import loads_json

__all__ = ["AuthEndpointClient", "get_session_url", "parse_answer"]

_MAX_BODY: Final = 1 << 20


def get_session_url(base_url: str, endpoint: str = "/get-session") -> str:
    """``{origin}{path}/api/auth/get-session``; a base that already ends in /api/auth is kept."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/api/auth"):
        path += "/api/auth"
    return urlunsplit((parts.scheme, parts.netloc, path + endpoint, "", ""))


def parse_answer(body: bytes) -> Any:
    """The answer's JSON value, strictly parsed; None for an empty body (or ``null``).
    Raises ``ValueError`` for a body that is not JSON."""
    return loads_json(body) if body.strip() else None


class AuthEndpointClient:
    """GETs to Better Auth with an ``httpx`` client of its own, or the caller's (not closed)."""

    def __init__(
        self,
        unavailable: type[ServiceUnavailable],
        *,
        timeout: float,
        client: httpx.AsyncClient | None,
    ) -> None:
        self._unavailable = unavailable
        self._timeout = timeout
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def get(
        self,
        url: str,
        headers: dict[str, str],
        *,
        answers: frozenset[int],
        bodiless: frozenset[int] = frozenset(),
    ) -> tuple[int, bytes]:
        """(status, body) of a GET. A status in ``answers`` comes with its body, one in
        ``bodiless`` without reading it; any other status is ``unavailable``."""
        try:
            async with self.client.stream(
                "GET", url, headers=headers, timeout=self._timeout
            ) as response:
                status = response.status_code
                if status in bodiless:
                    return status, b""
                if status not in answers:
                    raise self._unavailable(retry_after=_retry_after(response))
                return status, await self._read_limited(response)
        except httpx.HTTPError:
            raise self._unavailable(retry_after=5) from None

    def document(self, body: bytes) -> Any:
        """``parse_answer``, with a body that is not JSON ``unavailable``."""
        try:
            return parse_answer(body)
        except ValueError:
            raise self._unavailable(retry_after=5) from None

    async def _read_limited(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > _MAX_BODY:
                raise self._unavailable(retry_after=5)
            chunks.append(chunk)
        return b"".join(chunks)


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    if value.isdigit():
        return max(1, min(int(value), 3600))
    return 5
