"""A JSON object parser that refuses what a security verifier must refuse (V6–V8).

Duplicate member names, ``NaN``/``Infinity``, a BOM, invalid UTF-8, lone surrogates and
anything but a single top-level object are all rejected.

``loads_json`` applies the same rules to any one JSON value, and can bound numbers: it is what
an application uses for request bodies, so a body and a token are held to one standard.

Two parsers, one verdict. ``msgspec`` is fast but keeps the last of duplicate members, so its
result is used only when re-encoding it gives back the input byte for byte. Encoding a dict
cannot produce a duplicate member, a ``NaN``, a BOM or a lone surrogate, so such a match
proves the input is clean. Issuers that serialise like ``JSON.stringify`` (Better Auth's
``jose``) always match. Anything else goes to the standard library parser, which decides.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any, Final

import msgspec

__all__ = ["loads_json", "loads_object", "loads_object_strict"]

_fast_decode: Final = msgspec.json.Decoder().decode
_fast_encode: Final = msgspec.json.Encoder().encode


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _no_constants(name: str) -> Any:
    raise ValueError("non-standard JSON literal")


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_no_constants)


def _has_lone_surrogate(value: Any) -> bool:
    # Iterative: a deeply nested document must not overflow the stack here.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def loads_object(raw: bytes) -> dict[str, Any]:
    """Parse ``raw`` as exactly one JSON object, strictly. Raises ``ValueError``."""
    try:
        obj = _fast_decode(raw)
        if type(obj) is dict and _fast_encode(obj) == raw:
            return obj
    except (msgspec.MsgspecError, ValueError, RecursionError):
        pass  # the strict parser gives the verdict and the reason
    return loads_object_strict(raw)


def loads_object_strict(raw: bytes) -> dict[str, Any]:
    """The standard library path: the reference ``loads_object`` must always agree with."""
    obj = loads_json(raw)
    if type(obj) is not dict:
        raise ValueError("not a JSON object")
    return obj


def loads_json(raw: bytes, *, max_number_chars: int | None = None) -> Any:
    """Parse ``raw`` as exactly one JSON value, strictly. Raises ``ValueError``.

    With ``max_number_chars``, a number spelt with more characters (an ``int`` that costs
    quadratic time to convert, a float that overflows to infinity) is refused as well.
    """
    if raw[:3] == b"\xef\xbb\xbf":
        raise ValueError("byte order mark")
    decoder = _DECODER if max_number_chars is None else _bounded_decoder(max_number_chars)
    try:
        text = raw.decode("utf-8")
        value = decoder.decode(text)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("invalid JSON text") from exc
    # Escapes are the only way to smuggle a lone surrogate past strict UTF-8 decoding.
    if "\\u" in text and _has_lone_surrogate(value):
        raise ValueError("lone surrogate")
    return value


@lru_cache(maxsize=4)
def _bounded_decoder(max_chars: int) -> json.JSONDecoder:
    def bounded_int(text: str) -> int:
        if len(text.lstrip("-")) > max_chars:
            raise ValueError("number too large")
        return int(text)

    def finite_float(text: str) -> float:
        if len(text) > max_chars:
            raise ValueError("number too long")
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("number out of range")
        return value

    return json.JSONDecoder(
        object_pairs_hook=_unique_object,
        parse_constant=_no_constants,
        parse_int=bounded_int,
        parse_float=finite_float,
    )
