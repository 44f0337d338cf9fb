"""FastAPI dependencies: who is calling, and may they do this?

``get_principal`` (alias ``bearer_scheme``) is itself the OpenAPI HTTP bearer security scheme,
so a protected route costs one dependency. It verifies the credential once per request (the
outcome is kept in the request's ``AuthSlot``), answers failures with RFC 6750 errors, and
enforces any ``Security(..., scopes=[...])`` scopes with all-of semantics. Verification always
comes before authorization: a forged token gets 401, never 403.

This module deliberately does not use ``from __future__ import annotations``: the guards
built by ``require_scopes``/``require_roles`` carry per-call defaults that FastAPI must see
as real objects.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Request, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from ..errors import AuthError, InsufficientScope, TokenMissing
from ..principal import Principal
from .bridge import STATE_ATTRIBUTE, AuthBridge, bridge_of
from .middleware import slot_of
from .responses import AuthHTTPException, check_scope_names, http_error_for

__all__ = [
    "CurrentUser",
    "OptionalUser",
    "bearer_scheme",
    "get_principal",
    "optional_principal",
    "require_roles",
    "require_scopes",
    "verified_principal",
]

SCHEME_NAME: Final = "bearerAuth"
_DESCRIPTION: Final = (
    "A Better Auth JWT (or a service token) sent as `Authorization: Bearer <token>`."
)


async def authenticated(request: Request, *, optional: bool = False) -> Principal | None:
    """This request's Principal, verifying at most once; None only if ``optional`` and absent."""
    scope = request.scope
    slot = slot_of(scope)
    result = slot.result
    if result is not None:
        if isinstance(result, Principal):
            return result
        raise result
    if optional and slot.anonymous:
        return None
    bridge = bridge_of(request)
    try:
        principal, cached = await bridge.resolve(request)
    except TokenMissing as exc:
        if optional:
            slot.anonymous = True
            return None
        slot.result = error = bridge.refuse(exc, scope)
        raise error from None
    except AuthError as exc:
        slot.result = error = bridge.refuse(exc, scope)
        raise error from None
    slot.result = principal
    bridge.audit.success(principal, scope=scope, cached=cached)
    return principal


def _deny(
    request: Request, principal: Principal, scopes: tuple[str, ...], roles: tuple[str, ...] = ()
) -> AuthHTTPException:
    error = InsufficientScope(required=scopes)
    bridge = getattr(request.app.state, STATE_ATTRIBUTE, None)
    if not isinstance(bridge, AuthBridge):  # a test's override_user without a bridge
        return http_error_for(error, "api")
    return bridge.refuse(error, request.scope, principal=principal, required=scopes + roles)


def _enforce_scopes(request: Request, principal: Principal, scopes: SecurityScopes) -> None:
    if scopes.scopes and not principal.has_scopes(scopes.scopes):
        raise _deny(request, principal, tuple(scopes.scopes))


class _BearerScheme(SecurityBase):
    """The OpenAPI ``http``/``bearer`` scheme; subclasses are the dependencies themselves."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT", description=_DESCRIPTION)
        self.scheme_name = SCHEME_NAME


class BearerPrincipal(_BearerScheme):
    """Required credentials; enforces ``Security`` scopes (all of them)."""

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        principal = await authenticated(request)
        assert principal is not None
        _enforce_scopes(request, principal, security_scopes)
        return principal


class OptionalBearerPrincipal(_BearerScheme):
    """None when the request sent no credentials; a bad credential is still a 401."""

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal | None:
        principal = await authenticated(request, optional=True)
        if principal is not None:
            _enforce_scopes(request, principal, security_scopes)
        return principal


class VerifiedPrincipal(_BearerScheme):
    """Required credentials, no scope check: the base of ``require_scopes``/``require_roles``,
    which declare their scopes to OpenAPI through it and check them their own way."""

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticated(request)
        assert principal is not None
        return principal


get_principal: Final = BearerPrincipal()
bearer_scheme: Final = get_principal
optional_principal: Final = OptionalBearerPrincipal()
verified_principal: Final = VerifiedPrincipal()

CurrentUser = Annotated[Principal, Security(get_principal)]
OptionalUser = Annotated[Principal | None, Security(optional_principal)]

Guard = Callable[..., Awaitable[Principal]]


def require_scopes(*scopes: str, any_of: bool = False) -> Guard:
    """A dependency returning the Principal if it holds all (or, ``any_of``, one) of ``scopes``.

    Use as ``Depends(require_scopes("tasks:read"))`` or ``Security(...)``; the scopes appear on
    the route's OpenAPI security requirement.
    """
    required = check_scope_names(scopes, "scope")
    verified = Security(verified_principal, scopes=list(required))

    async def scopes_guard(
        request: Request,
        security_scopes: SecurityScopes,
        principal: Principal = verified,
    ) -> Principal:
        if not principal.has_scopes(required, any_of=any_of):
            raise _deny(request, principal, required)
        _enforce_scopes(request, principal, security_scopes)
        return principal

    scopes_guard.__name__ = f"require_scopes({', '.join(required)})"
    return scopes_guard


def require_roles(*roles: str, all_of: bool = False) -> Guard:
    """A dependency returning the Principal if it has one (or, ``all_of``, all) of ``roles``."""
    required = check_scope_names(roles, "role")
    verified = Security(verified_principal)

    async def roles_guard(
        request: Request,
        security_scopes: SecurityScopes,
        principal: Principal = verified,
    ) -> Principal:
        if not principal.has_roles(required, any_of=not all_of):
            raise _deny(request, principal, (), required)
        _enforce_scopes(request, principal, security_scopes)
        return principal

    roles_guard.__name__ = f"require_roles({', '.join(required)})"
    return roles_guard


def principal_overrides(
    principal: Principal | None, realm: str = "api"
) -> dict[Callable[..., object], Callable[..., object]]:
    """``app.dependency_overrides`` entries that make every dependency here yield ``principal``.

    Guards still check scopes and roles against it; ``None`` means "no credentials" (401).
    """

    def missing() -> AuthHTTPException:
        return http_error_for(TokenMissing(), realm)

    def check(scopes: SecurityScopes) -> Principal:
        if principal is None:
            raise missing()
        if scopes.scopes and not principal.has_scopes(scopes.scopes):
            raise http_error_for(InsufficientScope(required=tuple(scopes.scopes)), realm)
        return principal

    async def as_get_principal(request: Request, security_scopes: SecurityScopes) -> Principal:
        slot_of(request.scope).result = check(security_scopes)
        return slot_of(request.scope).result  # type: ignore[return-value]

    async def as_optional(request: Request, security_scopes: SecurityScopes) -> Principal | None:
        if principal is None:
            return None
        slot_of(request.scope).result = check(security_scopes)
        return principal

    async def as_verified(request: Request) -> Principal:
        slot_of(request.scope).result = check(SecurityScopes())
        return slot_of(request.scope).result  # type: ignore[return-value]

    return {
        get_principal: as_get_principal,
        optional_principal: as_optional,
        verified_principal: as_verified,
    }
