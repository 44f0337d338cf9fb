"""Whose tasks a request works on: the dependencies that turn a verified caller into a
``TaskScope`` (an owner key, and the ``sub`` acting on it).

Personal routes act on the caller's own tasks (``Owner.user(sub)``); team routes on the
tasks of the caller's active organization (``Owner.organization(id)``). Each dependency runs
authbridge's guards in a fixed order: the credential is verified once, then the scope
(``tasks:read`` or ``tasks:write``: always for an API key, for everyone when scopes are
enforced), then the organization guard
(403 ``organization_required`` without an active organization; for a delete, 403 unless the
caller's organization role is ``owner`` or ``admin``). No check here looks at any task, so a
refusal reveals nothing about which tasks exist.

Each is a ``ScopeDependency``: the ``Depends`` FastAPI solves (and documents), and ``resolve``,
the same guards called directly in the same order, for a route's fast path (fast_path.py).

This module avoids ``from __future__ import annotations``: FastAPI must see the guard
aliases built when a router is made.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final, get_args

from fastapi import Depends, Request
from fastapi.security import SecurityScopes

from authbridge import Principal
from authbridge.fastapi import ActiveOrganization, require_org_role

from ..dependencies import scope_guard
from ..repository import Owner

__all__ = [
    "TEAM_DELETE_ROLES",
    "ScopeDependency",
    "TaskScope",
    "personal_scope",
    "team_scope",
]

# The guard behind ``ActiveOrganization`` (its ``Security`` marker holds it).
_ACTIVE_ORGANIZATION: Final = get_args(ActiveOrganization)[1].dependency

# Better Auth's default organization roles that may delete a team task. Any member (any
# role) lists, reads, creates and updates.
TEAM_DELETE_ROLES: tuple[str, ...] = ("owner", "admin")


@dataclass(frozen=True, slots=True)
class TaskScope:
    """The tasks a request may touch (``owner``) and who is asking (``actor``, a ``sub``)."""

    owner: Owner
    actor: str


@dataclass(frozen=True, slots=True)
class ScopeDependency:
    """``depends`` for a route's signature; ``resolve`` gives the same ``TaskScope`` (or
    raises the same refusal) without FastAPI's dependency machinery."""

    depends: Any
    resolve: Callable[[Request], Awaitable[TaskScope]]


def personal_scope(scope: str, *, enforce: bool) -> ScopeDependency:
    """The caller's own tasks."""
    guard = scope_guard(scope, enforce=enforce)
    Caller = Annotated[Principal, Depends(guard)]

    async def personal_tasks(principal: Caller) -> TaskScope:
        return TaskScope(Owner.user(principal.sub), principal.sub)

    async def resolve(request: Request) -> TaskScope:
        return await personal_tasks(await guard(request, SecurityScopes()))

    return ScopeDependency(Depends(personal_tasks), resolve)


def team_scope(scope: str, *, enforce: bool, roles: tuple[str, ...] = ()) -> ScopeDependency:
    """The tasks of the caller's active organization; with ``roles``, only for a caller whose
    role in it is one of them."""
    guard = scope_guard(scope, enforce=enforce)
    Caller = Annotated[Principal, Depends(guard)]
    if not roles:

        async def team_tasks(principal: Caller, organization: ActiveOrganization) -> TaskScope:
            return TaskScope(Owner.organization(organization), principal.sub)

        async def resolve(request: Request) -> TaskScope:
            principal = await guard(request, SecurityScopes())
            organization = await _ACTIVE_ORGANIZATION(request, SecurityScopes())
            return await team_tasks(principal, organization)

        return ScopeDependency(Depends(team_tasks), resolve)

    role_guard = require_org_role(*roles)
    Member = Annotated[Principal, Depends(role_guard)]

    async def team_tasks_by_role(principal: Caller, member: Member) -> TaskScope:
        assert member.organization_id  # the guard refused the request otherwise
        return TaskScope(Owner.organization(member.organization_id), principal.sub)

    async def resolve_by_role(request: Request) -> TaskScope:
        principal = await guard(request, SecurityScopes())
        member = await role_guard(request, SecurityScopes())
        return await team_tasks_by_role(principal, member)

    return ScopeDependency(Depends(team_tasks_by_role), resolve_by_role)
