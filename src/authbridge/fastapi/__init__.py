"""FastAPI integration: ``AuthBridge``, dependencies, RFC 6750 answers and the audit log.

```python
bridge = AuthBridge.from_env()
app = FastAPI()
bridge.install(app)

@app.get("/me")
async def me(user: CurrentUser) -> dict[str, str]:
    return {"sub": user.sub}
```
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("authbridge.fastapi", "fastapi", fastapi="FastAPI")
# The imports below need FastAPI: the check above comes first.

from .audit import AuditLog, FailureThrottle
from .authenticate import CookieAuthenticator
from .bridge import AuthBridge
from .dependencies import (
    ActiveOrganization,
    CurrentUser,
    OptionalUser,
    bearer_scheme,
    current_user,
    get_principal,
    optional_principal,
    require_org_role,
    require_permission,
    require_roles,
    require_scopes,
)
from .openapi import SCHEME_NAME
from .protect import principal_of
from .responses import AuthHTTPException
from .session_cookies import SessionCookieAuthenticator
from .websocket import WebSocketUser, authenticate_websocket, websocket_user

__all__ = [
    "SCHEME_NAME",
    "ActiveOrganization",
    "AuditLog",
    "AuthBridge",
    "AuthHTTPException",
    "CookieAuthenticator",
    "CurrentUser",
    "FailureThrottle",
    "OptionalUser",
    "SessionCookieAuthenticator",
    "WebSocketUser",
    "authenticate_websocket",
    "bearer_scheme",
    "current_user",
    "get_principal",
    "optional_principal",
    "principal_of",
    "require_org_role",
    "require_permission",
    "require_roles",
    "require_scopes",
    "websocket_user",
]
