"""Scope and role checks shared by every framework layer's guards.

One function decides; each layer (``starlette.requires``, ``flask.require``, Litestar guards,
Django permission classes) only says how to find the Principal and how to answer the error
(``answers.py``). Scopes must all be present; roles are any-of, as in the FastAPI layer.
"""

from __future__ import annotations

from .answers import check_scope_names
from .errors import InsufficientScope, TokenMissing
from .principal import Principal

__all__ = ["Requirement", "requirement"]


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
