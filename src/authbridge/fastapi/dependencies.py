"""FastAPI dependencies: who is calling, and may they do this?

``get_principal`` (alias ``bearer_scheme``) is itself the OpenAPI HTTP bearer security scheme,
so a protected route costs one dependency. It verifies the credential once per request (the
outcome is kept in the request's ``AuthSlot``), answers failures with RFC 6750 errors, and
enforces any ``Security(..., scopes=[...])`` scopes with all-of semantics. Verification always
comes before authorization: a forged token gets 401, never 403. Authentication itself is
``authenticate.py``'s (``settled``, then ``authenticated``), shared with the fast path.

``require_scopes``/``require_roles`` build guards of the same kind, so a guarded route is
still one dependency; ``install`` lists guard scopes in OpenAPI (``openapi.py``).

The organization guards (``ActiveOrganization``, ``require_org_role``, ``require_permission``)
are guards of the same kind too: they read ``Principal.organization_id`` and
``organization_role`` and check them with ``authbridge.organization`` (Better Auth's access
control, as data). ``install`` describes them in OpenAPI with an ``x-authbridge-organization``
extension and a 403 response.
"""

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Final, TypeVar, get_args

from fastapi import Request, Security
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection

from ..errors import (
    InsufficientScope,
    InvalidClaims,
    OrganizationRequired,
    OrganizationRoleDenied,
    PermissionDenied,
    TokenMissing,
)
from ..organization import AccessControl, Permissions, RoleDefinitions, freeze_request, parse_roles
from ..principal import CredentialKind, Principal
from ..user_model import UserModel
from .authenticate import STATE_ATTRIBUTE, Authenticator, authenticated, settled
from .middleware import slot_of
from .openapi import SCHEME_NAME, bearer_model
from .responses import DEFAULT_REALM, AuthHTTPException, check_scope_names, http_error_for

__all__ = [
    "ActiveOrganization",
    "CurrentUser",
    "OptionalUser",
    "bearer_scheme",
    "current_user",
    "get_principal",
    "optional_principal",
    "require_org_role",
    "require_permission",
    "require_roles",
    "require_scopes",
]


def _deny(
    request: HTTPConnection,
    principal: Principal,
    scopes: tuple[str, ...],
    roles: tuple[str, ...] = (),
) -> AuthHTTPException:
    return _refuse(request, principal, InsufficientScope(required=scopes), scopes + roles)


def _refuse(
    request: HTTPConnection,
    principal: Principal,
    error: InsufficientScope,
    required: tuple[str, ...],
) -> AuthHTTPException:
    """Log a 403 (``required`` goes to the audit log) and build its answer."""
    bridge = getattr(request.app.state, STATE_ATTRIBUTE, None)
    if not isinstance(bridge, Authenticator):  # a test's override_user without a bridge
        return http_error_for(error, DEFAULT_REALM)
    return bridge.refuse(error, request.scope, principal=principal, required=required)


class BearerPrincipal(SecurityBase):
    """Required credentials. It is also the OpenAPI ``http``/``bearer`` security scheme, so a
    protected route costs a single dependency. Enforces ``Security`` scopes (all of them)."""

    optional = False

    def __init__(self) -> None:
        self.model = bearer_model()
        self.scheme_name = SCHEME_NAME
        _ALL.add(self)

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        principal = settled(request.scope) or await authenticated(request, cache_tried=True)
        assert principal is not None
        self.authorize(request, principal, security_scopes.scopes)
        return principal

    def admit(self, request: HTTPConnection, principal: Principal, scopes: list[str]) -> object:
        """What the route gets once ``principal`` may pass (raises the 403 otherwise): the
        dependency's answer, also given by ``route_auth.py`` to routes it solves ahead."""
        self.authorize(request, principal, scopes)
        return self.result(principal)

    def authorize(self, request: HTTPConnection, principal: Principal, scopes: list[str]) -> None:
        """Raise a 403 unless ``principal`` may pass; ``scopes`` come from ``Security``."""
        if scopes and not principal.has_scopes(scopes):
            raise _deny(request, principal, tuple(scopes))

    def declared_scopes(self) -> tuple[str, ...]:
        """Scopes to add to the route's OpenAPI security requirement."""
        return ()

    def declared_organization(self) -> dict[str, Any] | None:
        """What the route needs of the caller's organization, for OpenAPI; None: nothing."""
        return None

    def result(self, principal: Principal) -> object:
        """What the dependency gives the route once ``principal`` may pass."""
        return principal


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
    """``require_scopes(...)``: verification, then all (or any) of the scopes; with
    ``credentials``, only for principals of those credential kinds (others pass)."""

    def __init__(
        self,
        scopes: tuple[str, ...],
        any_of: bool,
        credentials: frozenset[CredentialKind] | None = None,
    ) -> None:
        super().__init__()
        self.scopes = scopes
        self.any_of = any_of
        self.credentials = credentials

    def authorize(self, request: HTTPConnection, principal: Principal, scopes: list[str]) -> None:
        applies = self.credentials is None or principal.credential in self.credentials
        if applies and not principal.has_scopes(self.scopes, any_of=self.any_of):
            raise _deny(request, principal, self.scopes)
        super().authorize(request, principal, scopes)

    def declared_scopes(self) -> tuple[str, ...]:
        return self.scopes

    def __repr__(self) -> str:
        mode = "any" if self.any_of else "all"
        kinds = "" if self.credentials is None else f"; {', '.join(sorted(self.credentials))}"
        return f"require_scopes({', '.join(self.scopes)}; {mode}{kinds})"


