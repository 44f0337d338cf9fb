"""Install the interop Better Auth server's npm dependencies once, into a shared cache.

``npm ci`` compiles better-sqlite3 from source (about two minutes), so the result is kept in
``~/.cache/authbridge/interop-node/<key>/node_modules`` and symlinked into
``interop/better-auth/node_modules``. The key hashes ``package-lock.json``, ``.npmrc`` (its
``legacy-peer-deps`` lets ``npm ci`` accept @better-auth/api-key's exact peers) and the Node
version (the native module is tied to Node's ABI). A file lock keeps parallel pytest
processes from installing or relinking at the same time.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["INTEROP_DIR", "NodeMissing", "ensure_installed", "node_executable"]

REPO_ROOT = Path(__file__).resolve().parents[2]
INTEROP_DIR = REPO_ROOT / "interop" / "better-auth"
CACHE_ROOT = Path(
    os.environ.get("AUTHBRIDGE_NODE_CACHE", Path.home() / ".cache" / "authbridge" / "interop-node")
)
_COMPLETE_MARKER = ".authbridge-install-complete"
# Copied into the install directory and hashed into its key: npm ci reads both.
_INSTALL_FILES = ("package.json", "package-lock.json", ".npmrc")
_INSTALL_TIMEOUT_S = 1200


class NodeMissing(RuntimeError):
    """Node or npm is not installed: the interop tests cannot run (they fail, never skip)."""


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise NodeMissing(
            "`node` is not on PATH. The Better Auth interop tests need Node >= 20.19 and npm; "
            "install them (e.g. `apt-get install nodejs npm`) and re-run."
        )
    return node


def _npm_executable() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise NodeMissing("`npm` is not on PATH. Install npm (it ships with Node) and re-run.")
    return npm


@functools.cache
def _node_version(node: str) -> str:
    result = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def _cache_key(node: str) -> str:
    digest = hashlib.sha256((INTEROP_DIR / "package-lock.json").read_bytes())
    digest.update(b"\0" + (INTEROP_DIR / ".npmrc").read_bytes())
    digest.update(b"\0" + _node_version(node).encode())
    return digest.hexdigest()[:32]


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm_env() -> dict[str, str]:
    env = dict(os.environ)
    # node-gyp would otherwise download Node headers; Debian ships them under /usr.
    if "npm_config_nodedir" not in env and Path("/usr/include/node/node.h").exists():
        env["npm_config_nodedir"] = "/usr"
    env.setdefault("npm_config_update_notifier", "false")
    return env


def _run_npm_ci(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in _INSTALL_FILES:
        shutil.copy2(INTEROP_DIR / name, target / name)
    result = subprocess.run(
        [_npm_executable(), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=target,
        env=_npm_env(),
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise RuntimeError(
            f"`npm ci` for interop/better-auth failed ({result.returncode}):\n{tail}"
        )
    (target / _COMPLETE_MARKER).write_text("ok\n")


def _link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically, replacing a stale link or directory."""
    if link.is_symlink() and link.resolve() == target.resolve():
        return
    if link.exists() and not link.is_symlink():
        # A stray local `npm install`: the cache is authoritative, so drop it.
        shutil.rmtree(link)
    staging = link.with_name(f".node_modules.{os.getpid()}.tmp")
    if staging.is_symlink() or staging.exists():
        staging.unlink()
    staging.symlink_to(target, target_is_directory=True)
    os.replace(staging, link)


_done_for_key: str | None = None  # this process already installed and linked this key


def ensure_installed() -> Path:
    """Make ``interop/better-auth/node_modules`` usable; return the interop directory."""
    global _done_for_key
    node = node_executable()
    _npm_executable()
    key = _cache_key(node)
    link = INTEROP_DIR / "node_modules"
    if key == _done_for_key and link.is_dir():
        return INTEROP_DIR
    install_dir = CACHE_ROOT / key
    with _file_lock(CACHE_ROOT / ".lock"):
        if not (install_dir / _COMPLETE_MARKER).exists():
            _run_npm_ci(install_dir)
        _link(link, install_dir / "node_modules")
    _done_for_key = key
    return INTEROP_DIR
