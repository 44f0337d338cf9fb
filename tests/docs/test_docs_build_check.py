"""``make docs`` fails on a broken link anchor, as its comment promises.

MkDocs' ``--quiet`` silences the warnings that ``--strict`` counts, so ``--strict --quiet``
built a site with a broken anchor and exited 0. This runs the Makefile's own docs command on
a copy of docs/ with one anchor broken, and on the copy unchanged.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _docs_command() -> list[str]:
    """The ``docs`` target's mkdocs command, with ``$(UV) run`` as this interpreter."""
    recipe = re.search(r"^docs:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe is not None, "the Makefile has no docs target"
    words = shlex.split(recipe.group(1))
    start = words.index("mkdocs")
    return [sys.executable, "-m", "mkdocs", *words[start + 1 :]]


def _site_copy(tmp_path: Path) -> Path:
    """The repository as MkDocs reads it, with docs/ copied (so it can be edited) and the
    rest linked (snippets include bench/results, examples and interop files)."""
    for entry in ROOT.iterdir():
        if entry.name in {"docs", ".git", ".venv", "site"} or entry.name.startswith(".venv"):
            continue
        (tmp_path / entry.name).symlink_to(entry)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def _build(site: Path) -> subprocess.CompletedProcess[str]:
    command = _docs_command()
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*command, "-d", str(site / "_site")],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_docs_command_is_strict_and_not_quiet() -> None:
    command = _docs_command()
    assert "--strict" in command
    assert "--quiet" not in command
    assert "-q" not in command


def test_a_broken_anchor_fails_the_docs_build(tmp_path: Path) -> None:
    site = _site_copy(tmp_path)
    page = site / "docs" / "benchmarks.md"
    page.write_text(page.read_text() + "\nSee [nowhere](performance.md#no-such-anchor).\n")
    broken = _build(site)
    assert broken.returncode != 0
    assert "no-such-anchor" in broken.stdout + broken.stderr


def test_the_docs_as_committed_build(tmp_path: Path) -> None:
    built = _build(_site_copy(tmp_path))
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    assert (tmp_path / "_site" / "benchmarks" / "index.html").is_file()
