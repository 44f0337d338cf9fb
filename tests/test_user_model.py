"""``UserModel``: an app's msgspec Struct or pydantic model built from a Principal."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

import msgspec
import pydantic
import pytest
from pydantic.alias_generators import to_camel

from authbridge.errors import InvalidClaims
from authbridge.principal import Principal
from authbridge.user_model import UserModel, camel


def principal(claims: dict[str, Any], **fields: Any) -> Principal:
    return Principal(
        sub="u1", issuer="https://auth.example", claims=MappingProxyType(claims), **fields
    )


class Plain(msgspec.Struct):
    id: str
    email: str
    favorite_color: str
    email_verified: bool = False
    created_at: datetime | None = None
    plan: Literal["free", "pro"] = "free"


class Renamed(msgspec.Struct, rename="camel"):
    id: str
    favorite_color: str | None = None


class Aliased(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(alias_generator=to_camel)
    id: str
    favorite_color: str
    email_verified: bool = False


class Snake(pydantic.BaseModel):
    id: str
    favorite_color: str
    age: int = 0


USER = {
    "id": "u1",
    "email": "a@example.com",
    "favoriteColor": "teal",
    "emailVerified": 1,  # SQLite
    "createdAt": "2026-01-02T03:04:05.000Z",
    "plan": "pro",
}


def test_camel() -> None:
    assert camel("favorite_color") == "favoriteColor"
    assert camel("id") == "id"
    assert camel("a_b_c") == "aBC"


@pytest.mark.parametrize("model", [Plain, Renamed, Aliased, Snake])
def test_camel_case_fields_reach_snake_case_attributes(model: type[Any]) -> None:
    user = UserModel(model).build(principal(USER))
    assert isinstance(user, model)
    assert user.id == "u1"
    assert user.favorite_color == "teal"


def test_lax_values_from_a_database_row() -> None:
    user = UserModel(Plain).build(principal(USER))
    assert user.email_verified is True
    assert user.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert user.plan == "pro"


def test_id_comes_from_sub_and_the_organization_from_the_principal() -> None:
    class Member(msgspec.Struct):
        id: str
        sub: str
        active_organization_id: str | None = None
        organization_role: str | None = None

    user = UserModel(Member).build(
        principal({}, organization_id="org-1", organization_role="admin")
    )
    assert (user.id, user.sub, user.active_organization_id, user.organization_role) == (
        "u1",
        "u1",
        "org-1",
        "admin",
    )


def test_sub_is_always_the_verified_identity() -> None:
    class Keyed(msgspec.Struct):
        sub: str

    assert UserModel(Keyed).build(principal({"sub": "a-user-column"})).sub == "u1"


def test_the_credentials_own_value_wins_over_the_fallback() -> None:
    user = UserModel(Renamed).build(principal({"id": "from-claims"}))
    assert user.id == "from-claims"


@pytest.mark.parametrize("model", [Plain, Aliased, Snake])
@pytest.mark.parametrize(
    "claims",
    [
        {"id": "u1", "email": "a@example.com"},  # favoriteColor missing
        {**USER, "favoriteColor": 7},
        {**USER, "favoriteColor": None},
        {**USER, "favoriteColor": ["not", "a", "string"]},
    ],
)
def test_a_credential_that_does_not_fit_is_invalid_claims(
    model: type[Any], claims: dict[str, Any]
) -> None:
    with pytest.raises(InvalidClaims) as caught:
        UserModel(model).build(principal(claims))
    assert caught.value.code == "invalid_claims"
    assert model.__qualname__ in caught.value.message


def test_a_value_outside_a_literal_is_invalid_claims() -> None:
    with pytest.raises(InvalidClaims):
        UserModel(Plain).build(principal({**USER, "plan": "gold"}))


def test_the_reason_never_holds_a_value() -> None:
    secretish = "value-that-must-not-be-echoed"
    for model in (Plain, Snake):
        with pytest.raises(InvalidClaims) as caught:
            UserModel(model).build(principal({"id": "u1", "favoriteColor": {"x": secretish}}))
        assert secretish not in caught.value.message
        assert "favorite" in caught.value.message.lower()


class NotAModel:
    id: str


class WithSocket(msgspec.Struct):
    id: str
    connection: socket.socket


class Nested(msgspec.Struct):
    sockets: list[dict[str, socket.socket]]


class Unresolved(msgspec.Struct):
    id: NoSuchType  # type: ignore[name-defined]  # noqa: F821


class Positional(msgspec.Struct, array_like=True):
    id: str


class PathAlias(pydantic.BaseModel):
    id: str = pydantic.Field(validation_alias=pydantic.AliasChoices("id", "sub"))


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (NotAModel, "neither a msgspec.Struct nor a pydantic BaseModel"),
        (dict, "neither"),
        (WithSocket, "socket"),
        (Nested, "socket"),
        (Unresolved, "do not resolve"),
        (Positional, "array_like"),
        (PathAlias, "AliasChoices"),
    ],
)
def test_a_model_no_credential_can_fill_fails_at_startup(model: Any, words: str) -> None:
    with pytest.raises(TypeError) as caught:
        UserModel(model)
    assert words in str(caught.value)
    assert getattr(model, "__qualname__", "") in str(caught.value)


class Node(msgspec.Struct):
    id: str
    children: list[Node] = []


def test_recursive_structs_are_checked_once() -> None:
    user = UserModel(Node).build(principal({"children": [{"id": "c1"}]}))
    assert user.children == [Node(id="c1")]
