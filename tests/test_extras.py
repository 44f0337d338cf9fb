"""``authbridge.extras``: a missing optional dependency is one ImportError naming the extra."""

from __future__ import annotations

import importlib.util

import pytest

from authbridge.extras import MissingExtra, require_extra
from authbridge.revocation import RevocationList


def test_an_installed_library_passes() -> None:
    require_extra("authbridge.fastapi", "fastapi", fastapi="FastAPI")


def test_a_missing_library_names_the_extra_to_install() -> None:
    with pytest.raises(ImportError) as missing:
        require_extra("authbridge.thing", "thing", no_such_module_for_authbridge="Thing")
    assert isinstance(missing.value, MissingExtra)
    assert str(missing.value).startswith(
        "authbridge.thing needs Thing: pip install 'authbridge[thing]'"
    )
    assert missing.value.name == "no_such_module_for_authbridge"
    assert missing.value.extra == "thing"


def test_a_redis_revocation_list_without_redis_names_the_redis_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec

    def without_redis(name: str, package: str | None = None) -> object:
        return None if name == "redis" else real(name, package)

    monkeypatch.setattr("authbridge.extras.find_spec", without_redis)
    with pytest.raises(MissingExtra, match=r"pip install 'authbridge\[redis\]'"):
        RevocationList("redis://127.0.0.1:6379/0")
    RevocationList()  # in memory only: no Redis needed
