"""``/api/me`` (the caller as the API sees them) and ``/api/admin/stats`` (role ``admin``)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from authbridge import Principal
from authbridge.fastapi import CurrentUser, require_roles

from ..dependencies import store_of
from ..repository import count_stats
from ..schemas import AdminStats, ErrorBody, Me
from ..store import Store

__all__ = ["build_account_router"]

Tasks = Annotated[Store, Depends(store_of)]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def build_account_router() -> APIRouter:
    router = APIRouter(prefix="/api")
    Admin = Annotated[Principal, Depends(require_roles("admin"))]

    @router.get("/me", response_model=Me, tags=["me"], responses=_errors(400, 401))
    async def me(user: CurrentUser) -> Me:
        """Who the verified credential says you are."""
        return Me(
            sub=user.sub,
            email=user.email,
            name=user.name,
            roles=sorted(user.roles),
            scopes=sorted(user.scopes),
            session_id=user.session_id,
            issuer=user.issuer,
            expires_at=user.expires_at,
            credential=user.credential,
            organization_id=user.organization_id,
            organization_role=user.organization_role,
            impersonator=user.impersonator,
        )

    @router.get(
        "/admin/stats", response_model=AdminStats, tags=["admin"], responses=_errors(400, 401, 403)
    )
    async def admin_stats(user: Admin, store: Tasks) -> AdminStats:
        """Task counts across every user. Needs the ``admin`` role."""
        return AdminStats(**await store.read(count_stats))

    return router
