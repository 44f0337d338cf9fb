# The Tasks API with authbridge: `tasks-api serve` under uvicorn.
#
# UNTESTED: this project is developed on a machine without a Docker engine, so this file has
# never been built. It follows the tested commands in docs/deploy.md; build and check it
# yourself before relying on it.
#
#   docker build -t authbridge-api .
#   docker run -p 8000:8000 -e BETTER_AUTH_URL=https://app.example.com \
#     -e DATABASE_URL=postgresql+asyncpg://... -e TASKS_CURSOR_SECRET=... authbridge-api

# Pinned (tests/test_dockerfile.py): uv to one version, from PyPI as `make uv` installs it, and
# the base image to Python 3.11 on Debian 12. Pin the image by digest too if your registry
# policy asks for it. Bump these on purpose, not by accident.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_VERSION=0.13.9

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
# The image installs the Tasks API (apps/tasks-api) and what it needs of the uv workspace:
# authbridge with its fastapi, sessions, redis and cli extras; no dev tools.
# Dependencies first: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
COPY apps/tasks-api/pyproject.toml apps/tasks-api/README.md ./apps/tasks-api/
RUN uv sync --frozen --no-dev --package tasks-api --no-install-workspace
COPY src ./src
COPY apps/tasks-api/src ./apps/tasks-api/src
RUN uv sync --frozen --no-dev --package tasks-api --no-editable

FROM ${PYTHON_IMAGE}
# /app stays root-owned (the code is read-only to the service); only /app/data, where the
# default SQLite database (DATABASE_URL=sqlite+aiosqlite:///./data/tasks.db) lives, belongs
# to the service's user. Mount a volume there to keep it across containers.
RUN useradd --system --uid 10001 --home-dir /app app \
    && mkdir -p /app/data \
    && chown app:app /app/data
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
VOLUME ["/app/data"]
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    GRACEFUL_SHUTDOWN_SECONDS=20 \
    AUTHBRIDGE_ENV=production
USER app
EXPOSE 8000
# Liveness only: /readyz (database and keys) belongs to the load balancer, so that a database
# outage takes instances out of rotation instead of restarting them.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
STOPSIGNAL SIGTERM
# The app migrates its database at startup (TASKS_RUN_MIGRATIONS=false: run `tasks-api migrate`).
CMD ["tasks-api", "serve"]
