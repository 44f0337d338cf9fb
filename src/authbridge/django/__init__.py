"""Django integration: a middleware that puts the Principal in ``request.user``, a view
decorator for scopes and roles, and RFC 6750 answers.

```python
MIDDLEWARE = [..., "authbridge.django.AuthBridgeMiddleware"]

@requires("tasks:read")
def tasks(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.user.principal.sub})
```
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("authbridge.django", "django", django="Django")
# The imports below need Django: the check above comes first.

from .middleware import (
    ANONYMOUS,
    AnonymousPrincipalUser,
    AuthBridgeMiddleware,
    PrincipalUser,
    answer_response,
    principal_of,
    requires,
)

__all__ = [
    "ANONYMOUS",
    "AnonymousPrincipalUser",
    "AuthBridgeMiddleware",
    "PrincipalUser",
    "answer_response",
    "principal_of",
    "requires",
]
