"""SessionVerifier.verify_cookies: cookie lookup, CSRF, and the cookie-cache fast path.

Sessions live in a real SQLite file with Better Auth's schema; the cookie cache
is built independently (sessions_builders) for all three strategies.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sessions_builders import (
    compact_cookie,
    iso,
    jwe_cookie,
    jwt_cookie,
    new_secret,
    new_token,
    session_data,
    sign,
    url_encode,
)
from sqlalchemy.ext.asyncio import create_async_engine

from authbridge.errors import CsrfRejected, InvalidSignature, SessionInvalid
from authbridge.sessions.config import SessionConfig
from authbridge.sessions.verifier import SessionVerifier
from harness.better_auth_tables import sqlite_ddl

APP = "https://app.example.com"
BUILDERS: dict[str, Callable[..., str]] = {
    "compact": compact_cookie,
    "jwt": jwt_cookie,
    "jwe": jwe_cookie,
}


class Db:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        self.secret = new_secret()

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            for ddl in sqlite_ddl():
                await conn.execute(sa.text(ddl))

    async def add(self) -> tuple[str, str, str]:
        user_id, session_id, token = uuid.uuid4().hex, uuid.uuid4().hex, new_token()
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO \"user\" VALUES (:id, 'Db User', :mail, 1, NULL, :n, :n, 'db')"
                ),
                {"id": user_id, "mail": f"{user_id}@db.example", "n": iso(now)},
            )
            await conn.execute(
                sa.text(
                    'INSERT INTO "session" ("id","expiresAt","token","createdAt","updatedAt",'
                    '"userId") VALUES (:id, :e, :t, :n, :n, :u)'
                ),
                {
                    "id": session_id,
                    "e": iso(now + timedelta(days=7)),
                    "t": token,
                    "n": iso(now),
                    "u": user_id,
                },
            )
        return user_id, session_id, token

    async def delete(self, token: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.text('DELETE FROM "session" WHERE "token" = :t'), {"t": token})

    def config(self, **overrides: Any) -> SessionConfig:
        settings: dict[str, Any] = {
            "mode": "database",
            "database_url": str(self.path),
            "secrets": ((0, self.secret),),
            "cookies_enabled": True,
            "trusted_origins": (APP,),
        }
        settings.update(overrides)
        return SessionConfig(**settings)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Db]:
    database = Db(tmp_path / "auth.db")
    await database.create()
    yield database
    await database.engine.dispose()


@pytest.fixture
async def opened() -> AsyncIterator[list[SessionVerifier]]:
    verifiers: list[SessionVerifier] = []
    yield verifiers
    for verifier in verifiers:
        await verifier.aclose()


def _open(opened: list[SessionVerifier], config: SessionConfig) -> SessionVerifier:
    verifier = SessionVerifier(config)
    opened.append(verifier)
    return verifier


async def test_no_cookie_means_none(db: Db, opened: list[SessionVerifier]) -> None:
    verifier = _open(opened, db.config())
    assert await verifier.verify_cookies({}, method="POST", headers={}) is None
    assert await verifier.verify_cookies({"other": "x"}, method="GET", headers={}) is None


async def test_cookie_mode_off_ignores_cookies(db: Db, opened: list[SessionVerifier]) -> None:
    _, _, token = await db.add()
    verifier = _open(opened, db.config(cookies_enabled=False))
    cookies = {"better-auth.session_token": url_encode(sign(token, db.secret))}
    assert await verifier.verify_cookies(cookies, method="GET", headers={}) is None


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("better-auth.session_token", "better-auth"),
        ("__Secure-better-auth.session_token", "better-auth"),
        ("__Secure-myapp.session_token", "myapp"),
        ("myapp.session_token", "myapp"),
    ],
)
async def test_session_cookie_verifies(
    db: Db, opened: list[SessionVerifier], name: str, prefix: str
) -> None:
    user_id, session_id, token = await db.add()
    verifier = _open(opened, db.config(cookie_prefix=prefix))
    cookies = {name: url_encode(sign(token, db.secret))}
    principal = await verifier.verify_cookies(cookies, method="GET", headers={})
    assert principal is not None
    assert (principal.sub, principal.session_id) == (user_id, session_id)
    assert principal.credential == "session"


async def test_unsigned_or_forged_cookie_is_rejected(db: Db, opened: list[SessionVerifier]) -> None:
    _, _, token = await db.add()
    verifier = _open(opened, db.config(allow_unsigned=True))
    with pytest.raises(SessionInvalid):  # cookies are always signed, whatever allow_unsigned says
        await verifier.verify_cookies(
            {"better-auth.session_token": token}, method="GET", headers={}
        )
    with pytest.raises(InvalidSignature):
        await verifier.verify_cookies(
            {"better-auth.session_token": url_encode(sign(token, new_secret()))},
            method="GET",
            headers={},
        )


async def test_csrf_on_unsafe_methods(db: Db, opened: list[SessionVerifier]) -> None:
    user_id, _, token = await db.add()
    verifier = _open(opened, db.config(base_url="https://auth.example.com"))
    cookies = {"better-auth.session_token": url_encode(sign(token, db.secret))}
    for headers in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/"}):
        with pytest.raises(CsrfRejected):
            await verifier.verify_cookies(cookies, method="POST", headers=headers)
    for origin in (APP, "https://auth.example.com"):
        principal = await verifier.verify_cookies(
            cookies, method="DELETE", headers={"Origin": origin}
        )
        assert principal is not None
        assert principal.sub == user_id
    principal = await verifier.verify_cookies(cookies, method="GET", headers={})
    assert principal is not None


@pytest.mark.parametrize("strategy", ["compact", "jwt", "jwe"])
async def test_cookie_cache_answers_without_the_database(
    db: Db, opened: list[SessionVerifier], strategy: str
) -> None:
    _, _, token = await db.add()
    await db.delete(token)  # only the cache can answer now
    cached_user = uuid.uuid4().hex
    data = session_data(token, user_id=cached_user, role="cached")
    cookies = {
        "better-auth.session_token": url_encode(sign(token, db.secret)),
        "better-auth.session_data": BUILDERS[strategy](data, db.secret),
    }
    verifier = _open(opened, db.config(cookie_cache=strategy))
    principal = await verifier.verify_cookies(cookies, method="GET", headers={})
    assert principal is not None
    assert principal.sub == cached_user
    assert principal.roles == {"cached"}
    assert principal.session_id == data["session"]["id"]


@pytest.mark.parametrize("strategy", ["compact", "jwt", "jwe"])
async def test_bad_cache_falls_back_to_the_database(
    db: Db, opened: list[SessionVerifier], strategy: str
) -> None:
    user_id, _, token = await db.add()
    good = BUILDERS[strategy](session_data(token, user_id="someone-else"), db.secret)
    variants = [
        BUILDERS[strategy](session_data(token), new_secret()),  # wrong secret
        BUILDERS[strategy](session_data(token), db.secret, max_age=-1),  # stale
        BUILDERS[strategy](session_data(new_token()), db.secret),  # another session's cache
        good[:-2] + ("AA" if good[-2:] != "AA" else "BB"),  # tampered
    ]
    verifier = _open(opened, db.config(cookie_cache=strategy))
    for value in variants:
        cookies = {
            "better-auth.session_token": url_encode(sign(token, db.secret)),
            "better-auth.session_data": value,
        }
        principal = await verifier.verify_cookies(cookies, method="GET", headers={})
        assert principal is not None
        assert principal.sub == user_id  # from the database, not the cache


async def test_bad_cache_and_signed_out_session_is_rejected(
    db: Db, opened: list[SessionVerifier]
) -> None:
    _, _, token = await db.add()
    await db.delete(token)
    cookies = {
        "better-auth.session_token": url_encode(sign(token, db.secret)),
        "better-auth.session_data": compact_cookie(session_data(token), new_secret()),
    }
    verifier = _open(opened, db.config(cookie_cache="compact"))
    with pytest.raises(SessionInvalid):
        await verifier.verify_cookies(cookies, method="GET", headers={})


async def test_chunked_cache_cookie(db: Db, opened: list[SessionVerifier]) -> None:
    _, _, token = await db.add()
    await db.delete(token)
    data = session_data(token, name="N" * 6000)
    value = jwe_cookie(data, db.secret)
    size = 3000
    chunks = {
        f"__Secure-better-auth.session_data.{i}": value[i * size : (i + 1) * size]
        for i in range((len(value) + size - 1) // size)
    }
    assert len(chunks) >= 3
    cookies = {"__Secure-better-auth.session_token": url_encode(sign(token, db.secret)), **chunks}
    verifier = _open(opened, db.config(cookie_cache="jwe"))
    principal = await verifier.verify_cookies(cookies, method="GET", headers={})
    assert principal is not None
    assert principal.name == "N" * 6000


async def test_cache_is_ignored_when_cookie_cache_is_off(
    db: Db, opened: list[SessionVerifier]
) -> None:
    _, _, token = await db.add()
    await db.delete(token)
    cookies = {
        "better-auth.session_token": url_encode(sign(token, db.secret)),
        "better-auth.session_data": compact_cookie(session_data(token), db.secret),
    }
    verifier = _open(opened, db.config())
    with pytest.raises(SessionInvalid):
        await verifier.verify_cookies(cookies, method="GET", headers={})


async def test_cache_jwt_is_not_a_bearer_credential(db: Db, opened: list[SessionVerifier]) -> None:
    _, _, token = await db.add()
    verifier = _open(opened, db.config(cookie_cache="jwt"))
    with pytest.raises(SessionInvalid):
        await verifier.verify(jwt_cookie(session_data(token), db.secret))


async def test_disabled_verifier(opened: list[SessionVerifier]) -> None:
    verifier = _open(opened, SessionConfig())
    assert not verifier.enabled
    with pytest.raises(SessionInvalid):
        await verifier.verify("anything")
    cookies = {"better-auth.session_token": "x"}
    assert await verifier.verify_cookies(cookies, method="GET", headers={}) is None
    with pytest.raises(RuntimeError):
        await verifier.session_exists("sid")


async def test_jwe_cache_from_the_legacy_secret_is_accepted(
    db: Db, opened: list[SessionVerifier]
) -> None:
    """Better Auth's symmetricDecodeJWT also tries the legacy BETTER_AUTH_SECRET."""
    _, _, token = await db.add()
    await db.delete(token)
    legacy = new_secret()
    cookies = {
        "better-auth.session_token": url_encode(sign(token, db.secret)),
        "better-auth.session_data": jwe_cookie(session_data(token, user_id="legacy"), legacy),
    }
    with_legacy = _open(opened, db.config(cookie_cache="jwe", legacy_secret=legacy))
    principal = await with_legacy.verify_cookies(cookies, method="GET", headers={})
    assert principal is not None
    assert principal.sub == "legacy"
    without = _open(opened, db.config(cookie_cache="jwe"))
    with pytest.raises(SessionInvalid):
        await without.verify_cookies(cookies, method="GET", headers={})


async def test_websocket_handshake_checks_origin(db: Db, opened: list[SessionVerifier]) -> None:
    user_id, _, token = await db.add()
    verifier = _open(opened, db.config())
    cookies = {"better-auth.session_token": url_encode(sign(token, db.secret))}
    with pytest.raises(CsrfRejected):
        await verifier.verify_cookies(
            cookies, method="WEBSOCKET", headers={"origin": "https://evil.example"}
        )
    principal = await verifier.verify_cookies(cookies, method="WEBSOCKET", headers={"origin": APP})
    assert principal is not None
    assert principal.sub == user_id
