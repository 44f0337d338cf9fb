"""``authbridge secret``: printing, --bytes, --json and --write with its refusals."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

from cli_helpers import CLI


def _decoded_length(value: str) -> int:
    return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def _env_value(path: Path, key: str) -> str | None:
    for line in path.read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    return None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_prints_a_fresh_base64url_secret_of_32_bytes(cli: CLI) -> None:
    first, second = cli("secret"), cli("secret")
    assert first.code == second.code == 0
    value = first.stdout.strip()
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert _decoded_length(value) == 32
    assert value != second.stdout.strip()


def test_bytes_sets_the_length_and_refuses_fewer_than_32(cli: CLI) -> None:
    long = cli("secret", "--bytes", "64")
    assert long.code == 0
    assert _decoded_length(long.stdout.strip()) == 64
    short = cli("secret", "--bytes", "16")
    assert short.code == 2
    assert "at least" in short.stderr or "between 32" in short.stderr
    assert short.stdout == ""


def test_json_output(cli: CLI) -> None:
    result = cli("secret", "--json", "--bytes", "48")
    assert result.code == 0
    document = result.json()
    assert set(document) == {"secret", "bytes", "encoding"}
    assert document["bytes"] == 48
    assert document["encoding"] == "base64url"
    assert _decoded_length(document["secret"]) == 48


def test_write_sets_the_same_secret_in_frontend_and_backend_with_mode_600(
    cli: CLI, git_repo: Path
) -> None:
    (git_repo / ".env").write_text("# backend\nDATABASE_URL=sqlite:///x.db\n")
    result = cli("secret", "--write")
    assert result.code == 0, result.output
    frontend, backend = git_repo / "web" / ".env.local", git_repo / ".env"
    shared = _env_value(frontend, "BETTER_AUTH_SECRET")
    assert shared is not None
    assert _decoded_length(shared) == 32
    assert _env_value(backend, "BETTER_AUTH_SECRET") == shared
    assert _env_value(backend, "AUTHBRIDGE_JWT_SECRET") is None
    assert "DATABASE_URL=sqlite:///x.db" in backend.read_text()  # other lines kept
    assert _mode(frontend) == 0o600
    assert _mode(backend) == 0o600
    assert shared not in result.output  # --write never prints the secret


def test_write_from_a_subdirectory_uses_the_repository_root(cli: CLI, git_repo: Path) -> None:
    nested = git_repo / "src" / "deep"
    nested.mkdir(parents=True)
    assert cli("secret", "--write", cwd=nested).code == 0
    assert (git_repo / ".env").exists()
    assert (git_repo / "web" / ".env.local").exists()
    assert not (nested / ".env").exists()


def test_hs256_adds_a_different_jwt_secret_to_the_backend(cli: CLI, git_repo: Path) -> None:
    result = cli("secret", "--write", "--hs256", "--json")
    assert result.code == 0
    written = {entry["file"]: entry for entry in result.json()["written"]}
    backend = git_repo / ".env"
    assert written[str(backend)]["variables"] == ["BETTER_AUTH_SECRET", "AUTHBRIDGE_JWT_SECRET"]
    jwt_secret = _env_value(backend, "AUTHBRIDGE_JWT_SECRET")
    ba_secret = _env_value(backend, "BETTER_AUTH_SECRET")
    assert jwt_secret
    assert ba_secret
    assert jwt_secret != ba_secret
    assert _env_value(git_repo / "web" / ".env.local", "AUTHBRIDGE_JWT_SECRET") is None


def test_existing_value_is_kept_without_force(cli: CLI, git_repo: Path) -> None:
    frontend = git_repo / "web" / ".env.local"
    frontend.write_text("BETTER_AUTH_SECRET=keep-me-please-this-is-the-old-value\n")
    result = cli("secret", "--write")
    assert result.code == 1
    assert "--force" in result.stderr
    assert _env_value(frontend, "BETTER_AUTH_SECRET") == "keep-me-please-this-is-the-old-value"
    assert not (git_repo / ".env").exists()  # nothing written at all


def test_empty_placeholder_is_filled_without_force(cli: CLI, git_repo: Path) -> None:
    frontend = git_repo / "web" / ".env.local"
    frontend.write_text("BETTER_AUTH_URL=http://localhost:3000\nBETTER_AUTH_SECRET=\n")
    assert cli("secret", "--write").code == 0
    lines = frontend.read_text().splitlines()
    assert lines[0] == "BETTER_AUTH_URL=http://localhost:3000"
    assert lines[1].startswith("BETTER_AUTH_SECRET=")
    assert len(lines[1]) > 40
    assert len(lines) == 2


def test_force_replaces_and_warns(cli: CLI, git_repo: Path) -> None:
    frontend = git_repo / "web" / ".env.local"
    frontend.write_text("BETTER_AUTH_SECRET=old-old-old-old-old-old-old-old-old\n")
    frontend.chmod(0o644)
    result = cli("secret", "--write", "--force", "--json")
    assert result.code == 0
    new = _env_value(frontend, "BETTER_AUTH_SECRET")
    assert new
    assert new != "old-old-old-old-old-old-old-old-old"
    assert _mode(frontend) == 0o600
    replaced = {entry["file"]: entry["replaced"] for entry in result.json()["written"]}
    assert replaced[str(frontend)] == ["BETTER_AUTH_SECRET"]
    assert replaced[str(git_repo / ".env")] == []


def test_refuses_a_file_tracked_by_git(cli: CLI, git_repo: Path) -> None:
    backend = git_repo / ".env"
    backend.write_text("PORT=8000\n")
    subprocess.run(["git", "add", ".env"], cwd=git_repo, check=True)
    result = cli("secret", "--write", "--force")
    assert result.code == 2
    assert "tracked by git" in result.stderr
    assert backend.read_text() == "PORT=8000\n"
    assert not (git_repo / "web" / ".env.local").exists()


def test_file_options_override_the_paths(cli: CLI, workdir: Path) -> None:
    front, back = workdir / "front.env", workdir / "back.env"
    result = cli(
        "secret", "--write", "--frontend-env", str(front), "--backend-env", str(back), "--json"
    )
    assert result.code == 0
    assert {entry["file"] for entry in result.json()["written"]} == {str(front), str(back)}
    assert _env_value(front, "BETTER_AUTH_SECRET") == _env_value(back, "BETTER_AUTH_SECRET")


def test_missing_frontend_directory_is_a_usage_error(cli: CLI, workdir: Path) -> None:
    result = cli("secret", "--write")  # workdir is not a git repo and has no web/
    assert result.code == 2
    assert "does not exist" in result.stderr


def test_file_flags_without_write_are_a_usage_error(cli: CLI) -> None:
    assert cli("secret", "--hs256").code == 2
    assert cli("secret", "--force").code == 2
