"""A sample app with every kind of protected route the FastAPI-layer tests need."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security, WebSocket
from fastapi.responses import PlainTextResponse, Response

from authbridge.fastapi import (
    AuthBridge,
    CurrentUser,
    OptionalUser,
    WebSocketUser,
    authenticate_websocket,
    get_principal,
    require_roles,
    require_scopes,
)
from authbridge.principal import Principal

ReadUser = Annotated[Principal, Depends(require_scopes("tasks:read"))]
ReadWriteUser = Annotated[Principal, Depends(require_scopes("tasks:read", "tasks:write"))]
ReadOrWriteUser = Annotated[
    Principal, Depends(require_scopes("tasks:read", "tasks:write", any_of=True))
]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
AdminAndAuditor = Annotated[Principal, Depends(require_roles("admin", "auditor", all_of=True))]
WriteViaSecurity = Annotated[Principal, Security(get_principal, scopes=["tasks:write"])]


def _who(user: Principal | None) -> dict[str, Any]:
    return {"sub": user.sub if user else None}


def build_app(bridge: AuthBridge) -> FastAPI:
    """Every kind of route the tests need."""
    app = FastAPI()
    bridge.install(app)

    @app.get("/public")
    async def public() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return _who(user)

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return _who(user)

    @app.get("/read")
    async def read(user: ReadUser) -> dict[str, Any]:
        return _who(user)

    @app.get("/read-write")
    async def read_write(user: ReadWriteUser) -> dict[str, Any]:
        return _who(user)

    @app.get("/read-or-write")
    async def read_or_write(user: ReadOrWriteUser) -> dict[str, Any]:
        return _who(user)

    @app.get("/write-security")
    async def write_security(user: WriteViaSecurity) -> dict[str, Any]:
        return _who(user)

    @app.get("/admin")
    async def admin(user: Admin) -> dict[str, Any]:
        return _who(user)

    @app.get("/admin-auditor")
    async def admin_auditor(user: AdminAndAuditor) -> dict[str, Any]:
        return _who(user)

    @app.get("/admin-reader", dependencies=[Depends(require_roles("admin"))])
    async def admin_reader(user: ReadUser) -> dict[str, Any]:
        return _who(user)

    @app.post("/submit")
    async def submit(user: CurrentUser) -> dict[str, Any]:
        return _who(user)

    @app.get("/raw")
    async def raw(user: CurrentUser) -> Response:
        return PlainTextResponse(user.sub)

    @app.get("/own-cache-policy")
    async def own_cache_policy(user: CurrentUser) -> Response:
        headers = {"Cache-Control": "private, max-age=30", "Vary": "Accept"}
        return PlainTextResponse(user.sub, headers=headers)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: WebSocketUser) -> None:
        await websocket.send_json({"sub": user.sub})
        await websocket.close()

    @app.websocket("/ws-quick")
    async def ws_quick(websocket: WebSocket) -> None:
        user = await authenticate_websocket(websocket, auth_timeout=0.3)
        await websocket.send_json({"sub": user.sub})
        await websocket.close()

    return app
