"""A small Litestar API behind Better Auth tokens (``authbridge[litestar]``).

Run it with ``BETTER_AUTH_URL=https://auth.example.com litestar --app app:app run`` from
this folder. ``GET /health`` is public; ``GET /me`` needs any valid token; ``GET /tasks`` the
``tasks:read`` scope and ``POST /tasks`` ``tasks:write``.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, get, post

from authbridge import Principal, Verifier
from authbridge.litestar import AuthBridgePlugin, requires

AuthRequest = Request[Principal, Principal, Any]


@get("/health")
async def health() -> dict[str, Any]:
    return {"ok": True}


@get("/me", guards=[requires()])
async def me(request: AuthRequest) -> dict[str, Any]:
    user = request.user
    return {"sub": user.sub, "email": user.email, "scopes": sorted(user.scopes)}


@get("/tasks", guards=[requires("tasks:read")])
async def list_tasks(request: AuthRequest) -> dict[str, Any]:
    return {"tasks": [], "owner": request.user.sub}


@post("/tasks", guards=[requires("tasks:write")])
async def create_task() -> dict[str, Any]:
    return {"created": True}


def create_app(verifier: Verifier | None = None) -> Litestar:
    return Litestar(
        route_handlers=[health, me, list_tasks, create_task],
        plugins=[AuthBridgePlugin(verifier or Verifier.from_env())],
    )


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), port=8000)
