"""The library's package metadata, read from the built wheel as an index would show it."""

from __future__ import annotations

import ast
import email
import re
import tarfile
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path

import pytest
from readme_renderer.markdown import render
from wheel_support import ROOT, Dists

CORE_DEPENDENCIES = {"cryptography", "httpx", "msgspec"}
EXTRAS = {"fastapi", "sessions", "redis", "cli", "all", "starlette", "flask", "litestar", "django"}
EXTRAS |= {"drf"}  # Django REST framework: django's extra and DRF
EXTRAS |= {"nacl"}  # PyNaCl: libsodium checks Ed25519


@pytest.fixture(scope="module")
def metadata(dists: Dists) -> Message:
    return email.message_from_string(dists.metadata(dists.core_wheel))


def _source_version() -> str:
    """``__version__`` as written in src/authbridge/__init__.py: the one place it is kept."""
    tree = ast.parse((ROOT / "src" / "authbridge" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError("no __version__ in authbridge/__init__.py")


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return match.group(0).lower()


def test_the_version_is_the_one_in_the_package(metadata: Message) -> None:
    assert metadata["Name"] == "authbridge"
    assert metadata["Version"] == _source_version()


def test_the_core_requires_only_what_verification_needs(metadata: Message) -> None:
    requirements = metadata.get_all("Requires-Dist") or []
    core = {_name(r) for r in requirements if "extra ==" not in r}
    assert core == CORE_DEPENDENCIES
    assert set(metadata.get_all("Provides-Extra") or []) == EXTRAS
    in_fastapi = {_name(r) for r in requirements if "extra == 'fastapi'" in r}
    assert in_fastapi == {"fastapi"}
    in_sessions = {_name(r) for r in requirements if "extra == 'sessions'" in r}
    assert in_sessions == {"sqlalchemy", "aiosqlite", "asyncpg"}
    assert {_name(r) for r in requirements if "extra == 'nacl'" in r} == {"pynacl"}
    for framework in ("starlette", "flask", "litestar", "django"):
        in_extra = {_name(r) for r in requirements if f"extra == '{framework}'" in r}
        assert in_extra == {framework}
    in_drf = {_name(r) for r in requirements if "extra == 'drf'" in r}
    assert in_drf == {"django", "djangorestframework"}


def test_classifiers_urls_and_keywords(metadata: Message) -> None:
    classifiers = set(metadata.get_all("Classifier") or [])
    assert {
        "Typing :: Typed",
        "Framework :: FastAPI",
        "License :: OSI Approved :: MIT License",
    } <= classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    for label in ("Repository", "Documentation", "Changelog", "Issues"):
        assert urls[label].startswith("https://github.com/authbridge/authbridge"), urls
    assert "better-auth" in (metadata["Keywords"] or "")
    assert metadata["Requires-Python"] == ">=3.11"


class _Links(HTMLParser):
    """Every link and image target in the rendered page, and every id an anchor can reach."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in (("a", "href"), ("img", "src")) and value is not None:
                self.targets.append(value)
            elif name in ("id", "name") and value is not None:
                self.ids.add(value)


def test_the_long_description_renders_with_absolute_links_only(metadata: Message) -> None:
    assert metadata["Description-Content-Type"].startswith("text/markdown")
    body = metadata.get_payload()
    assert isinstance(body, str)
    assert "pip install 'authbridge[fastapi]'" in body  # the Install section
    html = render(body, variant="GFM")
    assert html is not None, "the README does not render as GitHub Markdown"
    links = _Links()
    links.feed(html)
    assert links.targets
    # A package index serves the description alone: a path next to the README is not there.
    # An #anchor must reach an id the renderer itself gave the page (its headings' anchors).
    relative = [
        t
        for t in links.targets
        if not re.match(r"(https://|mailto:)", t) and not (t[:1] == "#" and t[1:] in links.ids)
    ]
    assert not relative, f"relative links break on a package index: {relative}"


def test_the_changelog_has_an_unreleased_section_and_0_1_0() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    assert f"## [{_source_version()}]" in changelog  # the version being built is listed


def test_the_library_sdist_holds_the_library_only(dists: Dists) -> None:
    with tarfile.open(dists.core_sdist) as sdist:
        names = [Path(n).relative_to(Path(n).parts[0]).as_posix() for n in sdist.getnames()]
    assert "src/authbridge/__init__.py" in names
    assert "CHANGELOG.md" in names
    unexpected = [n for n in names if n.startswith(("apps", "tests", "web", "src/tasks_api"))]
    assert not unexpected
