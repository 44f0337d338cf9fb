"""Write files that hold secrets: mode 600, atomically, never into a file git tracks."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["is_git_ignored", "is_tracked_by_git", "repo_root", "write_private"]


def repo_root(start: Path | None = None) -> Path:
    """The git work tree's top directory, or the current directory outside git."""
    here = (start or Path.cwd()).resolve()
    git = shutil.which("git")
    if git is None:
        return here
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [git, "rev-parse", "--show-toplevel"],
        cwd=here,
        capture_output=True,
        text=True,
        check=False,
    )
    top = result.stdout.strip()
    return Path(top) if result.returncode == 0 and top else here


def is_tracked_by_git(path: Path) -> bool:
    """``git ls-files --error-unmatch``: whether committing would publish this file."""
    git = shutil.which("git")
    directory = path.resolve().parent
    if git is None or not directory.is_dir():
        return False
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [git, "ls-files", "--error-unmatch", "--", path.name],
        cwd=directory,
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by the owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    os.chmod(path, 0o600)


def is_git_ignored(path: Path) -> bool | None:
    """Whether git ignores ``path``; None outside a git work tree."""
    git = shutil.which("git")
    directory = path.resolve().parent
    while not directory.is_dir():
        directory = directory.parent
    if git is None:
        return None
    inside = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [git, "rev-parse", "--is-inside-work-tree"],
        cwd=directory,
        capture_output=True,
        check=False,
    )
    if inside.returncode != 0:
        return None
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [git, "check-ignore", "-q", "--", str(path.resolve())],
        cwd=directory,
        capture_output=True,
        check=False,
    )
    return result.returncode == 0
