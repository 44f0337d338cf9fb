"""Each framework layer is its own extra; the core never imports a framework."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

import pytest

from authbridge.extras import MissingExtra

FRAMEWORKS = ["starlette", "flask", "litestar", "django"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_missing_framework_names_its_extra(
    framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def without(name: str, package: str | None = None) -> object:
        return None if name == framework else real(name, package)

    monkeypatch.setattr("authbridge.extras.find_spec", without)
    monkeypatch.delitem(sys.modules, f"authbridge.{framework}", raising=False)
    with pytest.raises(MissingExtra, match=rf"pip install 'authbridge\[{framework}\]'"):
        importlib.import_module(f"authbridge.{framework}")


def test_verifying_imports_no_framework() -> None:
    code = (
        "import sys, authbridge\n"
        "from authbridge import Verifier\n"
        "from authbridge.verifier import sync\n"
        "import authbridge.answers, authbridge.guards, authbridge.wsgi\n"
        f"print(sorted(m for m in {[*FRAMEWORKS, 'fastapi']!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_django_rest_framework_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without(name: str, package: str | None = None) -> object:
        return None if name == "rest_framework" else real(name, package)

    monkeypatch.setattr("authbridge.extras.find_spec", without)
    monkeypatch.delitem(sys.modules, "authbridge.django.rest_framework", raising=False)
    with pytest.raises(MissingExtra, match=r"pip install 'authbridge\[drf\]'"):
        importlib.import_module("authbridge.django.rest_framework")
