"""Starlette integration: an ``AuthenticationBackend`` whose user is the Principal.

```python
verifier = Verifier.from_env()
app = Starlette(routes=routes, middleware=[authbridge_middleware(verifier)])

@requires("tasks:read")
async def tasks(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.principal.sub})
```
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("authbridge.starlette", "starlette", starlette="Starlette")
# The imports below need Starlette: the check above comes first.

from .backend import (
    AuthBridgeBackend,
    AuthBridgeMiddleware,
    PrincipalUser,
    answer_response,
    authbridge_middleware,
    principal_of,
    requires,
)

__all__ = [
    "AuthBridgeBackend",
    "AuthBridgeMiddleware",
    "PrincipalUser",
    "answer_response",
    "authbridge_middleware",
    "principal_of",
    "requires",
]
