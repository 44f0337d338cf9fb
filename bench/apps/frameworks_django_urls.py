"""The URLs of the Django apps in ``frameworks.py`` (Django imports them by name)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from authbridge.django import principal_of, requires


def hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": "anonymous"})


@requires()
def me(request: HttpRequest) -> JsonResponse:
    user = principal_of(request)
    assert user is not None
    return JsonResponse({"sub": user.sub})


urlpatterns = [path("hello", hello), path("me", me)]
