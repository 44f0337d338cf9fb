"""Every checklist item V1–V56 is named by a test, at the level the issue assigns it.

The library level (V3–V46) is ``tests/checklist/`` (``tests/test_checklist.py`` if it is ever
merged back into one file) plus ``tests/keys/``, where the remote key source's V28–V31 tests
live; the HTTP level (V1, V2, V47–V56) is this suite. A test names an item as
``test_v07_...`` or, for several, ``test_v48_v51_v53_...``. (``tests/checklist`` has its own
meta-test, which leaves V28–V31 to ``tests/keys``; this one insists they are named there.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
_ITEM = re.compile(r"(?:^|_)v(\d{1,2})(?=_|$)")


def _named_items(files: list[Path]) -> dict[int, list[str]]:
    named: dict[int, list[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                for number in _ITEM.findall(node.name[len("test") :]):
                    named.setdefault(int(number), []).append(f"{path.name}::{node.name}")
    return named


def _library_files() -> list[Path]:
    files = sorted((TESTS / "checklist").glob("test_*.py")) + sorted(
        (TESTS / "keys").glob("test_*.py")
    )
    single = TESTS / "test_checklist.py"
    return [*files, single] if single.exists() else files


def test_the_library_checklist_names_v3_to_v46() -> None:
    files = _library_files()
    assert files, "the library-level checklist tests are missing"
    named = _named_items(files)
    missing = [f"V{n}" for n in range(3, 47) if n not in named]
    assert not missing, f"no library test named for {', '.join(missing)}"


def test_this_suite_names_v1_v2_and_v47_to_v56() -> None:
    here = Path(__file__)
    named = _named_items(sorted(p for p in here.parent.glob("test_*.py") if p != here))
    wanted = [1, 2, *range(47, 57)]
    missing = [f"V{n}" for n in wanted if n not in named]
    assert not missing, f"no HTTP-level test named for {', '.join(missing)}"
