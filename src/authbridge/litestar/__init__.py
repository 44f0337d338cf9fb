"""Litestar integration: a plugin, a middleware that puts the Principal in ``request.user``,
and guards for scopes and roles.

```python
app = Litestar(route_handlers=[tasks], plugins=[AuthBridgePlugin(Verifier.from_env())])

@get("/tasks", guards=[requires("tasks:read")])
async def tasks(request: Request[Principal | None, Principal | None, Any]) -> dict[str, str]:
    return {"sub": request.user.sub}
```
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("authbridge.litestar", "litestar", litestar="Litestar")
# The imports below need Litestar: the check above comes first.

from .plugin import AuthBridgeMiddleware, AuthBridgePlugin, answer_response, required, requires

__all__ = ["AuthBridgeMiddleware", "AuthBridgePlugin", "answer_response", "required", "requires"]
