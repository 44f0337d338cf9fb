"""FastAPI dependencies: who is calling, and may they do this?

``get_principal`` (alias ``bearer_scheme``) is itself the OpenAPI HTTP bearer security scheme,
so a protected route costs one dependency. It verifies the credential once per request (the
outcome is kept in the request's ``AuthSlot``), answers failures with RFC 6750 errors, and
enforces any ``Security(..., scopes=[...])`` scopes with all-of semantics. Verification always
comes before authorization: a forged token gets 401, never 403. Authentication itself is
``authenticate.py``'s (``settled``, then ``authenticated``), shared with the fast path.

``require_scopes``/``require_roles`` build guards of the same kind, so a guarded route is
still one dependency; ``install`` lists guard scopes in OpenAPI (``openapi.py``).
"""

import weakref
from collections.abc import Callable
from typing import Annotated, Final

from fastapi import Request, Security
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from ..errors import InsufficientScope, TokenMissing
from ..principal import Principal
from .authenticate import STATE_ATTRIBUTE, Authenticator, authenticated, settled
from .middleware import slot_of
from .openapi import SCHEME_NAME, bearer_model
from .responses import DEFAULT_REALM, AuthHTTPException, check_scope_names, http_error_for

__all__ = [
    "CurrentUser",
    "OptionalUser",
    "bearer_scheme",
    "get_principal",
    "optional_principal",
    "require_roles",
    "require_scopes",
]


def _deny(
    request: Request, principal: Principal, scopes: tuple[str, ...], roles: tuple[str, ...] = ()
) -> AuthHTTPException:
    error = InsufficientScope(required=scopes)
    bridge = getattr(request.app.state, STATE_ATTRIBUTE, None)
    if not isinstance(bridge, Authenticator):  # a test's override_user without a bridge
        return http_error_for(error, DEFAULT_REALM)
    return bridge.refuse(error, request.scope, principal=principal, required=scopes + roles)


class BearerPrincipal(SecurityBase):
    """Required credentials. It is also the OpenAPI ``http``/``bearer`` security scheme, so a
    protected route costs a single dependency. Enforces ``Security`` scopes (all of them)."""

    optional = False

    def __init__(self) -> None:
        self.model = bearer_model()
        self.scheme_name = SCHEME_NAME
        _ALL.add(self)

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        principal = settled(request.scope) or await authenticated(request)
        assert principal is not None
        self.authorize(request, principal, security_scopes.scopes)
        return principal

    def authorize(self, request: Request, principal: Principal, scopes: list[str]) -> None:
        """Raise a 403 unless ``principal`` may pass; ``scopes`` come from ``Security``."""
        if scopes and not principal.has_scopes(scopes):
            raise _deny(request, principal, tuple(scopes))

    def declared_scopes(self) -> tuple[str, ...]:
        """Scopes to add to the route's OpenAPI security requirement."""
        return ()


class OptionalBearerPrincipal(BearerPrincipal):
    """None when the request sent no credentials; a bad credential is still a 401."""

    optional = True

    async def __call__(  # type: ignore[override]
        self, request: Request, security_scopes: SecurityScopes
    ) -> Principal | None:
        principal = await authenticated(request, optional=True)
        if principal is not None:
            self.authorize(request, principal, security_scopes.scopes)
        return principal


class ScopeGuard(BearerPrincipal):
    """``require_scopes(...)``: verification, then all (or any) of the scopes."""

    def __init__(self, scopes: tuple[str, ...], any_of: bool) -> None:
        super().__init__()
        self.scopes = scopes
        self.any_of = any_of

    def authorize(self, request: Request, principal: Principal, scopes: list[str]) -> None:
        if not principal.has_scopes(self.scopes, any_of=self.any_of):
            raise _deny(request, principal, self.scopes)
        super().authorize(request, principal, scopes)

    def declared_scopes(self) -> tuple[str, ...]:
        return self.scopes

    def __repr__(self) -> str:
        mode = "any" if self.any_of else "all"
        return f"require_scopes({', '.join(self.scopes)}; {mode})"


class RoleGuard(BearerPrincipal):
    """``require_roles(...)``: verification, then one (or all) of the roles."""

    def __init__(self, roles: tuple[str, ...], all_of: bool) -> None:
        super().__init__()
        self.roles = roles
        self.all_of = all_of

    def authorize(self, request: Request, principal: Principal, scopes: list[str]) -> None:
        if not principal.has_roles(self.roles, any_of=not self.all_of):
            raise _deny(request, principal, (), self.roles)
        super().authorize(request, principal, scopes)

    def __repr__(self) -> str:
        mode = "all" if self.all_of else "any"
        return f"require_roles({', '.join(self.roles)}; {mode})"


# Every dependency object made here, so override_user can replace them all.
_ALL: Final[weakref.WeakSet[BearerPrincipal]] = weakref.WeakSet()

get_principal: Final = BearerPrincipal()
bearer_scheme: Final = get_principal
optional_principal: Final = OptionalBearerPrincipal()

CurrentUser = Annotated[Principal, Security(get_principal)]
OptionalUser = Annotated[Principal | None, Security(optional_principal)]


def require_scopes(*scopes: str, any_of: bool = False) -> ScopeGuard:
    """A dependency returning the Principal if it holds all (or, ``any_of``, one) of ``scopes``.

    Use as ``Depends(require_scopes("tasks:read"))`` (or ``Security``, or in a route's
    ``dependencies=[...]``). ``AuthBridge.install`` lists the scopes on the route's OpenAPI
    security requirement.
    """
    return ScopeGuard(check_scope_names(scopes, "scope"), any_of)


def require_roles(*roles: str, all_of: bool = False) -> RoleGuard:
    """A dependency returning the Principal if it has one (or, ``all_of``, all) of ``roles``."""
    return RoleGuard(check_scope_names(roles, "role"), all_of)


def principal_overrides(
    principal: Principal | None, realm: str = DEFAULT_REALM
) -> dict[Callable[..., object], Callable[..., object]]:
    """``app.dependency_overrides`` entries making every authbridge dependency see ``principal``
    instead of verifying a credential. Guards still check scopes and roles against it;
    ``None`` means "no credentials" (401, or None for optional users)."""

    def fake(dependency: BearerPrincipal) -> Callable[..., object]:
        async def overridden(request: Request, security_scopes: SecurityScopes) -> object:
            if principal is None:
                if dependency.optional:
                    return None
                raise http_error_for(TokenMissing(), realm)
            dependency.authorize(request, principal, security_scopes.scopes)
            slot_of(request.scope).result = principal
            return principal

        return overridden

    return {dependency: fake(dependency) for dependency in list(_ALL)}
