"""The library's floors import downward only (docs/design.md).

A module may import from its own floor or a lower one, never from a higher one, so that the
core verifier never depends on FastAPI, the CLI or the test helpers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "authbridge"

# The first path component under authbridge/ decides the floor.
FLOORS = {
    "__init__": 5,  # the public facade re-exports from every floor
    "errors": 0,
    "principal": 0,
    "cache": 0,
    "redact": 0,
    "extras": 0,
    "jose": 1,
    "claims": 1,
    "config": 1,
    "cors": 1,
    "sessions": 1,
    "revocation": 1,
    "keys": 2,
    "verifier": 3,
    "fastapi": 4,
    "cli": 4,
    "testing": 4,
}


def _part(module: Path) -> str:
    return module.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_parts(module: Path) -> set[str]:
    """The top-level authbridge parts a module imports, absolute or relative."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    package = module.relative_to(PACKAGE).parent.parts
    parts: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                target = [*base, *(node.module.split(".") if node.module else [])]
                if not target:  # "from . import x" at the package root
                    target = [alias.name for alias in node.names][:1]
                names = ["authbridge." + ".".join(target)]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            pieces = name.split(".")
            if pieces[0] == "authbridge" and len(pieces) > 1:
                parts.add(pieces[1])
    return parts


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_part_has_a_floor() -> None:
    assert {_part(m) for m in MODULES} <= FLOORS.keys()


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downward_only(module: Path) -> None:
    own = FLOORS[_part(module)]
    upward = {p for p in _imported_parts(module) if FLOORS.get(p, -1) > own}
    assert not upward, f"{module.relative_to(PACKAGE)} imports a higher floor: {sorted(upward)}"
