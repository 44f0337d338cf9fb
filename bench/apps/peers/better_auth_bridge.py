"""``fastapi-better-auth-bridge`` in its JWT/JWKS mode (Mode B), as its Quickstart writes it:
``JwtVerifier(base_url=...)`` is the issuer, the audience and the JWKS origin; EdDSA is its
default allowlist and its key set is cached for 300 s."""

import os
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi_better_auth import BetterAuth, JwtVerifier, Session, User


def app() -> FastAPI:
    auth = BetterAuth(verifiers=[JwtVerifier(base_url=os.environ["BENCH_ISSUER"])])
    current = Annotated[Session[User], Depends(auth.current_session())]
    application = FastAPI(lifespan=auth.lifespan)

    @application.get("/hello")
    async def hello(session: current) -> dict[str, str]:
        return {"sub": session.user.id}

    return application
