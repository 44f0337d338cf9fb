"""The README is short and its examples run (issue #20); the rest lives in docs/.

The packaging tests check that its links are absolute (a package index shows it alone); here
every link into this repository must reach a file that exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
REPO = "https://github.com/authbridge/authbridge/blob/main/"


def test_the_readme_is_at_most_12_kb() -> None:
    assert len(README.encode()) <= 12 * 1024


def test_the_readme_has_the_quickstart_and_the_install() -> None:
    assert "make run" in README
    assert "make test" in README
    assert "PostgreSQL" in README  # what make test needs
    assert "Redis" in README
    assert "uv add 'authbridge[fastapi]'" in README
    assert "pip install 'authbridge[fastapi]'" in README


@pytest.mark.parametrize("block", re.findall(r"```python\n(.*?)```", README, re.S))
def test_each_python_example_is_at_most_15_lines_and_runs(
    block: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = [line for line in block.splitlines() if line.strip()]
    assert len(code) <= 15
    monkeypatch.setenv("BETTER_AUTH_URL", "https://auth.example.com")
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # builds the verifier or the app
    assert "Verifier" in namespace or "app" in namespace


def test_every_link_into_the_repository_reaches_a_file() -> None:
    targets = re.findall(r"\]\((" + re.escape(REPO) + r"[^)#]+)", README)
    assert len(targets) >= 10
    missing = [t for t in targets if not (ROOT / t.removeprefix(REPO)).exists()]
    assert not missing
