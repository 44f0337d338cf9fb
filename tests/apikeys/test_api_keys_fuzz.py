"""Generated API-key header values against database mode over HTTP: never a 5xx, never
accepted, every refusal a 401 with the ApiKey challenge (or a 400 for two credentials), and
the one real key still works afterwards."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from apikeys_support import KEY, Table, build_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authbridge.config import load_settings
from authbridge.fastapi import AuthBridge

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

# Header values as a client can send them: latin-1 text without CR/LF/NUL, any length.
values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=700),
    st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=60, max_size=70),
    st.builds(lambda n: "k" * n, st.integers(0, 600)),
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "auth.db"
    Table(path).add(rateLimitEnabled=0)
    configured = load_settings(
        None,
        AUTHBRIDGE_API_KEYS="database",
        AUTHBRIDGE_SESSION_DATABASE_URL=str(path),
        AUTHBRIDGE_API_KEY_CACHE_TTL="0",
    )
    with TestClient(build_app(AuthBridge.from_settings(configured))) as client:
        yield client


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=values, twice=st.booleans())
def test_generated_key_values_never_5xx_or_pass(api: TestClient, value: str, twice: bool) -> None:
    if value.strip() == KEY:
        return  # the one real key
    headers = [(b"x-api-key", value.encode("latin-1"))] * (2 if twice else 1)
    response = api.get("/me", headers=headers)
    assert response.status_code in (400, 401), response.text
    if response.status_code == 401:
        challenge = response.headers["www-authenticate"]
        code = response.json()["code"]
        if code == "token_missing":  # an empty key is no key
            assert not value.strip()
        else:
            assert code == "invalid_api_key"
            assert challenge.startswith('ApiKey realm="authbridge"')


def test_the_real_key_still_works(api: TestClient) -> None:
    assert api.get("/me", headers={"x-api-key": KEY}).json() == {"sub": "user-1"}
