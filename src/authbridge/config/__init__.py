"""Settings from the environment and ``.env``, read by a small typed loader (no pydantic).

``Settings`` declares every variable; ``load_settings()`` reads them. ``field_specs(Settings)``
lists the declarations (variables, type, default, bounds, doc) for references and tools.
"""

from __future__ import annotations

from .fields import FieldSpec, Secret, field_specs, read_dotenv
from .settings import Settings, load_settings, origin_of, split_list

__all__ = [
    "FieldSpec",
    "Secret",
    "Settings",
    "field_specs",
    "load_settings",
    "origin_of",
    "read_dotenv",
    "split_list",
]
