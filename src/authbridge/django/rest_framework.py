"""Django REST framework: an authentication class and permission classes (``authbridge[drf]``).

```python
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["authbridge.django.rest_framework.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["authbridge.django.rest_framework.IsVerified"],
    "UNAUTHENTICATED_USER": "authbridge.django.AnonymousPrincipalUser",
    "EXCEPTION_HANDLER": "authbridge.django.rest_framework.exception_handler",
}

@api_view(["GET"])
@permission_classes([HasScopes("tasks:read")])
def tasks(request: Request) -> Response:
    return Response({"owner": request.auth.sub})
```

``BearerAuthentication`` verifies ``Authorization: Bearer`` with ``Verifier.verify_sync`` (the
verifier the ``AUTHBRIDGE`` setting names, as for the middleware; one per process, built on
first use) and gives DRF ``(PrincipalUser, Principal)``: ``request.user`` and
``request.auth``. If ``AuthBridgeMiddleware`` already verified the request, its Principal is
used as is. Its ``authenticate_header`` is the RFC 6750 challenge, so DRF answers 401, not 403.

The permission classes (``IsVerified``, ``HasScopes(...)``, ``HasRoles(...)``,
``HasOrgRoles(...)``) check with ``guards.py`` and **raise** the RFC 6750 answer of every
other layer instead of returning ``False`` (DRF's own 403 has no ``insufficient_scope``
challenge): list several of them to require all, but ``|`` and ``~`` cannot combine them.
``HasRoles("a", "b")`` already means any one of the roles.

Every refusal has the body, status, ``WWW-Authenticate`` and ``Retry-After`` of the other
layers with DRF's own exception handler; ``exception_handler`` adds ``Cache-Control:
no-store`` too and passes every other exception to DRF's.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from ..extras import require_extra

require_extra(
    "authbridge.django.rest_framework",
    "drf",
    django="Django",
    rest_framework="Django REST framework",
)
# The imports below need DRF: the check above comes first.

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from ..answers import DEFAULT_REALM, Answer, answer_for, check_realm
from ..errors import AuthError, TokenMissing
from ..guards import OrgRoleRequirement, Requirement, org_role_requirement, requirement
from ..principal import Principal
from ..verifier import Verifier
from ..wsgi import bearer_from_environ, has_authorization
from .middleware import PrincipalUser, _configured_verifier, _options, principal_of

__all__ = [
    "AuthBridgeRefusal",
    "AuthBridgeUnauthorized",
    "BearerAuthentication",
    "HasOrgRoles",
    "HasRoles",
    "HasScopes",
    "IsVerified",
    "exception_handler",
    "refusal",
    "reset_verifier",
]

# The challenge of the request's last 401, for ``authenticate_header`` (DRF asks for it after
# the refusal, and puts it in the 401's WWW-Authenticate).
_CHALLENGE_ATTRIBUTE: Final = "_authbridge_challenge"

_verifier: Verifier | None = None
_verifier_lock = threading.Lock()


def configured_verifier() -> Verifier:
    """The process's verifier for DRF, built from the ``AUTHBRIDGE`` setting on first use."""
    global _verifier
    verifier = _verifier
    if verifier is None:
        with _verifier_lock:
            if _verifier is None:
                _verifier = _configured_verifier()
            verifier = _verifier
    return verifier


def reset_verifier() -> None:
    """Forget the verifier (a test that changes the ``AUTHBRIDGE`` setting)."""
    global _verifier
    with _verifier_lock:
        _verifier = None


def _realm() -> str:
    return check_realm(_options().get("REALM", DEFAULT_REALM))


