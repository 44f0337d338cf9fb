"""PyJWT's ``PyJWKClient`` as tutorials write it: one client on the JWKS URL with its default
cache (the parsed key set kept 300 s), ``get_signing_key_from_jwt`` then ``jwt.decode`` with
the algorithm, audience and issuer, called straight from an ``async`` dependency."""

import os
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer


def app() -> FastAPI:
    issuer = os.environ["BENCH_ISSUER"]
    jwks_client = jwt.PyJWKClient(os.environ["BENCH_JWKS_URL"])
    bearer = HTTPBearer()

    async def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, Any]:
        token = credentials.credentials
        try:
            signing_key = jwks_client.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, signing_key.key, algorithms=["EdDSA"], audience=issuer, issuer=issuer
            )
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid token", {"WWW-Authenticate": "Bearer"}) from None
        return claims

    application = FastAPI()

    @application.get("/hello")
    async def hello(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, str]:
        return {"sub": user["sub"]}

    return application
