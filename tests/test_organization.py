"""``authbridge.organization``: Better Auth's organization roles and permission check, as data.

The expected values below were read from better-auth 1.7.25 (npm), the file
``packages/better-auth/src/plugins/organization/access/statement.ts`` (built as
``dist/plugins/organization/access/statement.mjs``; on GitHub the same content is at commit
11bb6d1830980345363869d30159a2da957e2284, the file's last change), and the check's semantics
from ``plugins/organization/permission.ts``, ``roles.ts`` and ``plugins/access/access.ts``.
They are written out here by hand, not computed from the module under test.
"""

from __future__ import annotations

import pytest

from authbridge.organization import (
    DEFAULT_ROLES,
    DEFAULT_STATEMENTS,
    AccessControl,
    parse_roles,
)

BETTER_AUTH_STATEMENTS = {
    "organization": {"update", "delete"},
    "member": {"create", "update", "delete"},
    "invitation": {"create", "cancel"},
    "team": {"create", "update", "delete"},
    "ac": {"create", "read", "update", "delete"},
}
BETTER_AUTH_ROLES = {
    "owner": BETTER_AUTH_STATEMENTS,
    "admin": {
        "organization": {"update"},
        "member": {"create", "update", "delete"},
        "invitation": {"create", "cancel"},
        "team": {"create", "update", "delete"},
        "ac": {"create", "read", "update", "delete"},
    },
    "member": {
        "organization": set(),
        "member": set(),
        "invitation": set(),
        "team": set(),
        "ac": {"read"},
    },
}


def test_default_statements_are_better_auths() -> None:
    assert {r: set(a) for r, a in DEFAULT_STATEMENTS.items()} == BETTER_AUTH_STATEMENTS


def test_default_roles_are_better_auths() -> None:
    assert set(DEFAULT_ROLES) == set(BETTER_AUTH_ROLES)
    for role, grants in BETTER_AUTH_ROLES.items():
        assert {r: set(a) for r, a in DEFAULT_ROLES[role].items()} == grants


@pytest.mark.parametrize(
    ("role", "resource", "action", "allowed"),
    [
        ("owner", "organization", "delete", True),
        ("admin", "organization", "delete", False),  # only an owner deletes the organization
        ("admin", "organization", "update", True),
        ("admin", "member", "delete", True),
        ("member", "member", "create", False),
        ("member", "ac", "read", True),
        ("member", "ac", "update", False),
        ("owner", "task", "delete", False),  # not a default resource: nobody has it
        ("guest", "ac", "read", False),  # an unknown role grants nothing
    ],
)
def test_each_default_role(role: str, resource: str, action: str, allowed: bool) -> None:
    assert AccessControl().allows(role, {resource: [action]}) is allowed


def test_role_strings_are_split_like_better_auths() -> None:
    assert parse_roles("admin,member") == ("admin", "member")
    assert parse_roles(" admin , ,member ") == ("admin", "member")
    assert parse_roles("") == ()
    assert parse_roles(None) == ()


def test_several_roles_pass_if_one_grants_the_request() -> None:
    access = AccessControl()
    assert access.allows("member,admin", {"member": ["delete"]})
    assert access.allows("member, owner", {"organization": ["delete"]})
    assert not access.allows("member", {"member": ["delete"]})
    assert not access.allows(None, {"ac": ["read"]})


def test_every_action_and_resource_asked_must_be_granted() -> None:
    access = AccessControl()
    assert access.allows("admin", {"member": ["create", "delete"], "team": ["update"]})
    assert not access.allows("admin", {"member": ["delete"], "organization": ["delete"]})


def test_roles_are_not_merged_before_the_check() -> None:
    # Better Auth's hasPermissionFn asks each role alone: a request only two roles together
    # would grant is refused.
    access = AccessControl({"writer": {"task": ["create"]}, "remover": {"task": ["delete"]}})
    assert access.allows("writer,remover", {"task": ["create"]})
    assert access.allows("writer,remover", {"task": ["delete"]})
    assert not access.allows("writer,remover", {"task": ["create", "delete"]})


def test_custom_roles_replace_the_defaults() -> None:
    custom = AccessControl({"editor": {"task": ["read", "update"]}})
    assert custom.allows("editor", {"task": ["update"]})
    assert not custom.allows("editor", {"task": ["delete"]})
    assert not custom.allows("owner", {"organization": ["delete"]})
    kept = AccessControl({**DEFAULT_ROLES, "editor": {"task": ["update"]}})
    assert kept.allows("owner", {"organization": ["delete"]})
    assert kept.allows("editor", {"task": ["update"]})


@pytest.mark.parametrize(
    "roles",
    [
        {"editor": {"task": "delete"}},  # a string, not a list of actions
        {"editor": {"task": [""]}},
        {"editor": {"": ["read"]}},
        {"a,b": {"task": ["read"]}},
        {"": {"task": ["read"]}},
        {"editor": ["task"]},
    ],
)
def test_a_bad_role_table_fails_at_once(roles: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        AccessControl(roles)  # type: ignore[arg-type]


@pytest.mark.parametrize("request_", [{}, {"task": []}, {"task": "delete"}])
def test_a_bad_request_is_a_clear_error(request_: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        AccessControl().allows("owner", request_)  # type: ignore[arg-type]


def test_the_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_ROLES["guest"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        DEFAULT_STATEMENTS["task"] = frozenset()  # type: ignore[index]
