"""The API image's Dockerfile, read as text: no Docker engine runs where this project is
developed, so the image is never built here (docs/deploy.md says so). These checks hold the
two properties a build would otherwise discover late: pinned build tools, and a data
directory the non-root user can write."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import make_url

from tasks_api.settings import ServiceSettings

DOCKERFILE = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()


def _args() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE, re.MULTILINE))


def _images() -> list[str]:
    args = _args()
    found = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    found += re.findall(r"COPY --from=(\S+)", DOCKERFILE)
    images = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], name) for name in found]
    return [name for name in images if "/" in name or ":" in name]  # not a stage name


def test_every_image_and_uv_are_pinned() -> None:
    images = _images()
    assert images, DOCKERFILE
    for image in images:
        tag = image.partition(":")[2]
        assert re.match(r"\d", tag), f"{image} is not pinned to a version (no tag, or latest)"
    assert "ghcr.io/astral-sh/uv" not in DOCKERFILE  # uv comes pinned from PyPI instead
    assert re.fullmatch(r"\d+\.\d+\.\d+", _args()["UV_VERSION"])
    assert 'pip install --no-cache-dir "uv==${UV_VERSION}"' in DOCKERFILE


def test_the_service_user_owns_the_default_sqlite_directory() -> None:
    user = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)[-1]
    workdir = re.findall(r"^WORKDIR (\S+)$", DOCKERFILE, re.MULTILINE)[-1]
    default = make_url(ServiceSettings.model_fields["database_url"].default).database
    assert default is not None
    data = str(Path(workdir, default).parent.resolve())  # ./data/tasks.db under WORKDIR
    assert data == "/app/data"
    assert f"mkdir -p {data}" in DOCKERFILE
    assert f"chown {user}:{user} {data}" in DOCKERFILE
    assert f'VOLUME ["{data}"]' in DOCKERFILE
    assert re.search(rf"useradd .*--uid 10001 .*\b{user}\b", DOCKERFILE)
