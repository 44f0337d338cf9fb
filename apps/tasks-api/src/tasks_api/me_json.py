"""``/api/me`` encoded to JSON straight from the verified ``Principal``.

The Principal is the library's own, already checked output: building a pydantic ``Me`` from
it, then having FastAPI validate and serialize that model again, cost about a third of the
route's CPU beyond ``/healthz``. This module encodes the same fields with msgspec, byte for
byte as pydantic would encode ``schemas.Me`` (same key order, RFC 3339 ``Z`` times;
``tests/tasks_api/test_me_json.py`` checks that against pydantic). The route still declares
``Me`` for the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec
from starlette.responses import Response

from authbridge import Principal

__all__ = ["encode_me", "me_response"]


class _Me(msgspec.Struct, gc=False):
    # Field order is the JSON key order: the same as schemas.Me.
    sub: str
    email: str | None
    name: str | None
    roles: list[str]
    scopes: list[str]
    session_id: str | None
    issuer: str
    expires_at: datetime | None
    credential: str
    organization_id: str | None
    organization_role: str | None
    impersonator: str | None


_encode: Final = msgspec.json.Encoder().encode


def encode_me(user: Principal) -> bytes:
    """The JSON body of ``/api/me`` for ``user`` (roles and scopes sorted, as documented)."""
    return _encode(
        _Me(
            sub=user.sub,
            email=user.email,
            name=user.name,
            roles=sorted(user.roles),
            scopes=sorted(user.scopes),
            session_id=user.session_id,
            issuer=user.issuer,
            expires_at=user.expires_at,
            credential=user.credential,
            organization_id=user.organization_id,
            organization_role=user.organization_role,
            impersonator=user.impersonator,
        )
    )


def me_response(user: Principal) -> Response:
    """``encode_me`` as the response FastAPI sends unchanged (no second validation)."""
    return Response(encode_me(user), media_type="application/json")
