"""Better Auth's organization access control, as data: roles, statements and the check.

Better Auth's organization plugin gives each member a role in an organization, stored as a
comma-separated string when a member has several (``"admin,member"``). A role grants actions
on resources (``{"member": ["create", "update"]}``); ``ac.newRole({...})`` makes one. This
module reproduces the plugin's three default roles and its permission check, with no web
framework, so any framework layer can use them (``authbridge.fastapi``'s
``require_org_role`` and ``require_permission`` do).

The semantics are Better Auth 1.7.25's (``plugins/organization/permission.ts``,
``roles.ts`` and ``plugins/access/access.ts``):

* a role string is split on commas, each name trimmed, empty names dropped;
* a request (resource -> actions) is allowed when **one** of the member's roles grants all of
  it: every resource named, every action listed. Roles are not merged first, so a request
  that only two roles together would grant is refused, as in Better Auth;
* an unknown role, or a resource the role does not mention, grants nothing;
* custom roles replace the default ones (Better Auth's ``roles`` option does the same):
  pass ``{**DEFAULT_ROLES, "editor": {...}}`` to keep them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final, TypeAlias

__all__ = [
    "DEFAULT_ROLES",
    "DEFAULT_STATEMENTS",
    "AccessControl",
    "Permissions",
    "RoleDefinitions",
    "freeze_request",
    "parse_roles",
]

# resource -> actions: the shape of a permission request and of one role's grants.
Permissions: TypeAlias = Mapping[str, Iterable[str]]
# role -> resource -> actions: the shape of Better Auth's ``roles`` option.
RoleDefinitions: TypeAlias = Mapping[str, Permissions]

_Frozen: TypeAlias = Mapping[str, frozenset[str]]


def _freeze(grants: Permissions, what: str) -> _Frozen:
    """An immutable copy of ``grants``, checked: a typo in a role table fails at startup."""
    if not isinstance(grants, Mapping):
        raise TypeError(f"{what} must map resource names to lists of actions")
    frozen: dict[str, frozenset[str]] = {}
    for resource, actions in grants.items():
        if not isinstance(resource, str) or not resource:
            raise ValueError(f"{what}: resource names must be non-empty strings")
        if isinstance(actions, str) or not isinstance(actions, Iterable):
            raise TypeError(f"{what}: the actions of {resource!r} must be a list of strings")
        names = frozenset(actions)
        if not all(isinstance(a, str) and a for a in names):
            raise ValueError(f"{what}: the actions of {resource!r} must be non-empty strings")
        frozen[resource] = names
    return MappingProxyType(frozen)


# Better Auth 1.7.25, plugins/organization/access/statement.ts: every resource and action the
# plugin itself checks (its own endpoints ask for these).
DEFAULT_STATEMENTS: Final[_Frozen] = _freeze(
    {
        "organization": ("update", "delete"),
        "member": ("create", "update", "delete"),
        "invitation": ("create", "cancel"),
        "team": ("create", "update", "delete"),
        "ac": ("create", "read", "update", "delete"),
    },
    "DEFAULT_STATEMENTS",
)

# The same file's default roles. Only an owner may delete the organization; a member may only
# read the roles ("ac") of its organization.
DEFAULT_ROLES: Final[Mapping[str, _Frozen]] = MappingProxyType(
    {
        "owner": DEFAULT_STATEMENTS,
        "admin": _freeze(
            {
                "organization": ("update",),
                "member": ("create", "update", "delete"),
                "invitation": ("create", "cancel"),
                "team": ("create", "update", "delete"),
                "ac": ("create", "read", "update", "delete"),
            },
            "admin",
        ),
        "member": _freeze(
            {"organization": (), "member": (), "invitation": (), "team": (), "ac": ("read",)},
            "member",
        ),
    }
)


# A guard parses the caller's role string on every request, and an app sees only a handful of
# distinct ones ("owner", "admin,member"): remembering them makes the parse a dict lookup.
# The bound caps the memory that verified tokens with many distinct role strings could use.
@lru_cache(maxsize=1024)
def parse_roles(value: str | None) -> tuple[str, ...]:
    """The role names in a member's role string: ``"admin, member"`` -> ("admin", "member")."""
    if not value:
        return ()
    return tuple(name for name in (part.strip() for part in value.split(",")) if name)


def freeze_request(permissions: Permissions) -> _Frozen:
    """A permission request, checked and frozen; it must name at least one action."""
    frozen = _freeze(permissions, "permissions")
    if not frozen or not all(frozen.values()):
        # Better Auth refuses an empty action list; here it is a mistake in the route.
        raise ValueError("name at least one action for every resource")
    return frozen


class AccessControl:
    """Which actions each organization role grants; ``allows`` answers a request.

    ``AccessControl()`` has Better Auth's default roles; ``AccessControl(roles)`` has exactly
    ``roles`` (role -> resource -> actions, the shape ``ac.newRole({...})`` takes).
    """

    __slots__ = ("roles",)

    def __init__(self, roles: RoleDefinitions | None = None) -> None:
        if roles is None:
            self.roles: Mapping[str, _Frozen] = DEFAULT_ROLES
            return
        if not isinstance(roles, Mapping):
            raise TypeError("roles must map role names to {resource: [actions]}")
        checked: dict[str, _Frozen] = {}
        for name, grants in roles.items():
            if not isinstance(name, str) or not name.strip() or "," in name:
                raise ValueError("role names must be non-empty strings without commas")
            checked[name] = _freeze(grants, f"role {name!r}")
        self.roles = MappingProxyType(checked)

    def grants(self, role: str, request: _Frozen) -> bool:
        """Whether the one role ``role`` grants every action of ``request``."""
        granted = self.roles.get(role)
        if granted is None:
            return False
        return all(
            actions <= granted.get(resource, frozenset()) for resource, actions in request.items()
        )

    def allows(self, member_role: str | None, permissions: Permissions) -> bool:
        """Whether a member whose role string is ``member_role`` may do all of ``permissions``."""
        request = freeze_request(permissions)
        return any(self.grants(role, request) for role in parse_roles(member_role))
