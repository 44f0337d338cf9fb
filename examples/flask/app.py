"""A small Flask API behind Better Auth tokens (``authbridge[flask]``).

Run it with ``BETTER_AUTH_URL=https://auth.example.com flask --app app run`` from this folder
(or under gunicorn with threads: ``gunicorn --threads 8 'app:create_app()'``).
``GET /health`` is public; ``GET /me`` needs any valid token; ``GET /tasks`` the
``tasks:read`` scope and ``POST /tasks`` ``tasks:write``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from authbridge import Verifier
from authbridge.flask import AuthBridge, requires


def create_app(verifier: Verifier | None = None) -> Flask:
    app = Flask(__name__)
    AuthBridge(app, verifier or Verifier.from_env())

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/me")
    @requires()
    def me() -> dict[str, Any]:
        user = g.principal
        return {"sub": user.sub, "email": user.email, "scopes": sorted(user.scopes)}

    @app.get("/tasks")
    @requires("tasks:read")
    def list_tasks() -> dict[str, Any]:
        return {"tasks": [], "owner": g.principal.sub}

    @app.post("/tasks")
    @requires("tasks:write")
    def create_task() -> tuple[dict[str, Any], int]:
        return {"created": True}, 201

    return app


if __name__ == "__main__":
    create_app().run(port=8000)
