"""Local development signing keys, one per algorithm, in a git-ignored file (mode 600).

The file holds private keys as PKCS#8 PEM; ``public_jwks`` serves their public halves shaped
exactly like Better Auth's JWKS (``{alg, crv?, kty, x/y/n/e, kid}``, no ``use``).
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..errors import ConfigError
from ..jose.algorithms import PrivateKey
from ..jose.b64 import b64url_encode
from ..keys.jwk import thumbprint
from .private_files import write_private

__all__ = ["ASYMMETRIC_DEV_ALGORITHMS", "DEFAULT_DEV_KEYS_FILE", "DevKey", "DevKeyStore"]

DEFAULT_DEV_KEYS_FILE: Final = Path(".authbridge/dev-keys.json")
ASYMMETRIC_DEV_ALGORITHMS: Final = ("EdDSA", "ES256", "ES512", "PS256", "RS256")
_EC_CURVES: Final = {"ES256": (ec.SECP256R1(), "P-256", 32), "ES512": (ec.SECP521R1(), "P-521", 66)}
_KID_ALPHABET: Final = string.ascii_letters + string.digits


def _new_kid() -> str:
    """32 alphanumeric characters, like Better Auth's jwks row ids."""
    return "".join(secrets.choice(_KID_ALPHABET) for _ in range(32))


def _generate(alg: str) -> PrivateKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg in _EC_CURVES:
        return ec.generate_private_key(_EC_CURVES[alg][0])
    if alg in ("PS256", "RS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"no dev keys for {alg}")


def _public_jwk(alg: str, kid: str, key: PrivateKey) -> dict[str, Any]:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"alg": alg, "crv": "Ed25519", "x": b64url_encode(raw), "kty": "OKP", "kid": kid}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        _, crv, size = _EC_CURVES[alg]
        numbers = key.public_key().public_numbers()
        return {
            "alg": alg,
            "crv": crv,
            "kty": "EC",
            "x": b64url_encode(numbers.x.to_bytes(size, "big")),
            "y": b64url_encode(numbers.y.to_bytes(size, "big")),
            "kid": kid,
        }
    public = key.public_key().public_numbers()
    n = public.n.to_bytes((public.n.bit_length() + 7) // 8, "big")
    e = public.e.to_bytes((public.e.bit_length() + 7) // 8, "big")
    return {"alg": alg, "kty": "RSA", "n": b64url_encode(n), "e": b64url_encode(e), "kid": kid}


@dataclass(frozen=True, slots=True)
class DevKey:
    kid: str
    alg: str
    private_key: PrivateKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        return _public_jwk(self.alg, self.kid, self.private_key)

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.public_jwk)


class DevKeyStore:
    """The dev keys file. Keys are created on first use and then kept."""

    def __init__(self, path: Path = DEFAULT_DEV_KEYS_FILE) -> None:
        self.path = path

    def load(self) -> list[DevKey]:
        if not self.path.exists():
            return []
        try:
            return self._parse(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            raise ConfigError(
                "--keys-file",
                f"{self.path} is not a readable authbridge dev keys file.",
                "delete it; the next `authbridge mint` makes new dev keys.",
            ) from None

    @staticmethod
    def _parse(text: str) -> list[DevKey]:
        keys: list[DevKey] = []
        for entry in json.loads(text)["keys"]:
            private = serialization.load_pem_private_key(entry["private_pem"].encode(), None)
            if not isinstance(
                private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
            ):
                raise ValueError("unsupported key type in the dev keys file")
            if entry["alg"] not in ASYMMETRIC_DEV_ALGORITHMS or type(entry["kid"]) is not str:
                raise ValueError("unexpected key entry")
            keys.append(DevKey(kid=entry["kid"], alg=entry["alg"], private_key=private))
        return keys

    def key_for(self, alg: str) -> tuple[DevKey, bool]:
        """The key for ``alg`` and whether it was just created."""
        keys = self.load()
        for key in keys:
            if key.alg == alg:
                return key, False
        created = DevKey(kid=_new_kid(), alg=alg, private_key=_generate(alg))
        self._save([*keys, created])
        return created, True

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk for key in self.load()]}

    def _save(self, keys: list[DevKey]) -> None:
        document = {
            "comment": "authbridge development keys. Never use in production; never commit.",
            "keys": [
                {
                    "kid": key.kid,
                    "alg": key.alg,
                    "private_pem": key.private_key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    ).decode("ascii"),
                }
                for key in keys
            ],
        }
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.path, json.dumps(document, indent=2) + "\n")
