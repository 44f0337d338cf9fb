"""No blocking call on the event loop: remote key fetches and ``Verifier.verify``.

``blockbuster`` patches blocking primitives (sleep, socket and file I/O, ...) to raise
``BlockingError`` when they are called from a thread that runs an event loop. The JWKS
server answers from its own thread, so only our client side is judged.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest
from blockbuster import BlockBuster, BlockBusterFunction, BlockingError, blockbuster_ctx

from authbridge.errors import InvalidSignature, KeysUnavailable, UnknownKey
from authbridge.keys.remote import RemoteJWKS
from authbridge.verifier import TrustedIssuer, Verifier
from keys.jwks_server import JWKSServer, TLSMaterial, running_jwks_server
from tokens import AUDIENCE, ISSUER, USER_ID, ba_claims, ed25519_key, jwks

# Loading CA certificates reads files from C code, which blockbuster does not see by default;
# httpx does it whenever a client is created (about 0.1 s).
_CERTIFICATE_LOADERS = ("load_verify_locations", "load_default_certs", "set_default_verify_paths")


@pytest.fixture
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx() as detector:
        for name in _CERTIFICATE_LOADERS:
            watched = BlockBusterFunction(ssl.SSLContext, name)
            detector.functions[f"ssl.SSLContext.{name}"] = watched.activate()
        yield detector


@pytest.fixture
def server() -> Iterator[JWKSServer]:
    with running_jwks_server() as running:
        yield running


async def test_the_detector_is_armed(blockbuster: BlockBuster) -> None:
    # Without this, every other test here would pass vacuously.
    with pytest.raises(BlockingError):
        time.sleep(0.001)


async def test_the_detector_catches_blocking_socket_io(
    server: JWKSServer, blockbuster: BlockBuster
) -> None:
    # A blocking socket call on the loop is exactly the mistake these tests exist to catch.
    with socket.socket() as sock, pytest.raises(BlockingError):
        sock.connect(("127.0.0.1", server.port))


async def test_the_detector_catches_certificate_loading(blockbuster: BlockBuster) -> None:
    with pytest.raises(BlockingError):
        ssl.create_default_context()


async def test_remote_fetch_paths_never_block(server: JWKSServer, blockbuster: BlockBuster) -> None:
    first, second = ed25519_key("kid-1"), ed25519_key("kid-2")
    server.document = jwks(first)
    source = RemoteJWKS(server.url, ttl=60, min_ttl=1, cooldown=0.2, timeout=0.5)
    try:
        await source.start()  # creates the HTTP client inside the loop, then fetches
        assert (await source.get_key("kid-1", "EdDSA")).kid == "kid-1"

        server.document = jwks(first, second)  # rotation: refetch on the unknown kid
        assert (await source.get_key("kid-2", "EdDSA")).kid == "kid-2"

        await asyncio.sleep(0.25)  # past the cooldown: 50 concurrent misses, one request
        before = server.requests
        server.delay = 0.1
        results = await asyncio.gather(
            *(source.get_key("kid-3", "EdDSA") for _ in range(50)), return_exceptions=True
        )
        assert all(isinstance(result, UnknownKey) for result in results)
        assert server.requests == before + 1

        server.delay = 2.0  # an outage by timeout: stale keys are still served
        assert await source.refresh(reason="test") is False
        assert source.last_error == "no answer within 0.5 s"
        assert (await source.get_key("kid-1", "EdDSA")).kid == "kid-1"

        server.delay, server.status = 0.0, 500
        assert await source.refresh(reason="test") is False
        assert source.last_error == "HTTP 500"

        server.status, server.endless = 200, True  # the size cap while streaming
        assert await source.refresh(reason="test") is False
        assert source.last_error is not None
        assert "larger than" in source.last_error
    finally:
        await source.aclose()


async def test_background_refresh_never_blocks(
    server: JWKSServer, blockbuster: BlockBuster
) -> None:
    server.document = jwks(ed25519_key("kid-1"))
    server.headers = {"Cache-Control": "max-age=1"}
    source = RemoteJWKS(server.url, min_ttl=1, timeout=0.5)
    try:
        await source.start()
        await asyncio.sleep(1.05)  # past max-age: lookups start a refresh in the background
        assert (await source.get_key("kid-1", "EdDSA")).kid == "kid-1"
        # A blocking call inside it would surface here as a failed fetch ("unexpected ...").
        assert await source.wait_for_fetch() is True
        assert server.requests == 2
    finally:
        await source.aclose()


async def test_no_keys_path_never_blocks(server: JWKSServer, blockbuster: BlockBuster) -> None:
    server.status = 503
    source = RemoteJWKS(server.url, timeout=0.5)
    try:
        await source.start()
        with pytest.raises(KeysUnavailable):
            await source.get_key("kid-1", "EdDSA")
    finally:
        await source.aclose()


async def test_verifier_verify_never_blocks(server: JWKSServer, blockbuster: BlockBuster) -> None:
    signer, other = ed25519_key("kid-1"), ed25519_key("kid-2")
    server.document = jwks(signer)
    verifier = Verifier(
        TrustedIssuer.create(RemoteJWKS(server.url), issuer=ISSUER, audience=AUDIENCE)
    )
    try:
        now = time.time()
        token = signer.sign(ba_claims(now))
        principal = await verifier.verify(token)  # cold: fetches the JWKS lazily
        assert principal.sub == USER_ID
        assert (await verifier.verify(token)).sub == USER_ID  # the verified-token cache

        fresh = signer.sign(ba_claims(now, name="Grace"))
        assert (await verifier.verify(fresh)).sub == USER_ID  # warm keys, new token

        server.document = jwks(signer, other)  # rotation seen through the verifier
        assert (await verifier.verify(other.sign(ba_claims(now)))).sub == USER_ID

        forged = other.sign(ba_claims(now)).rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]
        with pytest.raises(InvalidSignature):
            await verifier.verify(forged)
        with pytest.raises(UnknownKey):
            await verifier.verify(ed25519_key("kid-x").sign(ba_claims(now)))
    finally:
        await verifier.aclose()


async def test_verifier_start_never_blocks(server: JWKSServer, blockbuster: BlockBuster) -> None:
    signer = ed25519_key("kid-1")
    server.document = jwks(signer)
    async with Verifier(
        TrustedIssuer.create(RemoteJWKS(server.url), issuer=ISSUER, audience=AUDIENCE)
    ) as verifier:
        assert (await verifier.verify(signer.sign(ba_claims(time.time())))).sub == USER_ID
    assert server.requests == 1


@pytest.fixture
def tls() -> TLSMaterial:
    return TLSMaterial.create()  # writes temporary files: done before the detector is armed


@pytest.fixture
def trusting(tls: TLSMaterial) -> ssl.SSLContext:
    return tls.client_context()


@pytest.fixture
def tls_server(tls: TLSMaterial) -> Iterator[JWKSServer]:
    with running_jwks_server(tls=tls) as running:
        yield running


async def test_https_fetch_never_blocks(
    trusting: ssl.SSLContext, tls_server: JWKSServer, blockbuster: BlockBuster
) -> None:
    signer = ed25519_key("kid-1")
    tls_server.document = jwks(signer)
    async with httpx.AsyncClient(verify=trusting) as client:
        source = RemoteJWKS(tls_server.url, client=client, allow_http_loopback=False)
        await source.start()  # TCP connect and TLS handshake on the loop
        assert (await source.get_key("kid-1", "EdDSA")).kid == "kid-1"
        assert source.last_error is None
