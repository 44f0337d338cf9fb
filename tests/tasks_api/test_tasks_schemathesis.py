"""Schemathesis over the live OpenAPI document with every check it has, on SQLite and PostgreSQL.

Both runs use tests/tasks_api/schemathesis.toml (which says where and why it widens a check)
and the check in tasks_schemathesis_checks.py (which narrows those allowances back), and both
must report no failure at all, not only no 5xx:

* ``test_schemathesis_cli_all_checks`` runs what a user runs, ``schemathesis run --checks all``
  (coverage, fuzzing and stateful phases), as two identities declared as peers: alice holds the
  ``admin`` role, bob does not, and each owns a different active organization, so
  ``object_level_authorization`` replays each one's reads, personal and team, as the other.
* ``test_schemathesis_two_identities`` fuzzes each operation in-process (40 requests, valid and
  invalid) as alice, a plain user and then an admin, and runs every check on each answer. Each
  request is also replayed without a token (401 expected on /api) and, for task paths, aimed at
  bob's task (on the team routes, a task of bob's organization, which alice is not in): alice
  must get exactly the answer she gets for a task that does not exist (the BOLA check), and
  bob's tasks must come out untouched.

Both tokens carry ``activeOrganizationId`` and ``organizationRole`` (``owner``), as the web
app's definePayload adds them, so the team routes are exercised beyond their 403.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import tasks_schemathesis_checks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tasks_support import Caller, ServerThread, make_caller

from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings

HERE = Path(__file__).parent
CONFIG = HERE / "schemathesis.toml"
EXAMPLES_PER_OPERATION = 40
# Per operation, for the CLI: its coverage phase adds every boundary case on top of these.
CLI_EXAMPLES = 25
OPERATIONS = {
    "GET /healthz",
    "GET /readyz",
    "GET /api/me",
    "GET /api/admin/stats",
    "GET /api/tasks",
    "POST /api/tasks",
    "GET /api/tasks/{task_id}",
    "PATCH /api/tasks/{task_id}",
    "DELETE /api/tasks/{task_id}",
    "GET /api/org/tasks",
    "POST /api/org/tasks",
    "GET /api/org/tasks/{task_id}",
    "PATCH /api/org/tasks/{task_id}",
    "DELETE /api/org/tasks/{task_id}",
}
ORG_TASKS = "/api/org/tasks"


def org_caller(issuer: FakeIssuer, **claims: str) -> Caller:
    """A caller who owns an organization of their own and has it active. (Each is new: the
    PostgreSQL schema is shared by the whole session.)"""
    organization = f"org-{uuid.uuid4().hex}"
    return make_caller(
        issuer, activeOrganizationId=organization, organizationRole="owner", **claims
    )


def _create(
    client: httpx.Client, caller: Caller, title: str, collection: str = "/api/tasks"
) -> str:
    response = client.post(collection, json={"title": title}, headers=dict(caller.headers))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class AuthLedger:
    """An ASGI wrapper that writes down, for every request the server answers, its operation,
    whether it carried one of the given ``Authorization`` values unchanged, and the status."""

    def __init__(self, app: ASGIApp, tokens: set[str]) -> None:
        self.app = app
        self.tokens = {token.encode() for token in tokens}
        self.answered: list[tuple[str, bool, int]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = [value for name, value in scope["headers"] if name == b"authorization"]
        carried = len(sent) == 1 and sent[0] in self.tokens
        status = 0

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, noting_status)
        self.answered.append((_operation(scope["method"], scope["path"]), carried, status))

    def refused_with_a_valid_token(self) -> list[tuple[str, bool, int]]:
        return [entry for entry in self.answered if entry[1] and entry[2] == 401]

    def operations_served_past_auth(self) -> set[str]:
        return {
            op for op, carried, status in self.answered if carried and status not in (0, 401, 405)
        }


def _operation(method: str, path: str) -> str:
    """The OpenAPI operation a request path belongs to (``GET /api/tasks/{task_id}``)."""
    for collection in ("/api/tasks/", ORG_TASKS + "/"):
        if path.startswith(collection) and "/" not in path[len(collection) :]:
            return f"{method} {collection}{{task_id}}"
    return f"{method} {path}"


def _comparable(response: Any) -> tuple[int, bytes, str | None]:
    return response.status_code, response.content, response.headers.get("www-authenticate")


def _schemathesis_command() -> str:
    """The ``schemathesis`` console script installed next to this interpreter."""
    command = Path(sys.executable).with_name("schemathesis")
    assert command.is_file(), f"{command} is missing: run `make deps`"
    return str(command)


@pytest.mark.timeout(240)
def test_schemathesis_cli_all_checks(settings: ServiceSettings, tmp_path: Path) -> None:
    issuer = FakeIssuer()
    app = create_app(settings, bridge=AuthBridge(issuer.verifier()))
    alice, bob = org_caller(issuer, role="admin"), org_caller(issuer)
    # Web Fuzzing Commons auth: one entry per identity; the config names both as peers.
    auth = tmp_path / "auth.json"
    users = {"alice": alice, "bob": bob}
    auth.write_text(
        json.dumps(
            {
                "auth": [
                    {
                        "name": name,
                        "fixedHeaders": [{"name": k, "value": v} for k, v in c.headers.items()],
                    }
                    for name, c in users.items()
                ]
            }
        )
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"{CONFIG.read_text()}\n[auth.wfc]\npath = {json.dumps(str(auth))}\n"
        'peers = ["alice", "bob"]\n'
    )
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": tasks_schemathesis_checks.__name__,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }
    ledger = AuthLedger(app, tokens={c.headers["Authorization"] for c in users.values()})
    with ServerThread(ledger) as base_url:
        run = subprocess.run(
            [
                _schemathesis_command(),
                "--config-file",
                str(config),
                "run",
                f"{base_url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(CLI_EXAMPLES),
                "--workers",
                "1",
                "--no-color",
                "--report",
                "json",
                "--report-json-path",
                str(report),
            ],
            cwd=tmp_path,  # anything the run writes stays in tmp_path
            env=env,
            capture_output=True,
            text=True,
            timeout=200,
            check=False,
        )
    output = run.stdout[-20_000:] + run.stderr[-5_000:]
    assert run.returncode == 0, output
    result = json.loads(report.read_text())
    assert result["failures"] == [], output
    assert result["errors"] == [], output
    assert result["operations"]["tested"] == len(OPERATIONS), output
    phases = {name: phase["status"] for name, phase in result["phases"].items()}
    assert phases == {
        "examples": "skip",  # the document carries no examples
        "coverage": "success",
        "fuzzing": "success",
        "stateful": "success",
    }, output
    # A pattern Schemathesis cannot read would silently be tested as any string.
    assert result["warnings"]["unsupported_regex"] == [], output
    # Tokens refused everywhere would leave only the 401 path tested. Schemathesis's own
    # `missing_auth` warning cannot tell: it flags an operation when one phase's draws were 90 %
    # 401 and none of its schema-valid ones was served, and its fuzzing phase now and then draws
    # nothing but broken `Authorization` headers for GET /api/org/tasks/{task_id}, whose valid
    # draws (random ids) are 404 anyway (CI, seed 224365592460367922879147479252061750390). The
    # server's own ledger answers exactly: every request that carried alice's or bob's token got
    # past authentication, and every protected operation received such requests.
    assert ledger.refused_with_a_valid_token() == [], output
    assert ledger.operations_served_past_auth() >= {
        operation for operation in OPERATIONS if " /api/" in operation
    }, output


def fuzz_operation(
    operation: Any, base_url: str, client: httpx.Client, alice: Caller, bobs: dict[str, str]
) -> int:
    """Run one operation's examples; returns how many requests were checked. ``bobs`` maps
    each collection to the id of a task of bob's there."""
    has_task_id = "{task_id}" in operation.path
    collection = ORG_TASKS if operation.path.startswith(ORG_TASKS) else "/api/tasks"
    bobs_id = bobs[collection]
    protected = operation.path.startswith("/api/")
    checked = 0
    # Positive (schema-valid) and negative (schema-violating) requests, mixed.
    cases = st.one_of(
        operation.as_strategy(),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )
    sent = {"base_url": base_url, "headers": dict(alice.headers)}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, target=st.sampled_from(["generated", "own", "foreign"]))
    def run(case: Any, target: str) -> None:
        nonlocal checked
        if has_task_id and target == "own":
            case.path_parameters["task_id"] = _create(client, alice, "fuzz target", collection)
        elif has_task_id and target == "foreign":
            case.path_parameters["task_id"] = bobs_id

        response = case.call(base_url=base_url, headers=dict(alice.headers))
        # No check list: every check the configuration enables, which is all of them (the one
        # tasks_schemathesis_checks registers included). Those that compare requests across a
        # scenario (use_after_free, object_level_authorization...) have nothing to compare in
        # a lone request: the CLI run's stateful phase and the BOLA replay below cover them.
        case.validate_response(response, headers=dict(alice.headers), transport_kwargs=sent)
        checked += 1

        if protected:
            anonymous = case.call(base_url=base_url, headers={"Authorization": ""})
            # Schema-violating input is still refused for the missing token first.
            assert anonymous.status_code == 401, anonymous.text
            assert anonymous.json()["code"] == "token_missing"
            checked += 1

        if has_task_id and target == "foreign":
            case.path_parameters["task_id"] = str(uuid.uuid4())
            missing = case.call(base_url=base_url, headers=dict(alice.headers))
            assert _comparable(response) == _comparable(missing), "BOLA: foreign != missing"
            checked += 1

    run()
    return checked


