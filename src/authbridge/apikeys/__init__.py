"""Better Auth API keys (``@better-auth/api-key``): verified remotely through get-session or
in Better Auth's ``apikey`` table, the plugin's rules and writes replicated exactly.

The database store needs ``authbridge[sessions]`` (SQLAlchemy) and is imported only when the
database mode is configured.
"""

from authbridge.apikeys.config import ApiKeyConfig, ApiKeyMode, ApiKeyTables, parse_headers
from authbridge.apikeys.records import ApiKeyRecord
from authbridge.apikeys.rules import hash_key, scopes_from_permissions
from authbridge.apikeys.verifier import ApiKeyVerifier

__all__ = [
    "ApiKeyConfig",
    "ApiKeyMode",
    "ApiKeyRecord",
    "ApiKeyTables",
    "ApiKeyVerifier",
    "hash_key",
    "parse_headers",
    "scopes_from_permissions",
]
