"""The app factory: ``uvicorn --factory tasks_api.app:create_app``.

Startup order: authbridge prefetches its keys (its lifespan wraps ours), then the database is
migrated to head (unless ``TASKS_RUN_MIGRATIONS=false``) and the store opened (store.py).
SQLAlchemy serves the migrations; requests run on the bare driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from authbridge.fastapi import AuthBridge

from .body_limit import BodyLimitMiddleware
from .cors import JSONErrorCORSMiddleware
from .cursor import CursorCodec
from .dependencies import CODEC_STATE, STORE_STATE
from .errors import install_error_handlers
from .migrate import upgrade_off_loop
from .routes.account import build_account_router
from .routes.health import build_health_router
from .routes.tasks import build_org_tasks_router, build_tasks_router
from .settings import ServiceSettings, check_api_key_permissions, load_service_settings
from .store import open_store

__all__ = ["create_app", "serve_routes"]


def create_app(
    settings: ServiceSettings | None = None, *, bridge: AuthBridge | None = None
) -> FastAPI:
    """Build the Tasks API. Without arguments everything comes from the environment."""
    settings = settings or load_service_settings()
    bridge = bridge or AuthBridge.from_env()
    api_keys = bridge.verifier.api_keys
    check_api_key_permissions(api_keys.config if api_keys is not None else None)
    secret = settings.cursor_secret.get_secret_value().encode() if settings.cursor_secret else None

    @asynccontextmanager
    async def database_lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations:
            await upgrade_off_loop(settings)
        store = await open_store(settings)
        try:
            setattr(app.state, STORE_STATE, store)
            yield
        finally:
            await store.close()

    app = FastAPI(
        title="Tasks API",
        version="1.0.0",
        description="A to-do API whose every route is guarded by authbridge.",
        lifespan=database_lifespan,
    )
    setattr(app.state, CODEC_STATE, CursorCodec(secret))
    app.state.tasks_settings = settings
    bridge.install(app)  # wraps the lifespan: keys are fetched before the database starts
    install_error_handlers(app)
    # Busiest first: routes are tried in order. No two share a path, so the order decides
    # only the cost, never the route.
    require_scopes = settings.require_scopes
    for router in (
        build_tasks_router(require_scopes=require_scopes, dependency_overrides_provider=app),
        build_org_tasks_router(require_scopes=require_scopes, dependency_overrides_provider=app),
        build_account_router(dependency_overrides_provider=app),
        build_health_router(dependency_overrides_provider=app),
    ):
        serve_routes(app, router)
    # Added last = outermost: CORS headers also go on 413 answers.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        JSONErrorCORSMiddleware,
        allow_origins=settings.origins,
        allow_credentials=settings.cors_credentials,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "If-Match", "Content-Type"],
        expose_headers=["ETag", "Location"],
        max_age=600,
    )
    return app


def serve_routes(app: FastAPI, router: APIRouter) -> None:
    """``app.include_router(router)`` with the routes placed at the app's own level.

    FastAPI 0.165 keeps an included router as one route that, on every request, asks its
    routes again through a router context: each router a request passes costs about 4 µs,
    and a route served through such a context keeps FastAPI's dependency solving under
    authbridge's route wrapper. As the app's own routes, each one passed costs about 1 µs
    (docs/tasks-api.md, "Routing"). Only a router with nothing for ``include_router`` to
    merge qualifies (no dependencies, event handlers or lifespan of its own; none of this
    app's routers has any), whose routes were built with the app as their
    dependency-overrides provider, so that ``app.dependency_overrides`` reaches them.
    """
    if router.dependencies or router.on_startup or router.on_shutdown:
        raise ValueError("serve_routes: this router has settings only include_router merges")
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.dependency_overrides_provider is not app:
            raise ValueError(
                "serve_routes: build the router with dependency_overrides_provider=app"
            )
    app.router.routes.extend(router.routes)
