"""The optional parts of authbridge and the extra that installs each one's dependencies.

The core (``pip install authbridge``) verifies tokens with cryptography, httpx and msgspec
only. A package or module that needs more calls ``require_extra`` first, so a missing
dependency is one message naming the command that fixes it, instead of a bare
``ModuleNotFoundError`` from deep inside the import.
"""

from __future__ import annotations

from importlib.util import find_spec

__all__ = ["MissingExtra", "require_extra"]


class MissingExtra(ImportError):
    """An optional part of authbridge was imported without the extra that it needs."""

    def __init__(self, part: str, library: str, extra: str, module: str) -> None:
        super().__init__(
            f"{part} needs {library}: pip install 'authbridge[{extra}]'"
            f" (or uv add 'authbridge[{extra}]')",
            name=module,
        )
        self.extra = extra


def require_extra(part: str, extra: str, **libraries: str) -> None:
    """Raise ``MissingExtra`` unless every top-level module in ``libraries`` is installed.

    ``libraries`` maps an importable name to the name users know it by, e.g.
    ``require_extra("authbridge.fastapi", "fastapi", fastapi="FastAPI")``. ``find_spec``
    looks for the module without importing it: the check costs no import time.
    """
    for module, library in libraries.items():
        if find_spec(module) is None:
            raise MissingExtra(part, library, extra, module)
