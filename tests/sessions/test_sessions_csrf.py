"""The Origin/Referer check for cookie-authenticated unsafe requests."""

from __future__ import annotations

import pytest

from authbridge.errors import CsrfRejected
from authbridge.sessions.csrf import TrustedOrigins, check_csrf, normalize_origin

TRUSTED = ("https://app.example.com", "http://localhost:5173", "https://*.tenant.example")


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
def test_safe_methods_need_no_origin(method: str) -> None:
    check_csrf(method, {"origin": "https://evil.example"}, TRUSTED)
    check_csrf(method, {}, TRUSTED)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://app.example.com"},
        {"origin": "https://APP.example.com:443"},
        {"origin": "http://localhost:5173"},
        {"referer": "https://app.example.com/tasks?id=1"},
        {"Origin": "https://a.tenant.example"},
        {"Origin": "https://deep.a.tenant.example"},
    ],
)
def test_trusted_origins_pass(headers: dict[str, str]) -> None:
    check_csrf("POST", headers, TRUSTED)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "null"},
        {"origin": "https://evil.example"},
        {"origin": "http://app.example.com"},  # scheme differs
        {"origin": "https://app.example.com:8443"},  # port differs
        {"origin": "https://app.example.com.evil.example"},
        {"origin": "https://tenant.example"},  # the wildcard covers subdomains only
        {"referer": "https://evil.example/https://app.example.com"},
        {"origin": "https://evil.example", "referer": "https://app.example.com/"},
        {"origin": "javascript:alert(1)"},
        {"origin": "https://user@app.example.com"},
        {"origin": "https://[::1"},
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_untrusted_or_missing_origins_are_rejected(headers: dict[str, str], method: str) -> None:
    with pytest.raises(CsrfRejected) as caught:
        check_csrf(method, headers, TRUSTED)
    assert caught.value.status == 403


def test_normalize_origin() -> None:
    assert normalize_origin("HTTPS://Example.COM:443/") == "https://example.com"
    assert normalize_origin("http://example.com:8080/x") == "http://example.com:8080"
    assert normalize_origin("http://[::1]:3000") == "http://[::1]:3000"
    assert normalize_origin("ftp://example.com") is None
    assert normalize_origin("null") is None


def test_bad_trusted_origin_setting_is_refused() -> None:
    with pytest.raises(ValueError):
        TrustedOrigins(["not an origin"])
    assert "https://x.example" not in TrustedOrigins([])