class RoleGuard(BearerPrincipal):
    """``require_roles(...)``: verification, then one (or all) of the roles."""

    def __init__(self, roles: tuple[str, ...], all_of: bool) -> None:
        super().__init__()
        self.roles = roles
        self.all_of = all_of

    def authorize(self, request: HTTPConnection, principal: Principal, scopes: list[str]) -> None:
        if not principal.has_roles(self.roles, any_of=not self.all_of):
            raise _deny(request, principal, (), self.roles)
        super().authorize(request, principal, scopes)

    def __repr__(self) -> str:
        mode = "all" if self.all_of else "any"
        return f"require_roles({', '.join(self.roles)}; {mode})"


_MAX_DECISIONS: Final = 1024  # remembered role strings per permission guard


class OrganizationGuard(BearerPrincipal):
    """Verification, then an active organization (403 ``organization_required`` without)."""

    def authorize(self, request: HTTPConnection, principal: Principal, scopes: list[str]) -> None:
        if not principal.organization_id:  # an empty id names no organization either
            raise _refuse(request, principal, OrganizationRequired(), ())
        super().authorize(request, principal, scopes)

    def declared_organization(self) -> dict[str, Any] | None:
        return {"required": True}


class ActiveOrganizationGuard(OrganizationGuard):
    """``ActiveOrganization``: gives the route the active organization's id."""

    async def __call__(  # type: ignore[override]
        self, request: Request, security_scopes: SecurityScopes
    ) -> str:
        return self.result(await super().__call__(request, security_scopes))

    def result(self, principal: Principal) -> str:
        assert principal.organization_id  # authorize refused it otherwise
        return principal.organization_id

    def __repr__(self) -> str:
        return "ActiveOrganization"


