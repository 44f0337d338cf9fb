"""The Flask extension: verification with ``Verifier.verify_sync``, RFC 6750 answers.

``AuthBridge(app, verifier)`` registers an error handler that answers every ``AuthError``
with the FastAPI layer's status, headers and body (``answers.py``). ``@requires(...)`` reads
the bearer token, verifies it (threads share the verifier's cache and its one JWKS fetch),
puts the Principal in ``g.principal`` and checks scopes and roles; a refusal is raised and
answered by that handler. Views run in the WSGI server's threads, never in an event loop.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar, cast

from flask import Flask, Response, current_app, g, jsonify, request

from ..answers import DEFAULT_REALM, answer_for, check_realm
from ..errors import AuthError
from ..guards import requirement
from ..principal import Principal
from ..verifier import Verifier
from ..wsgi import bearer_from_environ

__all__ = ["AuthBridge", "answer_response", "current_principal", "requires"]

_EXTENSION: Final = "authbridge"
F = TypeVar("F", bound=Callable[..., Any])


class AuthBridge:
    """``AuthBridge(app, verifier)`` or ``AuthBridge(verifier=...)`` then ``init_app(app)``."""

    def __init__(
        self,
        app: Flask | None = None,
        verifier: Verifier | None = None,
        *,
        realm: str = DEFAULT_REALM,
    ) -> None:
        self.verifier = verifier
        self.realm = check_realm(realm)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if self.verifier is None:
            self.verifier = Verifier.from_env()
        app.extensions[_EXTENSION] = self
        app.register_error_handler(AuthError, self._answer)

    def authenticate(self) -> Principal:
        """The Principal of the current request; raises an ``AuthError`` if it has none."""
        principal: Principal | None = g.get("principal")
        if principal is not None:
            return principal
        verifier = self.verifier
        assert verifier is not None  # set by init_app
        token = bearer_from_environ(request.environ, session_tokens=verifier.sessions is not None)
        principal = verifier.verify_sync(token)
        g.principal = principal
        return principal

    def _answer(self, error: AuthError) -> Response:
        return answer_response(error, self.realm)


def answer_response(error: AuthError, realm: str = DEFAULT_REALM) -> Response:
    """The RFC 6750 answer to ``error`` as a Flask response."""
    answer = answer_for(error, realm)
    response = jsonify(answer.body())
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return response


def _bridge() -> AuthBridge:
    bridge = current_app.extensions.get(_EXTENSION)
    if not isinstance(bridge, AuthBridge):
        raise RuntimeError("authbridge.flask: call AuthBridge(app, verifier) first")
    return bridge


def current_principal() -> Principal | None:
    """``g.principal`` once ``@requires`` has run on this request, else ``None``."""
    return cast("Principal | None", g.get("principal"))


def requires(
    scopes: str | Sequence[str] = (), *, roles: str | Sequence[str] = ()
) -> Callable[[F], F]:
    """A view decorator: a verified bearer token (``g.principal``), every scope in
    ``scopes`` and any one of ``roles``. Refusals are RFC 6750 answers: 401 with a
    challenge, 400 for a malformed credential, 403 ``insufficient_scope``. It guards an
    ``async def`` view too (``pip install 'flask[async]'``): the token is verified before
    the coroutine starts."""
    needed = requirement(
        scopes if isinstance(scopes, str) else tuple(scopes),
        roles if isinstance(roles, str) else tuple(roles),
    )

    def decorator(view: F) -> F:
        if inspect.iscoroutinefunction(view):
            # An async view (Flask[async]): verify here, in the worker thread, then let
            # Flask run the coroutine (asgiref), as Flask's docs ask of view decorators.
            @functools.wraps(view)
            def guarded_async(*args: Any, **kwargs: Any) -> Any:
                needed.check(_bridge().authenticate())
                return current_app.ensure_sync(view)(*args, **kwargs)

            return cast("F", guarded_async)

        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            needed.check(_bridge().authenticate())
            return view(*args, **kwargs)

        return cast("F", guarded)

    return decorator
