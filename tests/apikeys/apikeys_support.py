"""Shared pieces of the API-key tests: verifiers pointed at a real Better Auth server, and one
outcome vocabulary for Better Auth's answers and authbridge's, so sequences compare directly."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI

from authbridge.apikeys.config import ApiKeyConfig
from authbridge.apikeys.verifier import ApiKeyVerifier
from authbridge.errors import AuthError
from authbridge.fastapi import AuthBridge, CurrentUser, require_scopes
from authbridge.principal import Principal
from authbridge.sessions.config import SessionTables
from harness.better_auth import BetterAuthServer

ReadUser = Annotated[Principal, Depends(require_scopes("tasks:read"))]
ReadWriteUser = Annotated[Principal, Depends(require_scopes("tasks:read", "tasks:write"))]
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

# authbridge's precise codes, in the plugin's error-code names.
BA_CODE = {
    "invalid_api_key": "INVALID_API_KEY",
    "api_key_disabled": "KEY_DISABLED",
    "api_key_expired": "KEY_EXPIRED",
    "api_key_usage_exceeded": "USAGE_EXCEEDED",
    "api_key_rate_limited": "RATE_LIMITED",
}


def database_url(server: BetterAuthServer) -> str:
    return server.env.get("DATABASE_URL") or server.env["DB_PATH"]


def config_for(server: BetterAuthServer, mode: str = "database", **overrides: Any) -> ApiKeyConfig:
    settings: dict[str, Any] = {
        "mode": mode,
        "base_url": server.url,
        "database_url": database_url(server) if mode == "database" else None,
        "user_tables": SessionTables(schema=server.env.get("DB_SCHEMA")),
        "issuer": server.origin,
        "cache_ttl": 0.0,
    }
    settings.update(overrides)
    return ApiKeyConfig(**settings)


async def open_verifier(
    server: BetterAuthServer, mode: str = "database", **overrides: Any
) -> ApiKeyVerifier:
    verifier = ApiKeyVerifier(config_for(server, mode, **overrides))
    await verifier.start()
    return verifier


def ba_outcome(server: BetterAuthServer, key: str) -> str:
    """Better Auth's own verdict on the key (its get-session hook): "ok" or the plugin's code."""
    response = server.get_session_with_api_key(key)
    if response.status_code == 200 and isinstance(response.json(), dict):
        return "ok"
    code: str = response.json().get("code", f"HTTP {response.status_code}")
    return code


async def ab_outcome(verifier: ApiKeyVerifier, key: str) -> str:
    """authbridge's verdict, in the same words."""
    try:
        await verifier.verify(key)
    except AuthError as error:
        return BA_CODE.get(error.code, error.code)
    return "ok"


def build_app(bridge: AuthBridge) -> FastAPI:
    """Routes for a key: who it is, and what its permissions (as scopes) allow."""
    app = FastAPI()
    bridge.install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.get("/read")
    async def read_only(user: ReadUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.get("/read-write")
    async def read_and_write(user: ReadWriteUser) -> dict[str, Any]:
        return {"sub": user.sub}

    return app
