"""Schemathesis over the live OpenAPI spec, with two real identities (alice and bob).

For every operation, generated requests (40 each, valid and invalid) must never get a 5xx and must
conform to the spec. Each one is also replayed without a token (401 expected on /api) and,
for task paths, aimed at bob's task: alice must get exactly the answer she gets for a task
that does not exist (the BOLA check), and bob's task must come out untouched.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tasks_support import Caller, ServerThread, make_caller

from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings

EXAMPLES_PER_OPERATION = 40
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def _create(client: httpx.Client, caller: Caller, title: str) -> str:
    response = client.post("/api/tasks", json={"title": title}, headers=dict(caller.headers))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _comparable(response: Any) -> tuple[int, bytes, str | None]:
    return response.status_code, response.content, response.headers.get("www-authenticate")


def fuzz_operation(
    operation: Any, base_url: str, client: httpx.Client, alice: Caller, bob: Caller, bobs_id: str
) -> int:
    """Run one operation's examples; returns how many requests were checked."""
    has_task_id = "{task_id}" in operation.path
    protected = operation.path.startswith("/api/")
    checked = 0
    # Positive (schema-valid) and negative (schema-violating) requests, mixed.
    cases = st.one_of(
        operation.as_strategy(),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

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
            case.path_parameters["task_id"] = _create(client, alice, "fuzz target")
        elif has_task_id and target == "foreign":
            case.path_parameters["task_id"] = bobs_id

        response = case.call(base_url=base_url, headers=dict(alice.headers))
        assert response.status_code < 500, (case.method, case.path, response.text)
        case.validate_response(response, checks=CHECKS)
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
def test_schemathesis_two_identities(settings: ServiceSettings) -> None:
    issuer = FakeIssuer()
    app = create_app(settings, bridge=AuthBridge(issuer.verifier()))
    alice, bob = make_caller(issuer), make_caller(issuer)
    with ServerThread(app) as base_url, httpx.Client(base_url=base_url) as client:
        bobs_id = _create(client, bob, "bob's private task")
        bobs_task = client.get(f"/api/tasks/{bobs_id}", headers=dict(bob.headers)).json()

        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        names = {f"{op.method.upper()} {op.path}" for op in operations}
        assert names == {
            "GET /healthz",
            "GET /readyz",
            "GET /api/me",
            "GET /api/admin/stats",
            "GET /api/tasks",
            "POST /api/tasks",
            "GET /api/tasks/{task_id}",
            "PATCH /api/tasks/{task_id}",
            "DELETE /api/tasks/{task_id}",
        }
        counts = {
            f"{op.method.upper()} {op.path}": fuzz_operation(
                op, base_url, client, alice, bob, bobs_id
            )
            for op in operations
        }
        # Operations without inputs have only a handful of distinct requests to make.
        assert all(count >= 1 for count in counts.values()), counts
        assert all(n >= 30 for name, n in counts.items() if " /api/" in name), counts
        print("requests checked per operation:", counts)

        # Nothing alice sent touched bob's task.
        after = client.get(f"/api/tasks/{bobs_id}", headers=dict(bob.headers))
        assert after.status_code == 200
        assert after.json() == bobs_task
        theirs = client.get("/api/tasks", params={"limit": 100}, headers=dict(bob.headers))
        assert [item["id"] for item in theirs.json()["items"]] == [bobs_id]
