"""RemoteJWKS fetch limits and outages against a real local server (V28, V30)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
import warnings
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from jwks_server import (
    FakeClock,
    IssuerKey,
    JWKSServer,
    TLSMaterial,
    ed25519_key,
    running_jwks_server,
)

from authbridge.errors import ConfigError, KeysUnavailable, UnknownKey
from authbridge.keys.remote import RemoteJWKS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(50.0)


@pytest.fixture
async def jwks(server: JWKSServer, clock: FakeClock) -> AsyncIterator[RemoteJWKS]:
    source = RemoteJWKS(server.url, clock=clock, timeout=0.5)
    yield source
    await source.aclose()


def _status_500(server: JWKSServer) -> str:
    server.status = 500
    return "HTTP 500"


def _garbage(server: JWKSServer) -> str:
    server.body = b"<html>maintenance</html>"
    return "not a JSON object"


def _not_a_set(server: JWKSServer) -> str:
    server.body = b'{"keys": "none"}'
    return "'keys' array"


def _duplicate_members(server: JWKSServer) -> str:
    server.body = b'{"keys": [], "keys": []}'
    return "not a JSON object"


def _no_usable_keys(server: JWKSServer) -> str:
    server.document = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}
    return "no usable keys"


def _oversized(server: JWKSServer) -> str:
    server.document = {"keys": [], "padding": "x" * 70_000}
    return "larger than 65536 bytes"


def _endless(server: JWKSServer) -> str:
    server.endless = True
    return "larger than 65536 bytes"


def _too_many_keys(server: JWKSServer) -> str:
    server.serve_keys(*(ed25519_key(f"k{i}") for i in range(21)))
    return "more than 20 keys"


def _redirect(server: JWKSServer) -> str:
    server.status = 302
    server.redirect_to = server.url + "?moved"
    return "redirect (HTTP 302) refused"


def _slow(server: JWKSServer) -> str:
    server.delay = 2.0
    return "no answer within 0.5 s"


def _down(server: JWKSServer) -> str:
    server.stop()
    return "ConnectError"


OUTAGES: dict[str, Callable[[JWKSServer], str]] = {
    "status-500": _status_500,
    "garbage": _garbage,
    "not-a-set": _not_a_set,
    "duplicate-members": _duplicate_members,
    "no-usable-keys": _no_usable_keys,
    "oversized": _oversized,
    "endless": _endless,
    "too-many-keys": _too_many_keys,
    "redirect": _redirect,
    "timeout": _slow,
    "connection-refused": _down,
}


@pytest.mark.parametrize("break_issuer", OUTAGES.values(), ids=OUTAGES.keys())
async def test_v30_outage_keeps_serving_stale_keys(
    jwks: RemoteJWKS,
    server: JWKSServer,
    clock: FakeClock,
    break_issuer: Callable[[JWKSServer], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await jwks.start()
    expected_error = break_issuer(server)
    clock.advance(600)  # the set is past its TTL and the issuer is broken

    with caplog.at_level(logging.WARNING, logger="authbridge.keys"):
        key = await jwks.get_key("kid-a", "EdDSA")  # at once, from the stale set
        assert await jwks.wait_for_fetch() is False  # the background refresh it started
    assert key.kid == "kid-a"
    assert jwks.fetch_count == 2
    assert jwks.last_error is not None
    assert expected_error in jwks.last_error
    assert "still serving 1 cached keys" in caplog.text

    # Failed fetches are rate-limited: neither known nor unknown kids retry before the cooldown.
    clock.advance(29)
    assert (await jwks.get_key("kid-a", "EdDSA")).kid == "kid-a"
    with pytest.raises(UnknownKey):
        await jwks.get_key("kid-new", "EdDSA")
    assert jwks.fetch_count == 2
    clock.advance(1)
    assert (await jwks.get_key("kid-a", "EdDSA")).kid == "kid-a"
    assert await jwks.wait_for_fetch() is False
    assert jwks.fetch_count == 3
    assert set(jwks.keys) == {"kid-a"}  # never evicted


async def test_recovery_after_an_outage(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, key_a: IssuerKey
) -> None:
    await jwks.start()
    server.status = 503
    clock.advance(600)
    await jwks.get_key("kid-a", "EdDSA")
    assert await jwks.wait_for_fetch() is False
    assert jwks.last_error == "HTTP 503"
    server.status = 200
    key_b = ed25519_key("kid-b")
    server.serve_keys(key_a, key_b)
    clock.advance(30)
    assert (await jwks.get_key("kid-b", "EdDSA")).kid == "kid-b"
    assert jwks.last_error is None
    assert jwks.last_fetch == clock.now


@pytest.mark.parametrize("break_issuer", OUTAGES.values(), ids=OUTAGES.keys())
async def test_no_keys_ever_fetched_is_keys_unavailable(
    jwks: RemoteJWKS,
    server: JWKSServer,
    clock: FakeClock,
    break_issuer: Callable[[JWKSServer], str],
) -> None:
    expected_error = break_issuer(server)
    await jwks.start()  # must not raise
    assert jwks.last_error is not None
    assert expected_error in jwks.last_error
    with pytest.raises(KeysUnavailable) as caught:
        await jwks.get_key("kid-a", "EdDSA")
    assert caught.value.status == 503
    assert caught.value.retry_after >= 1
    assert jwks.fetch_count == 1  # the retry waits for its backoff
    assert jwks.cached_key("kid-a", "EdDSA") is None


async def test_no_keys_backoff_grows_and_is_reported(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server.status = 500
    with caplog.at_level(logging.WARNING, logger="authbridge.keys"):
        await jwks.start()
    assert "keys will be fetched on first use" in caplog.text
    retry_afters = []
    for _ in range(4):
        with pytest.raises(KeysUnavailable) as caught:
            await jwks.get_key("kid-a", "EdDSA")
        retry_afters.append(caught.value.retry_after)
        clock.advance(caught.value.retry_after)
        with pytest.raises(KeysUnavailable):
            await jwks.get_key("kid-a", "EdDSA")  # this one fetches, and fails again
    assert retry_afters == [1, 2, 4, 8]
    assert jwks.fetch_count == 5
    server.status = 200
    clock.advance(16)
    assert (await jwks.get_key("kid-a", "EdDSA")).kid == "kid-a"


async def test_v28_timeout_is_total_and_prompt(server: JWKSServer) -> None:
    server.delay = 5.0
    source = RemoteJWKS(server.url, timeout=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(KeysUnavailable):
            await source.get_key("kid-a", "EdDSA")
        elapsed = time.monotonic() - started
    finally:
        await source.aclose()
    # Well above the 0.5 s timeout for a loaded machine, well below what no timeout would take.
    assert 0.4 < elapsed < 3.0


async def test_a_slow_drip_cannot_outlast_the_total_timeout(server: JWKSServer) -> None:
    server.drip = 0.05  # each read is quick; the whole body would take several seconds
    source = RemoteJWKS(server.url, timeout=0.5)
    try:
        started = time.monotonic()
        await source.start()
        elapsed = time.monotonic() - started
    finally:
        await source.aclose()
    assert source.last_error == "no answer within 0.5 s"
    # Well above the 0.5 s timeout for a loaded machine, well below what no timeout would take.
    assert 0.4 < elapsed < 3.0


async def test_v28_endless_body_stops_at_the_cap_quickly(server: JWKSServer) -> None:
    server.endless = True
    source = RemoteJWKS(server.url, timeout=10, max_bytes=4096)
    try:
        started = time.monotonic()
        await source.start()
        elapsed = time.monotonic() - started
    finally:
        await source.aclose()
    assert source.last_error == "the answer is larger than 4096 bytes"
    assert elapsed < 5  # the cap stops it, not the 10 s timeout


async def test_a_document_just_under_the_cap_is_accepted(
    server: JWKSServer, key_a: IssuerKey
) -> None:
    document = {"keys": [key_a.jwk], "padding": ""}
    document["padding"] = "x" * (4096 - len(json.dumps(document)))
    server.document = document
    source = RemoteJWKS(server.url, max_bytes=4096)
    try:
        await source.start()
        assert source.last_error is None
        assert set(source.keys) == {"kid-a"}
    finally:
        await source.aclose()


async def test_v28_max_keys_is_configurable(server: JWKSServer) -> None:
    server.serve_keys(*(ed25519_key(f"k{i}") for i in range(3)))
    small = RemoteJWKS(server.url, max_keys=2)
    large = RemoteJWKS(server.url, max_keys=3)
    try:
        await small.start()
        await large.start()
    finally:
        await small.aclose()
        await large.aclose()
    assert small.last_error == "the JWK Set has more than 2 keys"
    assert len(large.keys) == 3


async def test_v28_redirects_are_not_followed_even_with_a_permissive_client(
    server: JWKSServer,
) -> None:
    server.status = 301
    server.redirect_to = "http://127.0.0.1:1/elsewhere"
    async with httpx.AsyncClient(follow_redirects=True) as client:
        source = RemoteJWKS(server.url, client=client)
        await source.start()
    assert source.last_error == "redirect (HTTP 301) refused"
    assert server.requests == 1


async def test_content_type_is_not_required(server: JWKSServer) -> None:
    server.headers = {"Content-Type": "text/plain"}
    source = RemoteJWKS(server.url)
    try:
        await source.start()
    finally:
        await source.aclose()
    assert set(source.keys) == {"kid-a"}


async def test_failure_logs_carry_no_body(
    server: JWKSServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.body = b'{"keys": [{"kty": "oct", "k": "TOP-SECRET-MATERIAL", "kid": "x"}'
    source = RemoteJWKS(server.url)
    with caplog.at_level(logging.DEBUG, logger="authbridge.keys"):
        await source.start()
    await source.aclose()
    assert "not a JSON object" in caplog.text
    assert "TOP-SECRET-MATERIAL" not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "http://auth.example.com/api/auth/jwks",
        "http://10.0.0.5/jwks",
        "http://127.0.0.1.evil.example/jwks",
        "http://localhost.evil.example/jwks",
        "ftp://127.0.0.1/jwks",
        "file:///etc/jwks.json",
        "/api/auth/jwks",
        "https://",
        "https://user:password@auth.example.com/jwks",
        "not a url at all",
    ],
)
def test_v28_bad_urls_are_config_errors_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RemoteJWKS(url, variable="MY_JWKS_URL")
    assert caught.value.variable == "MY_JWKS_URL"
    assert "MY_JWKS_URL" in str(caught.value)


def test_a_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        RemoteJWKS("https://admin:hunter2@auth.example.com/jwks")
    assert "hunter2" not in str(caught.value)
    assert "user name or password" in caught.value.problem


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/api/auth/jwks",
        "http://127.0.0.1:3000/api/auth/jwks",
        "http://127.8.9.10/jwks",
        "http://localhost:3000/api/auth/jwks",
        "http://LOCALHOST/jwks",
        "http://[::1]:3000/api/auth/jwks",
    ],
)
def test_https_and_loopback_http_urls_are_accepted(url: str) -> None:
    assert str(RemoteJWKS(url).url).lower() == url.lower()


@pytest.mark.parametrize("url", ["http://127.0.0.1/jwks", "http://localhost/jwks"])
def test_loopback_http_can_be_refused(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RemoteJWKS(url, allow_http_loopback=False)
    assert caught.value.variable == "AUTHBRIDGE_JWKS_URL"
    assert "https" in caught.value.fix


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_answers_are_decoded(
    server: JWKSServer, encoding: str, key_a: IssuerKey
) -> None:
    server.encoding = encoding
    source = RemoteJWKS(server.url)
    try:
        await source.start()
    finally:
        await source.aclose()
    assert source.last_error is None
    assert set(source.keys) == {"kid-a"}


async def test_a_compression_bomb_is_refused_at_the_cap(server: JWKSServer) -> None:
    server.body = b'{"keys": [], "pad": "' + b" " * 50_000_000 + b'"}'
    server.encoding = "gzip"  # about 50 KB on the wire, 50 MB once inflated
    source = RemoteJWKS(server.url)
    try:
        await source.start()
    finally:
        await source.aclose()
    assert source.last_error == "the answer is larger than 65536 bytes"


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip"])
async def test_other_encodings_are_refused(server: JWKSServer, encoding: str) -> None:
    server.encoding = encoding
    source = RemoteJWKS(server.url)
    try:
        await source.start()
    finally:
        await source.aclose()
    assert source.last_error == "unsupported content encoding"


def test_one_source_survives_across_event_loops(
    server: JWKSServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # e.g. a test suite or a server that runs several event loops in one process. The pooled
    # sockets of an ended loop can only be reclaimed by the garbage collector, which warns.
    with warnings.catch_warnings(), caplog.at_level(logging.DEBUG, logger="asyncio"):
        warnings.simplefilter("ignore", ResourceWarning)
        source = RemoteJWKS(server.url, clock=clock)
        asyncio.run(source.start())
        clock.advance(600)

        async def look_up_and_refresh() -> str:
            key = await source.get_key("kid-a", "EdDSA")
            assert await source.wait_for_fetch() is True
            return key.kid

        assert asyncio.run(look_up_and_refresh()) == "kid-a"
        assert source.last_fetch == clock.now
        clock.advance(600)
        # This loop ends, and cancels the background refresh it started, before it fetches.
        assert asyncio.run(source.get_key("kid-a", "EdDSA")).kid == "kid-a"
        assert asyncio.run(look_up_and_refresh()) == "kid-a"  # the next loop is unaffected
        asyncio.run(source.aclose())
        gc.collect()
    assert source.last_fetch == clock.now
    assert source.last_error is None
    assert server.requests == 3  # the cancelled refresh never reached the issuer
    # No "Task was destroyed but it is pending" and no lost exception from the refresh task.
    assert not [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]


async def test_https_fetch_with_a_trusted_certificate(key_a: IssuerKey) -> None:
    tls = TLSMaterial.create()
    with running_jwks_server([key_a], tls=tls) as server:
        assert server.url.startswith("https://")
        async with httpx.AsyncClient(verify=tls.client_context()) as client:
            source = RemoteJWKS(server.url, client=client, allow_http_loopback=False)
            await source.start()
            key = await source.get_key("kid-a", "EdDSA")
    assert key.kid == "kid-a"
    assert source.last_error is None


async def test_https_with_an_untrusted_certificate_is_a_failed_fetch(key_a: IssuerKey) -> None:
    with running_jwks_server([key_a], tls=TLSMaterial.create()) as server:
        source = RemoteJWKS(server.url)  # the default client verifies certificates
        try:
            await source.start()
            with pytest.raises(KeysUnavailable):
                await source.get_key("kid-a", "EdDSA")
        finally:
            await source.aclose()
    assert source.last_error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in source.last_error
    assert source.keys == {}
