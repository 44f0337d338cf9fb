"""``/api/me`` (the caller as the API sees them) and ``/api/admin/stats`` (role ``admin``)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.security import SecurityScopes
from starlette.requests import Request
from starlette.responses import Response

from authbridge import Principal
from authbridge.fastapi import CurrentUser, get_principal, require_roles

from ..dependencies import store_of
from ..me_json import me_response
from ..repository import count_stats
from ..schemas import AdminStats, ErrorBody, Me
from ..store import Store
from ..strict_json import StrictJSONRoute, fast_path

__all__ = ["build_account_router"]

Tasks = Annotated[Store, Depends(store_of)]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def build_account_router(*, dependency_overrides_provider: Any = None) -> APIRouter:
    router = APIRouter(
        prefix="/api",
        route_class=StrictJSONRoute,
        dependency_overrides_provider=dependency_overrides_provider,
    )
    Admin = Annotated[Principal, Depends(require_roles("admin"))]

    async def me_fast(request: Request) -> Response:
        # ``CurrentUser`` without FastAPI's dependency solving, which cost about a third of
        # the route's CPU beyond /healthz; the same guard raises the same refusals.
        return me_response(await get_principal(request, SecurityScopes()))

    # The body is encoded from the Principal with msgspec (me_json.py); ``Me`` stays the
    # response model for the OpenAPI document, and FastAPI sends the Response as it is.
    @router.get("/me", response_model=Me, tags=["me"], responses=_errors(400, 401))
    @fast_path(me_fast)
    async def me(user: CurrentUser) -> Response:
        """Who the verified credential says you are."""
        return me_response(user)

    @router.get(
        "/admin/stats", response_model=AdminStats, tags=["admin"], responses=_errors(400, 401, 403)
    )
    async def admin_stats(user: Admin, store: Tasks) -> AdminStats:
        """Task counts across every user. Needs the ``admin`` role."""
        return AdminStats(**await store.read(count_stats))

    return router
