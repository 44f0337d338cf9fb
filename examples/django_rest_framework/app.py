"""A small Django REST framework API behind Better Auth tokens (``authbridge[drf]``), in one
file.

Run it with ``BETTER_AUTH_URL=https://auth.example.com gunicorn --threads 8 app:application``
from this folder (or ``python app.py runserver``). ``GET /health`` is public; ``GET /me``
needs any valid token; ``GET /tasks`` the ``tasks:read`` scope, ``POST /tasks/new``
``tasks:write``; ``GET /admin`` the ``admin`` role; ``GET /org/settings`` the ``owner`` or
``admin`` role in the caller's active organization.
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
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "authbridge.django.rest_framework.BearerAuthentication"
            ],
            "DEFAULT_PERMISSION_CLASSES": ["authbridge.django.rest_framework.IsVerified"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            # Without django.contrib.auth installed, DRF's AnonymousUser cannot be built.
            "UNAUTHENTICATED_USER": "authbridge.django.AnonymousPrincipalUser",
            # Optional: adds Cache-Control: no-store to authbridge's refusals.
            "EXCEPTION_HANDLER": "authbridge.django.rest_framework.exception_handler",
        },
    )

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from authbridge.django.rest_framework import HasOrgRoles, HasRoles, HasScopes


@api_view(["GET"])
@permission_classes([AllowAny])
def health(request: Request) -> Response:
    return Response({"ok": True})


@api_view(["GET"])  # the default permission: IsVerified
def me(request: Request) -> Response:
    user = request.auth  # the Principal
    return Response({"sub": user.sub, "email": user.email, "scopes": sorted(user.scopes)})


@api_view(["GET"])
@permission_classes([HasScopes("tasks:read")])
def list_tasks(request: Request) -> Response:
    return Response({"tasks": [], "owner": request.user.pk})


@api_view(["POST"])
@permission_classes([HasScopes("tasks:write")])
def create_task(request: Request) -> Response:
    return Response({"created": True}, status=201)


@api_view(["GET"])
@permission_classes([HasRoles("admin")])
def admin(request: Request) -> Response:
    return Response({"admin": request.auth.sub})


@api_view(["GET"])
@permission_classes([HasOrgRoles("owner", "admin")])
def org_settings(request: Request) -> Response:
    return Response({"organization": request.auth.organization_id})


urlpatterns = [
    path("health", health),
    path("me", me),
    path("tasks", list_tasks),
    path("tasks/new", create_task),
    path("admin", admin),
    path("org/settings", org_settings),
]


def create_app() -> WSGIHandler:
    """A WSGI application; the authentication class builds ``Verifier.from_env()`` on first
    use."""
    return get_wsgi_application()


application = create_app()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
