"""``authbridge.flask.requires`` on ``async def`` views (Flask[async] runs them via asgiref)."""

from __future__ import annotations

import asyncio
from typing import Any

from flask import Flask, g

from authbridge import Verifier
from authbridge.flask import AuthBridge, current_principal, requires
from authbridge.testing import FakeIssuer


def async_app() -> Flask:
    app = Flask(__name__)
    AuthBridge(app, Verifier.from_env())

    @app.get("/me")
    @requires()
    async def me() -> dict[str, Any]:
        await asyncio.sleep(0)  # a real coroutine, run in an event loop
        principal = current_principal()
        assert principal is g.principal
        return {"sub": principal.sub, "loop": asyncio.get_running_loop() is not None}

    @app.post("/tasks")
    @requires("tasks:write", roles="editor")
    async def create_task() -> tuple[dict[str, Any], int]:
        await asyncio.sleep(0)
        return {"created": True}, 201

    return app


def test_an_async_view_gets_the_principal(online_issuer: FakeIssuer) -> None:
    user = online_issuer.make_user()
    client = async_app().test_client()
    response = client.get("/me", headers={"Authorization": f"Bearer {online_issuer.token(user)}"})
    assert response.status_code == 200
    assert response.json == {"sub": user["id"], "loop": True}


def test_an_async_view_is_refused_before_it_runs(online_issuer: FakeIssuer) -> None:
    client = async_app().test_client()
    missing = client.get("/me")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="authbridge"'
    forged = client.get("/me", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401
    assert forged.json == {
        "detail": "The access token is invalid or has expired.",
        "code": "invalid_token",
    }
    token = online_issuer.token(online_issuer.make_user(), scope="tasks:write")
    no_role = client.post("/tasks", headers={"Authorization": f"Bearer {token}"})
    assert no_role.status_code == 403
    assert no_role.json["code"] == "insufficient_scope"
    editor = online_issuer.token(online_issuer.make_user(), scope="tasks:write", role="editor")
    created = client.post("/tasks", headers={"Authorization": f"Bearer {editor}"})
    assert created.status_code == 201
    assert created.json == {"created": True}
