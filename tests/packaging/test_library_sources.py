"""Nothing in the library imports the app: not at the top of a module, not lazily in a function,
not by a string handed to an import machinery (a uvicorn factory path, say)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from wheel_support import ROOT

LIBRARY = ROOT / "src" / "authbridge"
MODULES = sorted(p for p in LIBRARY.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(LIBRARY)))
def test_the_library_never_imports_the_app(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            imported.append(node.value.partition(":")[0])  # "tasks_api.app:create_app"
    assert not [name for name in imported if name.split(".")[0] == "tasks_api"]
