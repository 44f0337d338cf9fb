"""Scope and role checks shared by every framework layer's guards.

One function decides; each layer (``starlette.requires``, ``flask.require``, Litestar guards,
Django permission classes) only says how to find the Principal and how to answer the error
(``answers.py``). Scopes must all be present; roles are any-of, as in the FastAPI layer.
"""

from __future__ import annotations

from .answers import check_scope_names
from .errors import InsufficientScope, OrganizationRequired, OrganizationRoleDenied, TokenMissing
from .organization import parse_roles
from .principal import Principal

__all__ = ["OrgRoleRequirement", "Requirement", "org_role_requirement", "requirement"]


class Requirement:
    """The scopes (all needed) and roles (any one needed) a route asks for."""

    __slots__ = ("roles", "scopes")

    def __init__(self, scopes: tuple[str, ...], roles: tuple[str, ...]) -> None:
        self.scopes = scopes
        self.roles = roles

    def check(self, principal: Principal | None) -> Principal:
        """The Principal if it may pass; ``TokenMissing`` without one (a 401 challenge),
        ``InsufficientScope`` naming the missing scopes otherwise (a 403)."""
        if principal is None:
            raise TokenMissing()
        if self.scopes and not principal.has_scopes(self.scopes):
            raise InsufficientScope(required=self.scopes)
        if self.roles and not principal.has_roles(self.roles):
            raise InsufficientScope()  # role names are not OAuth scopes: not advertised
        return principal


def requirement(
    scopes: str | tuple[str, ...] | list[str] = (), roles: str | tuple[str, ...] | list[str] = ()
) -> Requirement:
    """A checked ``Requirement``: names are validated once, when the route is declared."""
    scope_names = (scopes,) if isinstance(scopes, str) else tuple(scopes)
    role_names = (roles,) if isinstance(roles, str) else tuple(roles)
    return Requirement(
        check_scope_names(scope_names) if scope_names else (),
        check_scope_names(role_names, "role") if role_names else (),
    )


class OrgRoleRequirement:
    """An active organization, and one of ``roles`` as the member's role in it (a member
    with several roles, ``"admin,member"``, passes if any one is named), as the FastAPI
    layer's ``require_org_role``."""

    __slots__ = ("_wanted", "roles")

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles
        self._wanted = frozenset(roles)

    def check(self, principal: Principal | None) -> Principal:
        """The Principal if it may pass; ``TokenMissing`` without one, 403
        ``organization_required`` without an active organization, else 403
        ``insufficient_scope`` (``OrganizationRoleDenied``)."""
        if principal is None:
            raise TokenMissing()
        if not principal.organization_id:  # an empty id names no organization either
            raise OrganizationRequired()
        if self._wanted.isdisjoint(parse_roles(principal.organization_role)):
            raise OrganizationRoleDenied()
        return principal


def org_role_requirement(*roles: str) -> OrgRoleRequirement:
    """A checked ``OrgRoleRequirement``: role names are validated once."""
    checked = check_scope_names(roles, "role")
    if any("," in role for role in checked):
        raise ValueError("name each role separately: ('owner', 'admin')")
    return OrgRoleRequirement(checked)
