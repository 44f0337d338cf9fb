"""``tasks-api serve``: run the Tasks API under uvicorn.

The settings are checked here first, so a bad variable is one clear message and exit code 2
instead of a traceback in every worker. Logging is configured for every worker
(``authbridge.fastapi.log_config``): the audit log and faults are printed, as text or JSON
lines, and no credential is, at any level. The app and uvicorn are imported lazily, so
``tasks-api migrate`` and ``--help`` do not load them.

Each worker serves ``served_app``: ``create_app()`` whose startup ends with
``authbridge.freeze_heap()`` (``gc.freeze()`` after a collection).
Everything alive once the app has started (modules, routes, the OpenAPI models, settings,
keys) then sits outside the collector's generations, so a collection only walks what requests
created since: with a full token cache, no pause over a few milliseconds (docs/deploy.md).
Only here, in the served process: tests build many apps in one process and must not pin them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from authbridge.errors import ConfigError

from .reuse_port import CannotListen, reuse_port_supported, run_workers

if TYPE_CHECKING:
    from fastapi import FastAPI

    from authbridge.fastapi.log_config import LogFormat

__all__ = ["serve", "served_app"]

APP_FACTORY = "tasks_api.serve:served_app"


def served_app() -> FastAPI:
    """``create_app()`` as ``tasks-api serve`` runs it: ``authbridge.freeze_heap()`` once
    started (the same as ``install(app, freeze_heap=True)``; ``create_app()`` itself does not
    freeze, because tests build many apps in one process)."""
    from authbridge import freeze_heap

    from .app import create_app

    app = create_app()
    started = app.router.lifespan_context

    @asynccontextmanager
    async def frozen_after_startup(app: FastAPI) -> AsyncIterator[Any]:
        async with started(app) as state:
            freeze_heap()
            yield state

    app.router.lifespan_context = frozen_after_startup
    return app


def _check_settings() -> None:
    from authbridge import Verifier

    from .db import ensure_sqlite_directory
    from .settings import check_api_key_permissions, load_service_settings

    settings = load_service_settings()
    api_keys = Verifier.from_env().api_keys
    check_api_key_permissions(api_keys.config if api_keys is not None else None)
    # Before any worker starts: an unwritable SQLite directory is one message, not a
    # traceback from every worker's startup.
    ensure_sqlite_directory(settings.database_url)


def _log_settings(log_level: str, log_format: str) -> tuple[str, LogFormat]:
    from authbridge.fastapi.log_config import LOG_LEVELS  # imports uvicorn: only when serving

    level, fmt = log_level.strip().lower(), log_format.strip().lower()
    if level not in LOG_LEVELS:
        raise ConfigError(
            "LOG_LEVEL",
            f"{log_level!r} is not a log level.",
            f"use one of {', '.join(LOG_LEVELS)}.",
        )
    if fmt == "text":
        return level, "text"
    if fmt == "json":
        return level, "json"
    raise ConfigError("LOG_FORMAT", f"{log_format!r} is not a log format.", "use text or json.")


def serve(
    host: Annotated[str, typer.Option(envvar="HOST", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, envvar="PORT", help="Port to listen on.")
    ] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, envvar="WEB_CONCURRENCY", help="Worker processes.")
    ] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            envvar="PROXY_HEADERS", help="Trust X-Forwarded-* from --forwarded-allow-ips."
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            envvar="FORWARDED_ALLOW_IPS",
            help="Comma list of proxy IPs (or CIDRs) whose forwarded headers are trusted.",
        ),
    ] = "127.0.0.1",
    graceful_timeout: Annotated[
        int,
        typer.Option(
            min=0,
            envvar="GRACEFUL_SHUTDOWN_SECONDS",
            help="On SIGTERM, seconds to let requests in flight finish before closing.",
        ),
    ] = 20,
    log_level: Annotated[
        str,
        typer.Option(
            envvar="LOG_LEVEL",
            help="critical, error, warning, info, debug or trace: uvicorn's level and the "
            "service's (audit events are INFO, refusals and faults WARNING). URLs are "
            "redacted at every level, trace included.",
        ),
    ] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            envvar="LOG_FORMAT",
            help="text (uvicorn's format) or json (one JSON object per line, on stdout).",
        ),
    ] = "text",
    reuse_port: Annotated[
        bool,
        typer.Option(
            envvar="REUSE_PORT",
            help="With --workers > 1 on Linux: a SO_REUSEPORT socket per worker, so the kernel "
            "spreads connections evenly (off: uvicorn's one shared socket).",
        ),
    ] = True,
) -> None:
    """Serve the Tasks API (``tasks_api.app:create_app``, gc frozen once started) with uvicorn."""
    import uvicorn

    from authbridge.fastapi.log_config import log_config

    if reload and workers > 1:
        typer.echo("error: --reload runs a single process; drop --workers.", err=True)
        raise typer.Exit(2)
    try:
        level, fmt = _log_settings(log_level, log_format)
        _check_settings()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    # Page cursors are signed; every worker must share the key (workers inherit the env).
    os.environ.setdefault("TASKS_CURSOR_SECRET", secrets.token_urlsafe(32))
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": None if reload else workers,
        "reload": reload,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        "timeout_graceful_shutdown": graceful_timeout,
        "log_level": level,
        # Without it only uvicorn's own loggers have handlers: no audit log, no key fetches.
        "log_config": log_config(level, fmt, loggers=("tasks_api",)),
    }
    if workers > 1 and not reload and reuse_port and reuse_port_supported():
        config = uvicorn.Config(APP_FACTORY, **options)
        try:
            run_workers(config)
        except CannotListen as exc:
            typer.echo(f"error: cannot listen on {host}:{port}: {exc}", err=True)
            raise typer.Exit(1) from None
        return
    uvicorn.run(APP_FACTORY, **options)
