"""The framework layers under load (``bench/http_frameworks.py``): per framework, a bare
endpoint and the same endpoint behind authbridge, one uvicorn process each.

ASGI apps (Starlette, Litestar) run on uvicorn as themselves; WSGI apps (Flask, Django) run
on uvicorn's WSGI interface, which calls them in a thread pool, as a threaded WSGI server
does. authbridge reads its usual ``AUTHBRIDGE_*`` variables (a static JWKS: no issuer runs).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "django_bare",
    "django_protected",
    "flask_bare",
    "flask_protected",
    "litestar_bare",
    "litestar_protected",
    "starlette_bare",
    "starlette_protected",
]


# --- Starlette ---------------------------------------------------------------------------------


def _starlette(protected: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from authbridge import Verifier
    from authbridge.starlette import authbridge_middleware, principal_of, requires

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"sub": "anonymous"})

    @requires()
    async def me(request: Request) -> JSONResponse:
        user = principal_of(request)
        assert user is not None
        return JSONResponse({"sub": user.sub})

    if not protected:
        return Starlette(routes=[Route("/hello", hello)])
    middleware = [authbridge_middleware(Verifier.from_env())]
    # The measured route first, as /hello is in the bare app: the ratio prices authbridge,
    # not one more route to match (Starlette tries routes in order).
    return Starlette(routes=[Route("/me", me), Route("/hello", hello)], middleware=middleware)


def starlette_bare() -> Any:
    return _starlette(False)


def starlette_protected() -> Any:
    return _starlette(True)


# --- Litestar ----------------------------------------------------------------------------------


def _litestar(protected: bool) -> Any:
    from litestar import Litestar, Request, get

    from authbridge import Verifier
    from authbridge.litestar import AuthBridgePlugin, required, requires

    # Every endpoint takes the Request, as a handler reading request.user must: the bare one
    # too, so the ratio prices authbridge and not Litestar's building of a Request.
    @get("/hello")
    async def hello(request: Request[Any, Any, Any]) -> dict[str, str]:
        return {"sub": "anonymous"}

    async def no_op(connection: Any, handler: Any) -> None:
        return None

    @get("/hello-guard", guards=[no_op])  # what any guard costs in Litestar, without authbridge
    async def hello_guard(request: Request[Any, Any, Any]) -> dict[str, str]:
        return {"sub": "anonymous"}

    @get("/me", guards=[requires()])
    async def me(request: Request[Any, Any, Any]) -> dict[str, str]:
        return {"sub": request.user.sub}

    @get("/me-opt", opt=required())  # the same check, made by the middleware
    async def me_opt(request: Request[Any, Any, Any]) -> dict[str, str]:
        return {"sub": request.user.sub}

    if not protected:
        return Litestar(route_handlers=[hello, hello_guard])
    plugins = [AuthBridgePlugin(Verifier.from_env())]
    return Litestar(route_handlers=[hello, me, me_opt], plugins=plugins)


def litestar_bare() -> Any:
    return _litestar(False)


def litestar_protected() -> Any:
    return _litestar(True)


# --- Flask -------------------------------------------------------------------------------------


def _flask(protected: bool) -> Any:
    from flask import Flask, g

    from authbridge import Verifier
    from authbridge.flask import AuthBridge, requires

    app = Flask(__name__)

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"sub": "anonymous"}

    if protected:
        AuthBridge(app, Verifier.from_env())

        @app.get("/me")
        @requires()
        def me() -> dict[str, str]:
            return {"sub": g.principal.sub}

    return app


def flask_bare() -> Any:
    return _flask(False)


def flask_protected() -> Any:
    return _flask(True)


# --- Django ------------------------------------------------------------------------------------


def _django(protected: bool) -> Any:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.urandom(16).hex(),
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="apps.frameworks_django_urls",
        MIDDLEWARE=["authbridge.django.AuthBridgeMiddleware"] if protected else [],
        INSTALLED_APPS=[],
    )
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def django_bare() -> Any:
    return _django(False)


def django_protected() -> Any:
    return _django(True)
