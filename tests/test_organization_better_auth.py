"""``authbridge.organization`` against Better Auth's own code: the same decisions, case by case.

Node runs better-auth 1.7.25's ``hasPermissionFn`` (``plugins/organization/permission.ts``,
the function behind ``organization.hasPermission``) over its ``defaultRoles`` and over custom
roles made with ``createAccessControl(...).newRole(...)``; every answer must match
``AccessControl.allows``. Nothing from Better Auth is copied: its installed package is run.
"""

from __future__ import annotations

import json
import subprocess
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from authbridge.organization import DEFAULT_STATEMENTS, AccessControl
from harness.node_install import node_executable

pytestmark = pytest.mark.interop

# Reads [{role, permissions, roles}] on stdin; prints one boolean per case.
_SCRIPT = """
import { defaultRoles } from "better-auth/plugins/organization/access";
import { createAccessControl } from "better-auth/plugins/access";
const where = new URL("./node_modules/better-auth/dist/plugins/organization/permission.mjs",
                      `file://${process.cwd()}/`);
const { hasPermissionFn } = await import(where.href);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const answers = JSON.parse(input).map(({ role, permissions, roles }) => {
  let acRoles = defaultRoles;
  if (roles) {
    const statements = {};
    for (const grants of Object.values(roles))
      for (const [resource, actions] of Object.entries(grants))
        statements[resource] = [...new Set([...(statements[resource] ?? []), ...actions])];
    const ac = createAccessControl(statements);
    acRoles = Object.fromEntries(Object.entries(roles).map(([n, g]) => [n, ac.newRole(g)]));
  }
  return hasPermissionFn({ role, permissions, options: {} }, acRoles);
});
console.log(JSON.stringify(answers));
"""

ROLE_STRINGS = [
    "owner",
    "admin",
    "member",
    "guest",
    "member,admin",
    " admin , member",
    "member,owner",
    "Owner",
    "",
]
CUSTOM = {
    "writer": {"task": ["create", "read"]},
    "remover": {"task": ["delete"]},
    "inviter": {"invitation": ["create"], "task": ["read"]},
}
CUSTOM_REQUESTS: list[dict[str, list[str]]] = [
    {"task": ["create"]},
    {"task": ["delete"]},
    {"task": ["create", "delete"]},
    {"task": ["read"], "invitation": ["create"]},
    {"invitation": ["cancel"]},
    {"organization": ["delete"]},
]


def cases() -> list[dict[str, Any]]:
    single = [{r: [a]} for r, actions in DEFAULT_STATEMENTS.items() for a in sorted(actions)]
    several = [
        {"member": ["create", "delete"]},
        {"member": ["delete"], "organization": ["delete"]},
        {"organization": ["update"], "ac": ["read"]},
        {"task": ["delete"]},
    ]
    default = [
        {"role": role, "permissions": request, "roles": None}
        for role, request in product(ROLE_STRINGS, single + several)
    ]
    custom = [
        {"role": role, "permissions": request, "roles": CUSTOM}
        for role, request in product(
            ["writer", "remover", "writer,remover", "inviter", "owner", "writer, inviter"],
            CUSTOM_REQUESTS,
        )
    ]
    return default + custom


def test_every_decision_is_better_auths(better_auth_install: Path) -> None:
    todo = cases()
    run = subprocess.run(
        [node_executable(), "--input-type=module", "-e", _SCRIPT],
        input=json.dumps(todo),
        capture_output=True,
        text=True,
        cwd=better_auth_install,
        timeout=60,
        check=True,
    )
    theirs = json.loads(run.stdout)
    assert len(theirs) == len(todo)
    default, custom = AccessControl(), AccessControl(CUSTOM)
    ours = [
        (custom if case["roles"] else default).allows(case["role"], case["permissions"])
        for case in todo
    ]
    mismatches = [
        (c["role"], c["permissions"], t)
        for c, o, t in zip(todo, ours, theirs, strict=True)
        if o != t
    ]
    assert mismatches == []
    # The cases tell allowed from refused, on both sides.
    assert any(theirs)
    assert not all(theirs)
    # Better Auth refuses what only two roles together grant; so must we.
    assert (
        theirs[
            todo.index(
                {
                    "role": "writer,remover",
                    "permissions": {"task": ["create", "delete"]},
                    "roles": CUSTOM,
                }
            )
        ]
        is False
    )
