"""A hand-written dependency on ``joserfc``, as a careful user would write it: the JWKS
fetched once at start-up and kept as a ``KeySet``, EdDSA only, and a claims registry that
requires ``iss``, ``aud``, ``exp`` and ``sub``. (No refetch on an unknown ``kid``: a key
rotation needs a restart. Not exercised here.)"""

import os
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet


def app() -> FastAPI:
    issuer = os.environ["BENCH_ISSUER"]
    keys = KeySet.import_key_set(httpx.get(os.environ["BENCH_JWKS_URL"], timeout=10).json())
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": issuer},
        exp={"essential": True},
        sub={"essential": True},
    )
    bearer = HTTPBearer()

    async def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, Any]:
        try:
            token = jwt.decode(credentials.credentials, keys, algorithms=["EdDSA"])
            registry.validate(token.claims)
        except (JoseError, ValueError):
            raise HTTPException(401, "invalid token", {"WWW-Authenticate": "Bearer"}) from None
        return token.claims

    application = FastAPI()

    @application.get("/hello")
    async def hello(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, str]:
        return {"sub": user["sub"]}

    return application
