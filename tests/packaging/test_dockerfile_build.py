"""The Dockerfile's build stage, replayed without Docker: its COPY and `uv sync` lines, in order,
in an empty directory. No Docker engine runs where this project is developed, so this is what
proves that the files the image copies are enough for the workspace to install, and that the
image's command exists and runs the app from the installed (not editable) packages."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from wheel_support import ROOT, clean_env, run, uv

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the whole file, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _build_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    start = next(i for i, (k, a) in enumerate(steps) if k == "FROM" and a.endswith(" AS build"))
    end = next(i for i in range(start + 1, len(steps)) if steps[i][0] == "FROM")
    return steps[start + 1 : end]


def _copy(arguments: str, workdir: Path) -> None:
    *sources, destination = shlex.split(arguments)
    target = workdir / destination
    for source in sources:
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (target if destination.endswith("/") else target.parent).mkdir(
                parents=True, exist_ok=True
            )
            shutil.copy2(origin, target / origin.name if destination.endswith("/") else target)


def test_the_build_stage_installs_the_app_and_its_command_runs(tmp_path: Path) -> None:
    workdir = tmp_path
    env = {**clean_env(), "UV_PYTHON": sys.executable}  # the image's Python: the same 3.11
    synced = 0
    for keyword, arguments in _build_stage():
        if keyword == "WORKDIR":
            workdir = tmp_path / arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))
        elif keyword == "COPY":
            assert not arguments.startswith("--from"), arguments
            _copy(arguments, workdir)
        elif keyword == "RUN" and arguments.startswith("uv "):
            command = shlex.split(arguments)
            run([uv(), *command[1:]], cwd=workdir, env=env, timeout=300)
            synced += 1
        elif keyword == "RUN":
            assert arguments.startswith("pip install"), arguments  # uv itself: already here
    assert synced == 2  # dependencies first (a cached layer), then the sources

    final_cmd = json.loads(next(a for k, a in reversed(_instructions()) if k == "CMD"))
    assert final_cmd == ["tasks-api", "serve"]
    bin_dir = workdir / ".venv" / "bin"
    assert not (bin_dir / "pytest").exists()  # --no-dev
    assert (bin_dir / "authbridge").exists()  # `docker exec ... authbridge check` works
    migrated = subprocess.run(
        [str(bin_dir / "tasks-api"), "migrate"],
        cwd=tmp_path,
        env={**clean_env(), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/tasks.db"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == "database at revision: 0002"
    installed = subprocess.run(
        [str(bin_dir / "python"), "-c", "import tasks_api, authbridge; print(tasks_api.__file__)"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "site-packages" in installed.stdout  # --no-editable: the image needs no sources
