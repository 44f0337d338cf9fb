"""A small Django API behind Better Auth tokens (``authbridge[django]``), in one file.

Run it with ``BETTER_AUTH_URL=https://auth.example.com python app.py runserver`` from this
folder (or ``gunicorn --threads 8 app:application``). ``GET /health`` is public; ``GET /me``
needs any valid token; ``GET /tasks`` the ``tasks:read`` scope and ``POST /tasks/new``
``tasks:write``.
"""

from __future__ import annotations

import sys

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="example-only-not-a-secret",  # no sessions or signing here
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["authbridge.django.AuthBridgeMiddleware"],
        INSTALLED_APPS=[],
    )

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from authbridge.django import principal_of, requires


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@require_GET
@requires()
def me(request: HttpRequest) -> JsonResponse:
    user = principal_of(request)
    assert user is not None  # requires() let it through
    return JsonResponse({"sub": user.sub, "email": user.email, "scopes": sorted(user.scopes)})


@require_GET
@requires("tasks:read")
def list_tasks(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"tasks": [], "owner": request.user.pk})


@require_POST
@requires("tasks:write")
def create_task(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"created": True}, status=201)


urlpatterns = [
    path("health", health),
    path("me", me),
    path("tasks", list_tasks),
    path("tasks/new", create_task),
]


def create_app() -> WSGIHandler:
    """A WSGI application; its middleware builds ``Verifier.from_env()`` on first use."""
    return get_wsgi_application()


application = create_app()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
