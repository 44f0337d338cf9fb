"""Where verification keys come from: the ``KeySource`` protocol and its providers.

``RemoteJWKS`` (a JWKS URL, cached and refetched), ``StaticJWKS`` (a JWK Set given as text or
a file) and ``SharedSecret`` (HS256) each implement ``KeySource``; ``VerificationKey`` is one
parsed key bound to one algorithm. The names are exported from ``authbridge``.
"""
