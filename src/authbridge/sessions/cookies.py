"""Find Better Auth's cookies in a request's cookie mapping.

Names are ``[__Secure-]{prefix}.session_token`` and ``[__Secure-]{prefix}.session_data``;
the cookie cache may be split into ``.session_data.0``, ``.1``, ... chunks.
Like Better Auth's ``getSessionCookie``, the ``__Secure-`` form is preferred.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "SECURE_PREFIX",
    "find_session_cookie",
    "find_session_data_cookie",
    "session_cookie_names",
    "session_data_cookie_names",
]

SECURE_PREFIX = "__Secure-"
# Better Auth refuses to write more chunks than this; so do we when reading.
_MAX_CHUNKS = 100


def _with_secure_variants(names: list[str], secure: bool | None) -> tuple[str, ...]:
    if secure is True:
        return tuple(SECURE_PREFIX + name for name in names)
    if secure is False:
        return tuple(names)
    return tuple(SECURE_PREFIX + name for name in names) + tuple(names)


def session_cookie_names(
    *, prefix: str = "better-auth", cookie_name: str | None = None, secure: bool | None = None
) -> tuple[str, ...]:
    """Session-token cookie names in the order they are tried."""
    bases = [cookie_name] if cookie_name else [f"{prefix}.session_token", f"{prefix}-session_token"]
    return _with_secure_variants(bases, secure)


def session_data_cookie_names(
    *, prefix: str = "better-auth", secure: bool | None = None
) -> tuple[str, ...]:
    return _with_secure_variants([f"{prefix}.session_data"], secure)


def find_session_cookie(
    cookies: Mapping[str, str],
    *,
    prefix: str = "better-auth",
    cookie_name: str | None = None,
    secure: bool | None = None,
) -> str | None:
    """The session-token cookie's value (still URL-encoded), or None."""
    for name in session_cookie_names(prefix=prefix, cookie_name=cookie_name, secure=secure):
        value = cookies.get(name)
        if value:
            return value
    return None


def find_session_data_cookie(
    cookies: Mapping[str, str], *, prefix: str = "better-auth", secure: bool | None = None
) -> str | None:
    """The cookie-cache value, joined from its chunks when it was split, or None.

    Chunks must run ``.0`` .. ``.n-1`` without gaps; anything else is ignored
    (the caller then falls back to the session lookup).
    """
    for name in session_data_cookie_names(prefix=prefix, secure=secure):
        whole = cookies.get(name)
        if whole:
            return whole
        joined = _join_chunks(cookies, name)
        if joined:
            return joined
    return None


def _join_chunks(cookies: Mapping[str, str], name: str) -> str | None:
    head = name + "."
    chunks: dict[int, str] = {}
    for cookie_name, value in cookies.items():
        if not cookie_name.startswith(head):
            continue
        index_text = cookie_name[len(head) :]
        if not index_text.isdigit() or len(index_text) > 3:
            continue
        chunks[int(index_text)] = value
    if not chunks or len(chunks) > _MAX_CHUNKS:
        return None
    if sorted(chunks) != list(range(len(chunks))):
        return None
    return "".join(chunks[index] for index in range(len(chunks)))
