"""Property tests: arbitrary text in every field either round-trips exactly as documented or
is a 422 that names the field — never a 500, on either backend."""

from __future__ import annotations

import unicodedata
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tasks_support import Caller

from conftest import Api

TITLE_FORBIDDEN = {"Cc", "Cs", "Zl", "Zp"}
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=260)  # surrogates: elsewhere
ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def title_is_valid(title: str) -> bool:
    stripped = title.strip()
    return 0 < len(stripped) <= 200 and not any(
        unicodedata.category(c) in TITLE_FORBIDDEN for c in stripped
    )


def description_is_valid(text: str) -> bool:
    return len(text) <= 10_000 and not any(
        unicodedata.category(c) == "Cs" or (unicodedata.category(c) == "Cc" and c not in "\t\n\r")
        for c in text
    )


@SETTINGS
@given(title=ANY_TEXT, description=ANY_TEXT)
async def test_text_fields_round_trip_or_name_the_field(
    api: Api, alice: Caller, title: str, description: str
) -> None:
    response = await api.client.post(
        "/api/tasks", json={"title": title, "description": description}, headers=alice.headers
    )
    assert response.status_code in (201, 422), response.text
    if title_is_valid(title) and description_is_valid(description):
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["title"] == title.strip()
        assert body["description"] == description
        fetched = await api.client.get(response.headers["location"], headers=alice.headers)
        assert fetched.json() == body
    else:
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert ("title" in detail) or ("description" in detail)


@SETTINGS
@given(body=st.dictionaries(ANY_TEXT, ANY_JSON, max_size=4) | ANY_JSON)
async def test_arbitrary_json_bodies_never_500(api: Api, alice: Caller, body: Any) -> None:
    response = await api.client.post("/api/tasks", json=body, headers=alice.headers)
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert set(response.json()) == {"detail", "code"}
    task = await api.create(alice)
    patched = await api.client.patch(f"/api/tasks/{task['id']}", json=body, headers=alice.headers)
    assert patched.status_code in (200, 422), patched.text
