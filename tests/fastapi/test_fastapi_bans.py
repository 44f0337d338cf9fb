"""A banned user over HTTP: 401 ``user_banned`` with the ``invalid_token``
challenge (so the web app signs the user out), and ``user_banned`` in the audit log."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from authbridge.testing import FakeIssuer

LOGGER = "authbridge.audit"
INVALID_TOKEN = (
    'Bearer realm="authbridge", error="invalid_token", '
    'error_description="The access token is invalid or has expired"'
)


def js_iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == LOGGER]  # type: ignore[attr-defined]


@pytest.mark.parametrize("expires", [None, "future"])
async def test_a_banned_user_gets_401_user_banned(
    client: httpx.AsyncClient,
    issuer: FakeIssuer,
    caplog: pytest.LogCaptureFixture,
    expires: str | None,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    ban_expires = js_iso(time.time() + 3600) if expires else None
    token = issuer.token(banned=True, banReason="spam", banExpires=ban_expires)
    for _ in range(2):  # a refusal is not cached: the second answer is the same
        response = await client.get("/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == INVALID_TOKEN
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {"detail": "The user is banned.", "code": "user_banned"}
    logged = events(caplog)
    assert [e["code"] for e in logged] == ["user_banned", "user_banned"]
    assert all(e["outcome"] == "failure" and e["status"] == 401 for e in logged)
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


async def test_an_expired_ban_lets_the_user_in(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token(banned=True, banExpires=js_iso(time.time() - 60))
    response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["sub"] == issuer.user["id"]


async def test_a_user_not_banned_gets_in(client: httpx.AsyncClient, issuer: FakeIssuer) -> None:
    token = issuer.token(banned=False, banExpires=None, banReason=None)
    assert (await client.get("/me", headers=bearer(token))).status_code == 200


async def test_a_banned_claim_of_the_wrong_type_is_invalid_token(
    client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    response = await client.get("/me", headers=bearer(issuer.token(banned="yes")))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert events(caplog)[0]["code"] == "invalid_claims"
