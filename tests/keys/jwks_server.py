"""A real, controllable JWKS HTTP server on 127.0.0.1 for tests, plus key helpers.

It runs ``http.server`` in a background thread, so its delays never block the event loop
of the test that talks to it. Tests change its behaviour by setting attributes:

* ``document`` (served as JSON), or ``body`` (raw bytes, served instead);
* ``status``, ``headers`` (extra response headers, e.g. ``Cache-Control``), ``redirect_to``;
* ``delay`` (seconds before answering), ``drip`` (seconds between body bytes);
* ``endless`` (stream an unbounded body with no ``Content-Length``);
* ``encoding`` (``"gzip"`` or ``"deflate"`` compress the body; any other value is only
  announced in ``Content-Encoding``);
* ``requests`` counts the requests that reached it.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from authbridge.jose.b64 import b64url_encode

__all__ = ["IssuerKey", "JWKSServer", "ec_p256_key", "ed25519_key", "running_jwks_server"]


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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real issuers do

    def setup(self) -> None:
        super().setup()
        with self.server.owner.lock:
            self.server.owner.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.owner.lock:
            self.server.owner.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.requests += 1
            owner.paths.append(self.path)
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


class JWKSServer:
    """See the module docstring. Use ``running_jwks_server()`` or ``start``/``stop``."""

    path = "/api/auth/jwks"

    def __init__(self, keys: list[IssuerKey] | None = None) -> None:
        self.lock = threading.Lock()
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
        self.connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

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
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)  # port 0: the OS picks a free port
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
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
def running_jwks_server(keys: list[IssuerKey] | None = None) -> Iterator[JWKSServer]:
    server = JWKSServer(keys)
    server.start()
    try:
        yield server
    finally:
        server.stop()
