"""``fastapi-betterauth`` as its README writes it: ``BetterAuth(base_url)`` as the dependency.

Its defaults: ``iss`` and ``aud`` are the base URL, EdDSA only, PyJWT's ``PyJWKClient`` with
the key set cached for 300 s; each verification runs in the thread pool."""

import os
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi_betterauth import BetterAuth, User


def app() -> FastAPI:
    better_auth = BetterAuth(os.environ["BENCH_ISSUER"])
    application = FastAPI()

    @application.get("/hello")
    async def hello(user: Annotated[User, Depends(better_auth)]) -> dict[str, str]:
        return {"sub": user["sub"]}

    return application
