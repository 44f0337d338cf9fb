"""Fetch a JWK Set for display, with the same limits as the verifier's ``RemoteJWKS``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..jose.strict_json import loads_object

__all__ = ["JWKSFetchError", "fetch_jwks_document"]


class JWKSFetchError(Exception):
    """The set could not be fetched. The message is safe to show."""


def fetch_jwks_document(
    source: str, *, timeout: float, max_bytes: int, variable: str = "URL"
) -> dict[str, Any]:
    """GET ``source`` (https, or http on loopback) without redirects, or read a local file."""
    import httpx  # heavy: imported only when a set is fetched

    from ..keys.fetch import check_jwks_url

    if not source.startswith(("http://", "https://")) and Path(source).is_file():
        body = Path(source).read_bytes()[: max_bytes + 1]
    else:
        url = check_jwks_url(source, allow_http_loopback=True, variable=variable)
        try:
            with (
                httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
                client.stream("GET", url, headers={"Accept": "application/json"}) as response,
            ):
                if response.is_redirect:
                    raise JWKSFetchError(f"redirect (HTTP {response.status_code}) refused")
                if response.status_code != 200:
                    raise JWKSFetchError(f"HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        break
        except httpx.TimeoutException:
            raise JWKSFetchError(f"no answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise JWKSFetchError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if len(body) > max_bytes:
        raise JWKSFetchError(f"the answer is larger than {max_bytes} bytes")
    try:
        return loads_object(body)
    except ValueError:
        raise JWKSFetchError("the answer is not a JSON object") from None
