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

This module avoids ``from __future__ import annotations``: FastAPI must see the guard
aliases built when a router is made.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from authbridge import Principal
from authbridge.fastapi import ActiveOrganization, require_org_role

from ..dependencies import task_guard
from ..repository import Owner

__all__ = ["TEAM_DELETE_ROLES", "TaskScope", "personal_scope", "team_scope"]

# Better Auth's default organization roles that may delete a team task. Any member (any
# role) lists, reads, creates and updates.
TEAM_DELETE_ROLES: tuple[str, ...] = ("owner", "admin")


@dataclass(frozen=True, slots=True)
class TaskScope:
    """The tasks a request may touch (``owner``) and who is asking (``actor``, a ``sub``)."""

    owner: Owner
    actor: str


def personal_scope(scope: str, *, enforce: bool) -> Any:
    """``Depends``: the caller's own tasks."""
    Caller = Annotated[Principal, task_guard(scope, enforce=enforce)]

    async def personal_tasks(principal: Caller) -> TaskScope:
        return TaskScope(Owner.user(principal.sub), principal.sub)

    return Depends(personal_tasks)


def team_scope(scope: str, *, enforce: bool, roles: tuple[str, ...] = ()) -> Any:
    """``Depends``: the tasks of the caller's active organization; with ``roles``, only for a
    caller whose role in it is one of them."""
    Caller = Annotated[Principal, task_guard(scope, enforce=enforce)]
    if not roles:

        async def team_tasks(principal: Caller, organization: ActiveOrganization) -> TaskScope:
            return TaskScope(Owner.organization(organization), principal.sub)

        return Depends(team_tasks)

    Member = Annotated[Principal, Depends(require_org_role(*roles))]

    async def team_tasks_by_role(principal: Caller, member: Member) -> TaskScope:
        assert member.organization_id  # the guard refused the request otherwise
        return TaskScope(Owner.organization(member.organization_id), principal.sub)

    return Depends(team_tasks_by_role)
