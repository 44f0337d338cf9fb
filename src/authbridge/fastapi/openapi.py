"""List ``require_scopes`` scopes on each route's OpenAPI security requirement, and mark
routes whose only credential dependency is ``OptionalUser`` as open to anonymous callers.

FastAPI lists scopes only from ``Security(..., scopes=[...])``. A guard from
``require_scopes`` is used as a plain ``Depends`` and carries its scopes itself (which keeps a
protected route at one dependency), so ``AuthBridge.install`` adds them to the schema here.

Organization roles and permissions are not OAuth scopes, so the organization guards
(``ActiveOrganization``, ``require_org_role``, ``require_permission``) are described by an
``x-authbridge-organization`` extension on the operation, plus its 403 response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import HTTPBearer
from fastapi.routing import APIRoute

__all__ = [
    "API_KEY_SCHEME_NAME",
    "ORGANIZATION_EXTENSION",
    "SCHEME_NAME",
    "bearer_model",
    "declare_guard_scopes",
]

ORGANIZATION_EXTENSION: Final = "x-authbridge-organization"
_ORGANIZATION_403: Final = (
    "No active organization (`organization_required`), or the caller's organization role "
    "does not allow this (`insufficient_scope`)."
)

SCHEME_NAME: Final = "bearerAuth"
_DESCRIPTION: Final = (
    "A Better Auth JWT (or a service token) sent as `Authorization: Bearer <token>`."
)


API_KEY_SCHEME_NAME: Final = "apiKeyAuth"
_API_KEY_DESCRIPTION: Final = (
    "A Better Auth API key (`@better-auth/api-key`), in its own header. Its scopes are the "
    'key\'s permissions: `{"tasks": ["read"]}` grants `tasks:read`.'
)


def bearer_model() -> HTTPBearer:
    """The bearer security scheme's one definition: every authbridge dependency carries it,
    and routes protected by prefix alone (``protect=``) get it here."""
    return HTTPBearer(bearerFormat="JWT", description=_DESCRIPTION)


def _guards(dependant: Dependant, found: list[Any]) -> list[Any]:
    """Every authbridge dependency object in the route's dependency tree."""
    if callable(getattr(dependant.call, "declared_scopes", None)):
        found.append(dependant.call)
    for sub in dependant.dependencies:
        _guards(sub, found)
    return found


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route, including those of included routers (which newer FastAPI versions
    keep nested instead of copying into ``app.routes``)."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # older FastAPI: included routes are flattened into app.routes
        yield from (route for route in app.routes if isinstance(route, APIRoute))
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def _merge(
    app: FastAPI,
    schema: dict[str, Any],
    protect: tuple[str, ...] = (),
    api_key_header: str | None = None,
) -> None:
    if api_key_header is not None:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[API_KEY_SCHEME_NAME] = {
            "type": "apiKey",
            "in": "header",
            "name": api_key_header,
            "description": _API_KEY_DESCRIPTION,
        }
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        guards = _guards(route.dependant, [])
        # Under a protect= prefix the middleware requires credentials, dependency or not.
        protected = bool(protect) and route.path_format.startswith(protect)
        if not guards and not protected:
            continue
        if protected:
            _declare_scheme(schema)
        scopes = _scopes(guards, _BEARER_KINDS)
        key_scopes = _scopes(guards, _API_KEY_KINDS)
        optional = not protected and all(getattr(guard, "optional", False) for guard in guards)
        organization = _organization(guards)
        path_item = schema.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = path_item.get(method.lower())
            if operation is None:
                continue
            requirements = operation.setdefault("security", [])
            entry = next((r for r in requirements if SCHEME_NAME in r), None)
            if entry is None:
                entry = {SCHEME_NAME: []}
                requirements.append(entry)
            declared = entry[SCHEME_NAME]  # FastAPI's, from Security(..., scopes=...)
            entry[SCHEME_NAME] = list(dict.fromkeys([*declared, *scopes]))
            if api_key_header is not None:
                # An alternative to the bearer; its scopes are the key's permissions, and a
                # guard limited to some credential kinds lists its scopes where they apply.
                keyed = next((r for r in requirements if API_KEY_SCHEME_NAME in r), None)
                if keyed is None:
                    keyed = {API_KEY_SCHEME_NAME: []}
                    requirements.insert(requirements.index(entry) + 1, keyed)
                keyed[API_KEY_SCHEME_NAME] = list(
                    dict.fromkeys([*keyed[API_KEY_SCHEME_NAME], *declared, *key_scopes])
                )
            if optional and {} not in requirements:
                requirements.append({})  # OpenAPI's way to say "or no credentials at all"
            if organization is not None:
                operation[ORGANIZATION_EXTENSION] = organization
                responses = operation.setdefault("responses", {})
                responses.setdefault("403", {"description": _ORGANIZATION_403})


# The credential kinds each security scheme carries: the bearer a JWT or a session token
# (the session cookie too), the apiKey scheme an API key.
_BEARER_KINDS: Final = frozenset({"jwt", "session"})
_API_KEY_KINDS: Final = frozenset({"api_key"})


def _scopes(guards: list[Any], kinds: frozenset[str]) -> list[str]:
    """The scopes the guards require of a credential of one of ``kinds``."""
    return list(
        dict.fromkeys(
            scope for guard in guards if _applies(guard, kinds) for scope in guard.declared_scopes()
        )
    )


def _applies(guard: Any, kinds: frozenset[str]) -> bool:
    credentials = getattr(guard, "credentials", None)  # require_scopes(credentials=...)
    return credentials is None or not kinds.isdisjoint(credentials)


def _organization(guards: list[Any]) -> dict[str, Any] | None:
    """The route's organization guards, summed up: an active organization is required; the
    caller's role must be one of ``roles``; it must grant all of ``permissions``."""
    declared = [d for guard in guards if (d := _declared_organization(guard)) is not None]
    if not declared:
        return None
    summary: dict[str, Any] = {"required": True}
    roles = list(dict.fromkeys(r for d in declared for r in d.get("roles", ())))
    if roles:
        summary["roles"] = roles
    permissions: dict[str, list[str]] = {}
    for d in declared:
        for resource, actions in d.get("permissions", {}).items():
            merged = dict.fromkeys([*permissions.get(resource, ()), *actions])
            permissions[resource] = list(merged)
    if permissions:
        summary["permissions"] = permissions
    return summary


def _declared_organization(guard: Any) -> dict[str, Any] | None:
    declare = getattr(guard, "declared_organization", None)
    return declare() if callable(declare) else None


def _declare_scheme(schema: dict[str, Any]) -> None:
    """The bearer scheme, for routes protected by prefix alone (no dependency declares it)."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    if SCHEME_NAME not in schemes:
        schemes[SCHEME_NAME] = bearer_model().model_dump(by_alias=True, exclude_none=True)


def declare_guard_scopes(
    app: FastAPI, *, protect: tuple[str, ...] = (), api_key_header: str | None = None
) -> None:
    """Wrap ``app.openapi`` so the generated schema lists every guard's scopes, and a bearer
    requirement on every route under a ``protect=`` prefix. With ``api_key_header`` (API keys
    on), an ``apiKey`` scheme in that header is each route's alternative to the bearer."""
    original: Callable[[], dict[str, Any]] = app.openapi
    if getattr(original, "_authbridge", False):
        return

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        _merge(app, schema, protect, api_key_header)
        return schema

    openapi._authbridge = True  # type: ignore[attr-defined]
    setattr(app, "openapi", openapi)  # noqa: B010 - mypy forbids assigning to a method
