"""``current_user(MyUser)``: the caller as the app's own model, over a real ``Verifier``.

Tokens come from ``FakeIssuer`` with Better Auth's default payload (the user object, with an
``additionalFields`` field). The real-server counterpart, JWT and database session mode, is
``tests/sessions/test_typed_users_better_auth.py``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, ClassVar

import httpx
import msgspec
import pydantic
import pytest
from fastapi import Depends, FastAPI
from pydantic.alias_generators import to_camel

from authbridge.fastapi import AuthBridge, CurrentUser, current_user
from authbridge.testing import FakeIssuer, override_user


class User(msgspec.Struct):
    id: str
    email: str
    favorite_color: str
    builds: ClassVar[int] = 0

    def __post_init__(self) -> None:
        type(self).builds += 1


class Profile(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(alias_generator=to_camel)
    id: str
    favorite_color: str
    email_verified: bool


Me = Annotated[User, current_user(User)]
MyProfile = Annotated[Profile, current_user(Profile)]
Reader = Annotated[User, current_user(User, scopes=["tasks:read"])]
MaybeMe = Annotated[User | None, current_user(User, optional=True)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def color_of(user: Me) -> str:  # a sub-dependency asking for the same model
    return user.favorite_color


def build(bridge: AuthBridge) -> FastAPI:
    app = FastAPI()
    bridge.install(app)

    @app.get("/me")
    async def me(user: Me, color: Annotated[str, Depends(color_of)]) -> dict[str, str]:
        return {"id": user.id, "color": color, "type": type(user).__name__}

    @app.get("/profile")
    async def profile(user: MyProfile, principal: CurrentUser) -> dict[str, Any]:
        return {"id": user.id, "color": user.favorite_color, "sub": principal.sub}

    @app.get("/read")
    async def read(user: Reader) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/feed")
    async def feed(user: MaybeMe) -> dict[str, str | None]:
        return {"color": user.favorite_color if user is not None else None}

    return app


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
def app(issuer: FakeIssuer) -> FastAPI:
    return build(AuthBridge(issuer.verifier()))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_the_model_is_built_from_the_claims_once_per_request(
    issuer: FakeIssuer, client: httpx.AsyncClient
) -> None:
    user = issuer.make_user(favoriteColor="teal")
    token = issuer.token(user)
    before = User.builds
    answer = await client.get("/me", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": user["id"], "color": "teal", "type": "User"}
    assert User.builds == before + 1  # two dependencies, one model
    assert answer.headers["cache-control"] == "no-store"


async def test_a_pydantic_model_with_an_alias_generator(
    issuer: FakeIssuer, client: httpx.AsyncClient
) -> None:
    user = issuer.make_user(favoriteColor="plum")
    answer = await client.get("/profile", headers=bearer(issuer.token(user)))
    assert answer.json() == {"id": user["id"], "color": "plum", "sub": user["id"]}


@pytest.mark.parametrize("path", ["/me", "/profile"])
@pytest.mark.parametrize("color", [None, 7, ["a"]])
async def test_a_token_that_does_not_fit_is_401_invalid_claims(
    issuer: FakeIssuer,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    color: object,
) -> None:
    user = issuer.make_user()
    if color is not None:
        user["favoriteColor"] = color
    caplog.set_level(logging.INFO, logger="authbridge.audit")
    answer = await client.get(path, headers=bearer(issuer.token(user)))
    assert answer.status_code == 401
    assert answer.json()["code"] == "invalid_token"
    assert answer.headers["www-authenticate"].startswith(
        'Bearer realm="authbridge", error="invalid_token"'
    )
    events = [r.audit for r in caplog.records if hasattr(r, "audit")]
    failures = [e for e in events if e.get("code") == "invalid_claims"]
    assert len(failures) == 1  # once, though two dependencies asked on /me
    event = failures[0]
    assert event["outcome"] == "failure"
    assert event["status"] == 401
    assert event["sub"] == user["id"]
    assert event["required"][0] in ("User", "Profile")
    assert "avoriteColor" in event["required"][1] or "favorite_color" in event["required"][1]


async def test_scopes_are_checked_before_the_model(
    issuer: FakeIssuer, client: httpx.AsyncClient
) -> None:
    user = issuer.make_user(favoriteColor="teal")
    assert (
        await client.get("/read", headers=bearer(issuer.token(user, scope="tasks:read")))
    ).status_code == 200
    refused = await client.get("/read", headers=bearer(issuer.token(user, scope="other")))
    assert refused.status_code == 403


async def test_a_bad_token_is_still_the_plain_401(client: httpx.AsyncClient) -> None:
    answer = await client.get("/me", headers=bearer("not.a.token"))
    assert answer.status_code == 401
    assert (await client.get("/me")).json()["code"] == "token_missing"


async def test_override_user_builds_the_model_from_the_principal(
    issuer: FakeIssuer, app: FastAPI, client: httpx.AsyncClient
) -> None:
    from types import MappingProxyType

    user = issuer.make_user(favoriteColor="gold")
    principal = issuer.principal(user, claims=MappingProxyType(user))
    with override_user(app, principal):
        answer = await client.get("/me")
    assert answer.json()["color"] == "gold"
    with override_user(app, issuer.principal(user)):  # no claims: does not fit
        assert (await client.get("/me")).status_code == 401


async def test_optional_typed_user(issuer: FakeIssuer, client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/feed")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"color": None}
    assert anonymous.headers["vary"] == "Authorization"
    user = issuer.make_user(favoriteColor="teal")
    answer = await client.get("/feed", headers=bearer(issuer.token(user)))
    assert answer.json() == {"color": "teal"}
    assert (await client.get("/feed", headers=bearer("not.a.token"))).status_code == 401
    misfit = await client.get("/feed", headers=bearer(issuer.token(issuer.make_user())))
    assert misfit.status_code == 401  # a credential that does not fit is never None


async def test_override_user_none_is_anonymous_for_the_optional_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    with override_user(app, None):
        assert (await client.get("/feed")).json() == {"color": None}
        assert (await client.get("/me")).status_code == 401


def test_the_same_model_is_one_dependency() -> None:
    assert current_user(User).dependency is current_user(User).dependency
    optional = current_user(User, optional=True).dependency
    assert optional is current_user(User, optional=True).dependency
    assert optional is not current_user(User).dependency


def test_a_model_that_can_never_be_built_fails_when_the_route_is_declared() -> None:
    class NotAModel:
        id: str

    with pytest.raises(TypeError, match="NotAModel cannot be a typed user"):
        current_user(NotAModel)
