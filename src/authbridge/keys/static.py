"""A fixed JWK Set, from a JSON string, a mapping or a file."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from ..errors import UnknownKey
from .jwk import KeyProblem, VerificationKey, parse_jwks
from .source import KeysRemovedListener

__all__ = ["StaticJWKS"]


class StaticJWKS:
    """Keys known up front. Keys that fail hygiene checks are listed in ``problems``."""

    symmetric = False

    def __init__(
        self,
        document: Mapping[str, Any] | str,
        *,
        rsa_algorithm: str = "RS256",
        max_keys: int = 100,
    ) -> None:
        parsed = parse_jwks(
            json.loads(document) if isinstance(document, str) else document,
            rsa_algorithm=rsa_algorithm,
            max_keys=max_keys,
        )
        self.keys: dict[str, VerificationKey] = parsed.keys
        self.problems: list[KeyProblem] = parsed.problems

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> StaticJWKS:
        # open(), not pathlib: importing pathlib costs every `import authbridge` a few ms.
        with open(path, encoding="utf-8") as file:
            return cls(file.read(), **options)

    def cached_key(self, kid: str | None, alg: str) -> VerificationKey | None:
        return self.keys.get(kid) if kid is not None else None

    async def get_key(self, kid: str | None, alg: str) -> VerificationKey:
        key = self.cached_key(kid, alg)
        if key is None:
            raise UnknownKey()
        return key

    def on_keys_removed(self, listener: KeysRemovedListener) -> None:
        """Static keys never change."""

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
