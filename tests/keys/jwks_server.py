"""A real, controllable JWKS HTTP server on 127.0.0.1 for tests, plus key helpers.

It runs ``http.server`` in a background thread, so its delays never block the event loop
of the test that talks to it. Tests change its behaviour by setting attributes:

* ``document`` (served as JSON), or ``body`` (raw bytes, served instead);
* ``status``, ``headers`` (extra response headers, e.g. ``Cache-Control``), ``redirect_to``;
* ``delay`` (seconds before answering), ``drip`` (seconds between body bytes);
* ``hang()`` holds every request from then on without an answer, until ``recover()`` (or
  ``stop()``) lets them go;
* ``endless`` (stream an unbounded body with no ``Content-Length``);
* ``encoding`` (``"gzip"`` or ``"deflate"`` compress the body; any other value is only
  announced in ``Content-Encoding``);
* ``requests`` counts the requests that reached it.

``tls=TLSMaterial.create()`` serves HTTPS with a fresh self-signed certificate for 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from authbridge.jose.b64 import b64url_encode

__all__ = [
    "IssuerKey",
    "JWKSServer",
    "TLSMaterial",
    "ec_p256_key",
    "ed25519_key",
    "running_jwks_server",
]


@dataclass(frozen=True)
class IssuerKey:
    """A signing key and the public JWK that announces it."""

    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any]


def ed25519_key(kid: str) -> IssuerKey:
    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes_raw()
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw), "kid": kid, "alg": "EdDSA"}
    return IssuerKey(kid, "EdDSA", private, jwk)


def ec_p256_key(kid: str) -> IssuerKey:
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        "kid": kid,
        "alg": "ES256",
    }
    return IssuerKey(kid, "ES256", private, jwk)


@dataclass(frozen=True)
class TLSMaterial:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM."""

    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def create(cls) -> TLSMaterial:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authbridge test issuer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as folder:  # load_cert_chain reads files only
            cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            context.load_cert_chain(cert, key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts this certificate only."""
        return ssl.create_default_context(cadata=self.cert_pem.decode())


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real issuers do
    disable_nagle_algorithm = True  # headers and body go out separately: no 40 ms stalls

    def setup(self) -> None:
        context = self.server.owner.tls_context
        if context is not None:  # the handshake happens here, in this connection's thread
            self.request = context.wrap_socket(self.request, server_side=True)
        super().setup()
        with self.server.owner.lock:
            self.server.owner.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.owner.lock:
            self.server.owner.connections.discard(self.connection)
        super().finish()
        if self.server.owner.tls_context is not None:
            self.request.close()  # the server only closes the plain socket it accepted

    def do_GET(self) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.requests += 1
            owner.paths.append(self.path)
        owner.answering.wait()  # set unless the server hangs
        with owner.lock:
            delay, drip, endless, encoding = owner.delay, owner.drip, owner.endless, owner.encoding
            status, headers, redirect_to = owner.status, dict(owner.headers), owner.redirect_to
            body = owner.body if owner.body is not None else json.dumps(owner.document).encode()
        if self.path != owner.path and redirect_to is None:
            status, body = 404, b'{"error":"not found"}'
        if encoding == "gzip":
            body = gzip.compress(body)
        elif encoding == "deflate":
            body = zlib.compress(body)
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        try:
            if delay:
                time.sleep(delay)
            self.send_response(status)
            if redirect_to is not None:
                self.send_header("Location", redirect_to)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            if endless:
                self.send_header("Connection", "close")  # the body ends when it closes
                self.close_connection = True
                self.end_headers()
                chunk = b" " * 16384
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    self.wfile.write(chunk)
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if drip:
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(drip)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up, as it should when it stops reading

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: JWKSServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that refuses the TLS certificate is an expected outcome."""


class JWKSServer:
    """See the module docstring. Use ``running_jwks_server()`` or ``start``/``stop``."""

    path = "/api/auth/jwks"

    def __init__(
        self, keys: list[IssuerKey] | None = None, *, tls: TLSMaterial | None = None
    ) -> None:
        self.lock = threading.Lock()
        self.tls = tls
        self.tls_context = tls.server_context() if tls is not None else None
        self.document: Any = {"keys": [k.jwk for k in keys or []]}
        self.body: bytes | None = None
        self.status = 200
        self.headers: dict[str, str] = {}
        self.redirect_to: str | None = None
        self.delay = 0.0
        self.drip = 0.0
        self.endless = False
        self.encoding: str | None = None
        self.requests = 0
        self.paths: list[str] = []
        self.answering = threading.Event()
        self.answering.set()
        self.connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def hang(self) -> None:
        self.answering.clear()

    def recover(self) -> None:
        self.answering.set()

    def serve_keys(self, *keys: IssuerKey) -> None:
        with self.lock:
            self.document = {"keys": [k.jwk for k in keys]}
            self.body = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not running"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.path}"

    def start(self) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)  # port 0: the OS picks a free port
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.answering.set()  # held requests end: answered, to a client that left long ago
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self.lock:
            open_connections = list(self.connections)
        for connection in open_connections:  # kept-alive connections die with the server
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextmanager
def running_jwks_server(
    keys: list[IssuerKey] | None = None, *, tls: TLSMaterial | None = None
) -> Iterator[JWKSServer]:
    server = JWKSServer(keys, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class FakeClock:
    """A monotonic clock the test moves by hand, so no test sleeps through a TTL."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
