"""``authbridge check``'s checks of what the settings connect to: Redis, the session database,
the API-key store, and an API's ``CORS_ORIGINS``. Each runs only when its setting is configured.

They reuse the code that uses these services, so a check and the running service cannot
disagree: the session database is probed by the library's own session store, and
``CORS_ORIGINS`` is parsed by ``authbridge.cors.parse_cors_origins``, which the Tasks API
uses too. No password in a URL is ever shown.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from ..config import Settings, origin_of
from ..cors import parse_cors_origins
from ..errors import ConfigError
from ..verifier import Verifier
from .doctor import Check
from .envfile import read_env_value
from .output import hide_password

__all__ = ["check_connections", "check_cors_origins"]

# Far more than a reachable server needs; it bounds a name that does not resolve.
_REDIS_DEADLINE: Final = 5.0


async def _redis_answer(url: str, socket_timeout: float) -> str | None:
    """None when Redis answers PING within the library's own socket timeouts, else why not."""
    try:
        from redis.asyncio import Redis
    except ModuleNotFoundError:  # the cli extra without the redis one
        return "the Redis client is not installed: pip install 'authbridge[redis]'"

    try:
        client = Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
    except ValueError as error:
        return f"not a Redis URL: {error}"
    deadline = max(socket_timeout, _REDIS_DEADLINE)
    try:
        async with asyncio.timeout(deadline):
            await client.ping()
    except TimeoutError:
        return f"no answer within {deadline:g} s"
    except Exception as error:  # noqa: BLE001 - every failure is the answer, shown below
        return f"{type(error).__name__}: {error}"
    finally:
        await client.aclose()
    return None


async def _check_redis(settings: Settings, checks: list[Check]) -> None:
    if settings.redis_url is None:
        return
    url = settings.redis_url.get_secret_value()
    shown = hide_password(url)
    problem = await _redis_answer(url, settings.redis_timeout)
    if problem is None:
        checks.append(Check("redis", "pass", f"{shown} answers PING"))
        return
    password = _password(url)
    if password:
        problem = problem.replace(password, "••••••")
    checks.append(
        Check(
            "redis",
            "fail",
            f"AUTHBRIDGE_REDIS_URL {shown} does not answer PING: {problem}",
            "Start Redis, or correct AUTHBRIDGE_REDIS_URL (redis://host:6379/0, rediss:// for "
            "TLS, redis://:password@host:6379/0 with a password); unset it to run without "
            "shared state.",
        )
    )


async def _check_session_database(
    settings: Settings, verifier: Verifier | None, checks: list[Check]
) -> None:
    if settings.session_database_url is None:
        return
    shown = hide_password(settings.session_database_url)
    if settings.session_mode != "database":
        checks.append(
            Check(
                "sessions",
                "info",
                f"AUTHBRIDGE_SESSION_DATABASE_URL is set but not used: AUTHBRIDGE_SESSION_MODE "
                f"is {settings.session_mode}.",
            )
        )
        return
    store = verifier.sessions.database if verifier and verifier.sessions else None
    if store is None:  # the verifier could not be built: its check says why
        return
    problem = await store.diagnose()
    if problem is None:
        checks.append(
            Check(
                "sessions",
                "pass",
                f"{shown} answers and has Better Auth's session and user tables",
            )
        )
        return
    checks.append(
        Check(
            "sessions",
            "fail",
            f"AUTHBRIDGE_SESSION_DATABASE_URL {shown}: the session lookup fails: {problem}",
            "Point AUTHBRIDGE_SESSION_DATABASE_URL at the database Better Auth writes to, after "
            "Better Auth has created its tables there (the web app migrates at startup; else "
            "`npx @better-auth/cli migrate`); other table or column names go in "
            "AUTHBRIDGE_SESSION_TABLES.",
        )
    )


async def _check_api_keys(verifier: Verifier | None, checks: list[Check]) -> None:
    api_keys = verifier.api_keys if verifier is not None else None
    if api_keys is None:
        return
    config = api_keys.config
    what = f"AUTHBRIDGE_API_KEYS={config.mode}, keys read from {', '.join(config.headers)}"
    problem = await api_keys.diagnose()
    if problem is None:
        checks.append(Check("api-keys", "pass", what))
        return
    checks.append(
        Check(
            "api-keys",
            "fail",
            f"{what}: {problem}",
            "remote mode needs apiKey({enableSessionForAPIKeys: true}) on the Better Auth server "
            "at BETTER_AUTH_URL, with the same header; database mode needs the apikey table in "
            "AUTHBRIDGE_SESSION_DATABASE_URL (other names go in AUTHBRIDGE_API_KEY_TABLES).",
        )
    )


def check_connections(settings: Settings, verifier: Verifier | None, checks: list[Check]) -> None:
    """Redis, the session database and the API-key store, each when configured; then closes
    ``verifier``."""

    async def both() -> None:
        try:
            await _check_redis(settings, checks)
            await _check_session_database(settings, verifier, checks)
            await _check_api_keys(verifier, checks)
        finally:
            if verifier is not None:
                await verifier.aclose()  # in this event loop, which its connections belong to

    asyncio.run(both())


def check_cors_origins(settings: Settings, checks: list[Check]) -> None:
    """``CORS_ORIGINS`` (the Tasks API's variable), when set in the environment or ``.env``."""
    value = os.environ.get("CORS_ORIGINS")
    if value is None:
        value = read_env_value(Path(".env"), "CORS_ORIGINS")
    if value is None:
        return
    try:
        origins = parse_cors_origins(value)
    except ValueError as exc:
        checks.append(
            Check(
                "cors",
                "fail",
                f"CORS_ORIGINS: {exc}. Browsers block the web app's calls to the API.",
                "List each frontend origin exactly as the browser's Origin header has it: "
                "scheme://host[:port], comma-separated, e.g. CORS_ORIGINS=http://localhost:3000 "
                "(`tasks-api serve` refuses this value too).",
            )
        )
        return
    if not origins:
        checks.append(
            Check(
                "cors",
                "warn",
                "CORS_ORIGINS is empty: no browser page may call the API.",
                "Set it to the web frontend's origin, e.g. CORS_ORIGINS=http://localhost:3000.",
            )
        )
        return
    if "*" in origins:
        checks.append(
            Check(
                "cors",
                "warn",
                "CORS_ORIGINS has *: every site's pages may call the API, and credentials "
                "(cookies) are off, so cookie sessions fail; bearer tokens still work.",
                "List the frontend's origins instead, e.g. CORS_ORIGINS=https://app.example.com.",
            )
        )
        return
    checks.append(Check("cors", "pass", f"CORS_ORIGINS allows {', '.join(origins)}"))
    _check_frontend_allowed(settings, origins, checks)


def _check_frontend_allowed(settings: Settings, origins: list[str], checks: list[Check]) -> None:
    """Better Auth runs in the web app, so BETTER_AUTH_URL's origin is usually the page that
    calls the API: a warning (not a failure) when CORS_ORIGINS leaves it out."""
    if not settings.better_auth_url:
        return
    try:
        frontend = origin_of(settings.better_auth_url)
    except ConfigError:
        return
    if frontend not in origins:
        checks.append(
            Check(
                "cors",
                "warn",
                f"CORS_ORIGINS does not list {frontend}, BETTER_AUTH_URL's origin: if the web "
                "app is served there, the browser blocks its calls to the API.",
                f"Add it: CORS_ORIGINS={','.join([*origins, frontend])} (localhost and "
                "127.0.0.1 are different origins).",
            )
        )


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None
