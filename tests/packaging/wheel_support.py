"""Helpers for the packaging tests: uv, the built distributions and fresh virtual environments.

Every environment here is new and outside the repository, so what it can import is what its
installed wheels bring, never the source tree or the development .venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def uv() -> str:
    """uv from PATH, else where its installer puts it (`make uv` and .ci/run rely on it too)."""
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        raise RuntimeError("uv is not installed: `make uv` installs it")
    return found


def clean_env() -> dict[str, str]:
    """The environment without the development venv's variables, so uv looks only where told."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    return env


def run(args: list[str], *, cwd: Path, timeout: float = 240, **kwargs: object) -> str:
    """Run a command; on failure, fail with its output."""
    done = subprocess.run(
        args,
        cwd=cwd,
        env=kwargs.pop("env", None) or clean_env(),  # type: ignore[arg-type]
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Dists:
    """The distributions `uv build` made from the repository: sdists, and wheels built from them."""

    directory: Path

    def one(self, pattern: str) -> Path:
        found = sorted(self.directory.glob(pattern))
        assert len(found) == 1, (pattern, sorted(p.name for p in self.directory.iterdir()))
        return found[0]

    @property
    def core_wheel(self) -> Path:
        return self.one("authbridge-*.whl")

    @property
    def core_sdist(self) -> Path:
        return self.one("authbridge-*.tar.gz")

    @property
    def app_wheel(self) -> Path:
        return self.one("tasks_api-*.whl")

    def metadata(self, wheel: Path) -> str:
        with zipfile.ZipFile(wheel) as archive:
            (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            return archive.read(name).decode("utf-8")


def build(out: Path) -> Dists:
    """Both distributions of the workspace, each wheel built from its sdist (as an index would)."""
    run([uv(), "build", "--all-packages", "--out-dir", str(out)], cwd=ROOT, timeout=300)
    return Dists(out)


@dataclass(frozen=True)
class Venv:
    """A fresh virtual environment with nothing but what was installed into it."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def install(self, *requirements: str) -> None:
        run(
            [uv(), "pip", "install", "--python", str(self.python), *requirements],
            cwd=self.path,
            timeout=300,
        )

    def packages(self) -> dict[str, str]:
        """Every installed distribution, by name: the library and all of its dependencies."""
        listed = run(
            [uv(), "pip", "list", "--python", str(self.python), "--format", "json"],
            cwd=self.path,
        )
        return {entry["name"]: entry["version"] for entry in json.loads(listed)}

    def python_run(
        self, code: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``python -c code args``, isolated (-I): neither the cwd nor PYTHON* variables count."""
        return subprocess.run(
            [str(self.python), "-I", "-c", code, *args],
            cwd=cwd or self.path,
            env={**clean_env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def new_venv(path: Path) -> Venv:
    # The interpreter that runs the tests: the same Python version, and nothing to download.
    run([uv(), "venv", "--quiet", "--python", sys.executable, str(path)], cwd=path.parent)
    return Venv(path)


def lowest_fastapi() -> str:
    """The lowest FastAPI the ``fastapi`` extra allows, pinned: the FastAPI layer reads some of
    FastAPI's route internals (route_auth.py), so the floor is tested, not assumed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (floor,) = project["project"]["optional-dependencies"]["fastapi"]
    name, version = floor.split(">=")
    assert name == "fastapi", floor
    return f"fastapi=={version}"
