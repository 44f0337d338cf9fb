"""Test helpers for apps that use authbridge: a fake Better Auth issuer and user overrides.

``FakeIssuer`` mints tokens shaped exactly like Better Auth's JWT plugin (header
``{alg, kid}`` only; ``iss`` = ``aud`` = the base URL origin; the whole user object plus
``sub``, ``iat`` and ``exp = iat + 900``), serves its JWKS as a ``KeySource`` or over real HTTP
on 127.0.0.1, and rotates keys. Keys exist for EdDSA (the default), ES256, ES512, PS256 and
RS256, plus an HS256 shared secret; each is generated on first use.

Use the fixtures with ``pytest_plugins = ["authbridge.testing"]``:
``fake_issuer`` (a ``FakeIssuer``) and ``fake_issuer_server`` (the same, serving its JWKS).
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .errors import UnknownKey
from .jose.b64 import b64url_encode
from .jose.sign import sign_compact
from .keys.jwk import VerificationKey
from .keys.secret import SharedSecret
from .keys.source import KeysRemovedListener
from .keys.static import StaticJWKS
from .principal import Principal
from .verifier import TrustedIssuer, Verifier

if TYPE_CHECKING:
    from .revocation import RevocationList
    from .sessions.verifier import SessionVerifier

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "FakeIssuer",
    "FakeJWKS",
    "JWKSServer",
    "override_user",
]

ASYMMETRIC_ALGORITHMS: Final = ("EdDSA", "ES256", "ES512", "PS256", "RS256")
JWKS_PATH: Final = "/api/auth/jwks"
_ID_ALPHABET: Final = string.ascii_letters + string.digits


def better_auth_id(length: int = 32) -> str:
    """An id like Better Auth's ``generateId``: alphanumeric characters."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _int_bytes(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(length, "big"))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One private key of the fake issuer and its public JWK (Better Auth's shape)."""

    kid: str
    alg: str
    private: Any = field(repr=False)
    public_jwk: Mapping[str, Any]


def _new_key(alg: str) -> SigningKey:
    kid = better_auth_id()
    if alg == "EdDSA":
        ed_key = ed25519.Ed25519PrivateKey.generate()
        raw = ed_key.public_key().public_bytes_raw()
        jwk = {"alg": alg, "crv": "Ed25519", "x": b64url_encode(raw), "kty": "OKP"}
        return SigningKey(kid, alg, ed_key, {**jwk, "kid": kid})
    if alg in ("ES256", "ES384", "ES512"):
        curve, crv, size = {
            "ES256": (ec.SECP256R1(), "P-256", 32),
            "ES384": (ec.SECP384R1(), "P-384", 48),
            "ES512": (ec.SECP521R1(), "P-521", 66),
        }[alg]
        ec_key = ec.generate_private_key(curve)
        numbers = ec_key.public_key().public_numbers()
        jwk = {
            "alg": alg,
            "crv": crv,
            "x": _int_bytes(numbers.x, size),
            "y": _int_bytes(numbers.y, size),
            "kty": "EC",
        }
        return SigningKey(kid, alg, ec_key, {**jwk, "kid": kid})
    if alg in ("RS256", "PS256", "RS384", "RS512", "PS384", "PS512"):
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = rsa_key.public_key().public_numbers()
        jwk = {"alg": alg, "n": _int_bytes(pub.n), "e": _int_bytes(pub.e), "kty": "RSA"}
        return SigningKey(kid, alg, rsa_key, {**jwk, "kid": kid})
    raise ValueError(f"FakeIssuer cannot make {alg} keys")


def _iso(moment: float) -> str:
    """JavaScript's ``Date.toISOString()`` format, as Better Auth serializes dates."""
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class FakeJWKS:
    """A ``KeySource`` over the issuer's current JWKS; sees rotations at once."""

    symmetric = False

    def __init__(self, issuer: FakeIssuer) -> None:
        self._issuer = issuer
        self._listeners: list[KeysRemovedListener] = []
        self._static = StaticJWKS(issuer.jwks())
        issuer._sources.append(self)

    @property
    def keys(self) -> dict[str, VerificationKey]:
        return self._static.keys

    def reload(self, removed: frozenset[str]) -> None:
        self._static = StaticJWKS(self._issuer.jwks())
        if removed:
            for listener in self._listeners:
                listener(removed)

    def cached_key(self, kid: str | None, alg: str) -> VerificationKey | None:
        return self._static.cached_key(kid, alg)

    async def get_key(self, kid: str | None, alg: str) -> VerificationKey:
        key = self.cached_key(kid, alg)
        if key is None:
            raise UnknownKey()
        return key

    def on_keys_removed(self, listener: KeysRemovedListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class FakeIssuer:
    """A stand-in for a Better Auth server with the JWT plugin.

    ``base_url`` is Better Auth's ``baseURL``; its origin becomes ``iss`` and ``aud``. Pass
    ``base_url=None`` to use the JWKS server's own origin (call ``start_server`` first).
    """

    def __init__(
        self,
        base_url: str | None = "https://auth.example.test",
        *,
        alg: str = "EdDSA",
        secret: str | None = None,
        expires_in: int = 900,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base_url = _origin(base_url) if base_url is not None else None
        self.alg = alg
        self.secret = secret or secrets.token_urlsafe(48)
        self.expires_in = expires_in
        self.clock = clock
        self._current: dict[str, SigningKey] = {}
        self._published: dict[str, SigningKey] = {}  # kid -> key, in the JWKS
        self._sources: list[FakeJWKS] = []
        self.server: JWKSServer | None = None
        self.user: dict[str, Any] = self.make_user()

    # --- identity ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeIssuer(base_url=None) needs start_server() first")
        return self._base_url

    @property
    def issuer(self) -> str:
        return self.base_url

    def make_user(self, **fields: Any) -> dict[str, Any]:
        """A Better Auth user object; ``fields`` override or extend it."""
        user_id = fields.pop("id", None) or better_auth_id()
        now = _iso(self.clock())
        user: dict[str, Any] = {
            "id": user_id,
            "name": "Test User",
            "email": f"user-{user_id[:8].lower()}@example.com",
            "emailVerified": True,
            "image": None,
            "createdAt": now,
            "updatedAt": now,
        }
        user.update(fields)
        return user

    # --- keys ----------------------------------------------------------------------------

    def signing_key(self, alg: str | None = None) -> SigningKey:
        """The current key for ``alg`` (made on first use)."""
        name = alg or self.alg
        key = self._current.get(name)
        if key is None:
            key = self._current[name] = _new_key(name)
            self._published[key.kid] = key
            self._changed(frozenset())
        return key

    def rotate(self, alg: str | None = None, *, keep_old: bool = True) -> str:
        """Make a new current key for ``alg`` and return its kid.

        With ``keep_old`` the old key stays in the JWKS (Better Auth's grace period);
        without it, tokens it signed stop verifying.
        """
        name = alg or self.alg
        old = self._current.pop(name, None)
        removed: frozenset[str] = frozenset()
        if old is not None and not keep_old:
            del self._published[old.kid]
            removed = frozenset({old.kid})
        key = self._current[name] = _new_key(name)
        self._published[key.kid] = key
        self._changed(removed)
        return key.kid

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set, as Better Auth's ``/api/auth/jwks`` serves it."""
        if not self._published:
            self.signing_key()
        return {"keys": [dict(key.public_jwk) for key in self._published.values()]}

    def _changed(self, removed: frozenset[str]) -> None:
        for source in self._sources:
            source.reload(removed)

    def key_source(self) -> FakeJWKS:
        """An in-memory ``KeySource`` (like ``StaticJWKS``) that follows rotations."""
        self.signing_key()  # publish the default algorithm's key up front
        return FakeJWKS(self)

    def shared_secret(self, **options: Any) -> SharedSecret:
        return SharedSecret(self.secret, **options)

    def trusted_issuer(self, **options: Any) -> TrustedIssuer:
        """The JWKS path for this issuer, for ``Verifier(issuer.trusted_issuer(), ...)``."""
        options.setdefault("audience", self.base_url)
        return TrustedIssuer.create(self.key_source(), issuer=self.base_url, **options)

    def verifier(
        self,
        *,
        revocations: RevocationList | None = None,
        sessions: SessionVerifier | None = None,
        **path_options: Any,
    ) -> Verifier:
        """A ``Verifier`` trusting this issuer's JWKS (in memory).

        ``sessions`` also accepts Better Auth session credentials; ``path_options`` go to
        ``TrustedIssuer.create`` (``required_claims=``, ``leeway=``…).
        """
        return Verifier(
            self.trusted_issuer(**path_options), revocations=revocations, sessions=sessions
        )

    # --- tokens --------------------------------------------------------------------------

    def claims(
        self,
        user: Mapping[str, Any] | None = None,
        *,
        now: float | None = None,
        expires_in: int | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """The claims Better Auth would sign; ``overrides`` replace or add claims.

        An override set to ``None`` removes that claim (to test missing claims).
        """
        person = dict(user if user is not None else self.user)
        issued = int(self.clock() if now is None else now)
        claims: dict[str, Any] = {
            **person,
            "iat": issued,
            "exp": issued + (self.expires_in if expires_in is None else expires_in),
            "iss": self.base_url,
            "aud": self.base_url,
            "sub": person.get("id"),
        }
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def token(
        self,
        user: Mapping[str, Any] | None = None,
        *,
        alg: str | None = None,
        header: Mapping[str, Any] | None = None,
        now: float | None = None,
        expires_in: int | None = None,
        **overrides: Any,
    ) -> str:
        """A signed token. ``alg="HS256"`` signs with ``secret``; others with the current key.

        ``header`` adds to (or, with a ``kid``, replaces parts of) the ``{alg, kid}`` header.
        """
        claims = self.claims(user, now=now, expires_in=expires_in, **overrides)
        name = alg or self.alg
        if name.startswith("HS"):
            return sign_compact(claims, self.secret.encode(), name, header=header)
        key = self.signing_key(name)
        return sign_compact(claims, key.private, name, kid=key.kid, header=header)

    def principal(self, user: Mapping[str, Any] | None = None, **fields: Any) -> Principal:
        """A ``Principal`` as the verifier would build it for ``user`` (for overrides)."""
        person = dict(user if user is not None else self.user)
        values: dict[str, Any] = {
            "sub": person["id"],
            "issuer": self.base_url,
            "email": person.get("email"),
            "name": person.get("name"),
            "email_verified": person.get("emailVerified"),
            "image": person.get("image"),
            "audience": (self.base_url,),
        }
        values.update(fields)
        return Principal(**values)

    # --- HTTP ----------------------------------------------------------------------------

    def start_server(self) -> str:
        """Serve the JWKS on ``http://127.0.0.1:<port>/api/auth/jwks``; return that URL."""
        if self.server is None:
            self.server = JWKSServer(self.jwks)
            self.server.start()
            if self._base_url is None:
                self._base_url = self.server.origin
                self.user = self.make_user(id=self.user["id"])
        return self.server.jwks_url

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @property
    def jwks_url(self) -> str:
        if self.server is None:
            raise RuntimeError("call start_server() first")
        return self.server.jwks_url

    @contextmanager
    def serving(self) -> Iterator[str]:
        """``with issuer.serving() as jwks_url:`` runs the JWKS server for the block."""
        url = self.start_server()
        try:
            yield url
        finally:
            self.stop_server()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError("base_url must be an absolute URL")
    return f"{parts.scheme}://{parts.netloc}"


class JWKSServer:
    """A tiny threaded HTTP server for a JWKS on 127.0.0.1 (for ``RemoteJWKS`` tests).

    ``status`` can be set to make it fail (e.g. 503) and ``requests`` counts JWKS fetches.
    """

    def __init__(self, document: Callable[[], Mapping[str, Any]]) -> None:
        self.document = document
        self.status = 200
        self.requests = 0
        self.extra_headers: dict[str, str] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != JWKS_PATH:
                    self._reply(404, b'{"message":"Not Found"}')
                    return
                server.requests += 1
                if server.status != 200:
                    self._reply(server.status, b'{"message":"unavailable"}')
                    return
                self._reply(200, json.dumps(server.document()).encode())

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in server.extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read the audit log, not the server's."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def jwks_url(self) -> str:
        return self.origin + JWKS_PATH

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


@contextmanager
def override_user(app: Any, principal: Principal | None) -> Iterator[None]:
    """Make every authbridge dependency of ``app`` yield ``principal`` inside the block.

    Scope and role guards still check ``principal``; ``None`` means "no credentials" (401).
    """
    from .fastapi.dependencies import principal_overrides

    bridge = getattr(app.state, "authbridge", None)
    realm = getattr(bridge, "realm", "authbridge")
    replacements = principal_overrides(principal, realm)
    saved = {dep: app.dependency_overrides.get(dep) for dep in replacements}
    app.dependency_overrides.update(replacements)
    try:
        yield
    finally:
        for dep, previous in saved.items():
            if previous is None:
                app.dependency_overrides.pop(dep, None)
            else:
                app.dependency_overrides[dep] = previous


# --- pytest plugin ------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - the fixtures need pytest; the helpers don't
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def fake_issuer() -> FakeIssuer:
        """A fresh ``FakeIssuer`` (EdDSA by default), base URL ``https://auth.example.test``."""
        return FakeIssuer()

    @pytest.fixture
    def fake_issuer_server() -> Iterator[FakeIssuer]:
        """A ``FakeIssuer`` whose base URL is its own running JWKS server on 127.0.0.1."""
        issuer = FakeIssuer(base_url=None)
        with issuer.serving():
            yield issuer
