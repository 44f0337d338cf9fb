"""One HTTP GET of a JWK Set, within the limits of V28. The only key module that imports httpx.

``keys/remote.py`` decides *when* to fetch (TTL, cooldown, single flight, stale-if-error) and
imports this module only when it is constructed, so that ``import authbridge`` never pays
for httpx. This module knows nothing of caching: it turns one URL into one JSON document or a
``FetchFailed`` whose message is safe to log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import zlib
from typing import Any, Final

import httpx

from ..errors import ConfigError
from ..jose.strict_json import loads_object

__all__ = [
    "FetchFailed",
    "check_jwks_url",
    "decode_body",
    "download",
    "download_sync",
    "new_client",
    "new_sync_client",
]

_URL_FIX: Final = (
    "set it to the issuer's JWKS endpoint over https, "
    "for example https://auth.example.com/api/auth/jwks."
)


class FetchFailed(Exception):
    """A fetch that produced no usable key set. The message is safe to log."""


def _is_loopback(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_jwks_url(url: str, *, allow_http_loopback: bool, variable: str) -> httpx.URL:
    """Parse the JWKS URL the way httpx will fetch it, or raise ``ConfigError``.

    Parsing with httpx itself avoids a parser differential between the check and the fetch.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ConfigError(variable, "is not a valid URL.", _URL_FIX) from None
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise ConfigError(variable, "must be an absolute https URL.", _URL_FIX)
    if parsed.userinfo:
        raise ConfigError(variable, "must not carry a user name or password.", _URL_FIX)
    if parsed.scheme == "http" and not (allow_http_loopback and _is_loopback(parsed.host)):
        raise ConfigError(
            variable,
            "uses plain http; keys must be fetched over https "
            "(http is allowed only for a loopback host such as 127.0.0.1 in development).",
            _URL_FIX,
        )
    return parsed


def decode_body(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """Undo a gzip/deflate ``Content-Encoding`` without ever producing more than the cap."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return raw
    if name not in ("gzip", "x-gzip", "deflate"):
        raise FetchFailed("unsupported content encoding")
    # wbits: 47 accepts a gzip or zlib wrapper; -15 is bare deflate, which some servers send.
    for wbits in (47, -15) if name == "deflate" else (47,):
        decoder = zlib.decompressobj(wbits)
        try:
            body = decoder.decompress(raw, max_bytes + 1)
        except zlib.error:
            continue
        if len(body) > max_bytes:
            raise FetchFailed(f"the answer is larger than {max_bytes} bytes")
        return body
    raise FetchFailed("the answer's compression is corrupt")


async def new_client(seconds: float) -> httpx.AsyncClient:
    """A client for the issuer, created off the event loop.

    Creating a client loads the CA certificates from disk (about 0.1 s): not on the loop.
    """
    return await asyncio.to_thread(
        httpx.AsyncClient,
        timeout=seconds,
        follow_redirects=False,
        headers={"User-Agent": "authbridge"},
    )


_REQUEST_HEADERS: Final = {"Accept": "application/json", "Accept-Encoding": "identity"}


def _check_response(response: httpx.Response, max_bytes: int) -> None:
    """Refuse a redirect, a status other than 200 or a declared length over the cap."""
    status = response.status_code
    if response.is_redirect:
        raise FetchFailed(f"redirect (HTTP {status}) refused")
    if status != 200:
        raise FetchFailed(f"HTTP {status}")
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise FetchFailed(f"the answer is larger than {max_bytes} bytes")


def _add_chunk(raw: bytearray, chunk: bytes, max_bytes: int) -> None:
    raw += chunk
    if len(raw) > max_bytes:
        raise FetchFailed(f"the answer is larger than {max_bytes} bytes")


def _document(raw: bytes, response: httpx.Response, max_bytes: int) -> tuple[Any, str | None]:
    """The body as a strict JSON object, and the answer's ``Cache-Control``."""
    encoding = response.headers.get("content-encoding", "identity")
    body = decode_body(raw, encoding, max_bytes)
    try:
        document = loads_object(body)
    except ValueError:
        raise FetchFailed("the answer is not a JSON object") from None
    return document, response.headers.get("cache-control")


async def download(
    client: httpx.AsyncClient, url: httpx.URL, *, seconds: float, max_bytes: int
) -> tuple[Any, str | None]:
    """GET ``url``: the JSON object it answers and its ``Cache-Control``, or ``FetchFailed``.

    No redirects, a total time limit of ``seconds``, and a body cap that bounds the bytes
    read (the body is streamed raw, so a compressed answer cannot cost more than the cap).
    """
    raw = bytearray()
    try:
        async with asyncio.timeout(seconds):  # total, not per read
            async with client.stream(
                "GET", url, headers=_REQUEST_HEADERS, follow_redirects=False, timeout=seconds
            ) as response:
                _check_response(response, max_bytes)
                async for chunk in response.aiter_raw():
                    _add_chunk(raw, chunk, max_bytes)
    except (TimeoutError, httpx.TimeoutException):
        raise FetchFailed(f"no answer within {seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return _document(bytes(raw), response, max_bytes)


def new_sync_client(seconds: float) -> httpx.Client:
    """A blocking client for ``download_sync`` (``Verifier.verify_sync``)."""
    return httpx.Client(
        timeout=seconds, follow_redirects=False, headers={"User-Agent": "authbridge"}
    )


def download_sync(
    client: httpx.Client, url: httpx.URL, *, seconds: float, max_bytes: int
) -> tuple[Any, str | None]:
    """``download`` for threads: the same checks, caps and errors, with a blocking client.

    Without an event loop there is no total timeout to cancel a read with: each read is
    bounded by ``seconds``, and the body loop stops once ``seconds`` have passed in total.
    """
    raw = bytearray()
    deadline = time.monotonic() + seconds
    try:
        with client.stream(
            "GET", url, headers=_REQUEST_HEADERS, follow_redirects=False, timeout=seconds
        ) as response:
            _check_response(response, max_bytes)
            for chunk in response.iter_raw():
                _add_chunk(raw, chunk, max_bytes)
                if time.monotonic() > deadline:
                    raise TimeoutError
    except (TimeoutError, httpx.TimeoutException):
        raise FetchFailed(f"no answer within {seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return _document(bytes(raw), response, max_bytes)
