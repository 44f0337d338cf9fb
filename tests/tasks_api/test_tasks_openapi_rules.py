"""The OpenAPI document states the API's input rules exactly: on arbitrary input, a value the
served schema accepts is accepted and one it refuses is refused (checked with jsonschema_rs,
`format` asserted, as Schemathesis checks it). Fuzzing finds disagreements only by luck; these
properties aim at the edges: padding, control characters, lengths, dates and offsets,
entity-tag lists, nulls in a PATCH, repeated query parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tasks_support import Caller

from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer
from conftest import Api
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text a JSON body can carry (lone surrogates are the strict parser's business).
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
SPACE = st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "\u3000"])
CONTROL = st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x9f", "\u2028", "\u2029", "\t", "\n"])


@st.composite
def titles(draw: st.DrawFn) -> str:
    """Padding around a core whose length lands near 200, with a control character or not."""
    core = "x" * draw(st.sampled_from([0, 1, 2, 198, 199, 200, 201])) + draw(TEXT)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(core)))
        core = core[:at] + draw(CONTROL) + core[at:]
    pad = st.lists(SPACE, max_size=3).map("".join)
    return draw(pad) + core + draw(pad)


def _number(low: int, high: int, width: int = 2) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:0{width}d}")


@st.composite
def date_times(draw: st.DrawFn) -> str:
    """RFC 3339 look-alikes: every part at or beyond its bounds, other separators and offsets."""
    year = draw(
        st.sampled_from(["0001", "1899", "1900", "2030", "9998", "9999"]) | _number(0, 9999, 4)
    )
    date = f"{year}-{draw(_number(0, 13))}-{draw(_number(0, 32))}"
    time = f"{draw(_number(0, 24))}:{draw(_number(0, 60))}:{draw(_number(0, 61))}"
    fraction = draw(st.sampled_from(["", ".5", ".123456", ".1234567", "."]))
    offset = draw(
        st.sampled_from(["Z", "z", "", "+0200", "+02"])
        | st.builds("{}{}:{}".format, st.sampled_from("+-"), _number(0, 24), _number(0, 60))
    )
    return date + draw(st.sampled_from(["T", "t", " "])) + time + fraction + offset


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(
        {**schema, "components": document["components"]}, validate_formats=True
    )


async def _document(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = (await api.client.get("/openapi.json")).json()
    return document


def _parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    parameters = document["paths"][path][method]["parameters"]
    schema: dict[str, Any] = next(p for p in parameters if p["name"] == name)["schema"]
    return schema


@SETTINGS
@given(
    title=titles() | TEXT,
    description=st.none() | TEXT | st.builds("{}{}".format, CONTROL, TEXT),
    due_at=st.none() | date_times() | TEXT,
)
async def test_create_accepts_exactly_what_the_schema_accepts(
    api: Api, alice: Caller, title: str, description: str | None, due_at: str | None
) -> None:
    document = await _document(api)
    valid = _validator(document, {"$ref": "#/components/schemas/TaskCreate"})
    body = {"title": title, "description": description, "due_at": due_at}
    response = await api.client.post("/api/tasks", json=body, headers=alice.headers)
    expected = 201 if valid.is_valid(body) else 422
    assert response.status_code == expected, (body, response.text)


@SETTINGS
@given(
    title=st.none() | titles(),
    completed=st.none() | st.booleans(),
    priority=st.none() | st.sampled_from(["low", "high", "urgent"]),
    due_at=st.none() | date_times(),
    sent=st.sets(st.sampled_from(["title", "completed", "priority", "due_at"])),
)
async def test_patch_accepts_exactly_what_the_schema_accepts(
    api: Api,
    alice: Caller,
    title: str | None,
    completed: bool | None,
    priority: str | None,
    due_at: str | None,
    sent: set[str],
) -> None:
    document = await _document(api)
    valid = _validator(document, {"$ref": "#/components/schemas/TaskUpdate"})
    fields = {"title": title, "completed": completed, "priority": priority, "due_at": due_at}
    body = {name: value for name, value in fields.items() if name in sent}
    task = await api.create(alice)
    path = f"/api/tasks/{task['id']}"
    response = await api.client.patch(path, json=body, headers=alice.headers)
    assert response.status_code == (200 if valid.is_valid(body) else 422), (body, response.text)


@SETTINGS
@given(q=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=201))
async def test_search_accepts_exactly_what_the_schema_accepts(
    api: Api, alice: Caller, q: str
) -> None:
    valid = _validator(
        await _document(api), _parameter(await _document(api), "/api/tasks", "get", "q")
    )
    response = await api.client.get("/api/tasks", params={"q": q}, headers=alice.headers)
    assert response.status_code == (200 if valid.is_valid(q) else 422), (q, response.text)


ENTITY_TAG_PARTS = st.sampled_from(
    ['"a"', 'W/"a"', '""', "*", ",", " ", "\t", "W/", '"', "a", "w/", "\xe9", '"\x80"']
)


@SETTINGS
@given(
    parts=st.lists(ENTITY_TAG_PARTS | st.just("{etag}"), max_size=6),
    method=st.sampled_from(["PATCH", "DELETE"]),
)
async def test_if_match_is_400_exactly_when_the_schema_refuses_it(
    api: Api, alice: Caller, parts: list[str], method: str
) -> None:
    document = await _document(api)
    path_item = "/api/tasks/{task_id}"
    valid = _validator(document, _parameter(document, path_item, method.lower(), "If-Match"))
    task = await api.create(alice)
    path = f"/api/tasks/{task['id']}"
    etag = (await api.client.get(path, headers=alice.headers)).headers["etag"]
    value = "".join(parts).replace("{etag}", etag)
    headers = {**alice.headers, "If-Match": value.encode("latin-1")}
    body = {"completed": True} if method == "PATCH" else None
    response = await api.client.request(method, path, json=body, headers=headers)
    if valid.is_valid(value):
        assert response.status_code in (200, 204, 412), (value, response.text)
    else:
        assert response.status_code == 400, (value, response.text)


async def test_cursors_the_api_issues_match_the_schema(api: Api, alice: Caller) -> None:
    document = await _document(api)
    valid = _validator(document, _parameter(document, "/api/tasks", "get", "cursor"))
    for n in range(3):
        await api.create(alice, title=f"t{n}")
    page = (await api.client.get("/api/tasks?limit=1", headers=alice.headers)).json()
    assert valid.is_valid(page["next_cursor"])
    for forged in ("", "abc", "a.b.c", "a..b", "a b.c", "é.x", "x" * 513):
        assert not valid.is_valid(forged), forged
        response = await api.client.get(
            "/api/tasks", params={"cursor": forged}, headers=alice.headers
        )
        assert response.status_code == 422, forged


@pytest.mark.parametrize("name", ["limit", "cursor", "completed", "q", "sort"])
async def test_a_query_parameter_given_twice_is_422(api: Api, alice: Caller, name: str) -> None:
    """The schema declares one value; FastAPI would silently have used the last one."""
    values = {"limit": "5", "cursor": "a.b", "completed": "true", "q": "x", "sort": "due"}
    query = [(name, values[name]), (name, values[name])]
    response = await api.client.get("/api/tasks", params=query, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json() == {
        "detail": f"{name}: must be given at most once",
        "code": "validation_error",
    }


async def test_every_protected_operation_documents_the_auth_answers(
    api: Api, alice: Caller
) -> None:
    """authbridge answers RFC 6750's 400 `invalid_request` (a malformed or duplicated
    credential) and 401 on every guarded route; the document says so for each of them."""
    document = await _document(api)
    task = await api.create(alice)
    guarded = [
        (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    ]
    assert len(guarded) == 12
    for method, path in guarded:
        documented = document["paths"][path][method]["responses"]
        assert {"400", "401"} <= set(documented), (method, path)
        url = path.replace("{task_id}", str(task["id"]))
        for malformed in ("Bearer", "Bearer two words"):
            response = await api.client.request(
                method.upper(), url, headers={"Authorization": malformed}
            )
            assert response.status_code == 400, (method, path, response.text)
            assert response.json()["code"] == "invalid_request"


def _operation_inputs(operation: dict[str, Any]) -> tuple[object, object]:
    return operation.get("parameters"), operation.get("requestBody")


async def test_team_routes_take_exactly_the_personal_routes_input(api: Api) -> None:
    """The same parameters and bodies, so every rule tested above holds for both."""
    paths = (await _document(api))["paths"]
    for personal, team in [
        ("/api/tasks", "/api/org/tasks"),
        ("/api/tasks/{task_id}", "/api/org/tasks/{task_id}"),
    ]:
        assert set(paths[personal]) == set(paths[team])
        for method in paths[personal]:
            assert _operation_inputs(paths[team][method]) == _operation_inputs(
                paths[personal][method]
            ), (method, team)


def test_team_routes_document_their_scopes_and_organization_rules(tmp_path: Path) -> None:
    settings = ServiceSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/tasks.db", require_scopes=True
    )
    paths = create_app(settings, bridge=AuthBridge(FakeIssuer().verifier())).openapi()["paths"]
    expected = {
        ("get", "/api/org/tasks"): ("tasks:read", None),
        ("post", "/api/org/tasks"): ("tasks:write", None),
        ("get", "/api/org/tasks/{task_id}"): ("tasks:read", None),
        ("patch", "/api/org/tasks/{task_id}"): ("tasks:write", None),
        ("delete", "/api/org/tasks/{task_id}"): ("tasks:write", ["owner", "admin"]),
    }
    for (method, path), (scope, roles) in expected.items():
        operation = paths[path][method]
        assert operation["security"] == [{"bearerAuth": [scope]}], (method, path)
        organization = {"required": True, **({"roles": roles} if roles else {})}
        assert operation["x-authbridge-organization"] == organization, (method, path)
        assert {"400", "401", "403"} <= set(operation["responses"]), (method, path)
        forbidden = operation["responses"]["403"]["description"]
        assert "organization_required" in forbidden, (method, path)
        assert ("`owner` or `admin`" in forbidden) == (roles is not None), (method, path)
    for path in ("/api/tasks", "/api/tasks/{task_id}"):
        for method, operation in paths[path].items():
            assert "x-authbridge-organization" not in operation, (method, path)


@SETTINGS
@given(
    title=titles() | TEXT,
    description=st.none() | TEXT | st.builds("{}{}".format, CONTROL, TEXT),
    due_at=st.none() | date_times() | TEXT,
)
async def test_team_create_accepts_exactly_what_the_schema_accepts(
    api: Api, title: str, description: str | None, due_at: str | None
) -> None:
    document = await _document(api)
    operation = document["paths"]["/api/org/tasks"]["post"]
    reference = operation["requestBody"]["content"]["application/json"]["schema"]
    valid = _validator(document, reference)
    body = {"title": title, "description": description, "due_at": due_at}
    member = api.member("acme")
    response = await api.client.post("/api/org/tasks", json=body, headers=member.headers)
    assert response.status_code == (201 if valid.is_valid(body) else 422), (body, response.text)
