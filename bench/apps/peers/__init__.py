"""The benchmark's peers: the same ``GET /hello`` behind the libraries a user would pick
instead of authbridge, each configured for Better Auth's JWT plugin (EdDSA tokens, the JWKS at
``/api/auth/jwks``, ``iss`` and ``aud`` the server's origin).

These modules import packages that are not project dependencies: they run only in the
benchmark's own environment (``bench/peers/requirements.txt``, installed by
``bench/http_peers.py``). Each reads ``BENCH_ISSUER`` (the Better Auth origin) and
``BENCH_JWKS_URL``.

No ``from __future__ import annotations``: FastAPI must resolve the local dependencies.
"""
