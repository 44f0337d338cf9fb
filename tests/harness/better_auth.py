"""Drive a real Better Auth server (``interop/better-auth/server.mjs``) from Python tests.

``BetterAuthServer`` starts one Node process on a free 127.0.0.1 port with its own temporary
SQLite file (or its own PostgreSQL schema), waits until it answers, and kills its process
group on ``stop()``. Its helpers sign users up and in and fetch the credentials Better Auth
hands out: the raw and signed session token, the session cookie, ``/token`` JWTs, the
``set-auth-jwt`` header and the JWKS.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import httpx

from .node_install import INTEROP_DIR, ensure_installed, node_executable
from .processes import die_with_parent

__all__ = [
    "BAApiKey",
    "BAUser",
    "BetterAuthError",
    "BetterAuthServer",
    "ServerPool",
    "ensure_installed",
]

EnvValue = str | int | bool
DEFAULT_PASSWORD = "correct-horse-battery-staple"
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 5.0
_START_ATTEMPTS = 3
# Variables server.mjs reads. The developer's or CI's own values (PORT is common) must not
# leak into a test server: only what the test passes counts.
_SERVER_VARIABLES = frozenset(
    {
        "PORT",
        "DB_PATH",
        "DATABASE_URL",
        "DB_SCHEMA",
        "DB_DROP_SCHEMA_ON_EXIT",
        "AUTH_SECRET",
        "NODE_ENV",
        "HARNESS_ADMIN",
        "TRUSTED_ORIGINS",
        "SESSION_EXPIRES_IN",
        "USE_SECURE_COOKIES",
        "BEARER_REQUIRE_SIGNATURE",
        "USER_ADDITIONAL_FIELDS",
    }
)
_SERVER_PREFIXES = ("BETTER_AUTH", "JWT_", "JWKS_", "COOKIE_", "APIKEY")


class BetterAuthError(RuntimeError):
    """The Better Auth server failed to start or answered a helper call unexpectedly."""


@dataclass(frozen=True, slots=True)
class BAUser:
    """One signed-in Better Auth session, with every form of its credential."""

    id: str
    email: str
    password: str
    name: str
    session_token: str  # raw 32-char token from the JSON body (unsigned)
    signed_token: str  # `set-auth-token` header: "<token>.<base64 HMAC>", not URL-encoded
    cookie_name: str  # e.g. "better-auth.session_token" or "__Secure-x.session_token"
    cookie_value: str  # the session cookie's value exactly as sent (URL-encoded)
    set_cookie: tuple[str, ...]  # every raw Set-Cookie header of the sign-up/in response
    cookies: Mapping[str, str] = field(default_factory=dict)  # name -> raw value, all cookies
    user: Mapping[str, Any] = field(default_factory=dict)  # the JSON `user` object

    @property
    def cookie_header(self) -> str:
        """A ``Cookie`` header value carrying every cookie the server set."""
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.signed_token}"}


@dataclass(frozen=True, slots=True)
class BAApiKey:
    """One API key made by ``@better-auth/api-key`` (server ``APIKEY=1``)."""

    id: str
    user_id: str
    key: str = field(repr=False)  # the plain key, shown once at creation


def _stringify(value: EnvValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _parse_set_cookies(headers: list[str]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for header in headers:
        pair = header.split(";", 1)[0]
        name, _, value = pair.partition("=")
        cookies[name.strip()] = value.strip()
    return cookies


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<unreadable>"


class BetterAuthServer:
    """One running Better Auth server, configured only by environment variables."""

    def __init__(self, *, start_timeout: float = _START_TIMEOUT_S) -> None:
        self.start_timeout = start_timeout
        self.env: dict[str, str] = {}
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._client: httpx.Client | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self, **env: EnvValue) -> Self:
        """Start with these env vars on top of the harness defaults; wait until ready."""
        if self._process is not None:
            raise BetterAuthError("server already started")
        ensure_installed()
        self._workdir = Path(tempfile.mkdtemp(prefix="authbridge-ba-"))
        last_error: BetterAuthError | None = None
        for _ in range(_START_ATTEMPTS):
            try:
                self._launch({key: _stringify(value) for key, value in env.items()})
                return self
            except BetterAuthError as error:
                last_error = error
                self._kill()
                if "EADDRINUSE" not in str(error):
                    break
        self._cleanup_workdir()
        assert last_error is not None
        raise last_error

    def _build_env(self, overrides: dict[str, str]) -> dict[str, str]:
        assert self._workdir is not None
        port = int(overrides.get("PORT") or _free_port())
        env = {
            "PORT": str(port),
            "BETTER_AUTH_URL": f"http://127.0.0.1:{port}",
            "HARNESS_ADMIN": "1",
            "BETTER_AUTH_TELEMETRY": "0",
        }
        if "BETTER_AUTH_SECRETS" not in overrides:
            env["BETTER_AUTH_SECRET"] = secrets.token_urlsafe(48)
        if "DATABASE_URL" in overrides:
            # One schema per server; the server drops it again on SIGTERM.
            env["DB_SCHEMA"] = f"ba_{uuid.uuid4().hex[:16]}"
            env["DB_DROP_SCHEMA_ON_EXIT"] = "1"
        else:
            env["DB_PATH"] = str(self._workdir / "auth.db")
        env.update(overrides)
        return env

    def _launch(self, overrides: dict[str, str]) -> None:
        assert self._workdir is not None
        self.env = self._build_env(overrides)
        self.port = int(self.env["PORT"])
        base = {
            name: value
            for name, value in os.environ.items()
            if name not in _SERVER_VARIABLES and not name.startswith(_SERVER_PREFIXES)
        }
        stdout_path = self._workdir / "stdout.log"
        stderr_path = self._workdir / "stderr.log"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            self._process = subprocess.Popen(
                [node_executable(), "server.mjs"],
                cwd=INTEROP_DIR,
                env={**base, **self.env},
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group, so stop() can kill it all
                preexec_fn=die_with_parent(),
            )
        self._wait_ready(stdout_path, stderr_path)

    def _wait_ready(self, stdout_path: Path, stderr_path: Path) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        expected = f"READY {self.port}"
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise BetterAuthError(
                    f"Better Auth server exited with {code} before it was ready.\n"
                    f"stderr:\n{_tail(stderr_path)}"
                )
            if expected in _tail(stdout_path) and self._probe():
                return
            time.sleep(0.05)
        raise BetterAuthError(
            f"Better Auth server not ready after {self.start_timeout:.0f}s.\n"
            f"stdout:\n{_tail(stdout_path)}\nstderr:\n{_tail(stderr_path)}"
        )

    def _probe(self) -> bool:
        try:
            return self.client.get("/api/auth/ok", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Kill the server's process group and remove its temporary files."""
        self._kill()
        self._cleanup_workdir()

    def _kill(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=_STOP_TIMEOUT_S)

    def _cleanup_workdir(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def process_id(self) -> int:
        """The node process's pid (it leads its own process group)."""
        assert self._process is not None, "the server is not started"
        return self._process.pid

    @property
    def stderr(self) -> str:
        """The server's stderr so far (for debugging a failing test)."""
        return "" if self._workdir is None else _tail(self._workdir / "stderr.log", 20000)

    # ---- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where the server listens, e.g. ``http://127.0.0.1:41234``."""
        if self.port is None:
            raise BetterAuthError("server not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The configured ``baseURL`` (``BETTER_AUTH_URL``)."""
        return self.env.get("BETTER_AUTH_URL", self.url)

    @property
    def origin(self) -> str:
        """The origin of ``baseURL``: Better Auth's default JWT ``iss`` and ``aud``."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/api/auth/jwks"

    @property
    def secret(self) -> str:
        """The current signing secret (the first entry of ``BETTER_AUTH_SECRETS`` if set)."""
        versioned = self.env.get("BETTER_AUTH_SECRETS")
        if versioned:
            return versioned.split(",", 1)[0].split(":", 1)[1]
        return self.env["BETTER_AUTH_SECRET"]

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            # Stateless on purpose: every helper call names its credential explicitly. (A
            # remembered cookie would also make Better Auth demand an Origin header.)
            no_cookies = http.cookiejar.CookieJar(
                policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
            )
            # trust_env=False: a proxy from the environment must never see 127.0.0.1 traffic.
            self._client = httpx.Client(
                base_url=self.url, timeout=15.0, trust_env=False, cookies=no_cookies
            )
        return self._client

    # ---- Better Auth endpoints ----------------------------------------------------------------

    def _expect(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code != 200:
            # The body is Better Auth's own error JSON; it carries no credential material.
            raise BetterAuthError(f"{what} answered {response.status_code}: {response.text[:300]}")
        return response

    def _user_from(self, response: httpx.Response, password: str) -> BAUser:
        body = response.json()
        set_cookie = response.headers.get_list("set-cookie")
        cookies = _parse_set_cookies(set_cookie)
        names = [name for name in cookies if name.endswith("session_token")]
        if len(names) != 1:
            raise BetterAuthError(f"expected one session_token cookie, got {sorted(cookies)}")
        cookie_name = names[0]
        signed = response.headers.get("set-auth-token")
        if signed is None:
            raise BetterAuthError("response has no set-auth-token header")
        user = body["user"]
        return BAUser(
            id=user["id"],
            email=user["email"],
            password=password,
            name=user["name"],
            session_token=body["token"],
            signed_token=signed,
            cookie_name=cookie_name,
            cookie_value=cookies[cookie_name],
            set_cookie=tuple(set_cookie),
            cookies=cookies,
            user=user,
        )

    def sign_up(
        self,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        name: str = "Test User",
    ) -> BAUser:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
        response = self.client.post(
            "/api/auth/sign-up/email", json={"email": email, "password": password, "name": name}
        )
        return self._user_from(self._expect(response, "sign-up"), password)

    def sign_in(self, email: str, password: str = DEFAULT_PASSWORD) -> BAUser:
        """A new session for an existing user."""
        response = self.client.post(
            "/api/auth/sign-in/email", json={"email": email, "password": password}
        )
        return self._user_from(self._expect(response, "sign-in"), password)

    def get_jwt(self, user: BAUser) -> str:
        """A JWT from ``GET /api/auth/token``, authenticated by the signed bearer token."""
        response = self._expect(self.client.get("/api/auth/token", headers=user.bearer), "/token")
        token: str = response.json()["token"]
        return token

    def token_response(self, headers: Mapping[str, str]) -> httpx.Response:
        """Raw ``GET /api/auth/token`` with any headers (for negative checks)."""
        return self.client.get("/api/auth/token", headers=dict(headers))

    def get_session(self, user: BAUser) -> tuple[dict[str, Any] | None, str | None]:
        """``GET /api/auth/get-session``: the JSON body and the ``set-auth-jwt`` header."""
        response = self._expect(
            self.client.get("/api/auth/get-session", headers=user.bearer), "get-session"
        )
        body: dict[str, Any] | None = response.json()
        return body, response.headers.get("set-auth-jwt")

    def session_cookies(self, user: BAUser) -> dict[str, str]:
        """Cookies a ``get-session`` call sets (e.g. a fresh ``session_data`` cookie cache)."""
        response = self._expect(
            self.client.get("/api/auth/get-session", headers=user.bearer), "get-session"
        )
        return _parse_set_cookies(response.headers.get_list("set-cookie"))

    def update_user(self, user: BAUser, **fields: object) -> None:
        """``POST /update-user``: change the user's own fields (``additionalFields`` too)."""
        response = self.client.post("/api/auth/update-user", headers=user.bearer, json=fields)
        self._expect(response, "update-user")

    def sign_out(self, user: BAUser) -> None:
        self._expect(self.client.post("/api/auth/sign-out", headers=user.bearer), "sign-out")

    def jwks(self) -> dict[str, Any]:
        document: dict[str, Any] = self._expect(self.client.get("/api/auth/jwks"), "jwks").json()
        return document

    # ---- organization() and admin() plugin endpoints ---------------------------------------------

    def create_organization(self, owner: BAUser, name: str = "Acme") -> str:
        """``POST /organization/create``: ``owner`` becomes its owner; answers its id.

        Better Auth also makes it the active organization of ``owner``'s session.
        """
        slug = f"org-{uuid.uuid4().hex[:12]}"
        response = self.client.post(
            "/api/auth/organization/create",
            headers=owner.bearer,
            json={"name": name, "slug": slug},
        )
        organization_id: str = self._expect(response, "organization/create").json()["id"]
        return organization_id

    def set_active_organization(self, user: BAUser, organization_id: str) -> None:
        response = self.client.post(
            "/api/auth/organization/set-active",
            headers=user.bearer,
            json={"organizationId": organization_id},
        )
        self._expect(response, "organization/set-active")

    def update_member_role(
        self, owner: BAUser, organization_id: str, member_id: str, role: str | list[str]
    ) -> None:
        """``POST /organization/update-member-role`` as ``owner``."""
        response = self.client.post(
            "/api/auth/organization/update-member-role",
            headers=owner.bearer,
            json={"organizationId": organization_id, "memberId": member_id, "role": role},
        )
        self._expect(response, "organization/update-member-role")

    def remove_member(self, owner: BAUser, organization_id: str, member_id: str) -> None:
        """``POST /organization/remove-member`` as ``owner`` (the removed member's own sessions
        keep naming the organization: Better Auth clears only the remover's)."""
        response = self.client.post(
            "/api/auth/organization/remove-member",
            headers=owner.bearer,
            json={"organizationId": organization_id, "memberIdOrEmail": member_id},
        )
        self._expect(response, "organization/remove-member")

    def ban_user(self, admin: BAUser, user_id: str) -> None:
        """``POST /admin/ban-user`` as ``admin`` (whose role must be ``admin``)."""
        response = self.client.post(
            "/api/auth/admin/ban-user", headers=admin.bearer, json={"userId": user_id}
        )
        self._expect(response, "admin/ban-user")

    def impersonate(self, admin: BAUser, user_id: str) -> dict[str, str]:
        """``POST /admin/impersonate-user``: bearer headers for the impersonation session."""
        response = self._expect(
            self.client.post(
                "/api/auth/admin/impersonate-user", headers=admin.bearer, json={"userId": user_id}
            ),
            "admin/impersonate-user",
        )
        signed = response.headers.get("set-auth-token")
        if signed is None:
            raise BetterAuthError("impersonate-user answered no set-auth-token header")
        return {"Authorization": f"Bearer {signed}"}

    # ---- test-only admin route (HARNESS_ADMIN=1) ----------------------------------------------

    def _admin(self, action: str, body: Mapping[str, str]) -> None:
        self._expect(self.client.post(f"/__admin/{action}", json=dict(body)), f"admin {action}")

    def admin_set_role(self, user_id: str, role: str) -> None:
        self._admin("set-role", {"userId": user_id, "role": role})

    def admin_expire_session(self, session_token: str) -> None:
        """Move the session's ``expiresAt`` into the past (takes the raw token)."""
        self._admin("expire-session", {"token": unquote(session_token).split(".", 1)[0]})

    def admin_revoke_session(self, session_token: str) -> None:
        """Delete one session row (takes the raw token)."""
        self._admin("revoke-session", {"token": unquote(session_token).split(".", 1)[0]})

    def admin_add_member(self, organization_id: str, user_id: str, role: str) -> str:
        """Add a member server-side (the organization plugin's ``addMember`` has no route).

        Answers the new member row's id.
        """
        body = {"organizationId": organization_id, "userId": user_id, "role": role}
        response = self.client.post("/__admin/add-member", json=body)
        member_id: str = self._expect(response, "admin add-member").json()["id"]
        return member_id

    def admin_revoke_user_sessions(self, user_id: str) -> None:
        self._admin("revoke-user-sessions", {"userId": user_id})

    # ---- @better-auth/api-key (APIKEY=1) ------------------------------------------------------

    def create_api_key(self, user_id: str, **options: Any) -> BAApiKey:
        """``auth.api.createApiKey`` server-side, so the server-only options are allowed:
        ``permissions={"tasks": ["read"]}``, ``remaining``, ``refillAmount``,
        ``refillInterval`` (ms), ``rateLimitEnabled``, ``rateLimitMax``,
        ``rateLimitTimeWindow`` (ms), ``expiresIn`` (s), ``prefix``."""
        response = self.client.post("/__admin/create-api-key", json={"userId": user_id, **options})
        body = self._expect(response, "admin create-api-key").json()
        return BAApiKey(id=body["id"], user_id=user_id, key=body["key"])

    def update_api_key(self, key: BAApiKey, **changes: Any) -> None:
        """``auth.api.updateApiKey`` server-side (``enabled=False``, ``remaining=3``...)."""
        body = {"keyId": key.id, "userId": key.user_id, **changes}
        self._expect(self.client.post("/__admin/update-api-key", json=body), "update-api-key")

    def set_api_key_columns(self, key: BAApiKey, **columns: Any) -> None:
        """Raw ``apikey`` column writes (``expiresAt="2020-01-01T00:00:00Z"``...)."""
        body = {"keyId": key.id, **columns}
        self._expect(self.client.post("/__admin/set-api-key-columns", json=body), "columns")

    def api_key_row(self, key: BAApiKey) -> dict[str, Any] | None:
        """The key's ``apikey`` row as Better Auth reads it (without the hashed key)."""
        response = self.client.post("/__admin/get-api-key-row", json={"keyId": key.id})
        row: dict[str, Any] | None = self._expect(response, "get-api-key-row").json()["row"]
        return row

    def delete_api_key(self, key: BAApiKey) -> None:
        self._admin("delete-api-key", {"keyId": key.id})

    def get_session_with_api_key(self, key: str, header: str = "x-api-key") -> httpx.Response:
        """``GET /api/auth/get-session`` carrying an API key: the plugin validates (and
        counts) it; 200 ``{user, session}`` or its refusal (401/403/429)."""
        return self.client.get("/api/auth/get-session", headers={header: key})


class ServerPool:
    """Starts servers on demand and stops every one of them at ``close()``."""

    def __init__(self) -> None:
        self._servers: list[BetterAuthServer] = []

    def __call__(self, **env: EnvValue) -> BetterAuthServer:
        server = BetterAuthServer()
        self._servers.append(server)
        return server.start(**env)

    def close(self) -> None:
        errors: list[BaseException] = []
        while self._servers:
            try:
                self._servers.pop().stop()
            except Exception as error:
                errors.append(error)
        if errors:
            raise errors[0]
