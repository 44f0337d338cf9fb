"""The apps under load, one uvicorn process each (factories for ``uvicorn --factory``).

* ``bare_app``: the endpoint with no authentication at all;
* ``authbridge_app``: the same endpoint behind authbridge (``CurrentUser``);
* ``pyjwt_app``: the same endpoint behind FastAPI's ``HTTPBearer`` and ``PyJWT``, the usual
  hand-written baseline (no cache: every request verifies);
* ``fast_path_app``: the shipped fast path, ``bridge.install(app, protect=...)``: authbridge's
  own middleware verifies, the endpoint reads ``principal_of(request)`` (no dependency);
* ``middleware_auth_app``: the alternative design measured: a pure-ASGI middleware verifies,
  the endpoint reads ``request.user`` (no dependency; see ``middleware_auth.py``);
* ``org_role_app`` / ``org_role_fast_path_app``: the endpoint behind
  ``require_org_role("owner", "admin")`` (organization claims in the token), with the
  dependency path or the fast path verifying;
* ``typed_user_app``: the endpoint taking the caller as the app's own msgspec Struct
  (``current_user``), built from the claims on every request;
* ``raw_verify_app``: the bare endpoint behind only the raw Ed25519 signature check of the
  token (``raw_verify.py``): the floor for a fresh token as a server meets it;
* ``verify_only_app``: the same frame around authbridge's whole ``Verifier.verify``
  (``raw_verify.py``): the verifier served, without the framework integration;
* ``empty_dependency_app``: the endpoint with one empty ``async`` dependency and no
  authentication: FastAPI's own floor for any dependency-based design;
* ``tasks_app`` / ``tasks_noauth_app``: the Tasks API as ``tasks-api serve`` runs it, and the
  same app whose authbridge answers a fixed caller without verifying, for the cost of auth on
  real handlers.

No ``from __future__ import annotations``: FastAPI must resolve the local dependencies.

Keys and the caller come from ``BENCH_*`` variables set by ``bench/http_bench.py``; authbridge reads
its usual ``AUTHBRIDGE_*`` variables (a static JWKS, so no issuer has to run). With
``BENCH_GC_STATS=1``, ``authbridge_app`` and ``fast_path_app`` report the garbage collector's
work at ``/bench/gc`` (``gc_stats.py``); with ``BENCH_GC_FREEZE=1`` they install with the
shipped ``freeze_heap=True`` (``gc.freeze()`` at the end of startup).
"""

import json
import os
from typing import Annotated, Any

import jwt
import msgspec
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from authbridge.fastapi import (
    AuthBridge,
    CurrentUser,
    current_user,
    principal_of,
    require_org_role,
)
from authbridge.fastapi.authenticate import Authenticator
from authbridge.jose.algorithms import use_ed25519_backend
from authbridge.principal import Principal

from .gc_stats import add_gc_stats
from .middleware_auth import MiddlewareAuth
from .raw_verify import RawVerify, VerifyOnly, public_key_from_env

__all__ = [
    "authbridge_app",
    "bare_app",
    "bare_behind_two_routes_app",
    "bare_unannotated_app",
    "conventional_tasks_app",
    "empty_dependency_app",
    "fast_path_app",
    "include_routers_as_before",
    "middleware_auth_app",
    "org_role_app",
    "org_role_fast_path_app",
    "pyjwt_app",
    "raw_verify_app",
    "tasks_app",
    "tasks_included_routers_app",
    "tasks_noauth_app",
    "typed_user_app",
    "verify_only_app",
]


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"sub": "anonymous"}

    return app


def bare_behind_two_routes_app() -> FastAPI:
    """``bare_app`` with two routes added before ``/hello``: Starlette tries routes in order,
    so every request to ``/hello`` first fails to match both (``dependency_callgrind.py``)."""
    app = FastAPI()

    @app.get("/status")
    async def status() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/status/reset")
    async def reset() -> dict[str, str]:
        return {"status": "reset"}

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"sub": "anonymous"}

    return app


def bare_unannotated_app() -> FastAPI:
    """``bare_app`` without the endpoint's return annotation: FastAPI then encodes the dict
    with ``jsonable_encoder``, in Python, instead of pydantic's serializer."""
    app = FastAPI()

    @app.get("/hello")
    async def hello():  # type: ignore[no-untyped-def]  # unannotated, as measured
        return {"sub": "anonymous"}

    return app


def raw_verify_app() -> FastAPI:
    app = bare_app()
    app.add_middleware(RawVerify, key=public_key_from_env())
    return app


def verify_only_app() -> FastAPI:
    app = bare_app()
    app.add_middleware(VerifyOnly, verifier=AuthBridge.from_env().verifier)
    return app


def authbridge_app() -> FastAPI:
    app = FastAPI()
    bridge = AuthBridge.from_env()
    bridge.install(app, freeze_heap=os.environ.get("BENCH_GC_FREEZE") == "1")

    @app.get("/hello")
    async def hello(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    add_gc_stats(app, bridge)  # after /hello: see add_gc_stats
    return app


def fast_path_app() -> FastAPI:
    app = FastAPI()
    bridge = AuthBridge.from_env()
    bridge.install(app, protect=("/hello",), freeze_heap=os.environ.get("BENCH_GC_FREEZE") == "1")

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, str]:
        return {"sub": principal_of(request).sub}

    add_gc_stats(app, bridge)  # after /hello: see add_gc_stats
    return app


