"""Read a credential from the command line or stdin, and undo common pasting mistakes.

People paste the whole ``Authorization`` header, the ``Bearer`` scheme, a quoted string or a
whole ``name=value`` cookie. These are stripped, and each stripping is reported as a note.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Final

__all__ = ["MAX_INPUT_CHARS", "CleanToken", "clean_token", "read_token_argument"]

MAX_INPUT_CHARS: Final = 64 * 1024
_HEADER: Final = re.compile(r"^authorization\s*:\s*", re.IGNORECASE)
# Better Auth's response headers: set-auth-jwt (a JWT), set-auth-token (the session token).
_RESPONSE_HEADER: Final = re.compile(r"^(set-auth-jwt|set-auth-token)\s*:\s*", re.IGNORECASE)
_BEARER: Final = re.compile(r"^bearer\s+", re.IGNORECASE)
_COOKIE_HEADER: Final = re.compile(r"^(set-)?cookie\s*:\s*", re.IGNORECASE)
_COOKIE_PAIR: Final = re.compile(
    r"(?:^|(?<=[;\s]))(?P<name>(?:__Secure-|__Host-)?[A-Za-z0-9_.-]*session_(?:token|data)(?:\.\d{1,3})?)="
    r"(?P<value>[^;\s]*)"
)


@dataclass(frozen=True, slots=True)
class CleanToken:
    value: str
    notes: list[str] = field(default_factory=list)
    cookie_name: str | None = None


def read_token_argument(argument: str) -> str:
    """The argument itself, or stdin when it is ``-``."""
    if argument == "-":
        return sys.stdin.read(MAX_INPUT_CHARS + 1)
    return argument


def clean_token(raw: str) -> CleanToken:
    notes: list[str] = []
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
        notes.append("Removed the surrounding quotes.")
    response_header = _RESPONSE_HEADER.match(value)
    if response_header:
        value = value[response_header.end() :].strip()
        notes.append(f"Read the value of Better Auth's {response_header.group(1).lower()} header.")
    header = _HEADER.match(value)
    if header:
        value = value[header.end() :]
        notes.append(
            "You pasted the whole header: the 'Authorization:' name was stripped. "
            "Pass only the token."
        )
    bearer = _BEARER.match(value)
    if bearer:
        value = value[bearer.end() :].strip()
        notes.append(
            "Stripped the 'Bearer ' prefix: the token is what follows it "
            "(clients must still send 'Authorization: Bearer <token>')."
        )
    elif header:
        notes.append(
            "The header has no 'Bearer ' scheme: clients must send "
            "'Authorization: Bearer <token>', or the API sees no token."
        )
    cookie_name = None
    cookie_header = _COOKIE_HEADER.match(value)
    if cookie_header:
        value = value[cookie_header.end() :]
    pair = _COOKIE_PAIR.search(value)
    if pair:
        cookie_name = pair.group("name")
        value = pair.group("value")
        notes.append(f"Read the value of the cookie {cookie_name}.")
    return CleanToken(value=value, notes=notes, cookie_name=cookie_name)
