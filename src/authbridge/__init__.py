"""authbridge: verify Better Auth credentials in Python and FastAPI."""

from __future__ import annotations

from .errors import AuthError, ConfigError
from .principal import Principal

__all__ = ["AuthError", "ConfigError", "Principal"]
__version__ = "0.1.0"