def fast_path_openssl_app() -> FastAPI:
    """The fast path with OpenSSL checking Ed25519, as without the ``nacl`` extra."""
    use_ed25519_backend("openssl")
    return fast_path_app()


OrgAdmin = Annotated[Principal, Depends(require_org_role("owner", "admin"))]


def org_role_app() -> FastAPI:
    app = FastAPI()
    AuthBridge.from_env().install(app)

    @app.get("/hello")
    async def hello(user: OrgAdmin) -> dict[str, str]:
        return {"sub": user.sub}

    return app


def org_role_fast_path_app() -> FastAPI:
    app = FastAPI()
    AuthBridge.from_env().install(app, protect=("/hello",))

    @app.get("/hello")
    async def hello(user: OrgAdmin) -> dict[str, str]:
        return {"sub": user.sub}

    return app


class BenchUser(msgspec.Struct):
    id: str
    email: str
    name: str
    email_verified: bool


Me = Annotated[BenchUser, current_user(BenchUser)]


def typed_user_app() -> FastAPI:
    app = FastAPI()
    AuthBridge.from_env().install(app)

    @app.get("/hello")
    async def hello(user: Me) -> dict[str, str]:
        return {"sub": user.id}

    return app


def middleware_auth_app() -> FastAPI:
    bridge = AuthBridge.from_env()
    app = FastAPI(lifespan=bridge.lifespan)

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, str]:
        return {"sub": request.user.sub}

    app.add_middleware(MiddlewareAuth, bridge=bridge, protected=("/hello",))
    return app


def empty_dependency_app() -> FastAPI:
    app = FastAPI()

    async def nobody() -> str:
        return "anonymous"

    @app.get("/hello")
    async def hello(sub: Annotated[str, Depends(nobody)]) -> dict[str, str]:
        return {"sub": sub}

    return app


def pyjwt_app() -> FastAPI:
    issuer = os.environ["AUTHBRIDGE_ISSUER"]
    document: dict[str, Any] = json.loads(os.environ["AUTHBRIDGE_JWKS"])
    keys = {jwk["kid"]: jwt.PyJWK(jwk) for jwk in document["keys"]}
    bearer = HTTPBearer()

    async def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, Any]:
        token = credentials.credentials
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = keys[kid]
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=issuer,
                issuer=issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, KeyError):
            raise HTTPException(401, "invalid token", {"WWW-Authenticate": "Bearer"}) from None
        return claims

    app = FastAPI()

    @app.get("/hello")
    async def hello(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, str]:
        return {"sub": user["sub"]}

    return app


def tasks_app() -> FastAPI:
    """The Tasks API as ``tasks-api serve`` runs it (``served_app``: gc frozen once started)."""
    from tasks_api.serve import served_app

    return served_app()


def include_routers_as_before(app: FastAPI, *, require_scopes: bool) -> None:
    """The Tasks API's routers, passed to ``app.include_router`` in the order the app had
    before ``serve_routes`` made their routes its own: health, account, tasks, team tasks."""
    from tasks_api.routes.account import build_account_router
    from tasks_api.routes.health import build_health_router
    from tasks_api.routes.tasks import build_org_tasks_router, build_tasks_router

    for router in (
        build_health_router(),
        build_account_router(),
        build_tasks_router(require_scopes=require_scopes),
        build_org_tasks_router(require_scopes=require_scopes),
    ):
        app.include_router(router)


def tasks_included_routers_app() -> FastAPI:
    """``tasks_app`` with its routers included as before (``include_routers_as_before``):
    the layout its own routes replaced, for the cost of FastAPI 0.165's included routers."""
    from fastapi.routing import APIRoute

    from tasks_api.serve import served_app

    app = served_app()
    app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, APIRoute)]
    include_routers_as_before(app, require_scopes=app.state.tasks_settings.require_scopes)
    return app


def conventional_tasks_app() -> FastAPI:
    """The list and create routes the conventional way (AsyncSession, ORM, pydantic)."""
    from apps.conventional_tasks import create_conventional_app

    return create_conventional_app()


def tasks_noauth_app() -> FastAPI:
    """The Tasks API with authbridge answering a fixed caller without verifying anything.

    Every way a request reaches a Principal (the route wrapper that authenticates before
    FastAPI's dependencies, the task routes' fast path, the dependencies themselves) asks the
    bridge's ``Authenticator``: its token-cache shortcut and its full path both answer the
    fixed caller here, so the same machinery runs and only verification is skipped.
    ``app.dependency_overrides`` is not used: it turns off both fast paths, and FastAPI
    re-inspects an overridden dependency's signature on every request, which would make
    "without auth" the slower one.
    """
    from tasks_api.serve import served_app

    caller = Principal(sub=os.environ["BENCH_SUB"], issuer=os.environ["AUTHBRIDGE_ISSUER"])

    def cached(self: Authenticator, scope: Any) -> Principal:
        return caller

    async def resolve(self: Authenticator, connection: Any) -> tuple[Principal, bool]:
        return caller, True

    # This process only.
    Authenticator.cached = cached  # type: ignore[method-assign]
    Authenticator.resolve = resolve  # type: ignore[method-assign]
    return served_app()