@pytest.mark.timeout(240)
@pytest.mark.parametrize("role", ["user", "admin"])
def test_schemathesis_two_identities(settings: ServiceSettings, role: str) -> None:
    issuer = FakeIssuer()
    app = create_app(settings, bridge=AuthBridge(issuer.verifier()))
    alice, bob = org_caller(issuer, role=role), org_caller(issuer)
    with ServerThread(app) as base_url, httpx.Client(base_url=base_url) as client:
        bobs = {
            collection: _create(client, bob, "bob's private task", collection)
            for collection in ("/api/tasks", ORG_TASKS)
        }
        bobs_tasks = {
            collection: client.get(f"{collection}/{ident}", headers=dict(bob.headers)).json()
            for collection, ident in bobs.items()
        }

        # Alice's token goes on every request, so the generated cases leave `Authorization`
        # alone: a negative case whose only broken part is the token would go out with hers and
        # count as accepted bad data. The anonymous replay below covers missing tokens.
        config = f"{CONFIG.read_text()}\n[generation]\nwith-security-parameters = false\n"
        schema = schemathesis.openapi.from_url(
            f"{base_url}/openapi.json", config=SchemathesisConfig.from_str(config)
        )
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {f"{op.method.upper()} {op.path}" for op in operations} == OPERATIONS
        counts = {
            f"{op.method.upper()} {op.path}": fuzz_operation(op, base_url, client, alice, bobs)
            for op in operations
        }
        # Operations without inputs (the token is not generated here) have only a handful of
        # distinct requests to make.
        assert all(count >= 1 for count in counts.values()), counts
        assert all(n >= 30 for name, n in counts.items() if "/tasks" in name), counts
        print("requests checked per operation:", counts)

        stats = client.get("/api/admin/stats", headers=dict(alice.headers))
        assert stats.status_code == (200 if role == "admin" else 403)
        # Nothing alice sent touched bob's tasks, whatever her role.
        for collection, bobs_id in bobs.items():
            after = client.get(f"{collection}/{bobs_id}", headers=dict(bob.headers))
            assert after.status_code == 200
            assert after.json() == bobs_tasks[collection]
            theirs = client.get(collection, params={"limit": 100}, headers=dict(bob.headers))
            assert [item["id"] for item in theirs.json()["items"]] == [bobs_id]
