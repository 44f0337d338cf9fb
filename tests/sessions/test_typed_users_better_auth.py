"""Typed users against the real Better Auth server, with ``user.additionalFields``.

The server adds ``favoriteColor``, ``newsletter`` (boolean) and ``age`` (number) to its users.
The same app model is built from a ``/api/auth/token`` JWT (Better Auth's default payload: the
user object) and from the signed session token (``database`` mode: the user row, every
column), on SQLite (0/1 booleans, ISO-8601 text dates) and PostgreSQL (boolean, timestamptz).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import httpx
import msgspec
import pydantic
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic.alias_generators import to_camel

from authbridge.config import load_settings
from authbridge.fastapi import AuthBridge, current_user
from harness.better_auth import BAUser, BetterAuthServer, ServerPool

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("no_outside_settings")]

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
FIELDS = {
    "favoriteColor": {"type": "string", "required": False},
    "newsletter": {"type": "boolean", "required": False, "defaultValue": False},
    "age": {"type": "number", "required": False},
}


class User(msgspec.Struct, rename="camel"):
    id: str
    email: str
    email_verified: bool
    created_at: datetime
    newsletter: bool
    favorite_color: str | None = None
    age: int | None = None


class Fan(pydantic.BaseModel):
    """A model whose field is required: a user who never set it does not fit."""

    model_config = pydantic.ConfigDict(alias_generator=to_camel)
    id: str
    favorite_color: str


Me = Annotated[User, current_user(User)]
MeAsFan = Annotated[Fan, current_user(Fan)]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, better_auth_module_factory: ServerPool
) -> BetterAuthServer:
    env: dict[str, str | int] = {
        "USER_ADDITIONAL_FIELDS": json.dumps(FIELDS),
        "APIKEY": 1,
        "APIKEY_RATE_LIMIT": 0,
    }
    if request.param == "postgres":
        env["DATABASE_URL"] = PG_URL
    return better_auth_module_factory(**env)


@pytest.fixture
async def client(server: BetterAuthServer) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(server) as http:
        yield http


@asynccontextmanager
async def app_client(server: BetterAuthServer, **extra: str) -> AsyncIterator[httpx.AsyncClient]:
    values: dict[str, Any] = {
        "BETTER_AUTH_URL": server.base_url,
        "BETTER_AUTH_SECRET": server.secret,
        "AUTHBRIDGE_JWKS_URL": server.jwks_url,
        "AUTHBRIDGE_SESSION_MODE": "database",
        "AUTHBRIDGE_SESSION_DATABASE_URL": server.env.get("DATABASE_URL") or server.env["DB_PATH"],
        **extra,
    }
    if server.env.get("DB_SCHEMA"):
        values["AUTHBRIDGE_SESSION_TABLES"] = json.dumps({"schema": server.env["DB_SCHEMA"]})
    app = FastAPI()
    AuthBridge.from_settings(load_settings(env_file=None, **values)).install(app)

    @app.get("/me")
    async def me(user: Me) -> dict[str, Any]:
        return {
            "id": user.id,
            "email": user.email,
            "verified": user.email_verified,
            "created": type(user.created_at).__name__,
            "newsletter": user.newsletter,
            "color": user.favorite_color,
            "age": user.age,
        }

    @app.get("/fan")
    async def fan(user: MeAsFan) -> dict[str, str]:
        return {"color": user.favorite_color}

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield http


def credentials(server: BetterAuthServer, user: BAUser) -> dict[str, dict[str, str]]:
    return {
        "jwt": {"Authorization": f"Bearer {server.get_jwt(user)}"},
        "session": user.bearer,
    }


async def test_additional_fields_reach_the_model_from_a_jwt_and_from_the_user_row(
    server: BetterAuthServer, client: httpx.AsyncClient
) -> None:
    user = server.sign_up()
    server.update_user(user, favoriteColor="teal", newsletter=True, age=41)
    expected = {
        "id": user.id,
        "email": user.email,
        "verified": False,
        "created": "datetime",
        "newsletter": True,
        "color": "teal",
        "age": 41,
    }
    for kind, headers in credentials(server, user).items():
        answer = await client.get("/me", headers=headers)
        assert answer.status_code == 200, (kind, answer.text)
        assert answer.json() == expected, kind
        assert (await client.get("/fan", headers=headers)).json() == {"color": "teal"}


async def test_defaults_and_unset_fields(
    server: BetterAuthServer, client: httpx.AsyncClient
) -> None:
    user = server.sign_up()  # newsletter gets its default, favoriteColor and age stay unset
    for kind, headers in credentials(server, user).items():
        answer = await client.get("/me", headers=headers)
        assert answer.status_code == 200, (kind, answer.text)
        body = answer.json()
        assert (body["newsletter"], body["color"], body["age"]) == (False, None, None), kind


async def test_a_user_who_does_not_fit_the_model_is_401_in_both_modes(
    server: BetterAuthServer, client: httpx.AsyncClient
) -> None:
    user = server.sign_up()  # no favoriteColor: Fan requires one
    for kind, headers in credentials(server, user).items():
        answer = await client.get("/fan", headers=headers)
        assert answer.status_code == 401, kind
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
        assert (await client.get("/me", headers=headers)).status_code == 200, kind


async def test_a_changed_field_shows_at_once_with_a_session_and_in_the_next_jwt(
    server: BetterAuthServer, client: httpx.AsyncClient
) -> None:
    user = server.sign_up()
    server.update_user(user, favoriteColor="red")
    old_jwt = {"Authorization": f"Bearer {server.get_jwt(user)}"}
    server.update_user(user, favoriteColor="blue")
    assert (await client.get("/me", headers=user.bearer)).json()["color"] == "blue"
    assert (await client.get("/me", headers=old_jwt)).json()["color"] == "red"
    new_jwt = {"Authorization": f"Bearer {server.get_jwt(user)}"}
    assert (await client.get("/me", headers=new_jwt)).json()["color"] == "blue"


@pytest.mark.parametrize("mode", ["database", "remote"])
async def test_an_api_key_gives_its_user_the_same_model(
    server: BetterAuthServer, mode: str
) -> None:
    """API keys: database mode reads the whole user row in the statement it reads the user
    with anyway (bans, email), remote mode gets it from get-session; either way the model
    is the user's, as with a JWT or a session."""
    user = server.sign_up()
    server.update_user(user, favoriteColor="teal", newsletter=True, age=41)
    key = server.create_api_key(user.id)
    async with app_client(server, AUTHBRIDGE_API_KEYS=mode) as client:
        answer = await client.get("/me", headers={"x-api-key": key.key})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "id": user.id,
            "email": user.email,
            "verified": False,
            "created": "datetime",
            "newsletter": True,
            "color": "teal",
            "age": 41,
        }
        assert (await client.get("/fan", headers={"x-api-key": key.key})).json() == {
            "color": "teal"
        }
        other = server.create_api_key(server.sign_up().id)  # no favoriteColor: not a Fan
        refused = await client.get("/fan", headers={"x-api-key": other.key})
        assert refused.status_code == 401