class OrgRoleGuard(OrganizationGuard):
    """``require_org_role(...)``: an active organization, and one of the roles in it."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        super().__init__()
        self.roles = roles
        self._wanted = frozenset(roles)

    def authorize(self, request: HTTPConnection, principal: Principal, scopes: list[str]) -> None:
        super().authorize(request, principal, scopes)
        if self._wanted.isdisjoint(parse_roles(principal.organization_role)):
            raise _refuse(request, principal, OrganizationRoleDenied(), self.roles)

    def declared_organization(self) -> dict[str, Any] | None:
        return {"required": True, "roles": list(self.roles)}

    def __repr__(self) -> str:
        return f"require_org_role({', '.join(self.roles)})"


class PermissionGuard(OrganizationGuard):
    """``require_permission(...)``: an active organization, and a role granting the actions."""

    def __init__(self, permissions: Mapping[str, frozenset[str]], access: AccessControl) -> None:
        super().__init__()
        self.permissions = permissions
        self.access = access
        self._decisions: dict[str, bool] = {}
        # "task:delete", in a stable order: for the audit log and repr.
        self.names = tuple(f"{r}:{a}" for r, acts in permissions.items() for a in sorted(acts))

    def authorize(self, request: HTTPConnection, principal: Principal, scopes: list[str]) -> None:
        super().authorize(request, principal, scopes)
        if not self.allows(principal.organization_role):
            raise _refuse(request, principal, PermissionDenied(), self.names)

    def allows(self, member_role: str | None) -> bool:
        """The decision for a role string, remembered: the guard's roles and request never
        change, and an app sees few distinct role strings (bounded all the same)."""
        key = member_role or ""
        decision = self._decisions.get(key)
        if decision is None:
            roles = parse_roles(member_role)
            decision = any(self.access.grants(role, self.permissions) for role in roles)
            if len(self._decisions) < _MAX_DECISIONS:
                self._decisions[key] = decision
        return decision

    def declared_organization(self) -> dict[str, Any] | None:
        permissions = {r: sorted(acts) for r, acts in self.permissions.items()}
        return {"required": True, "permissions": permissions}

    def __repr__(self) -> str:
        return f"require_permission({', '.join(self.names)})"


class TypedUser(BearerPrincipal):
    """``current_user(MyUser)``: verification, then the app's own user model, built once per
    request (kept in the request's ``AuthSlot``). A credential that does not fit the model is
    the ``invalid_token`` 401 (``invalid_claims`` in the audit log, naming the model)."""

    def __init__(self, model: UserModel[Any]) -> None:
        super().__init__()
        self.user_model = model

    async def __call__(  # type: ignore[override]
        self, request: Request, security_scopes: SecurityScopes
    ) -> object:
        principal = settled(request.scope) or await authenticated(request, cache_tried=True)
        assert principal is not None
        return self.admit(request, principal, security_scopes.scopes)

    def admit(self, request: HTTPConnection, principal: Principal, scopes: list[str]) -> object:
        self.authorize(request, principal, scopes)
        return self.typed(request, principal)

    def typed(self, request: HTTPConnection, principal: Principal) -> object:
        slot = slot_of(request.scope)
        models = slot.models
        if models is None:
            models = slot.models = {}
        built = models.get(self.user_model.model)
        if built is None:
            try:
                built = self.user_model.build(principal)
            except InvalidClaims as error:
                built = self._refuse_claims(request, principal, error)
            models[self.user_model.model] = built
        if isinstance(built, AuthHTTPException):
            raise built.fresh()  # the kept one stays unraised: no reference cycle
        return built

    def _refuse_claims(
        self, request: HTTPConnection, principal: Principal, error: InvalidClaims
    ) -> AuthHTTPException:
        bridge = getattr(request.app.state, STATE_ATTRIBUTE, None)
        if not isinstance(bridge, Authenticator):
            return http_error_for(error, DEFAULT_REALM)
        reason = error.message.partition(": ")[2]
        return bridge.refuse(
            error, request.scope, principal=principal, required=(self.user_model.name, reason)
        )

    def result(self, principal: Principal) -> object:
        try:
            return self.user_model.build(principal)
        except InvalidClaims as error:
            raise http_error_for(error, DEFAULT_REALM) from None

    def __repr__(self) -> str:
        return f"current_user({self.user_model.name})"


class OptionalTypedUser(TypedUser):
    """``current_user(MyUser, optional=True)``: None when the request sent no credentials; a
    bad credential, or one that does not fit the model, is still a 401."""

    optional = True

    async def __call__(  # type: ignore[override]
        self, request: Request, security_scopes: SecurityScopes
    ) -> object:
        principal = await authenticated(request, optional=True)
        if principal is None:
            return None
        self.authorize(request, principal, security_scopes.scopes)
        return self.typed(request, principal)

    def __repr__(self) -> str:
        return f"current_user({self.user_model.name}, optional=True)"


# Every dependency object made here, so override_user can replace them all.
_ALL: Final[weakref.WeakSet[BearerPrincipal]] = weakref.WeakSet()

get_principal: Final = BearerPrincipal()
bearer_scheme: Final = get_principal
optional_principal: Final = OptionalBearerPrincipal()

CurrentUser = Annotated[Principal, Security(get_principal)]
OptionalUser = Annotated[Principal | None, Security(optional_principal)]
active_organization: Final = ActiveOrganizationGuard()
# The caller's active organization id; 403 ``organization_required`` without one.
ActiveOrganization = Annotated[str, Security(active_organization)]


_T = TypeVar("_T")
# One dependency per model, so a request builds each model once however often it is named.
_TYPED: Final[dict[tuple[type, bool], TypedUser]] = {}


def current_user(
    model: type[_T], *, scopes: Sequence[str] | None = None, optional: bool = False
) -> Any:
    """The caller as the app's own ``model`` (a ``msgspec.Struct`` or a pydantic model):

    ``Me = Annotated[MyUser, current_user(MyUser)]``, then ``async def me(user: Me)``.

    Built from the JWT's claims or the session's user row, camelCase names mapped to the
    model's fields (``favoriteColor`` -> ``favorite_color``). The model is checked here, at
    import: a type no credential could fill raises ``TypeError``. A credential that does not
    fit is a 401; ``scopes`` are required as with ``Security(..., scopes=...)``. With
    ``optional``, a request without credentials gets None (annotate ``MyUser | None``).
    """
    key = (model, optional)
    dependency = _TYPED.get(key)
    if dependency is None:
        built = _TYPED.get((model, not optional))
        checked = built.user_model if built is not None else UserModel(model)
        kind = OptionalTypedUser if optional else TypedUser
        dependency = _TYPED[key] = kind(checked)
    return Security(dependency, scopes=scopes)


def require_scopes(
    *scopes: str, any_of: bool = False, credentials: Sequence[str] | None = None
) -> ScopeGuard:
    """A dependency returning the Principal if it holds all (or, ``any_of``, one) of ``scopes``.

    Use as ``Depends(require_scopes("tasks:read"))`` (or ``Security``, or in a route's
    ``dependencies=[...]``). ``AuthBridge.install`` lists the scopes on the route's OpenAPI
    security requirement.

    ``credentials`` limits the check to principals of those credential kinds (``"jwt"``,
    ``"session"``, ``"api_key"``); any other verified caller passes. So
    ``require_scopes("tasks:write", credentials=("api_key",))`` holds an API key to its
    permissions while signed-in users keep full access. OpenAPI then lists the scopes only on
    the security schemes they apply to.
    """
    return ScopeGuard(check_scope_names(scopes, "scope"), any_of, _credential_kinds(credentials))


def _credential_kinds(credentials: Sequence[str] | None) -> frozenset[CredentialKind] | None:
    if credentials is None:
        return None
    if isinstance(credentials, str):  # ("api_key") without its comma: a str, not a tuple
        raise ValueError(f"credentials must be a tuple of kinds: ({credentials!r},)")
    known: tuple[CredentialKind, ...] = get_args(CredentialKind)
    kinds: set[CredentialKind] = set()
    for kind in credentials:
        if kind not in known:
            raise ValueError(
                f"unknown credential kind {kind!r} in require_scopes(credentials=...): "
                f"use {', '.join(known)}"
            )
        kinds.add(kind)
    if not kinds:
        raise ValueError("credentials names no credential kind: omit it to check every caller")
    return frozenset(kinds)


def require_roles(*roles: str, all_of: bool = False) -> RoleGuard:
    """A dependency returning the Principal if it has one (or, ``all_of``, all) of ``roles``."""
    return RoleGuard(check_scope_names(roles, "role"), all_of)


def require_org_role(*roles: str) -> OrgRoleGuard:
    """A dependency returning the Principal if its role in the active organization is one of
    ``roles``. A member with several roles (``"admin,member"``) passes if any one is named.
    No active organization: 403 ``organization_required``."""
    checked = check_scope_names(roles, "role")
    if any("," in role for role in checked):
        raise ValueError("name each role separately: require_org_role('owner', 'admin')")
    return OrgRoleGuard(checked)


def require_permission(
    resource: str | Permissions,
    *actions: str,
    roles: RoleDefinitions | AccessControl | None = None,
) -> PermissionGuard:
    """A dependency returning the Principal if its organization role grants the actions.

    ``require_permission("task", "delete")``, ``require_permission("task", "read", "update")``
    (all of them) or ``require_permission({"task": ["delete"], "project": ["read"]})``.
    ``roles`` are the organization's roles (role -> resource -> actions, as Better Auth's
    ``ac.newRole``), replacing the default ``owner``/``admin``/``member`` as Better Auth's
    ``roles`` option does. Checked as Better Auth checks: one of the member's roles must grant
    everything asked. No active organization: 403 ``organization_required``.
    """
    if isinstance(resource, str):
        if not actions:
            raise ValueError("name at least one action: require_permission('task', 'delete')")
        permissions: Permissions = {resource: actions}
    elif actions:
        raise ValueError("pass actions inside the mapping, not after it")
    else:
        permissions = resource
    frozen = freeze_request(permissions)
    for name, granted in frozen.items():
        check_scope_names((name, *granted), "resource and action")
    access = roles if isinstance(roles, AccessControl) else AccessControl(roles)
    return PermissionGuard(frozen, access)


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
            return dependency.result(principal)

        return overridden

    return {dependency: fake(dependency) for dependency in list(_ALL)}
