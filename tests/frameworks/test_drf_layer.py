"""authbridge.django.rest_framework in this process, with DRF's own exception handler and
with authbridge's, and an outage (503 with Retry-After)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from authbridge import Verifier
from authbridge.django import rest_framework as drf
from authbridge.errors import KeysUnavailable
from authbridge.testing import FakeIssuer

from .conftest import load_example

# Django's settings are one set per process: examples/django's (test_example_django.py runs
# it in this process too), which this test only adds to with override_settings. DRF reads
# them when imported, so its modules are imported after (in the functions below).
load_example("django")

BASE: dict[str, Any] = {"UNAUTHENTICATED_USER": "authbridge.django.AnonymousPrincipalUser"}


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    issuer = FakeIssuer()
    drf.reset_verifier()
    yield issuer
    drf.reset_verifier()


def view() -> Any:
    from rest_framework.decorators import api_view, authentication_classes, permission_classes
    from rest_framework.request import Request
    from rest_framework.response import Response

    # Per view: APIView read DEFAULT_AUTHENTICATION_CLASSES when DRF was imported.
    @api_view(["GET"])
    @authentication_classes([drf.BearerAuthentication])
    @permission_classes([drf.HasScopes("tasks:read")])
    def tasks(request: Request) -> Response:
        return Response({"owner": request.auth.sub, "pk": request.user.pk})

    return tasks


def get(token: str | None) -> Any:
    from rest_framework.test import APIRequestFactory

    headers = {} if token is None else {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = view()(APIRequestFactory().get("/tasks", **headers))
    response.render()
    return response


@pytest.mark.parametrize("handler", [None, "authbridge.django.rest_framework.exception_handler"])
def test_answers_with_either_exception_handler(issuer: FakeIssuer, handler: str | None) -> None:
    from django.test import override_settings

    options = dict(BASE, **({"EXCEPTION_HANDLER": handler} if handler else {}))
    with override_settings(REST_FRAMEWORK=options, AUTHBRIDGE={"VERIFIER": issuer.verifier()}):
        ok = get(issuer.token(scope="tasks:read"))
        assert ok.status_code == 200
        assert ok.data == {"owner": issuer.user["id"], "pk": issuer.user["id"]}
        forged = get(issuer.token()[:-4] + "AAAA")
        assert forged.status_code == 401
        assert forged.data == {
            "detail": "The access token is invalid or has expired.",
            "code": "invalid_token",
        }
        assert forged["WWW-Authenticate"] == (
            'Bearer realm="authbridge", error="invalid_token", '
            'error_description="The access token is invalid or has expired"'
        )
        unscoped = get(issuer.token())
        assert unscoped.status_code == 403
        assert 'scope="tasks:read"' in unscoped["WWW-Authenticate"]
        missing = get(None)
        assert missing.status_code == 401
        assert missing["WWW-Authenticate"] == 'Bearer realm="authbridge"'
        assert missing.data["code"] == "token_missing"
        for response in (forged, unscoped, missing):
            assert response.has_header("Cache-Control") == (handler is not None)


def test_an_outage_is_a_503_with_retry_after(
    issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.test import override_settings

    verifier = issuer.verifier()

    def down(token: str) -> Any:
        raise KeysUnavailable(retry_after=7)

    monkeypatch.setattr(Verifier, "verify_sync", lambda self, token: down(token))
    options = dict(BASE, EXCEPTION_HANDLER="authbridge.django.rest_framework.exception_handler")
    with override_settings(REST_FRAMEWORK=options, AUTHBRIDGE={"VERIFIER": verifier}):
        response = get(issuer.token(scope="tasks:read"))
    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert not response.has_header("WWW-Authenticate")
    assert response.data["code"] == KeysUnavailable.public_code
