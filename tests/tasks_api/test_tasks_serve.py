"""``tasks-api serve``: the real command runs the Tasks API under uvicorn, configured only
from the environment; page cursors work across several workers; the team routes are there;
bad settings exit 2."""

from __future__ import annotations

import gc
import importlib
import json
from pathlib import Path

import httpx
import pytest
from tasks_support import clean_env, serve_once, serving

from authbridge.testing import FakeIssuer
from tasks_api.serve import APP_FACTORY, served_app


def test_serve_runs_the_api_with_several_workers(tmp_path: Path) -> None:
    issuer = FakeIssuer(base_url=None)
    with issuer.serving() as jwks_url:
        env = clean_env(
            AUTHBRIDGE_JWKS_URL=jwks_url,
            AUTHBRIDGE_ISSUER=issuer.issuer,
            AUTHBRIDGE_AUDIENCE=issuer.issuer,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/data/tasks.db",
        )
        with serving(["--workers", "2"], env, tmp_path) as url:
            user = issuer.make_user()
            auth = {"Authorization": f"Bearer {issuer.token(user)}"}
            me = httpx.get(f"{url}/api/me", headers=auth)
            assert me.status_code == 200
            assert me.json()["sub"] == user["id"]
            for n in range(6):
                made = httpx.post(f"{url}/api/tasks", json={"title": f"t{n}"}, headers=auth)
                assert made.status_code == 201
            # Fresh connections land on either worker; every cursor must verify on both.
            titles, cursor = [], None
            while True:
                params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
                page = httpx.get(f"{url}/api/tasks", params=params, headers=auth)
                assert page.status_code == 200, page.text
                titles += [item["title"] for item in page.json()["items"]]
                cursor = page.json()["next_cursor"]
                if cursor is None:
                    break
            assert titles == [f"t{n}" for n in reversed(range(6))]
            assert httpx.get(f"{url}/api/tasks").status_code == 401
            # Team tasks are served too: members of the active organization share them.
            team = {"activeOrganizationId": "acme", "organizationRole": "owner"}
            owner = {"Authorization": f"Bearer {issuer.token(user, **team)}"}
            colleague = issuer.token(issuer.make_user(), **{**team, "organizationRole": "member"})
            shared = httpx.post(f"{url}/api/org/tasks", json={"title": "team"}, headers=owner)
            assert shared.status_code == 201, shared.text
            listed = httpx.get(
                f"{url}/api/org/tasks", headers={"Authorization": f"Bearer {colleague}"}
            )
            assert [item["id"] for item in listed.json()["items"]] == [shared.json()["id"]]
            no_org = httpx.get(f"{url}/api/org/tasks", headers=auth)
            assert no_org.status_code == 403
            assert no_org.json()["code"] == "organization_required"
    assert (tmp_path / "data" / "tasks.db").is_file()


def test_serve_with_bad_settings_exits_2(tmp_path: Path) -> None:
    no_keys = serve_once(clean_env(), tmp_path)
    assert no_keys.returncode == 2, no_keys.stdout + no_keys.stderr
    assert "BETTER_AUTH_URL" in no_keys.stderr
    bad_db = serve_once(
        clean_env(DATABASE_URL="mysql://x", AUTHBRIDGE_JWT_SECRET="s" * 40), tmp_path
    )
    assert bad_db.returncode == 2, bad_db.stdout + bad_db.stderr
    assert "DATABASE_URL" in bad_db.stderr


async def test_the_served_app_freezes_the_collector_once_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tasks-api serve`` runs ``served_app``: after startup, every object alive is in the
    permanent generation, so collections under load walk only what requests made since."""
    issuer = FakeIssuer()
    monkeypatch.setenv("AUTHBRIDGE_JWKS", json.dumps(issuer.jwks()))
    monkeypatch.setenv("AUTHBRIDGE_ISSUER", issuer.issuer)
    monkeypatch.setenv("AUTHBRIDGE_AUDIENCE", issuer.issuer)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/tasks.db")
    module, _, name = APP_FACTORY.partition(":")
    factory = getattr(importlib.import_module(module), name)
    assert factory is served_app
    gc.unfreeze()
    app = served_app()
    assert gc.get_freeze_count() == 0  # building the app freezes nothing: startup does
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 0
            # The app itself is frozen: no generation the collector walks holds it.
            assert all(app not in gc.get_objects(generation) for generation in range(3))
    finally:
        gc.unfreeze()  # this test process builds many more apps
