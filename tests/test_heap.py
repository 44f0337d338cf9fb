"""``freeze_heap()`` and ``AuthBridge.install(app, freeze_heap=True)``: after startup, what the
app built is in the permanent generation, which no collection walks (docs/deploy.md)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from authbridge import freeze_heap
from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process builds many more apps


def test_freeze_heap_freezes_what_is_alive_and_collects_first() -> None:
    gc.disable()  # no collection between making the cycle and the call
    try:
        cycle: list[object] = []
        cycle.append(cycle)
        garbage = id(cycle)
        del cycle
        frozen = freeze_heap()
    finally:
        gc.enable()
    # Frozen objects still die by reference counting (another thread's, this frame's), so the
    # count can only fall after the call: CI once saw 691,557 returned and 691,520 just after.
    assert 0 < gc.get_freeze_count() <= frozen
    assert not any(id(obj) == garbage for obj in gc.get_objects())  # collected, not frozen


def _app(**install: bool) -> FastAPI:
    issuer = FakeIssuer()
    app = FastAPI()
    AuthBridge(issuer.verifier()).install(app, **install)
    return app


@pytest.mark.parametrize("lifespan", [True, False])
async def test_install_freezes_the_heap_once_the_app_has_started(lifespan: bool) -> None:
    app = _app(freeze_heap=True, lifespan=lifespan)
    assert gc.get_freeze_count() == 0  # installing freezes nothing: startup does
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
        # The app itself is frozen: no generation the collector walks holds it.
        assert all(app not in gc.get_objects(generation) for generation in range(3))


async def test_the_heap_is_not_frozen_by_default() -> None:
    app = _app()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0
