"""A small Starlette API behind Better Auth tokens (``authbridge[starlette]``).

Run it with ``BETTER_AUTH_URL=https://auth.example.com uvicorn app:app`` from this folder.
``GET /health`` is public; ``GET /me`` needs any valid token; ``GET /tasks`` the
``tasks:read`` scope and ``POST /tasks`` ``tasks:write``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authbridge import Verifier
from authbridge.starlette import authbridge_middleware, principal_of, requires


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@requires()
async def me(request: Request) -> JSONResponse:
    user = principal_of(request)
    assert user is not None  # requires() let it through
    return JSONResponse({"sub": user.sub, "email": user.email, "scopes": sorted(user.scopes)})


@requires("tasks:read")
async def list_tasks(request: Request) -> JSONResponse:
    return JSONResponse({"tasks": [], "owner": request.user.identity})


@requires("tasks:write")
async def create_task(request: Request) -> JSONResponse:
    return JSONResponse({"created": True}, status_code=201)


def create_app(verifier: Verifier | None = None) -> Starlette:
    verifier = verifier or Verifier.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with verifier:  # prefetch the JWKS, close its client at shutdown
            yield

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/me", me),
            Route("/tasks", list_tasks, methods=["GET"]),
            Route("/tasks", create_task, methods=["POST"]),
        ],
        middleware=[authbridge_middleware(verifier)],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), port=8000)
