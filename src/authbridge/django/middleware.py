"""The Django middleware, its user objects, the ``requires`` decorator and the answers.

``AuthBridgeMiddleware`` verifies ``Authorization: Bearer`` with ``Verifier.verify_sync``
(Django's worker threads share the verifier's cache and its one JWKS fetch; under ASGI,
Django runs this synchronous middleware in a thread). A verified request gets
``request.user``, a ``PrincipalUser``: an unsaved, user-like object (``is_authenticated``,
``pk`` = ``sub``, ``get_username()``) that no database holds, and ``request.auth``, the
Principal. A request without the header keeps the user ``django.contrib.auth`` gave it, or
gets ``ANONYMOUS``; a token that does not verify gets the RFC 6750 answer of the FastAPI
layer (``answers.py``), whatever the view.

Django settings: ``AUTHBRIDGE = {"VERIFIER": ..., "REALM": ...}``, both optional. The
verifier is ``VERIFIER`` (a ``Verifier``, or the dotted path of one or of a function that
returns one), else ``Verifier.from_env()``, built once per middleware on its first request;
``REALM`` is the ``WWW-Authenticate`` realm.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

from ..answers import DEFAULT_REALM, answer_for, check_realm
from ..errors import AuthError
from ..guards import requirement
from ..principal import Principal
from ..verifier import Verifier
from ..wsgi import bearer_from_environ, has_authorization

__all__ = [
    "ANONYMOUS",
    "AnonymousPrincipalUser",
    "AuthBridgeMiddleware",
    "PrincipalUser",
    "answer_response",
    "principal_of",
    "requires",
]

_REALM_ATTRIBUTE: Final = "authbridge_realm"
F = TypeVar("F", bound=Callable[..., Any])


class PrincipalUser:
    """``request.user`` for a verified token: user-like, unsaved, never in a database.

    Map it to a model of yours in a view (``User.objects.get(external_id=user.pk)``) if you
    need one; authbridge never writes to your database.
    """

    is_authenticated: Final = True
    is_anonymous: Final = False
    is_active: Final = True
    is_staff: Final = False
    is_superuser: Final = False

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def pk(self) -> str:
        return self.principal.sub

    id = pk

    @property
    def username(self) -> str:
        return self.principal.email or self.principal.sub

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """A Django permission is granted when the token carries it as a scope."""
        return perm in self.principal.scopes

    def __str__(self) -> str:
        return self.username


class AnonymousPrincipalUser:
    """``request.user`` without a credential when ``django.contrib.auth`` set none."""

    is_authenticated: Final = False
    is_anonymous: Final = True
    is_active: Final = False
    is_staff: Final = False
    is_superuser: Final = False
    pk = id = None
    username = ""

    def get_username(self) -> str:
        return ""

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def __str__(self) -> str:
        return "AnonymousUser"


ANONYMOUS: Final = AnonymousPrincipalUser()


def answer_response(error: AuthError, realm: str = DEFAULT_REALM) -> HttpResponse:
    """The RFC 6750 answer to ``error`` as a Django response."""
    answer = answer_for(error, realm)
    response = JsonResponse(answer.body(), status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


def _options() -> dict[str, Any]:
    options = getattr(settings, "AUTHBRIDGE", None) or {}
    if not isinstance(options, dict):
        raise TypeError('settings.AUTHBRIDGE must be a dict: {"VERIFIER": ..., "REALM": ...}')
    return options


def _configured_verifier() -> Verifier:
    configured = _options().get("VERIFIER")
    if configured is None:
        return Verifier.from_env()
    found = import_string(configured) if isinstance(configured, str) else configured
    verifier = found if isinstance(found, Verifier) else found()
    if not isinstance(verifier, Verifier):
        raise TypeError('settings.AUTHBRIDGE["VERIFIER"] must name a Verifier or a factory')
    return verifier


class AuthBridgeMiddleware:
    """``MIDDLEWARE = [..., "authbridge.django.AuthBridgeMiddleware"]``, after Django's
    ``AuthenticationMiddleware`` if you use it."""

    sync_capable = True
    async_capable = False  # Django runs it in a thread under ASGI: verify_sync needs one

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.realm = check_realm(_options().get("REALM", DEFAULT_REALM))
        self._verifier: Verifier | None = None
        self._verifier_lock = threading.Lock()

    @property
    def verifier(self) -> Verifier:
        """Built on the first request, not at import: ``wsgi.py`` may run before the
        environment is complete (a management command, a test)."""
        verifier = self._verifier
        if verifier is None:
            with self._verifier_lock:
                if self._verifier is None:
                    self._verifier = _configured_verifier()
                verifier = self._verifier
        return verifier

    def __call__(self, request: HttpRequest) -> HttpResponse:
        setattr(request, _REALM_ATTRIBUTE, self.realm)
        if not has_authorization(request.META):
            if not hasattr(request, "user"):
                request.user = ANONYMOUS
            return self.get_response(request)
        verifier = self.verifier
        try:
            token = bearer_from_environ(request.META, session_tokens=verifier.sessions is not None)
            principal = verifier.verify_sync(token)
        except AuthError as error:
            return answer_response(error, self.realm)
        request.user = PrincipalUser(principal)
        request.auth = principal
        return self.get_response(request)


def principal_of(request: HttpRequest) -> Principal | None:
    """The request's Principal, or ``None`` for an anonymous request."""
    user = getattr(request, "user", None)
    return user.principal if isinstance(user, PrincipalUser) else None


def requires(
    scopes: str | Sequence[str] = (), *, roles: str | Sequence[str] = ()
) -> Callable[[F], F]:
    """A view decorator: a verified credential, every scope in ``scopes``, any one of
    ``roles``; else 401 with a challenge or 403 ``insufficient_scope``. For a class-based
    view, ``method_decorator(requires(...), name="dispatch")``."""
    needed = requirement(
        scopes if isinstance(scopes, str) else tuple(scopes),
        roles if isinstance(roles, str) else tuple(roles),
    )

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                needed.check(principal_of(request))
            except AuthError as error:
                return answer_response(error, getattr(request, _REALM_ATTRIBUTE, DEFAULT_REALM))
            return view(request, *args, **kwargs)

        return cast("F", guarded)

    return decorator