class AuthBridgeRefusal(exceptions.APIException):  # type: ignore[misc]
    """A refusal other than a 401 (400, 403, 503), carrying its RFC 6750 answer."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(detail=answer.body(), code=answer.code)
        self.answer = answer
        self.status_code = answer.status
        self.auth_header = answer.headers.get("WWW-Authenticate")
        retry_after = answer.headers.get("Retry-After")
        self.wait = int(retry_after) if retry_after is not None else None


class AuthBridgeUnauthorized(exceptions.AuthenticationFailed, AuthBridgeRefusal):  # type: ignore[misc]
    """A 401: DRF sets its ``WWW-Authenticate`` from ``authenticate_header``."""

    def __init__(self, answer: Answer) -> None:
        AuthBridgeRefusal.__init__(self, answer)


def refusal(error: AuthError, request: Any) -> AuthBridgeRefusal:
    """The DRF exception answering ``error`` on ``request`` (remembering a 401's challenge)."""
    answer = answer_for(error, _realm())
    if answer.status != 401:
        return AuthBridgeRefusal(answer)
    setattr(request, _CHALLENGE_ATTRIBUTE, answer.headers["WWW-Authenticate"])
    return AuthBridgeUnauthorized(answer)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus every header of authbridge's answers (``Cache-Control:
    no-store``): ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``."""
    # Imported here: DRF imports this module while rest_framework.views is being imported
    # (DEFAULT_AUTHENTICATION_CLASSES), so a module-level import would be a circle.
    from rest_framework.views import exception_handler as drf_exception_handler

    response: Response | None = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, AuthBridgeRefusal):
        for name, value in exc.answer.headers.items():
            if name != "WWW-Authenticate":  # DRF's: a 401's comes from authenticate_header
                response[name] = value
    return response


class BearerAuthentication(BaseAuthentication):  # type: ignore[misc]
    """``Authorization: Bearer`` verified by authbridge: ``(PrincipalUser, Principal)``, or
    ``None`` without the header (the next authentication class, or anonymous)."""

    def authenticate(self, request: Any) -> tuple[PrincipalUser, Principal] | None:
        django_request = request._request
        verified = principal_of(django_request)  # AuthBridgeMiddleware ran first
        if verified is not None:
            return django_request.user, verified
        meta = django_request.META
        if not has_authorization(meta):
            return None
        verifier = configured_verifier()
        try:
            token = bearer_from_environ(meta, session_tokens=verifier.sessions is not None)
            principal = verifier.verify_sync(token)
        except AuthError as error:
            raise refusal(error, request) from None
        return PrincipalUser(principal), principal

    def authenticate_header(self, request: Any) -> str:
        """The 401's challenge: the refusal's own, else the bare one (no credential)."""
        challenge = getattr(request, _CHALLENGE_ATTRIBUTE, None)
        if isinstance(challenge, str):
            return challenge
        return answer_for(TokenMissing(), _realm()).headers["WWW-Authenticate"]


def _principal(request: Any) -> Principal | None:
    auth = request.auth
    return auth if isinstance(auth, Principal) else principal_of(request._request)


class _Guard(BasePermission):  # type: ignore[misc]
    needed: Requirement | OrgRoleRequirement = requirement()

    def has_permission(self, request: Any, view: Any) -> bool:
        try:
            self.needed.check(_principal(request))
        except AuthError as error:
            raise refusal(error, request) from None
        return True


class IsVerified(_Guard):
    """A verified credential, nothing more: else 401 with the RFC 6750 challenge."""


def _guard(name: str, needed: Requirement | OrgRoleRequirement) -> type[BasePermission]:
    return type(name, (_Guard,), {"needed": needed, "__doc__": f"{name}: {needed!r}"})


def HasScopes(*scopes: str) -> type[BasePermission]:
    """A permission class: every one of ``scopes``, else 403 ``insufficient_scope`` naming
    them in the challenge (401 without a credential)."""
    return _guard(f"HasScopes{scopes!r}", requirement(scopes))


def HasRoles(*roles: str) -> type[BasePermission]:
    """A permission class: any one of ``roles`` (the token's ``role`` claim), else 403."""
    return _guard(f"HasRoles{roles!r}", requirement((), roles))


def HasOrgRoles(*roles: str) -> type[BasePermission]:
    """A permission class: an active organization and any one of ``roles`` in it, else 403
    (``organization_required`` without an active organization)."""
    return _guard(f"HasOrgRoles{roles!r}", org_role_requirement(*roles))
