"""The app's routes are its own, busiest first (app.py, ``serve_routes``).

FastAPI 0.165 serves an included router as one route that asks its routes again through a
router context on every request: about 4 µs for each router a request passes, and a route
served that way keeps FastAPI's dependency solving under authbridge's route wrapper. The
Tasks API places its routers' routes at its own level instead, personal tasks first; only
FastAPI's documentation routes (plain Starlette routes, under 0.4 µs each) come before them.
That ``app.dependency_overrides`` still reaches every route is tested where overrides are
used (``override_user`` in test_org_tasks.py and test_tasks_validation.py, FastAPI's path
in test_tasks_fast_path.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, Route

from conftest import Api
from tasks_api.app import serve_routes

TASK = "/api/tasks/00000000-0000-4000-8000-000000000000"


def tried_before_match(app: FastAPI, method: str, path: str) -> list[BaseRoute]:
    """The app's routes tried for ``method path`` before the one that matches."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    tried = []
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return tried
        tried.append(route)
    raise AssertionError(f"no route matched {method} {path}")


async def test_every_route_is_the_apps_own(api: Api) -> None:
    routes = api.app.router.routes
    assert all(isinstance(route, APIRoute) or type(route) is Route for route in routes)
    paths = {route.path for route in routes if isinstance(route, APIRoute)}
    assert {"/api/tasks", "/api/org/tasks", "/api/me", "/healthz", "/readyz"} <= paths


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/tasks"), ("POST", "/api/tasks"), ("GET", TASK), ("PATCH", TASK)],
)
async def test_task_requests_try_no_other_route_first(api: Api, method: str, path: str) -> None:
    others = [
        route
        for route in tried_before_match(api.app, method, path)
        # FastAPI's documentation routes, and the personal tasks' own routes for other
        # methods or the collection.
        if type(route) is not Route
        and not (isinstance(route, APIRoute) and route.path.startswith("/api/tasks"))
    ]
    assert others == [], (method, path)


def _router(**settings: Any) -> APIRouter:
    router = APIRouter(**settings)

    @router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    return router


def test_serve_routes_takes_only_what_include_router_would_not_change() -> None:
    app = FastAPI()
    with pytest.raises(ValueError, match="dependency_overrides_provider=app"):
        serve_routes(app, _router())  # overrides would not reach its routes
    with pytest.raises(ValueError, match="only include_router merges"):
        serve_routes(
            app, _router(dependencies=[Depends(lambda: None)], dependency_overrides_provider=app)
        )
    assert not any(getattr(route, "path", None) == "/ping" for route in app.routes)
    serve_routes(app, _router(dependency_overrides_provider=app))
    assert [route.path for route in app.routes if isinstance(route, APIRoute)] == ["/ping"]
