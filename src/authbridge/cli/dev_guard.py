"""Development-only commands (mint, dev-issuer): refuse in production; locate the keys file."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from .devkeys import DEFAULT_DEV_KEYS_FILE, DevKeyStore
from .output import err_console, escape
from .private_files import is_git_ignored, is_tracked_by_git, repo_root

__all__ = ["dev_key_store", "refuse_in_production"]


def refuse_in_production(settings: Settings, command: str) -> None:
    # Read the raw variable too: a bad value elsewhere must not hide "production".
    raw = os.environ.get("AUTHBRIDGE_ENV", "").strip().lower()
    if settings.environment == "production" or raw == "production":
        raise ConfigError(
            "AUTHBRIDGE_ENV",
            f"is production; `authbridge {command}` makes development credentials only.",
            "run it in development (unset AUTHBRIDGE_ENV or set it to development).",
        )


def dev_key_store(keys_file: Path | None) -> DevKeyStore:
    path = keys_file if keys_file is not None else repo_root() / DEFAULT_DEV_KEYS_FILE
    if path.exists() and is_tracked_by_git(path):
        raise ConfigError(
            "--keys-file",
            f"{path} is tracked by git; private keys must never be committed.",
            "use a git-ignored path such as .authbridge/dev-keys.json.",
        )
    if is_git_ignored(path) is False:
        err_console.print(
            f"[yellow]warning:[/] {escape(str(path))} is not git-ignored; "
            "add .authbridge/ to .gitignore."
        )
    return DevKeyStore(path)
