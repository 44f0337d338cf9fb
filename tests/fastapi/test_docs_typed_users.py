"""The "Typed users" example of docs/fastapi.md runs as written.

The code block is taken from the page, executed with ``AuthBridge.from_env`` answering a
bridge over a ``FakeIssuer``, and its routes are called with Better Auth-shaped tokens.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer

PAGE = Path(__file__).resolve().parents[2] / "docs" / "fastapi.md"


def example() -> str:
    section = PAGE.read_text().split("## Typed users", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
async def client(
    issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    bridge = AuthBridge(issuer.verifier())
    monkeypatch.setattr(AuthBridge, "from_env", classmethod(lambda cls, *a, **k: bridge))
    namespace: dict[str, Any] = {"__name__": "docs_typed_users"}
    # dont_inherit: this file's `from __future__ import annotations` must not reach the example.
    exec(compile(example(), str(PAGE), "exec", dont_inherit=True), namespace)
    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_the_documented_example_runs(issuer: FakeIssuer, client: httpx.AsyncClient) -> None:
    user = issuer.make_user(favoriteColor="teal", newsletter=True)
    headers = {"Authorization": f"Bearer {issuer.token(user)}"}
    assert (await client.get("/me", headers=headers)).json() == {"id": user["id"], "color": "teal"}
    assert (await client.get("/profile", headers=headers)).json() == {"newsletter": True}
    plain = {"Authorization": f"Bearer {issuer.token(issuer.make_user())}"}
    assert (await client.get("/me", headers=plain)).json()["color"] is None
    no_date = issuer.make_user(createdAt=None)
    refused = await client.get("/me", headers={"Authorization": f"Bearer {issuer.token(no_date)}"})
    assert refused.status_code == 401
