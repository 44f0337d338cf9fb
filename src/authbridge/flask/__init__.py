"""Flask integration: an extension, a ``requires`` decorator and ``g.principal``.

```python
verifier = Verifier.from_env()
app = Flask(__name__)
AuthBridge(app, verifier)

@app.get("/tasks")
@requires("tasks:read")
def tasks() -> dict[str, str]:
    return {"sub": g.principal.sub}
```
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("authbridge.flask", "flask", flask="Flask")
# The imports below need Flask: the check above comes first.

from .extension import AuthBridge, answer_response, current_principal, requires

__all__ = ["AuthBridge", "answer_response", "current_principal", "requires"]
